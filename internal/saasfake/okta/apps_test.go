package okta_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/clock"
	fakeokta "github.com/sesame-access/sesame/internal/saasfake/okta"
)

// TestAppsEndpoints checks GET /api/v1/apps and /api/v1/apps/{id}/users
// as Okta documents them: limits (apps 20 by default, at most 200; app
// users 50, at most 500), Link pagination, the status filter, 404 for an
// unknown app, and the rate-limit headers and 429.
func TestAppsEndpoints(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	o := fakeokta.New(clk)
	o.AddToken("reader", fakeokta.Token{})
	var first string
	for i := range 230 {
		id := o.AddApp(fakeokta.App{Name: "bookmark", Label: fmt.Sprintf("App %03d", i), URL: fmt.Sprintf("https://app%d.example.com", i)})
		if i == 0 {
			first = id
		}
	}
	o.AddApp(fakeokta.App{Name: "slack", Label: "Slack", Status: "INACTIVE"})
	for i := range 520 {
		uid := o.AddUser(fakeokta.User{Email: fmt.Sprintf("u%03d@example.com", i)})
		o.AssignApp(first, uid, "")
	}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)

	a := call(t, srv, http.MethodGet, "/api/v1/apps", "reader")
	require.Equal(t, http.StatusOK, a.status)
	require.Len(t, a.list, 20, "default limit")
	require.NotEmpty(t, nextOf(a.header))
	require.NotEmpty(t, a.header.Get("X-Rate-Limit-Remaining"))

	var labels []string
	next := srv.URL + `/api/v1/apps?limit=1000&filter=status+eq+%22ACTIVE%22`
	pages := 0
	for next != "" {
		a = call(t, srv, http.MethodGet, next, "reader")
		require.Equal(t, http.StatusOK, a.status)
		require.LessOrEqual(t, len(a.list), 200, "limit capped at 200")
		for _, m := range a.list {
			labels = append(labels, m["label"].(string))
			require.Equal(t, "ACTIVE", m["status"])
		}
		next = nextOf(a.header)
		pages++
	}
	require.Equal(t, 2, pages)
	require.Len(t, labels, 230)
	require.Equal(t, "App 229", labels[229])

	require.Equal(t, http.StatusBadRequest, call(t, srv, http.MethodGet, `/api/v1/apps?filter=name+eq+%22x%22`, "reader").status)
	nf := call(t, srv, http.MethodGet, "/api/v1/apps/0oanope/users", "reader")
	require.Equal(t, http.StatusNotFound, nf.status)
	require.Equal(t, "E0000007", nf.body["errorCode"])

	var users []string
	next = srv.URL + "/api/v1/apps/" + first + "/users?limit=900"
	for next != "" {
		a = call(t, srv, http.MethodGet, next, "reader")
		require.LessOrEqual(t, len(a.list), 500)
		for _, m := range a.list {
			require.Equal(t, "USER", m["scope"])
			users = append(users, m["credentials"].(map[string]any)["userName"].(string))
		}
		next = nextOf(a.header)
	}
	require.Len(t, users, 520)
	require.Equal(t, "u519@example.com", users[519])
	require.Len(t, call(t, srv, http.MethodGet, "/api/v1/apps/"+first+"/users", "reader").list, 50, "default limit")

	o.SetRateLimit(1, time.Minute)
	require.Equal(t, http.StatusOK, call(t, srv, http.MethodGet, "/api/v1/apps", "reader").status)
	rl := call(t, srv, http.MethodGet, "/api/v1/apps", "reader")
	require.Equal(t, http.StatusTooManyRequests, rl.status)
	require.Equal(t, "E0000047", rl.body["errorCode"])
	require.Equal(t, "0", rl.header.Get("X-Rate-Limit-Remaining"))
	require.NotEmpty(t, rl.header.Get("X-Rate-Limit-Reset"))
}
