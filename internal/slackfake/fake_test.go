package slackfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/slackfake"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

type bundle struct {
	srv   *slackfake.Server
	clock *clock.Fake
	api   *slack.Client
}

func setup(t *testing.T, opts slackfake.Options) *bundle {
	t.Helper()
	c := clock.NewFake(t0)
	opts.Clock = c
	srv := slackfake.New(opts)
	t.Cleanup(srv.Close)
	srv.AddUser(slackfake.User{ID: "UALICE", Name: "alice", Email: "alice@example.com", EmailConfirmed: true})
	srv.AddUser(slackfake.User{ID: "UBOB", Name: "bob", Email: "bob@example.com"})
	return &bundle{srv: srv, clock: c, api: slack.New(srv.BotToken(), slack.OptionAPIURL(srv.APIURL()))}
}

func code(err error) string {
	if se, ok := errors.AsType[slack.SlackErrorResponse](err); ok {
		return se.Err
	}
	return ""
}

func section(text string) map[string]any {
	return map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": text}}
}

func opts(n, textLen int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"text": map[string]any{"type": "plain_text", "text": strings.Repeat("x", textLen-len(fmt.Sprint(i))) + fmt.Sprint(i)},
			"value": fmt.Sprint(i)}
	}
	return out
}

func modalWith(blocks ...any) map[string]any {
	return map[string]any{"type": "modal", "title": map[string]any{"type": "plain_text", "text": "Title"},
		"submit": map[string]any{"type": "plain_text", "text": "OK"}, "blocks": blocks}
}

func TestBlockKitLimits(t *testing.T) {
	t.Parallel()
	sel := func(o []any) map[string]any {
		return map[string]any{"type": "input", "label": map[string]any{"type": "plain_text", "text": "L"},
			"element": map[string]any{"type": "static_select", "action_id": "s", "options": o}}
	}
	button := func(actionID, text string) map[string]any {
		return map[string]any{"type": "button", "action_id": actionID, "text": map[string]any{"type": "plain_text", "text": text}}
	}
	many := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = section("x")
		}
		return out
	}
	for _, tc := range []struct {
		name string
		view map[string]any
		want string
	}{
		{"100 options", modalWith(sel(opts(100, 75))), ""},
		{"101 options", modalWith(sel(opts(101, 10))), "must have 1 to 100 items"},
		{"option text of 76", modalWith(sel(opts(1, 76))), "must be less than 76 characters"},
		{"101 blocks", modalWith(many(101)...), "at most 100 blocks"},
		{"title of 25", map[string]any{"type": "modal", "title": map[string]any{"type": "plain_text", "text": strings.Repeat("t", 25)}, "blocks": []any{}},
			"must be less than 25 characters"},
		{"section of 3001", modalWith(section(strings.Repeat("s", 3001))), "must be less than 3001 characters"},
		{"block_id of 256", modalWith(map[string]any{"type": "divider", "block_id": strings.Repeat("b", 256)}), "must be less than 256 characters"},
		{"action_id of 256", modalWith(map[string]any{"type": "actions", "elements": []any{button(strings.Repeat("a", 256), "go")}}),
			"must be less than 256 characters"},
		{"duplicate action_id", modalWith(map[string]any{"type": "actions", "elements": []any{button("a", "one")}},
			map[string]any{"type": "actions", "elements": []any{button("a", "two")}}), `duplicate action_id "a"`},
		{"duplicate block_id", modalWith(map[string]any{"type": "divider", "block_id": "x"}, map[string]any{"type": "divider", "block_id": "x"}),
			`duplicate block_id "x"`},
		{"mrkdwn button", modalWith(map[string]any{"type": "actions", "elements": []any{map[string]any{"type": "button", "action_id": "b",
			"text": map[string]any{"type": "mrkdwn", "text": "*go*"}}}}), "must be plain_text"},
		{"empty text", modalWith(section("")), "must be at least 1 character"},
		{"unknown property", modalWith(map[string]any{"type": "divider", "colour": "red"}), `unexpected property "colour"`},
		{"input without submit", map[string]any{"type": "modal", "title": map[string]any{"type": "plain_text", "text": "T"},
			"blocks": []any{sel(opts(2, 5))}}, "is required when the view has input blocks"},
		{"initial option not offered", modalWith(map[string]any{"type": "input", "label": map[string]any{"type": "plain_text", "text": "L"},
			"element": map[string]any{"type": "static_select", "action_id": "s", "options": opts(2, 5),
				"initial_option": map[string]any{"text": map[string]any{"type": "plain_text", "text": "nope"}, "value": "z"}}}),
			"must match one of the options"},
		{"private_metadata of 3001", func() map[string]any {
			v := modalWith(section("x"))
			v["private_metadata"] = strings.Repeat("m", 3001)
			return v
		}(), "must be less than 3001 characters"},
	} {
		js, err := json.Marshal(tc.view)
		require.NoError(t, err)
		err = slackfake.ValidateView(js)
		if tc.want == "" {
			require.NoError(t, err, tc.name)
			continue
		}
		require.ErrorContains(t, err, tc.want, tc.name)
	}
	blocks, err := json.Marshal(many(51))
	require.NoError(t, err)
	require.ErrorContains(t, slackfake.ValidateMessage("x", blocks), "at most 50 blocks")
	blocks, err = json.Marshal(many(50))
	require.NoError(t, err)
	require.NoError(t, slackfake.ValidateMessage("x", blocks))
}

func TestWebAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, slackfake.Options{})
	ctx := t.Context()
	at, err := b.api.AuthTestContext(ctx)
	require.NoError(t, err)
	require.Equal(t, "U0BOT", at.UserID)

	_, err = slack.New("xoxb-wrong", slack.OptionAPIURL(b.srv.APIURL())).AuthTestContext(ctx)
	require.Equal(t, "invalid_auth", code(err))
	_, err = slack.New(b.srv.AppToken(), slack.OptionAPIURL(b.srv.APIURL())).AuthTestContext(ctx)
	require.Equal(t, "not_allowed_token_type", code(err))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.srv.APIURL()+"auth.test", strings.NewReader(""))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.JSONEq(t, `{"ok":false,"error":"not_authed"}`, string(body))

	u, err := b.api.GetUserInfoContext(ctx, "UALICE")
	require.NoError(t, err)
	require.Equal(t, "alice@example.com", u.Profile.Email)
	require.True(t, u.IsEmailConfirmed)
	_, err = b.api.GetUserInfoContext(ctx, "UNOBODY")
	require.Equal(t, "user_not_found", code(err))
	u, err = b.api.GetUserByEmailContext(ctx, "BOB@example.com")
	require.NoError(t, err)
	require.Equal(t, "UBOB", u.ID)
	require.False(t, u.IsEmailConfirmed)
	_, err = b.api.GetUserByEmailContext(ctx, "nobody@example.com")
	require.Equal(t, "users_not_found", code(err))

	ch, _, _, err := b.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"UALICE"}})
	require.NoError(t, err)
	require.Equal(t, "DALICE", ch.ID)
	_, _, _, err = b.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"UNOBODY"}})
	require.Equal(t, "user_not_found", code(err))

	_, ts, err := b.api.PostMessageContext(ctx, "DALICE", slack.MsgOptionText("hello", false))
	require.NoError(t, err)
	_, _, _, err = b.api.UpdateMessageContext(ctx, "DALICE", ts, slack.MsgOptionText("hello again", false))
	require.NoError(t, err)
	m, ok := b.srv.Message("DALICE", ts)
	require.True(t, ok)
	require.Equal(t, "hello again", m.Text)
	require.Equal(t, 1, m.Updates)
	_, _, _, err = b.api.UpdateMessageContext(ctx, "DALICE", "1.000000", slack.MsgOptionText("x", false))
	require.Equal(t, "message_not_found", code(err))
	_, _, err = b.api.PostMessageContext(ctx, "C404", slack.MsgOptionText("x", false))
	require.Equal(t, "channel_not_found", code(err))
	b.srv.AddChannel("CGENERAL", "general", "UALICE")
	_, _, err = b.api.PostMessageContext(ctx, "CGENERAL", slack.MsgOptionText("x", false))
	require.Equal(t, "not_in_channel", code(err))
	_, _, err = b.api.PostMessageContext(ctx, "DALICE")
	require.Equal(t, "no_text", code(err))
	_, _, err = b.api.PostMessageContext(ctx, "DALICE", slack.MsgOptionText("x", false),
		slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", strings.Repeat("y", 3001), false, false), nil, nil)))
	require.Equal(t, "invalid_blocks", code(err))
	var se slack.SlackErrorResponse
	require.ErrorAs(t, err, &se)
	require.Contains(t, se.ResponseMetadata.Messages[0], "[json-pointer:/blocks/0/text/text]")
	_, err = b.api.PostEphemeralContext(ctx, "DALICE", "UBOB", slack.MsgOptionText("x", false))
	require.Equal(t, "user_not_in_channel", code(err))
	_, err = b.api.PostEphemeralContext(ctx, "DALICE", "UALICE", slack.MsgOptionText("only you", false))
	require.NoError(t, err)
	require.Equal(t, "only you\n", b.srv.LastEphemeral("UALICE"))
	require.Len(t, b.srv.Calls("chat.postMessage"), 5)
}

