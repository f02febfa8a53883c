package gworkspace_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
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
	fakegws "github.com/sesame-access/sesame/internal/saasfake/gworkspace"
)

type answer struct {
	status int
	body   map[string]any
}

func do(t *testing.T, srv *httptest.Server, req *http.Request) answer {
	t.Helper()
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode}
	if len(data) > 0 {
		require.NoError(t, json.Unmarshal(data, &a.body))
	}
	return a
}

func api(t *testing.T, srv *httptest.Server, method, path, token, body string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+"/admin/directory/v1"+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	return do(t, srv, req)
}

func reason(a answer) string {
	e, _ := a.body["error"].(map[string]any)
	errs, _ := e["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	first, _ := errs[0].(map[string]any)
	r, _ := first["reason"].(string)
	return r
}

func jwt(t *testing.T, key *rsa.PrivateKey, hdr, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(hdr) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	require.NoError(t, err)
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := fakegws.New(clock.NewFake(now))
	g.AddServiceAccount(fakegws.ServiceAccount{Email: "sa@p.iam", KeyID: "k1", Key: &key.PublicKey, Delegated: true})
	g.AddUser("admin@acme.example", "Admin", true)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)

	good := func() map[string]any {
		return map[string]any{"iss": "sa@p.iam", "sub": "admin@acme.example", "aud": srv.URL + "/token",
			"scope": "https://www.googleapis.com/auth/admin.directory.group.member", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	exchange := func(grant, assertion string) answer {
		form := url.Values{"grant_type": {grant}, "assertion": {assertion}}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/token", strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return do(t, srv, req)
	}
	const bearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	hdr := map[string]any{"alg": "RS256", "typ": "JWT", "kid": "k1"}

	a := exchange(bearer, jwt(t, key, hdr, good()))
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, "Bearer", a.body["token_type"])
	tok, _ := a.body["access_token"].(string)
	require.Equal(t, http.StatusOK, api(t, srv, http.MethodGet, "/groups?customer=my_customer", tok, "").status)

	for name, tc := range map[string]struct {
		grant  string
		mutate func(c map[string]any)
		kid    string
		status int
		code   string
	}{
		"grant type":   {grant: "client_credentials", status: 400, code: "unsupported_grant_type"},
		"aud":          {mutate: func(c map[string]any) { c["aud"] = "https://oauth2.googleapis.com/token" }, status: 400, code: "invalid_grant"},
		"expired":      {mutate: func(c map[string]any) { c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix() }, status: 400, code: "invalid_grant"},
		"too long":     {mutate: func(c map[string]any) { c["exp"] = now.Add(2 * time.Hour).Unix() }, status: 400, code: "invalid_grant"},
		"no scope":     {mutate: func(c map[string]any) { delete(c, "scope") }, status: 400, code: "invalid_scope"},
		"unknown sub":  {mutate: func(c map[string]any) { c["sub"] = "x@acme.example" }, status: 400, code: "invalid_grant"},
		"unknown iss":  {mutate: func(c map[string]any) { c["iss"] = "other@p.iam" }, status: 400, code: "invalid_grant"},
		"kid mismatch": {kid: "k2", status: 400, code: "invalid_grant"},
	} {
		c := good()
		if tc.mutate != nil {
			tc.mutate(c)
		}
		h := hdr
		if tc.kid != "" {
			h = map[string]any{"alg": "RS256", "kid": tc.kid}
		}
		grant := bearer
		if tc.grant != "" {
			grant = tc.grant
		}
		a := exchange(grant, jwt(t, key, h, c))
		require.Equal(t, tc.status, a.status, name)
		require.Equal(t, tc.code, a.body["error"], name)
	}
	// A tampered signature.
	parts := strings.Split(jwt(t, key, hdr, good()), ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"sa@p.iam","sub":"admin@acme.example"}`))
	a = exchange(bearer, strings.Join(parts, "."))
	require.Equal(t, "invalid_grant", a.body["error"])
}

func TestDirectory(t *testing.T) {
	t.Parallel()
	g := fakegws.New(clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	g.AddAccessToken("admin", fakegws.Access{Admin: true})
	g.AddAccessToken("user", fakegws.Access{})
	g.AddUser("ada@acme.example", "Ada", false)
	g.AddGroup("eng@acme.example", "Eng", "")
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)

	a := api(t, srv, http.MethodGet, "/groups?customer=my_customer", "nope", "")
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.Equal(t, "authError", reason(a))
	require.Equal(t, "forbidden", reason(api(t, srv, http.MethodGet, "/groups?customer=my_customer", "user", "")))
	require.Equal(t, http.StatusBadRequest, api(t, srv, http.MethodGet, "/groups", "admin", "").status, "customer or domain is required")

	add := `{"email":"ada@acme.example","role":"MEMBER"}`
	require.Equal(t, http.StatusOK, api(t, srv, http.MethodPost, "/groups/eng@acme.example/members", "admin", add).status)
	a = api(t, srv, http.MethodPost, "/groups/eng@acme.example/members", "admin", add)
	require.Equal(t, http.StatusConflict, a.status)
	require.Equal(t, "duplicate", reason(a))
	e, _ := a.body["error"].(map[string]any)
	require.Equal(t, "Member already exists.", e["message"])

	a = api(t, srv, http.MethodPost, "/groups/nope@acme.example/members", "admin", add)
	require.Equal(t, http.StatusNotFound, a.status)
	require.Equal(t, "notFound", reason(a))

	require.Equal(t, http.StatusNoContent, api(t, srv, http.MethodDelete, "/groups/eng@acme.example/members/ada@acme.example", "admin", "").status)
	require.Equal(t, http.StatusNotFound, api(t, srv, http.MethodDelete, "/groups/eng@acme.example/members/ada@acme.example", "admin", "").status)

	for i := range 5 {
		g.AddGroup(fmt.Sprintf("g%d@acme.example", i), "", "")
	}
	a = api(t, srv, http.MethodGet, "/groups?customer=my_customer&maxResults=201", "admin", "")
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Equal(t, "invalid", reason(a))
	a = api(t, srv, http.MethodGet, "/groups?customer=my_customer&maxResults=4", "admin", "")
	require.Len(t, a.body["groups"], 4)
	next, _ := a.body["nextPageToken"].(string)
	require.NotEmpty(t, next)
	a = api(t, srv, http.MethodGet, "/groups?customer=my_customer&maxResults=4&pageToken="+next, "admin", "")
	require.Len(t, a.body["groups"], 2)
	require.NotContains(t, a.body, "nextPageToken")

	g.SetRateLimit(1, time.Minute, "429")
	require.Equal(t, http.StatusOK, api(t, srv, http.MethodGet, "/users?customer=my_customer", "admin", "").status)
	a = api(t, srv, http.MethodGet, "/users?customer=my_customer", "admin", "")
	require.Equal(t, http.StatusTooManyRequests, a.status)
	require.Equal(t, "rateLimitExceeded", reason(a))
	g.SetRateLimit(1, time.Minute, "403-user")
	require.Equal(t, http.StatusOK, api(t, srv, http.MethodGet, "/users?customer=my_customer", "admin", "").status)
	a = api(t, srv, http.MethodGet, "/users?customer=my_customer", "admin", "")
	require.Equal(t, http.StatusForbidden, a.status)
	require.Equal(t, "userRateLimitExceeded", reason(a))
}
