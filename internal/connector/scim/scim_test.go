package scim_test

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
	"github.com/sesame-access/sesame/internal/connector/scim"
	fakescim "github.com/sesame-access/sesame/internal/saasfake/scim"
)

const (
	writeToken = "scim-write-token-0123456789"
	readToken  = "scim-read-token-0123456789"
)

type testBundle struct {
	sp       *fakescim.Server
	srv      *httptest.Server
	clock    *clock.Fake
	settings map[string]string
	admins   string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	sp := fakescim.New(clk)
	sp.AddToken(writeToken, fakescim.Token{Write: true})
	sp.AddToken(readToken, fakescim.Token{})
	for i := range 2 {
		sp.AddUser(fakescim.User{UserName: fmt.Sprintf("user%d@example.com", i), Email: fmt.Sprintf("user%d@example.com", i), Active: true})
	}
	admins := sp.AddGroup("Admins")
	sp.AddGroup("Readers")
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", sp))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &testBundle{sp: sp, srv: srv, clock: clk, admins: admins,
		settings: map[string]string{"base_url": srv.URL + "/scim/v2/", "token": writeToken}}
}

func (b *testBundle) open(t *testing.T, settings map[string]string) *scim.Connector {
	t.Helper()
	c, err := scim.NewWithOptions(settings, scim.Options{Clock: b.clock, HTTPClient: b.srv.Client()})
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
	return "http://" + addr + "/scim/v2"
}

func (b *testBundle) target(email string) connector.Target {
	return connector.Target{GrantID: "grt_" + email, Email: email, Name: "Someone", AppID: "app_scim", EntitlementKey: b.admins}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	b := setup(t)
	connectortest.Run(t, connectortest.Harness{
		Factory: func(s map[string]string) (connector.Connector, error) {
			return scim.NewWithOptions(s, scim.Options{Clock: b.clock, HTTPClient: b.srv.Client()})
		},
		Settings: b.settings,
		Target:   func(_ *testing.T, i int) connector.Target { return b.target(fmt.Sprintf("user%d@example.com", i)) },
		Has: func(_ *testing.T, tg connector.Target) bool {
			return b.sp.IsMember(tg.EntitlementKey, tg.Email)
		},
		BadSettings: []connectortest.BadSettings{
			{Name: "unknown key", Settings: with(b.settings, "password", "x"), WantInError: "password"},
			{Name: "missing base_url", Settings: with(b.settings, "base_url", ""), WantInError: "base_url"},
			{Name: "relative base_url", Settings: with(b.settings, "base_url", "scim/v2"), WantInError: "base_url"},
			{Name: "missing token", Settings: with(b.settings, "token", ""), WantInError: "token"},
			{Name: "bad user_attribute", Settings: with(b.settings, "user_attribute", "nickName"), WantInError: "user_attribute"},
			{Name: "bad create_users", Settings: with(b.settings, "create_users", "sometimes"), WantInError: "create_users"},
			{Name: "bad page_size", Settings: with(b.settings, "page_size", "0"), WantInError: "page_size"},
			{Name: "bad timeout", Settings: with(b.settings, "timeout", "1 minute"), WantInError: "timeout"},
		},
		DownSettings:      with(b.settings, "base_url", closedURL(t)),
		ForbiddenSettings: with(b.settings, "token", readToken),
	})
}

func TestUnknownUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tg := b.target("new.person@example.com")
	err := b.open(t, b.settings).Grant(t.Context(), tg)
	require.True(t, connector.IsPermanent(err), "%v", err)
	require.ErrorContains(t, err, "create_users")
	require.NoError(t, b.open(t, b.settings).Revoke(t.Context(), tg), "nobody to revoke from")

	c := b.open(t, with(b.settings, "create_users", "true"))
	require.NoError(t, c.Grant(t.Context(), tg))
	require.True(t, b.sp.IsMember(b.admins, "new.person@example.com"))
	require.NoError(t, c.Grant(t.Context(), tg), "the second grant finds the created user")
	accts, err := c.ListAccounts(t.Context())
	require.NoError(t, err)
	require.Contains(t, accts, connector.Account{ExternalID: b.sp.UserID("new.person@example.com"), Email: "new.person@example.com", Name: "Someone"})
}