func modalRequest(title string) slack.ModalViewRequest {
	return slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", title, false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewDividerBlock()}}}
}

func TestViews(t *testing.T) {
	t.Parallel()
	b := setup(t, slackfake.Options{})
	ctx := t.Context()
	_, err := b.api.OpenViewContext(ctx, "1.2.3", modalRequest("x"))
	require.Equal(t, "invalid_trigger_id", code(err))

	trig := b.srv.IssueTrigger("UALICE")
	v, err := b.api.OpenViewContext(ctx, trig, modalRequest("First"))
	require.NoError(t, err)
	_, err = b.api.OpenViewContext(ctx, trig, modalRequest("Again"))
	require.Equal(t, "exchanged_trigger_id", code(err), "a trigger is used once")

	late := b.srv.IssueTrigger("UALICE")
	b.clock.Advance(slackfake.TriggerLifetime + time.Millisecond)
	_, err = b.api.OpenViewContext(ctx, late, modalRequest("Late"))
	require.Equal(t, "expired_trigger_id", code(err), "triggers expire after 3 seconds")

	_, err = b.api.OpenViewContext(ctx, b.srv.IssueTrigger("UALICE"), modalRequest(strings.Repeat("t", 25)))
	require.Equal(t, "invalid_arguments", code(err))

	up, err := b.api.UpdateViewContext(ctx, modalRequest("Second"), "", v.Hash, v.ID)
	require.NoError(t, err)
	require.NotEqual(t, v.Hash, up.Hash)
	_, err = b.api.UpdateViewContext(ctx, modalRequest("Third"), "", v.Hash, v.ID)
	require.Equal(t, "hash_conflict", code(err))
	_, err = b.api.UpdateViewContext(ctx, modalRequest("Ghost"), "", "", "V404")
	require.Equal(t, "not_found", code(err))
	cur, ok := b.srv.Modal("UALICE")
	require.True(t, ok)
	require.Equal(t, "Second", cur.Title())

	for range 2 {
		_, err = b.api.PushViewContext(ctx, b.srv.IssueTrigger("UALICE"), modalRequest("Pushed"))
		require.NoError(t, err)
	}
	_, err = b.api.PushViewContext(ctx, b.srv.IssueTrigger("UALICE"), modalRequest("Too many"))
	require.Equal(t, "push_limit_reached", code(err))
	require.Len(t, b.srv.ModalStack("UALICE"), 3)

	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewDividerBlock()}}}
	_, err = b.api.PublishView("UALICE", home, "")
	require.NoError(t, err)
	_, err = b.api.PublishView("UNOBODY", home, "")
	require.Equal(t, "user_not_found", code(err))
	_, err = b.api.PublishView("UALICE", home, "stale-hash")
	require.Equal(t, "hash_conflict", code(err))
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, slackfake.Options{Limits: map[string]slackfake.Limit{"users.info": {Burst: 2, Per: time.Minute}}})
	ctx := t.Context()
	for range 2 {
		_, err := b.api.GetUserInfoContext(ctx, "UALICE")
		require.NoError(t, err)
	}
	_, err := b.api.GetUserInfoContext(ctx, "UALICE")
	var rl *slack.RateLimitedError
	require.ErrorAs(t, err, &rl)
	require.Equal(t, 30*time.Second, rl.RetryAfter)
	b.clock.Advance(30 * time.Second)
	_, err = b.api.GetUserInfoContext(ctx, "UALICE")
	require.NoError(t, err)

	// chat.postMessage: about one per second per channel, short bursts.
	posted := 0
	for range 10 {
		if _, _, err := b.api.PostMessageContext(ctx, "UALICE", slack.MsgOptionText("x", false)); err == nil {
			posted++
		} else {
			require.ErrorAs(t, err, &rl)
		}
	}
	require.Equal(t, 5, posted)
	_, _, err = b.api.PostMessageContext(ctx, "UBOB", slack.MsgOptionText("x", false))
	require.NoError(t, err, "other channels have their own budget")
	b.clock.Advance(time.Second)
	_, _, err = b.api.PostMessageContext(ctx, "UALICE", slack.MsgOptionText("x", false))
	require.NoError(t, err)

	b.srv.FailNextStatus("auth.test", 1, http.StatusTooManyRequests)
	_, err = b.api.AuthTestContext(ctx)
	require.ErrorAs(t, err, &rl)
	b.srv.FailNext("auth.test", 1, "fatal_error")
	_, err = b.api.AuthTestContext(ctx)
	require.Equal(t, "fatal_error", code(err))
}

