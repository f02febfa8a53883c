package github_test

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/connectortest"
	"github.com/sesame-access/sesame/internal/connector/github"
	fakegithub "github.com/sesame-access/sesame/internal/saasfake/github"
)

const (
	ownerToken    = "ghp_owner_0000000000000000000000000000"
	readonlyToken = "ghp_member_111111111111111111111111111"
)

type testBundle struct {
	gh       *fakegithub.Server
	srv      *httptest.Server
	clock    *clock.Fake
	settings map[string]string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	gh := fakegithub.New(clk)
	gh.AddToken(ownerToken, fakegithub.Token{Login: "sesame-bot", Owner: true})
	gh.AddToken(readonlyToken, fakegithub.Token{Login: "someone"})
	gh.AddUser("user0", "user1", "octo-admin", "outsider", "ada-lovelace", "ghost_acme")
	gh.AddOrg("acme")
	gh.AddMember("acme", "user0", "member")
	gh.AddMember("acme", "user1", "member")
	gh.AddMember("acme", "octo-admin", "admin")
	gh.AddTeam("acme", "platform", "Platform")
	gh.AddTeam("acme", "sre", "SRE")
	srv := httptest.NewServer(gh)
	t.Cleanup(srv.Close)
	return &testBundle{gh: gh, srv: srv, clock: clk, settings: map[string]string{"token": ownerToken, "org": "acme", "api_url": srv.URL}}
}

func (b *testBundle) open(t *testing.T, settings map[string]string) *github.Connector {
	t.Helper()
	c, err := github.NewWithOptions(settings, github.Options{Clock: b.clock, HTTPClient: b.srv.Client()})
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

func target(email, key string) connector.Target {
	return connector.Target{GrantID: "grt_" + email + key, Email: email, AppID: "app_github", EntitlementKey: key}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	b := setup(t)
	connectortest.Run(t, connectortest.Harness{
		Factory: func(s map[string]string) (connector.Connector, error) {
			return github.NewWithOptions(s, github.Options{Clock: b.clock, HTTPClient: b.srv.Client()})
		},
		Settings: b.settings,
		Target: func(_ *testing.T, i int) connector.Target {
			return target(fmt.Sprintf("user%d@example.com", i), "team:platform")
		},
		Has: func(_ *testing.T, tg connector.Target) bool {
			_, state := b.gh.TeamRole("acme", "platform", strings.Split(tg.Email, "@")[0])
			return state == "active"
		},
		BadSettings: []connectortest.BadSettings{
			{Name: "unknown key", Settings: with(b.settings, "colour", "red"), WantInError: "colour"},
			{Name: "missing token", Settings: with(b.settings, "token", ""), WantInError: "token"},
			{Name: "missing org", Settings: with(b.settings, "org", ""), WantInError: "org"},
			{Name: "bad org", Settings: with(b.settings, "org", "a/b"), WantInError: "org"},
			{Name: "bad api_url", Settings: with(b.settings, "api_url", "api.github.com"), WantInError: "api_url"},
			{Name: "bad login_map", Settings: with(b.settings, "login_map", "ada"), WantInError: "login_map"},
			{Name: "bad login_suffix", Settings: with(b.settings, "login_suffix", "_a b"), WantInError: "login_suffix"},
			{Name: "bad timeout", Settings: with(b.settings, "timeout", "-1s"), WantInError: "timeout"},
		},
		DownSettings:      with(b.settings, "api_url", closedURL(t)),
		ForbiddenSettings: with(b.settings, "token", readonlyToken),
	})
}

func TestOrgAdminIsDemotedNotRemoved(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, b.settings)
	tg := target("user0@example.com", "admin")
	require.NoError(t, c.Grant(t.Context(), tg))
	role, state := b.gh.OrgRole("acme", "user0")
	require.Equal(t, []string{"admin", "active"}, []string{role, state})

	require.NoError(t, c.Revoke(t.Context(), tg))
	role, state = b.gh.OrgRole("acme", "user0")
	require.Equal(t, []string{"member", "active"}, []string{role, state}, "revoking admin leaves a member")
	require.NoError(t, c.Revoke(t.Context(), tg), "revoking again is a no-op")
}

func TestGrantingMemberNeverDemotes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, b.settings)
	require.NoError(t, c.Grant(t.Context(), target("octo-admin@example.com", "member")))
	role, _ := b.gh.OrgRole("acme", "octo-admin")
	require.Equal(t, "admin", role)

	require.NoError(t, c.Grant(t.Context(), target("user0@example.com", "team:sre:maintainer")))
	require.NoError(t, c.Grant(t.Context(), target("user0@example.com", "team:sre")))
	role, _ = b.gh.TeamRole("acme", "sre", "user0")
	require.Equal(t, "maintainer", role)

	require.NoError(t, c.Revoke(t.Context(), target("user0@example.com", "team:sre:maintainer")))
	role, _ = b.gh.TeamRole("acme", "sre", "user0")
	require.Equal(t, "member", role, "revoking maintainer leaves a team member")
	require.NoError(t, c.Revoke(t.Context(), target("user0@example.com", "team:sre")))
	role, _ = b.gh.TeamRole("acme", "sre", "user0")
	require.Empty(t, role)
}

func TestOutsiderGetsAnInvitation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, b.settings)
	tg := target("outsider@example.com", "member")
	require.NoError(t, c.Grant(t.Context(), tg))
	_, state := b.gh.OrgRole("acme", "outsider")
	require.Equal(t, "pending", state)

	gs, err := c.ListGrants(t.Context())
	require.NoError(t, err)
	require.False(t, slices.ContainsFunc(gs, func(g connector.GrantRecord) bool { return g.Account == "outsider" }),
		"pending invitations are not access yet")

	require.NoError(t, c.Revoke(t.Context(), tg))
	_, state = b.gh.OrgRole("acme", "outsider")
	require.Empty(t, state, "revoking cancels the invitation")
}

