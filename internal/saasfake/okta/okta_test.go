package okta_test

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
	fakeokta "github.com/sesame-access/sesame/internal/saasfake/okta"
)

type answer struct {
	status int
	header http.Header
	body   map[string]any
	list   []map[string]any
}

func call(t *testing.T, srv *httptest.Server, method, path, token string) answer {
	t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = srv.URL + path
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, http.NoBody)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "SSWS "+token)
	}
	resp, err := srv.Client().Do(req)
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

func nextOf(h http.Header) string {
	for _, v := range h.Values("Link") {
		if strings.HasSuffix(v, `rel="next"`) {
			return strings.Trim(strings.Split(v, ";")[0], "<>")
		}
	}
	return ""
}

// TestFake's subtests run in order on one server: each builds on the
// state the previous one left.
func TestFake(t *testing.T) { //nolint:tparallel // sequential subtests share state on purpose
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	o := fakeokta.New(clk)
	o.AddToken("admin", fakeokta.Token{Admin: true})
	o.AddToken("reader", fakeokta.Token{})
	uid := o.AddUser(fakeokta.User{Email: "ada@example.com"})
	gid := o.AddGroup("Eng", "", "OKTA_GROUP")
	o.AddGroup("App", "", "APP_GROUP")
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)

	t.Run("auth", func(t *testing.T) {
		a := call(t, srv, http.MethodGet, "/api/v1/users/ada@example.com", "")
		require.Equal(t, http.StatusUnauthorized, a.status)
		require.Equal(t, "E0000011", a.body["errorCode"])
		require.Equal(t, "Invalid token provided", a.body["errorSummary"])
		require.Contains(t, a.body, "errorId")
		require.Contains(t, a.body, "errorCauses")
	})
	t.Run("users by login and id", func(t *testing.T) {
		a := call(t, srv, http.MethodGet, "/api/v1/users/ADA@example.com", "reader")
		require.Equal(t, http.StatusOK, a.status)
		require.Equal(t, uid, a.body["id"])
		require.Equal(t, http.StatusOK, call(t, srv, http.MethodGet, "/api/v1/users/"+uid, "reader").status)
		a = call(t, srv, http.MethodGet, "/api/v1/users/nobody@example.com", "reader")
		require.Equal(t, http.StatusNotFound, a.status)
		require.Equal(t, "E0000007", a.body["errorCode"])
	})
	t.Run("membership", func(t *testing.T) {
		path := "/api/v1/groups/" + gid + "/users/" + uid
		a := call(t, srv, http.MethodPut, path, "reader")
		require.Equal(t, http.StatusForbidden, a.status)
		require.Equal(t, "E0000006", a.body["errorCode"])
		require.Equal(t, http.StatusNoContent, call(t, srv, http.MethodPut, path, "admin").status)
		require.Equal(t, http.StatusNoContent, call(t, srv, http.MethodPut, path, "admin").status, "PUT is idempotent")
		require.True(t, o.IsMember(gid, uid))
		require.Equal(t, http.StatusNotFound, call(t, srv, http.MethodPut, "/api/v1/groups/"+gid+"/users/ada@example.com", "admin").status,
			"membership takes a user id, not a login")
		require.Equal(t, http.StatusNoContent, call(t, srv, http.MethodDelete, path, "admin").status)
		require.Equal(t, http.StatusNoContent, call(t, srv, http.MethodDelete, path, "admin").status)
		require.False(t, o.IsMember(gid, uid))
	})
	t.Run("group filter", func(t *testing.T) {
		a := call(t, srv, http.MethodGet, `/api/v1/groups?filter=type+eq+%22OKTA_GROUP%22`, "reader")
		require.Len(t, a.list, 1)
		require.Equal(t, http.StatusBadRequest, call(t, srv, http.MethodGet, `/api/v1/groups?filter=name+sw+x`, "reader").status)
	})
}

func TestPaginationAndRateLimit(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	o := fakeokta.New(clk)
	o.AddToken("t", fakeokta.Token{})
	for i := range 250 {
		o.AddUser(fakeokta.User{Email: fmt.Sprintf("u%d@example.com", i)})
	}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)

	a := call(t, srv, http.MethodGet, "/api/v1/users?limit=1000", "t")
	require.Len(t, a.list, 200, "limit is capped at 200")
	require.Len(t, a.header.Values("Link"), 2, "one Link header per relation")
	next := nextOf(a.header)
	require.Contains(t, next, "after=")
	a = call(t, srv, http.MethodGet, next, "t")
	require.Len(t, a.list, 50)
	require.Empty(t, nextOf(a.header))
	require.Equal(t, "600", a.header.Get("X-Rate-Limit-Limit"))

	o.SetRateLimit(1, time.Minute)
	require.Equal(t, http.StatusOK, call(t, srv, http.MethodGet, "/api/v1/users?limit=1", "t").status)
	a = call(t, srv, http.MethodGet, "/api/v1/users?limit=1", "t")
	require.Equal(t, http.StatusTooManyRequests, a.status)
	require.Equal(t, "E0000047", a.body["errorCode"])
	require.Equal(t, "0", a.header.Get("X-Rate-Limit-Remaining"))
	require.Equal(t, fmt.Sprint(clk.Now().Add(time.Minute).Unix()), a.header.Get("X-Rate-Limit-Reset"))
}