func TestScopes(t *testing.T) {
	t.Parallel()
	b := setup(t, slackfake.Options{Scopes: []string{"users:read", "chat:write"}})
	ctx := t.Context()
	u, err := b.api.GetUserInfoContext(ctx, "UALICE")
	require.NoError(t, err)
	require.Empty(t, u.Profile.Email, "emails need users:read.email")
	_, err = b.api.GetUserByEmailContext(ctx, "alice@example.com")
	require.Equal(t, "missing_scope", code(err))
}

// app is a minimal HTTP-mode Slack app for the fake to talk to.
type app struct {
	t      *testing.T
	secret string
	answer func(kind string, payload map[string]any) any
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if !assert.NoError(a.t, err) {
		return
	}
	assert.Equal(a.t, slackfake.Sign(a.secret, t0.Unix(), body), r.Header.Get("X-Slack-Signature"))
	vals, err := url.ParseQuery(string(body))
	if !assert.NoError(a.t, err) {
		return
	}
	var payload map[string]any
	if p := vals.Get("payload"); p != "" && !assert.NoError(a.t, json.Unmarshal([]byte(p), &payload)) {
		return
	}
	out := a.answer(strings.TrimPrefix(r.URL.Path, "/slack/"), payload)
	if out == nil {
		return
	}
	assert.NoError(a.t, json.NewEncoder(w).Encode(out))
}

