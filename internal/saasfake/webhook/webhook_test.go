package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/clock"
	fakewebhook "github.com/sesame-access/sesame/internal/saasfake/webhook"
)

const secret = "receiver-secret-0123"

func sign(t time.Time, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%d.%s", t.Unix(), body)
	return fmt.Sprintf("t=%d,v1=%s", t.Unix(), hex.EncodeToString(m.Sum(nil)))
}

func post(t *testing.T, srv *httptest.Server, sig, idem, body string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader(body))
	require.NoError(t, err)
	if sig != "" {
		req.Header.Set("X-Sesame-Signature", sig)
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode, resp.Header
}

func status(t *testing.T, srv *httptest.Server, sig, idem, body string) int {
	t.Helper()
	code, _ := post(t, srv, sig, idem, body)
	return code
}

func TestReceiver(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFake(now)
	r := fakewebhook.New(secret, clk)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	grant := `{"event":"grant","grant_id":"g1","user":{"email":"A@example.com"},"app":"app","entitlement":"admin"}`
	revoke := strings.Replace(grant, `"grant"`, `"revoke"`, 1)

	require.Equal(t, http.StatusUnauthorized, status(t, srv, "", "g1:grant", grant), "unsigned")
	require.Equal(t, http.StatusUnauthorized, status(t, srv, sign(now.Add(-10*time.Minute), grant), "g1:grant", grant), "stale")
	require.Equal(t, http.StatusBadRequest, status(t, srv, sign(now, grant), "", grant), "no idempotency key")
	require.False(t, r.Has("app", "admin", "a@example.com"))

	require.Equal(t, http.StatusOK, status(t, srv, sign(now, grant), "g1:grant", grant))
	require.True(t, r.Has("app", "admin", "a@example.com"))
	require.Equal(t, http.StatusOK, status(t, srv, sign(now, revoke), "g1:revoke", revoke))
	require.False(t, r.Has("app", "admin", "a@example.com"))
	// A replayed grant key is acknowledged but not applied again.
	require.Equal(t, http.StatusOK, status(t, srv, sign(now, grant), "g1:grant", grant))
	require.False(t, r.Has("app", "admin", "a@example.com"))

	ping := `{"event":"ping"}`
	require.Equal(t, http.StatusUnprocessableEntity, status(t, srv, sign(now, ping), "p", ping))

	r.SetRateLimit(1, time.Minute)
	require.Equal(t, http.StatusOK, status(t, srv, sign(now, grant), "g2:grant", grant))
	code, h := post(t, srv, sign(now, grant), "g3:grant", grant)
	require.Equal(t, http.StatusTooManyRequests, code)
	require.Equal(t, "60", h.Get("Retry-After"))
}
