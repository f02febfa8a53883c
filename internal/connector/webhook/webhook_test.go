package webhook_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/connectortest"
	"github.com/sesame-access/sesame/internal/connector/webhook"
	fakewebhook "github.com/sesame-access/sesame/internal/saasfake/webhook"
)

const secret = "whsec_0123456789abcdef"

type testBundle struct {
	recv     *fakewebhook.Receiver
	srv      *httptest.Server
	clock    *clock.Fake
	settings map[string]string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	recv := fakewebhook.New(secret, clk)
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	return &testBundle{recv: recv, srv: srv, clock: clk, settings: map[string]string{"url": srv.URL + "/hooks/sesame", "secret": secret}}
}

func (b *testBundle) open(t *testing.T, settings map[string]string) *webhook.Connector {
	t.Helper()
	c, err := webhook.NewWithOptions(settings, webhook.Options{Clock: b.clock, HTTPClient: b.srv.Client()})
	require.NoError(t, err)
	return c
}

// closedURL returns an http URL on a port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	var lc net.ListenConfig
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr + "/hook"
}

func target(i int) connector.Target {
	return connector.Target{
		GrantID: fmt.Sprintf("grt_%d", i), UserID: fmt.Sprintf("usr_%d", i),
		Email: fmt.Sprintf("user%d@example.com", i), Name: fmt.Sprintf("User %d", i),
		AppID: "app_billing", EntitlementKey: "admin",
		ExpiresAt: time.Date(2026, 3, 1, 16, 0, 0, 0, time.UTC),
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	b := setup(t)
	connectortest.Run(t, connectortest.Harness{
		Factory: func(s map[string]string) (connector.Connector, error) {
			return webhook.NewWithOptions(s, webhook.Options{Clock: b.clock, HTTPClient: b.srv.Client()})
		},
		Settings: b.settings,
		Target:   func(_ *testing.T, i int) connector.Target { return target(i) },
		Has: func(_ *testing.T, tg connector.Target) bool {
			return b.recv.Has(tg.AppID, tg.EntitlementKey, tg.Email)
		},
		BadSettings: []connectortest.BadSettings{
			{Name: "unknown key", Settings: map[string]string{"url": b.srv.URL, "secret": secret, "colour": "red"}, WantInError: "colour"},
			{Name: "missing url", Settings: map[string]string{"secret": secret}, WantInError: "url"},
			{Name: "relative url", Settings: map[string]string{"url": "/hook", "secret": secret}, WantInError: "url"},
			{Name: "ftp url", Settings: map[string]string{"url": "ftp://example.com/", "secret": secret}, WantInError: "url"},
			{Name: "credentials in url", Settings: map[string]string{"url": "https://u:p@example.com/", "secret": secret}, WantInError: "url"},
			{Name: "missing secret", Settings: map[string]string{"url": b.srv.URL}, WantInError: "secret"},
			{Name: "short secret", Settings: map[string]string{"url": b.srv.URL, "secret": "short"}, WantInError: "secret"},
			{Name: "bad timeout", Settings: map[string]string{"url": b.srv.URL, "secret": secret, "timeout": "soon"}, WantInError: "timeout"},
		},
		DownSettings: map[string]string{"url": closedURL(t), "secret": secret},
		// The receiver knows another secret: it answers 401, which is permanent.
		ForbiddenSettings: map[string]string{"url": b.srv.URL, "secret": "whsec_not_the_receivers_secret"},
	})
}

func TestSignKnownVector(t *testing.T) {
	t.Parallel()
	// Computed independently with:
	//   printf '%s' '1700000000.{"event":"grant"}' | openssl dgst -sha256 -hmac 'whsec_0123456789abcdef'
	got := webhook.Sign(secret, time.Unix(1700000000, 0), []byte(`{"event":"grant"}`))
	require.Equal(t, "t=1700000000,v1=793016b7cb519c1b4dbb2a9f8ad1df258e30ea522bf21e7a805a0e263bebcef3", got)
}

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	body := []byte(`{"event":"grant"}`)
	h := webhook.Sign(secret, now, body)

	require.NoError(t, webhook.Verify(secret, h, body, now.Add(time.Minute), 0))
	// Rotation: a second v1 with the old secret's signature still verifies.
	require.NoError(t, webhook.Verify(secret, "t=1700000000,v1=deadbeef,"+h[len("t=1700000000,"):], body, now, 0))

	for name, tc := range map[string]struct {
		header string
		body   []byte
		now    time.Time
	}{
		"tampered body":   {h, []byte(`{"event":"revoke"}`), now},
		"wrong secret":    {webhook.Sign("another-secret-0000", now, body), body, now},
		"too old":         {h, body, now.Add(6 * time.Minute)},
		"from the future": {h, body, now.Add(-6 * time.Minute)},
		"empty":           {"", body, now},
		"no v1":           {"t=1700000000", body, now},
		"bad t":           {"t=soon,v1=00", body, now},
	} {
		err := webhook.Verify(secret, tc.header, tc.body, tc.now, 0)
		require.ErrorIs(t, err, webhook.ErrBadSignature, name)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("t=1700000000,v1=793016b7cb519c1b4dbb2a9f8ad1df258e30ea522bf21e7a805a0e263bebcef3", []byte(`{"event":"grant"}`))
	f.Add("t=,v1=,v1", []byte{})
	f.Add(",,,=,t=1,v1=zz", []byte("x"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := webhook.Verify(secret, header, body, time.Unix(1700000000, 0), 0)
		if err != nil && !errors.Is(err, webhook.ErrBadSignature) {
			t.Fatalf("Verify returned an error that is not ErrBadSignature: %v", err)
		}
	})
}

func TestDeliveryHeadersAndBody(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(r.Context())
		var err error
		body, err = io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)

	c := b.open(t, map[string]string{"url": srv.URL, "secret": secret})
	tg := target(0)
	require.NoError(t, c.Revoke(t.Context(), tg))

	require.Equal(t, "grt_0:revoke", got.Header.Get("Idempotency-Key"))
	require.Equal(t, "revoke", got.Header.Get("X-Sesame-Event"))
	require.Equal(t, "application/json", got.Header.Get("Content-Type"))
	require.NoError(t, webhook.Verify(secret, got.Header.Get("X-Sesame-Signature"), body, b.clock.Now(), 0))
	require.JSONEq(t, `{"event":"revoke","grant_id":"grt_0","user":{"id":"usr_0","email":"user0@example.com","name":"User 0"},
		"app":"app_billing","entitlement":"admin","expires_at":"2026-03-01T16:00:00Z"}`, string(body))

	// Without an expiry, expires_at is null.
	tg.ExpiresAt = time.Time{}
	p, err := json.Marshal(webhook.PayloadFor(webhook.EventGrant, tg))
	require.NoError(t, err)
	require.Contains(t, string(p), `"expires_at":null`)
}

