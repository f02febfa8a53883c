package okta_test

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/connectortest"
	"github.com/sesame-access/sesame/internal/connector/okta"
	fakeokta "github.com/sesame-access/sesame/internal/saasfake/okta"
)

const (
	adminToken  = "00admin-token-aaaaaaaaaaaaaaaaaaaaaaaaaaa"
	readerToken = "00reader-token-bbbbbbbbbbbbbbbbbbbbbbbbbb"
)

type testBundle struct {
	okta     *fakeokta.Server
	srv      *httptest.Server
	clock    *clock.Fake
	settings map[string]string
	users    map[string]string // email -> id
	eng      string            // group id
	app      string            // APP_GROUP id
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	o := fakeokta.New(clk)
	o.AddToken(adminToken, fakeokta.Token{Admin: true})
	o.AddToken(readerToken, fakeokta.Token{})
	b := &testBundle{okta: o, clock: clk, users: map[string]string{}}
	for i := range 2 {
		email := fmt.Sprintf("user%d@example.com", i)
		b.users[email] = o.AddUser(fakeokta.User{Email: email, FirstName: "User", LastName: fmt.Sprint(i)})
	}
	b.eng = o.AddGroup("Engineering", "All engineers", "OKTA_GROUP")
	b.app = o.AddGroup("Salesforce users", "", "APP_GROUP")
	b.srv = httptest.NewServer(o)
	t.Cleanup(b.srv.Close)
	b.settings = map[string]string{"base_url": b.srv.URL, "api_token": adminToken}
	return b
}

func (b *testBundle) open(t *testing.T, settings map[string]string) *okta.Connector {
	t.Helper()
	c, err := okta.NewWithOptions(settings, okta.Options{Clock: b.clock, HTTPClient: b.srv.Client()})
	require.NoError(t, err)
	return c
}

func with(m map[string]string, kv ...string) map[string]string {
	out := maps.Clone(m)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func closedURL(t *testing.T) string {
	t.Helper()
	var lc net.ListenConfig
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

func (b *testBundle) target(i int) connector.Target {
	return connector.Target{GrantID: fmt.Sprint("grt_", i), Email: fmt.Sprintf("user%d@example.com", i), AppID: "app_okta", EntitlementKey: b.eng}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	b := setup(t)
	connectortest.Run(t, connectortest.Harness{
		Factory: func(s map[string]string) (connector.Connector, error) {
			return okta.NewWithOptions(s, okta.Options{Clock: b.clock, HTTPClient: b.srv.Client()})
		},
		Settings: b.settings,
		Target:   func(_ *testing.T, i int) connector.Target { return b.target(i) },
		Has: func(_ *testing.T, tg connector.Target) bool {
			return b.okta.IsMember(tg.EntitlementKey, b.users[tg.Email])
		},
		BadSettings: []connectortest.BadSettings{
			{Name: "unknown key", Settings: with(b.settings, "domain", "acme"), WantInError: "domain"},
			{Name: "missing base_url", Settings: with(b.settings, "base_url", ""), WantInError: "base_url"},
			{Name: "base_url with path", Settings: with(b.settings, "base_url", "https://acme.okta.com/api/v1"), WantInError: "base_url"},
			{Name: "admin console url", Settings: with(b.settings, "base_url", "https://acme-admin.okta.com"), WantInError: "base_url"},
			{Name: "missing token", Settings: with(b.settings, "api_token", ""), WantInError: "api_token"},
			{Name: "bad timeout", Settings: with(b.settings, "timeout", "x"), WantInError: "timeout"},
		},
		DownSettings:      with(b.settings, "base_url", closedURL(t)),
		ForbiddenSettings: with(b.settings, "api_token", readerToken),
	})
}

func TestPermanentErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, b.settings)
	for name, tg := range map[string]connector.Target{
		"unknown user":  {Email: "nobody@example.com", EntitlementKey: b.eng},
		"unknown group": {Email: "user0@example.com", EntitlementKey: "00gnope"},
		"app group":     {Email: "user0@example.com", EntitlementKey: b.app},
		"bad key":       {Email: "user0@example.com", EntitlementKey: "../users"},
		"no email":      {EntitlementKey: b.eng},
	} {
		err := c.Grant(t.Context(), tg)
		require.Error(t, err, name)
		require.True(t, connector.IsPermanent(err), "%s: %v", name, err)
	}
	err := b.open(t, with(b.settings, "api_token", "wrong")).Grant(t.Context(), b.target(0))
	require.True(t, connector.IsPermanent(err))
	require.ErrorContains(t, err, "E0000011")
	require.NotContains(t, err.Error(), "wrong")

	// Revoking from an unknown user or group: nothing to revoke.
	require.NoError(t, c.Revoke(t.Context(), connector.Target{Email: "nobody@example.com", EntitlementKey: b.eng}))
	require.NoError(t, c.Revoke(t.Context(), connector.Target{Email: "user0@example.com", EntitlementKey: "00gnope"}))
}

func TestRateLimitIsRetryableUntilReset(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.okta.SetRateLimit(2, time.Minute)
	c := b.open(t, b.settings)
	require.NoError(t, c.Grant(t.Context(), b.target(0))) // 2 requests: user lookup, PUT
	b.clock.Advance(20 * time.Second)
	err := c.Grant(t.Context(), b.target(1))
	require.Error(t, err)
	require.False(t, connector.IsPermanent(err))
	ra, ok := errors.AsType[*connector.RetryAfterError](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, 40*time.Second, ra.After)
	require.ErrorContains(t, err, "E0000047")
}

func TestServerErrorIsRetryable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	c, err := okta.NewWithOptions(map[string]string{"base_url": srv.URL, "api_token": adminToken}, okta.Options{HTTPClient: srv.Client()})
	require.NoError(t, err)
	err = c.Grant(t.Context(), connector.Target{Email: "a@example.com", EntitlementKey: "00g1"})
	require.Error(t, err)
	require.False(t, connector.IsPermanent(err))
}

func TestSyncFollowsCursors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, b.settings)
	for i := range 450 {
		email := fmt.Sprintf("bulk%03d@example.com", i)
		b.users[email] = b.okta.AddUser(fakeokta.User{Email: email})
		if i < 1200 && i%3 == 0 {
			require.NoError(t, c.Grant(t.Context(), connector.Target{Email: email, EntitlementKey: b.eng}))
		}
	}
	accts, err := c.ListAccounts(t.Context())
	require.NoError(t, err)
	require.Len(t, accts, 452)
	require.Equal(t, 3, b.okta.Calls.Get("GET /api/v1/users"), "200 + 200 + 52")
	require.Equal(t, "user0@example.com", accts[0].Email)
	require.Equal(t, "User 0", accts[0].Name)

	gs, err := c.ListGrants(t.Context())
	require.NoError(t, err)
	require.Len(t, gs, 150)
	require.Equal(t, b.eng, gs[0].EntitlementKey)

	ents, err := c.ListEntitlements(t.Context())
	require.NoError(t, err)
	require.Equal(t, []connector.Entitlement{{Key: b.eng, Name: "Engineering", Description: "All engineers"}}, ents,
		"APP_GROUP groups are not grantable")
}