func TestUnknownThingsArePermanent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, b.settings)
	for name, tg := range map[string]connector.Target{
		"unknown team":        target("user0@example.com", "team:nope"),
		"unknown user":        target("nobody-here@example.com", "member"),
		"unknown entitlement": target("user0@example.com", "superuser"),
		"no email":            target("", "member"),
	} {
		err := c.Grant(t.Context(), tg)
		require.Error(t, err, name)
		require.True(t, connector.IsPermanent(err), "%s: %v", name, err)
	}
	err := b.open(t, with(b.settings, "token", "ghp_unknown")).Grant(t.Context(), target("user0@example.com", "member"))
	require.True(t, connector.IsPermanent(err), "bad credentials: %v", err)
	require.Contains(t, err.Error(), "Bad credentials")
	require.NotContains(t, err.Error(), "ghp_unknown")
}

func TestSyncFollowsPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 250 {
		login := fmt.Sprintf("bulk%03d", i)
		b.gh.AddUser(login)
		b.gh.AddMember("acme", login, "member")
		if i%2 == 0 {
			require.NoError(t, b.open(t, b.settings).Grant(t.Context(), target(login+"@example.com", "team:platform")))
		}
	}
	c := b.open(t, b.settings)
	accts, err := c.ListAccounts(t.Context())
	require.NoError(t, err)
	require.Len(t, accts, 253)
	require.Equal(t, 3, b.gh.Calls.Get("GET /organizations/{org_id}/members")+1, "pages 2 and 3 through the Link URLs")

	gs, err := c.ListGrants(t.Context())
	require.NoError(t, err)
	count := map[string]int{}
	for _, g := range gs {
		count[g.EntitlementKey]++
	}
	require.Equal(t, map[string]int{"member": 253, "admin": 1, "team:platform": 125}, count)

	ents, err := c.ListEntitlements(t.Context())
	require.NoError(t, err)
	var keys []string
	for _, e := range ents {
		keys = append(keys, e.Key)
	}
	require.Equal(t, []string{"member", "admin", "team:platform", "team:platform:maintainer", "team:sre", "team:sre:maintainer"}, keys)
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	t.Run("primary", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.gh.SetPrimaryLimit(1, time.Hour, http.StatusForbidden)
		c := b.open(t, b.settings)
		require.NoError(t, c.HealthCheck(t.Context()))
		b.clock.Advance(10 * time.Minute)
		err := c.Grant(t.Context(), target("user0@example.com", "admin"))
		ra, ok := asRetryAfter(err)
		require.True(t, ok, "%v", err)
		require.False(t, connector.IsPermanent(err))
		require.Equal(t, 50*time.Minute, ra.After, "until x-ratelimit-reset")
	})
	for _, code := range []int{http.StatusForbidden, http.StatusTooManyRequests} {
		t.Run(fmt.Sprint("secondary ", code), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.gh.SetSecondaryLimit(1, time.Minute, code)
			c := b.open(t, b.settings)
			require.NoError(t, c.HealthCheck(t.Context()))
			err := c.Grant(t.Context(), target("user0@example.com", "admin"))
			ra, ok := asRetryAfter(err)
			require.True(t, ok, "%v", err)
			require.False(t, connector.IsPermanent(err))
			require.Equal(t, time.Minute, ra.After, "from retry-after")
			require.Contains(t, err.Error(), "secondary rate limit")
		})
	}
}

func asRetryAfter(err error) (*connector.RetryAfterError, bool) {
	return errors.AsType[*connector.RetryAfterError](err)
}

func TestServerErrorsAreRetryable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"message":"Server Error"}`, http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	c, err := github.NewWithOptions(map[string]string{"token": ownerToken, "org": "acme", "api_url": srv.URL}, github.Options{HTTPClient: srv.Client()})
	require.NoError(t, err)
	err = c.Grant(t.Context(), target("user0@example.com", "admin"))
	require.Error(t, err)
	require.False(t, connector.IsPermanent(err))
}

func TestPaginationLinkToAnotherHostIsRefused(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Link", `<https://evil.example.com/steal?page=2>; rel="next"`)
		_, err := w.Write([]byte(`[{"login":"a"}]`))
		if err != nil {
			return
		}
	}))
	t.Cleanup(srv.Close)
	c, err := github.NewWithOptions(map[string]string{"token": ownerToken, "org": "acme", "api_url": srv.URL}, github.Options{HTTPClient: srv.Client()})
	require.NoError(t, err)
	_, err = c.ListAccounts(t.Context())
	require.ErrorContains(t, err, "another host")
	require.True(t, connector.IsPermanent(err))
}

func TestAccountFor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, with(b.settings, "login_map", "Grace@Example.com=ghopper, x@y.z=xyz", "login_suffix", "_acme"))
	require.Equal(t, "ghopper", c.AccountFor(connector.Target{Email: "grace@example.com"}))
	require.Equal(t, "ada-lovelace_acme", c.AccountFor(connector.Target{Email: "Ada.Lovelace@example.com"}))
	require.Equal(t, "ghost_acme", c.AccountFor(connector.Target{Email: "ghost@example.com"}))
	require.Empty(t, c.AccountFor(connector.Target{Name: "No Email"}))

	require.NoError(t, c.Grant(t.Context(), target("ghost@example.com", "member")))
	_, state := b.gh.OrgRole("acme", "ghost_acme")
	require.Equal(t, "pending", state)
}
