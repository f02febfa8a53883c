package github_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/clock"
	fakegithub "github.com/sesame-access/sesame/internal/saasfake/github"
)

type testBundle struct {
	gh    *fakegithub.Server
	srv   *httptest.Server
	clock *clock.Fake
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	gh := fakegithub.New(clk)
	gh.AddToken("owner", fakegithub.Token{Login: "bot", Owner: true})
	gh.AddToken("reader", fakegithub.Token{Login: "reader"})
	gh.AddOrg("acme")
	gh.AddTeam("acme", "platform", "Platform")
	gh.AddUser("alice", "bob")
	gh.AddMember("acme", "alice", "member")
	srv := httptest.NewServer(gh)
	t.Cleanup(srv.Close)
	return &testBundle{gh: gh, srv: srv, clock: clk}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	list   []map[string]any
}

func (b *testBundle) call(t *testing.T, method, path, token, body string) answer {
	t.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = b.srv.URL + path
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("User-Agent", "test")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if len(data) > 0 && data[0] == '[' {
		require.NoError(t, json.Unmarshal(data, &a.list))
	} else if len(data) > 0 {
		require.NoError(t, json.Unmarshal(data, &a.body))
	}
	return a
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.call(t, http.MethodGet, "/orgs/acme", "", "")
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.Equal(t, "Requires authentication", a.body["message"])
	require.Contains(t, a.body, "documentation_url")

	a = b.call(t, http.MethodGet, "/orgs/acme", "wrong", "")
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.Equal(t, "Bad credentials", a.body["message"])

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, b.srv.URL+"/orgs/acme", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "token owner")
	req.Header.Set("User-Agent", "")
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "GitHub rejects requests without a User-Agent")

	a = b.call(t, http.MethodGet, "/orgs/acme", "owner", "")
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "5000", a.header.Get("x-ratelimit-limit"))
	require.Equal(t, "4999", a.header.Get("x-ratelimit-remaining"))
	require.Equal(t, "core", a.header.Get("x-ratelimit-resource"))
}

func TestPermissionsAndErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.call(t, http.MethodPut, "/orgs/acme/memberships/bob", "reader", `{"role":"member"}`)
	require.Equal(t, http.StatusForbidden, a.status)
	require.Equal(t, "403", a.body["status"])

	a = b.call(t, http.MethodPut, "/orgs/acme/memberships/nobody", "owner", `{"role":"member"}`)
	require.Equal(t, http.StatusNotFound, a.status)
	require.Equal(t, "Not Found", a.body["message"])

	a = b.call(t, http.MethodPut, "/orgs/acme/memberships/bob", "owner", `{"role":"king"}`)
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	require.Equal(t, "Validation Failed", a.body["message"])

	a = b.call(t, http.MethodPut, "/orgs/acme/teams/nope/memberships/alice", "owner", `{"role":"member"}`)
	require.Equal(t, http.StatusNotFound, a.status)
}

func TestMembershipsAreIdempotentAndInvitationsPending(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for range 2 {
		a := b.call(t, http.MethodPut, "/orgs/acme/memberships/alice", "owner", `{"role":"admin"}`)
		require.Equal(t, http.StatusOK, a.status)
		require.Equal(t, "admin", a.body["role"])
		require.Equal(t, "active", a.body["state"])
	}
	a := b.call(t, http.MethodPut, "/orgs/acme/teams/platform/memberships/bob", "owner", `{"role":"member"}`)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "pending", a.body["state"], "bob is not in the org: invited")
	_, state := b.gh.OrgRole("acme", "bob")
	require.Equal(t, "pending", state)

	a = b.call(t, http.MethodGet, "/orgs/acme/teams/platform/members", "owner", "")
	require.Empty(t, a.list, "pending members are not listed")

	require.Equal(t, http.StatusNoContent, b.call(t, http.MethodDelete, "/orgs/acme/memberships/bob", "owner", "").status)
	require.Equal(t, http.StatusNotFound, b.call(t, http.MethodDelete, "/orgs/acme/memberships/bob", "owner", "").status)
	role, _ := b.gh.TeamRole("acme", "platform", "bob")
	require.Empty(t, role, "leaving the org leaves its teams")
}

func TestPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 205 {
		login := fmt.Sprintf("u%03d", i)
		b.gh.AddUser(login)
		b.gh.AddMember("acme", login, "member")
	}
	a := b.call(t, http.MethodGet, "/orgs/acme/members?per_page=500", "owner", "")
	require.Len(t, a.list, 100, "per_page is capped at 100")
	link := a.header.Get("Link")
	require.Contains(t, link, `rel="next"`)
	require.Contains(t, link, `rel="last"`)
	require.NotContains(t, link, `rel="prev"`)
	require.Contains(t, link, "/organizations/", "GitHub's links use the organization id")

	a = b.call(t, http.MethodGet, "/orgs/acme/members", "owner", "")
	require.Len(t, a.list, 30, "default page size")

	seen := 0
	next := b.srv.URL + "/orgs/acme/members?per_page=100"
	for next != "" {
		a = b.call(t, http.MethodGet, next, "owner", "")
		require.Equal(t, http.StatusOK, a.status)
		seen += len(a.list)
		next = ""
		for part := range strings.SplitSeq(a.header.Get("Link"), ",") {
			if strings.Contains(part, `rel="next"`) {
				next = strings.Trim(strings.TrimSpace(strings.Split(part, ";")[0]), "<>")
			}
		}
	}
	require.Equal(t, 206, seen)
	require.Contains(t, a.header.Get("Link"), `rel="prev"`)
	require.Contains(t, a.header.Get("Link"), `rel="first"`)
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gh.SetPrimaryLimit(2, time.Hour, http.StatusForbidden)
	require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/orgs/acme", "owner", "").status)
	require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/orgs/acme", "owner", "").status)
	a := b.call(t, http.MethodGet, "/orgs/acme", "owner", "")
	require.Equal(t, http.StatusForbidden, a.status)
	require.Equal(t, "0", a.header.Get("x-ratelimit-remaining"))
	require.Equal(t, fmt.Sprint(b.clock.Now().Add(time.Hour).Unix()), a.header.Get("x-ratelimit-reset"))
	require.Contains(t, a.body["message"], "API rate limit exceeded")

	b.clock.Advance(time.Hour)
	b.gh.SetSecondaryLimit(1, time.Minute, http.StatusTooManyRequests)
	require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/orgs/acme", "owner", "").status)
	a = b.call(t, http.MethodGet, "/orgs/acme", "owner", "")
	require.Equal(t, http.StatusTooManyRequests, a.status)
	require.Equal(t, "60", a.header.Get("retry-after"))
	require.Contains(t, a.body["message"], "secondary rate limit")
}