func TestRetriesAreDeduplicatedByTheReceiver(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, b.settings)
	tg := target(0)
	require.NoError(t, c.Grant(t.Context(), tg))
	require.NoError(t, c.Grant(t.Context(), tg))
	ds := b.recv.Deliveries()
	require.Len(t, ds, 2)
	require.False(t, ds[0].Duplicate)
	require.True(t, ds[1].Duplicate, "the retry carries the same Idempotency-Key")
	require.Equal(t, ds[0].IdempotencyKey, ds[1].IdempotencyKey)
}

func TestReceiverAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status     int
		retryAfter string
		permanent  bool
		wantAfter  time.Duration
	}{
		{status: http.StatusInternalServerError},
		{status: http.StatusBadGateway},
		{status: http.StatusServiceUnavailable, retryAfter: "120", wantAfter: 2 * time.Minute},
		{status: http.StatusTooManyRequests, retryAfter: "7", wantAfter: 7 * time.Second},
		{status: http.StatusTooManyRequests, retryAfter: "Sun, 01 Mar 2026 12:00:30 GMT", wantAfter: 30 * time.Second},
		{status: http.StatusRequestTimeout},
		{status: http.StatusBadRequest, permanent: true},
		{status: http.StatusUnauthorized, permanent: true},
		{status: http.StatusForbidden, permanent: true},
		{status: http.StatusNotFound, permanent: true},
		{status: http.StatusGone, permanent: true},
		{status: http.StatusUnprocessableEntity, permanent: true},
	} {
		t.Run(fmt.Sprint(tc.status, tc.retryAfter), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.recv.SetRespond(func(fakewebhook.Delivery) (int, string) { return tc.status, tc.retryAfter })
			err := b.open(t, b.settings).Grant(t.Context(), target(0))
			require.Error(t, err)
			require.Equal(t, tc.permanent, connector.IsPermanent(err), "%v", err)
			require.Contains(t, err.Error(), fmt.Sprint(tc.status))
			var ra *connector.RetryAfterError
			if tc.wantAfter != 0 {
				require.ErrorAs(t, err, &ra)
				require.Equal(t, tc.wantAfter, ra.After)
			} else {
				require.NotErrorAs(t, err, &ra)
			}
		})
	}
}

func TestRateLimitedReceiver(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.recv.SetRateLimit(1, time.Minute)
	c := b.open(t, b.settings)
	require.NoError(t, c.Grant(t.Context(), target(0)))
	err := c.Grant(t.Context(), target(1))
	var ra *connector.RetryAfterError
	require.ErrorAs(t, err, &ra)
	require.False(t, connector.IsPermanent(err))
	require.Equal(t, time.Minute, ra.After)
	b.clock.Advance(time.Minute)
	require.NoError(t, c.Grant(t.Context(), target(1)))
}

func TestRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := httptest.NewServer(http.RedirectHandler(b.srv.URL, http.StatusFound))
	t.Cleanup(srv.Close)
	err := b.open(t, map[string]string{"url": srv.URL, "secret": secret}).Grant(t.Context(), target(0))
	require.True(t, connector.IsPermanent(err), "%v", err)
	require.Empty(t, b.recv.Deliveries())
}

func TestErrorsDoNotLeakSecrets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	down := closedURL(t) + "?token=hunter2-in-query"
	err := b.open(t, map[string]string{"url": down, "secret": secret}).Grant(t.Context(), target(0))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
	require.NotContains(t, err.Error(), secret)

	_, err = webhook.New(map[string]string{"url": "https://example.com", "secret": "tooshort", "bogus": "x"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "tooshort")
}