func TestSimulatedUsers(t *testing.T) {
	t.Parallel()
	b := setup(t, slackfake.Options{})
	ctx := t.Context()
	a := &app{t: t, secret: b.srv.SigningSecret()}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	b.srv.SetRequestURL(srv.URL)

	var (
		mu   sync.Mutex
		trig string
	)
	a.answer = func(kind string, p map[string]any) any {
		switch kind {
		case "commands":
			return map[string]any{"response_type": "ephemeral", "text": "opening"}
		case "options":
			return map[string]any{"options": opts(101, 5)}
		}
		if p["type"] == "view_submission" {
			return map[string]any{"response_action": "errors", "errors": map[string]string{"note": "no"}}
		}
		mu.Lock()
		trig, _ = p["trigger_id"].(string)
		mu.Unlock()
		return nil
	}
	_, err := b.srv.Command(ctx, "UALICE", "/access", "hi")
	require.NoError(t, err)
	require.Equal(t, "opening\n", b.srv.LastEphemeral("UALICE"))

	_, ts, err := b.api.PostMessageContext(ctx, "UALICE", slack.MsgOptionText("pick", false), slack.MsgOptionBlocks(
		slack.NewActionBlock("a", slack.NewButtonBlockElement("go", "v1", slack.NewTextBlockObject("plain_text", "Go", false, false)))))
	require.NoError(t, err)
	_, err = b.srv.Click(ctx, "UBOB", slackfake.InMessage("DALICE", ts), "go")
	require.ErrorIs(t, err, slackfake.ErrNotVisible, "bob cannot click in alice's DM")
	_, err = b.srv.Click(ctx, "UALICE", slackfake.InMessage("DALICE", ts), "nope")
	require.ErrorIs(t, err, slackfake.ErrNotVisible)
	_, err = b.srv.Click(ctx, "UALICE", slackfake.InMessage("DALICE", ts), "go")
	require.NoError(t, err)
	mu.Lock()
	require.NotEmpty(t, trig)
	mu.Unlock()

	name := slack.NewInputBlock("name", slack.NewTextBlockObject("plain_text", "Name", false, false), nil,
		slack.NewPlainTextInputBlockElement(nil, "name"))
	pick := slack.NewInputBlock("pick", slack.NewTextBlockObject("plain_text", "Pick", false, false), nil,
		slack.NewOptionsSelectBlockElement("external_select", nil, "pick"))
	pick.Optional = true
	mv := slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "Form", false, false),
		Submit: slack.NewTextBlockObject("plain_text", "Send", false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{name, pick,
			slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "note", false, false), nil, nil, slack.SectionBlockOptionBlockID("note"))}}}
	v, err := b.api.OpenViewContext(ctx, trig, mv)
	require.NoError(t, err)

	_, err = b.srv.Submit(ctx, "UALICE", v.ID)
	require.ErrorIs(t, err, slackfake.ErrRequiredMissing, "the client refuses to submit an empty required input")
	require.NoError(t, b.srv.TypeText("UALICE", v.ID, "name", "Alice"))
	_, err = b.srv.Submit(ctx, "UALICE", v.ID)
	require.ErrorIs(t, err, slackfake.ErrBadResponse, "errors must name input blocks")
	require.Contains(t, b.srv.Violations()[0], `names "note", which is not an input block`)

	_, _, err = b.srv.Suggest(ctx, "UALICE", v.ID, "pick", "ab")
	require.ErrorIs(t, err, slackfake.ErrQueryTooShort, "Slack's default min_query_length is 3")
	_, _, err = b.srv.Suggest(ctx, "UALICE", v.ID, "pick", "abc")
	require.ErrorIs(t, err, slackfake.ErrBadResponse, "at most 100 options")
	_, err = b.srv.Click(ctx, "UBOB", slackfake.InView(v.ID), "name")
	require.ErrorIs(t, err, slackfake.ErrNotVisible, "bob cannot see alice's modal")
}

func TestSocketMode(t *testing.T) {
	t.Parallel()
	b := setup(t, slackfake.Options{AckTimeout: 500 * time.Millisecond})
	api := slack.New(b.srv.BotToken(), slack.OptionAPIURL(b.srv.APIURL()), slack.OptionAppLevelToken(b.srv.AppToken()))
	client := socketmode.New(api)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- client.RunContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("socket mode client: %v", err)
		}
	})
	var silent atomic.Bool
	go func() {
		for evt := range client.Events {
			if evt.Type == socketmode.EventTypeSlashCommand && !silent.Load() {
				cmd, ok := evt.Data.(slack.SlashCommand)
				if !ok {
					continue
				}
				if err := client.Ack(*evt.Request, map[string]any{"text": "you said " + cmd.Text}); err != nil {
					t.Errorf("ack: %v", err)
				}
			}
		}
	}()
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	require.NoError(t, b.srv.WaitSocket(wctx))
	_, err := b.srv.Command(t.Context(), "UALICE", "/access", "hello")
	require.NoError(t, err)
	require.Equal(t, "you said hello\n", b.srv.LastEphemeral("UALICE"))

	silent.Store(true)
	_, err = b.srv.Command(t.Context(), "UALICE", "/access", "silence")
	require.ErrorIs(t, err, slackfake.ErrAckTimeout)
	require.NotEmpty(t, b.srv.Violations())

	// A refresh: the client reconnects with a new ticket.
	b.srv.Disconnect("refresh_requested")
	require.Eventually(t, func() bool { return b.srv.SocketConnections() == 1 }, 10*time.Second, 20*time.Millisecond)
	require.Len(t, b.srv.Calls("apps.connections.open"), 2)
}
