package scim_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/clock"
	fakescim "github.com/sesame-access/sesame/internal/saasfake/scim"
)

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func call(t *testing.T, srv *httptest.Server, method, path, token, body string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if len(data) > 0 {
		require.NoError(t, json.Unmarshal(data, &a.body))
	}
	return a
}

func filter(f string) string { return "/Users?filter=" + url.QueryEscape(f) }

const patchAdd = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"value":%q}]}]}`
const patchRemove = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"%s\"]"}]}`

func TestFake(t *testing.T) { //nolint:tparallel // sequential subtests share state on purpose
	t.Parallel()
	sp := fakescim.New(clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	sp.AddToken("w", fakescim.Token{Write: true})
	sp.AddToken("r", fakescim.Token{})
	uid := sp.AddUser(fakescim.User{UserName: "Ada@Example.com", Email: "ada@example.com", Active: true})
	gid := sp.AddGroup("Admins")
	srv := httptest.NewServer(sp)
	t.Cleanup(srv.Close)

	t.Run("errors use the SCIM error schema", func(t *testing.T) {
		a := call(t, srv, http.MethodGet, "/Users", "", "")
		require.Equal(t, http.StatusUnauthorized, a.status)
		require.Equal(t, []any{fakescim.SchemaError}, a.body["schemas"])
		require.Equal(t, "401", a.body["status"], "status is a string")
		a = call(t, srv, http.MethodGet, "/Groups/nope", "r", "")
		require.Equal(t, http.StatusNotFound, a.status)
		a = call(t, srv, http.MethodGet, filter(`userName co "ada"`), "r", "")
		require.Equal(t, http.StatusBadRequest, a.status)
		require.Equal(t, "invalidFilter", a.body["scimType"])
		require.Equal(t, http.StatusForbidden, call(t, srv, http.MethodPatch, "/Groups/"+gid, "r", fmt.Sprintf(patchAdd, uid)).status)
	})
	t.Run("filters", func(t *testing.T) {
		for _, f := range []string{`userName eq "ada@example.com"`, `USERNAME Eq "ADA@EXAMPLE.COM"`, `emails.value eq "ada@example.com"`, `emails[value eq "ada@example.com"]`} {
			a := call(t, srv, http.MethodGet, filter(f), "r", "")
			require.Equal(t, http.StatusOK, a.status, f)
			require.InDelta(t, 1, a.body["totalResults"], 0, f)
		}
		a := call(t, srv, http.MethodGet, filter(`userName eq "bob@example.com"`), "r", "")
		require.InDelta(t, 0, a.body["totalResults"], 0)
		require.Equal(t, []any{fakescim.SchemaListResponse}, a.body["schemas"])
	})
	t.Run("patch members", func(t *testing.T) {
		require.Equal(t, http.StatusNoContent, call(t, srv, http.MethodPatch, "/Groups/"+gid, "w", fmt.Sprintf(patchAdd, uid)).status)
		require.Equal(t, http.StatusNoContent, call(t, srv, http.MethodPatch, "/Groups/"+gid, "w", fmt.Sprintf(patchAdd, uid)).status, "add is idempotent")
		a := call(t, srv, http.MethodGet, "/Groups/"+gid, "r", "")
		require.Len(t, a.body["members"], 1)
		a = call(t, srv, http.MethodGet, "/Groups/"+gid+"?excludedAttributes=members", "r", "")
		require.NotContains(t, a.body, "members")

		require.Equal(t, http.StatusNoContent, call(t, srv, http.MethodPatch, "/Groups/"+gid, "w", fmt.Sprintf(patchRemove, uid)).status)
		a = call(t, srv, http.MethodPatch, "/Groups/"+gid, "w", fmt.Sprintf(patchRemove, uid))
		require.Equal(t, http.StatusBadRequest, a.status)
		require.Equal(t, "noTarget", a.body["scimType"], "RFC 7644 3.5.2.2: nothing matches the filter")
		a = call(t, srv, http.MethodPatch, "/Groups/"+gid, "w", fmt.Sprintf(patchAdd, "no-such-user"))
		require.Equal(t, "invalidValue", a.body["scimType"])
		a = call(t, srv, http.MethodPatch, "/Groups/"+gid, "w", `{"Operations":[]}`)
		require.Equal(t, "invalidSyntax", a.body["scimType"])
	})
	t.Run("create user", func(t *testing.T) {
		body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob@example.com"}`
		a := call(t, srv, http.MethodPost, "/Users", "w", body)
		require.Equal(t, http.StatusCreated, a.status)
		require.NotEmpty(t, a.header.Get("Location"))
		a = call(t, srv, http.MethodPost, "/Users", "w", body)
		require.Equal(t, http.StatusConflict, a.status)
		require.Equal(t, "uniqueness", a.body["scimType"])
	})
}

func TestPaginationAndRateLimit(t *testing.T) {
	t.Parallel()
	sp := fakescim.New(clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	sp.AddToken("r", fakescim.Token{})
	for i := range 25 {
		sp.AddUser(fakescim.User{UserName: fmt.Sprintf("u%02d", i)})
	}
	sp.SetMaxResults(10)
	srv := httptest.NewServer(sp)
	t.Cleanup(srv.Close)

	a := call(t, srv, http.MethodGet, "/Users?startIndex=21&count=100", "r", "")
	require.InDelta(t, 25, a.body["totalResults"], 0)
	require.InDelta(t, 21, a.body["startIndex"], 0)
	require.InDelta(t, 5, a.body["itemsPerPage"], 0)
	a = call(t, srv, http.MethodGet, "/Users?startIndex=0", "r", "")
	require.InDelta(t, 1, a.body["startIndex"], 0, "startIndex below 1 is 1")
	require.InDelta(t, 10, a.body["itemsPerPage"], 0, "count defaults to, and is capped at, maxResults")
	a = call(t, srv, http.MethodGet, "/ServiceProviderConfig", "r", "")
	require.Equal(t, map[string]any{"supported": true, "maxResults": float64(10)}, a.body["filter"])

	sp.SetRateLimit(1, time.Minute)
	require.Equal(t, http.StatusOK, call(t, srv, http.MethodGet, "/Users", "r", "").status)
	a = call(t, srv, http.MethodGet, "/Users", "r", "")
	require.Equal(t, http.StatusTooManyRequests, a.status)
	require.Equal(t, "60", a.header.Get("Retry-After"))
}
