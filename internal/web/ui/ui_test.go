package ui_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/web/api/apitest"
	"github.com/sesame-access/sesame/internal/web/signin"
	"github.com/sesame-access/sesame/internal/web/ui"
)

type testBundle struct {
	env *apitest.Env
	srv *httptest.Server
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	env := apitest.New(t)
	h := ui.New(ui.Config{Service: env.Service, Store: env.Store, Clock: env.Clock,
		Sessions: signin.NewSessions(env.Store, env.Clock, "http://sesame.test", 0)})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testBundle{env: env, srv: srv}
}

// browser is a cookie-keeping client signed in as u.
type browser struct {
	t    *testing.T
	b    *testBundle
	c    *http.Client
	csrf string
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *testBundle) signIn(t *testing.T, u *access.User) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	br := &browser{t: t, b: b, c: &http.Client{Jar: jar}}
	tok, err := signin.IssueLink(t.Context(), b.env.Store, u.ID, "test", b.env.Clock.Now(), signin.LinkTTL)
	require.NoError(t, err)
	status, body := br.post("/login/link", url.Values{"token": {tok}})
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Signed in as "+u.Email)
	return br
}

func (br *browser) get(path string) (int, string) {
	br.t.Helper()
	resp, err := br.c.Get(br.b.srv.URL + path)
	require.NoError(br.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(br.t, err)
	if m := csrfRE.FindStringSubmatch(string(body)); m != nil {
		br.csrf = m[1]
	}
	return resp.StatusCode, string(body)
}

// post sends a form with the session's CSRF token (when known and not
// set in form).
func (br *browser) post(path string, form url.Values) (int, string) {
	br.t.Helper()
	if form.Get("csrf") == "" && br.csrf != "" {
		form.Set("csrf", br.csrf)
	}
	resp, err := br.c.PostForm(br.b.srv.URL+path, form)
	require.NoError(br.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(br.t, err)
	if m := csrfRE.FindStringSubmatch(string(body)); m != nil {
		br.csrf = m[1]
	}
	return resp.StatusCode, string(body)
}

func TestSignInAndHome(t *testing.T) {
	t.Parallel()
	b := setup(t)
	anon := &browser{t: t, b: b, c: &http.Client{}}
	status, body := anon.get("/")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "Sign in to Sesame", "signed out: redirected to the login page")

	br := b.signIn(t, b.env.Alice)
	status, body = br.get("/")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "Hello, "+b.env.Alice.Name)
	require.True(t, strings.Contains(body, "My open requests"))
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, err := http.Get(b.srv.URL + "/login")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, ui.CSP, resp.Header.Get("Content-Security-Policy"))
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	require.Equal(t, "same-origin", resp.Header.Get("Referrer-Policy"))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
}