func TestMatchByEmail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sp.AddUser(fakescim.User{UserName: "glovelace", Email: "grace@example.com", Active: true})
	c := b.open(t, with(b.settings, "user_attribute", "emails.value"))
	require.NoError(t, c.Grant(t.Context(), b.target("grace@example.com")))
	require.True(t, b.sp.IsMember(b.admins, "glovelace"))
	gs, err := c.ListGrants(t.Context())
	require.NoError(t, err)
	require.Contains(t, gs, connector.GrantRecord{Account: "glovelace", AccountEmail: "grace@example.com", EntitlementKey: b.admins})
	require.NoError(t, c.Revoke(t.Context(), b.target("grace@example.com")))
	require.False(t, b.sp.IsMember(b.admins, "glovelace"))

	// By userName, the same email finds nobody.
	err = b.open(t, b.settings).Grant(t.Context(), b.target("grace@example.com"))
	require.True(t, connector.IsPermanent(err))
}

func TestFilterValuesAreQuoted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	odd := `o"brien\x@example.com`
	b.sp.AddUser(fakescim.User{UserName: odd, Active: true})
	c := b.open(t, b.settings)
	require.NoError(t, c.Grant(t.Context(), b.target(odd)))
	require.True(t, b.sp.IsMember(b.admins, odd))
}

func TestPatchAnswering200(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sp.SetReturnResourceOnPatch(true)
	c := b.open(t, b.settings)
	require.NoError(t, c.Grant(t.Context(), b.target("user0@example.com")))
	require.NoError(t, c.Revoke(t.Context(), b.target("user0@example.com")))
	require.False(t, b.sp.IsMember(b.admins, "user0@example.com"))
}

func TestPermanentAndRetryable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, b.settings)
	err := c.Grant(t.Context(), connector.Target{Email: "user0@example.com", EntitlementKey: "no-such-group"})
	require.True(t, connector.IsPermanent(err), "%v", err)
	require.NoError(t, c.Revoke(t.Context(), connector.Target{Email: "user0@example.com", EntitlementKey: "no-such-group"}))

	err = b.open(t, with(b.settings, "token", "nope")).Grant(t.Context(), b.target("user0@example.com"))
	require.True(t, connector.IsPermanent(err))
	require.ErrorContains(t, err, "401")
	require.NotContains(t, err.Error(), "nope")

	b.sp.SetRateLimit(1, time.Minute)
	require.NoError(t, c.HealthCheck(t.Context()))
	err = c.Grant(t.Context(), b.target("user0@example.com"))
	require.False(t, connector.IsPermanent(err))
	ra, ok := errors.AsType[*connector.RetryAfterError](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, time.Minute, ra.After)
}

func TestSyncPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sp.SetMaxResults(7) // smaller than page_size: the server's cap wins
	c := b.open(t, with(b.settings, "page_size", "50"))
	for i := range 40 {
		email := fmt.Sprintf("bulk%02d@example.com", i)
		b.sp.AddUser(fakescim.User{UserName: email, Email: email, Active: true})
		if i%4 == 0 {
			require.NoError(t, c.Grant(t.Context(), b.target(email)))
		}
	}
	for i := range 20 {
		b.sp.AddGroup(fmt.Sprint("g", i))
	}
	accts, err := c.ListAccounts(t.Context())
	require.NoError(t, err)
	require.Len(t, accts, 42)
	require.Equal(t, 10+6, b.sp.Calls.Get("GET /Users"), "10 grant lookups, then 42 users in pages of 7")

	gs, err := c.ListGrants(t.Context())
	require.NoError(t, err)
	require.Len(t, gs, 10)

	ents, err := c.ListEntitlements(t.Context())
	require.NoError(t, err)
	require.Len(t, ents, 22)
	require.Equal(t, connector.Entitlement{Key: b.admins, Name: "Admins"}, ents[0])
}
