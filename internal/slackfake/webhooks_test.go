package slackfake

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/clock"
)

func post(t *testing.T, url, contentType, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close() //nolint:errcheck // test
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header.Get("Retry-After")
}

func TestIncomingWebhooks(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := New(Options{Clock: clk})
	t.Cleanup(s.Close)
	hook := s.AddWebhook("C0ALERTS")
	require.Contains(t, hook, "/services/T0FAKE/B")
	const js = "application/json"

	tick := func() { clk.Advance(time.Second) }
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		answer            string
	}{
		{"text", js, `{"text":"hello"}`, 200, "ok"},
		{"form payload", "application/x-www-form-urlencoded", `payload=%7B%22text%22%3A%22hi%22%7D`, 200, "ok"},
		{"blocks only", js, `{"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"*b*"}}]}`, 200, "ok"},
		{"not json", js, `{"text":`, 400, "invalid_payload"},
		{"not an object", js, `["text"]`, 400, "invalid_payload"},
		{"no text", js, `{"text":"  "}`, 400, "no_text"},
		{"bad blocks", js, `{"text":"x","blocks":[{"type":"nope"}]}`, 400, "invalid_blocks"},
	} {
		tick()
		status, answer, _ := post(t, hook, tc.ctype, tc.body)
		require.Equal(t, tc.status, status, tc.name)
		require.Equal(t, tc.answer, answer, tc.name)
	}
	require.Len(t, s.Messages("C0ALERTS"), 3)

	// One message per second per webhook, then 429 with Retry-After.
	tick()
	status, _, _ := post(t, hook, js, `{"text":"1"}`)
	require.Equal(t, 200, status)
	status, answer, after := post(t, hook, js, `{"text":"2"}`)
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Equal(t, "rate_limited", answer)
	require.Equal(t, "1", after)
	other := s.AddWebhook("C0OTHER")
	status, _, _ = post(t, other, js, `{"text":"elsewhere"}`)
	require.Equal(t, 200, status, "the limit is per webhook")

	for _, tc := range []struct {
		state  WebhookState
		status int
		answer string
	}{
		{WebhookRevoked, 403, "invalid_token"},
		{WebhookRemoved, 404, "no_service"},
		{WebhookProhibited, 403, "action_prohibited"},
		{WebhookGeneral, 403, "posting_to_general_channel_denied"},
	} {
		tick()
		s.SetWebhookState(hook, tc.state)
		status, answer, _ := post(t, hook, js, `{"text":"x"}`)
		require.Equal(t, tc.status, status, tc.state)
		require.Equal(t, tc.answer, answer, tc.state)
	}
	s.SetWebhookState(hook, WebhookOK)
	s.ArchiveChannel("C0ALERTS", true)
	tick()
	status, answer, _ = post(t, hook, js, `{"text":"x"}`)
	require.Equal(t, http.StatusGone, status)
	require.Equal(t, "channel_is_archived", answer)
	status, answer, _ = post(t, s.ts.URL+"/services/T0FAKE/B9/unknown", js, `{"text":"x"}`)
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, "no_service", answer)
	require.Len(t, s.Messages("C0ALERTS"), 4)
	require.NotEmpty(t, s.Calls(WebhookMethod))
}
