package gworkspace_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/clock"
	fakegws "github.com/sesame-access/sesame/internal/saasfake/gworkspace"
)

// TestTokensList checks tokens.list as the Directory API documents it:
// the fields of each token, no items for a user without grants, 404 for
// an unknown user, the user.security scope, and the rate limit.
func TestTokensList(t *testing.T) {
	t.Parallel()
	g := fakegws.New(clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	g.AddAccessToken("admin", fakegws.Access{Admin: true})
	g.AddAccessToken("narrow", fakegws.Access{Admin: true, Scopes: []string{"https://www.googleapis.com/auth/admin.directory.user.readonly"}})
	g.AddAccessToken("security", fakegws.Access{Admin: true, Scopes: []string{fakegws.SecurityScope}})
	g.AddUser("ada@acme.example", "Ada", false)
	g.AddUser("bob@acme.example", "Bob", false)
	g.AddOAuthGrant("ada@acme.example", fakegws.OAuthGrant{ClientID: "123.apps.googleusercontent.com", DisplayText: "Notion",
		Scopes: []string{"openid", "email"}})
	g.AddOAuthGrant("ada@acme.example", fakegws.OAuthGrant{ClientID: "123.apps.googleusercontent.com", DisplayText: "Notion",
		Scopes: []string{"openid", "email", "https://www.googleapis.com/auth/drive"}})
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)

	a := api(t, srv, http.MethodGet, "/users/ada@acme.example/tokens", "security", "")
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "admin#directory#tokenList", a.body["kind"])
	items := a.body["items"].([]any)
	require.Len(t, items, 1, "one token per client and user")
	tok := items[0].(map[string]any)
	require.Equal(t, "admin#directory#token", tok["kind"])
	require.Equal(t, "123.apps.googleusercontent.com", tok["clientId"])
	require.Equal(t, "Notion", tok["displayText"])
	require.Len(t, tok["scopes"], 3)
	require.NotEmpty(t, tok["userKey"])
	require.Equal(t, false, tok["anonymous"])
	require.Contains(t, tok, "etag")

	b := api(t, srv, http.MethodGet, "/users/bob@acme.example/tokens", "admin", "")
	require.Equal(t, http.StatusOK, b.status)
	require.NotContains(t, b.body, "items")

	nf := api(t, srv, http.MethodGet, "/users/nobody@acme.example/tokens", "admin", "")
	require.Equal(t, http.StatusNotFound, nf.status)
	require.Equal(t, "notFound", reason(nf))

	ns := api(t, srv, http.MethodGet, "/users/ada@acme.example/tokens", "narrow", "")
	require.Equal(t, http.StatusForbidden, ns.status)
	require.Equal(t, "insufficientPermissions", reason(ns))

	g.SetRateLimit(1, time.Minute, "429")
	require.Equal(t, http.StatusOK, api(t, srv, http.MethodGet, "/users/ada@acme.example/tokens", "admin", "").status)
	rl := api(t, srv, http.MethodGet, "/users/ada@acme.example/tokens", "admin", "")
	require.Equal(t, http.StatusTooManyRequests, rl.status)
	require.Equal(t, "rateLimitExceeded", reason(rl))
}
