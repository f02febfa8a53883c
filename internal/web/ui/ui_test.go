package ui_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/secrets"
	"github.com/sesame-access/sesame/internal/slackbot" //nolint:depguard // test only: the real /access login linker the server wires in cmd
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/web/api/apitest"
	"github.com/sesame-access/sesame/internal/web/signin"
	"github.com/sesame-access/sesame/internal/web/ui"
	"github.com/sesame-access/sesame/internal/workflow"
)

type testBundle struct {
	env    *apitest.Env
	srv    *httptest.Server
	linker *slackbot.CodeLinker
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	env := apitest.New(t)
	linker, err := slackbot.NewCodeLinker(env.Store, env.Clock, []byte("0123456789abcdef0123456789abcdef"), "http://sesame.test", time.Hour)
	require.NoError(t, err)
	h := ui.New(ui.Config{Service: env.Service, Store: env.Store, Clock: env.Clock,
		Sessions: signin.NewSessions(env.Store, env.Clock, "http://sesame.test", 0), SlackLinker: linker,
		HealthCheck: func(context.Context, *access.App) error { return errors.New("target unreachable: connection refused") },
		SealSetting: func(_, v string) (string, error) { return "sealed:" + v, nil }})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testBundle{env: env, srv: srv, linker: linker}
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
	req, err := http.NewRequestWithContext(br.t.Context(), http.MethodGet, br.b.srv.URL+path, nil)
	require.NoError(br.t, err)
	resp, err := br.c.Do(req)
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
	resp, err := br.c.Do(postReq(br.t, br.b.srv.URL+path, form))
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
	require.Contains(t, body, "My open requests")
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, b.srv.URL+"/login", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, ui.CSP, resp.Header.Get("Content-Security-Policy"))
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	require.Equal(t, "same-origin", resp.Header.Get("Referrer-Policy"))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
}

// submit makes alice ask for github:read, choosing bob.
func (b *testBundle) submit(t *testing.T) *access.Request {
	t.Helper()
	r, err := b.env.Service.Submit(t.Context(), b.env.Alice.ID, workflow.SubmitParams{Entitlements: []string{"github:read"},
		Duration: time.Hour, Reason: "investigate the outage", Approvers: []string{b.env.Bob.ID}})
	require.NoError(t, err)
	return r
}

func TestRequestFlow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice := b.signIn(t, b.env.Alice)

	// The form shows the plan; submitting with a bad duration keeps the
	// input and says why.
	status, body := alice.get("/requests/new?app=github")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "at most 8h", "the max of github:read")
	status, body = alice.post("/requests/new", url.Values{"app": {"github"}, "ent": {"github:write"}, "reason": {"typed"}})
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "at most 1d", "the plan of what is checked")
	require.Contains(t, body, "typed")
	status, body = alice.post("/requests", url.Values{"app": {"github"}, "ent": {"github:read"}, "duration": {"forever"}, "reason": {"keep this"}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body, "duration")
	require.Contains(t, body, "keep this", "nothing typed is lost")
	status, body = alice.post("/requests", url.Values{"app": {"github"}, "ent": {"github:read"}, "duration": {"100h"}, "reason": {"x"}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body, "8h")

	status, body = alice.post("/requests", url.Values{"app": {"github"}, "ent": {"github:read"}, "duration": {"2h"},
		"reason": {"investigate the outage"}, "approver": {b.env.Bob.ID}})
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "submitted")
	list, _, err := b.env.Store.RequestList(t.Context(), store.RequestListParams{RequesterID: b.env.Alice.ID})
	require.NoError(t, err)
	require.Len(t, list, 1)
	req := list[0]

	// The requester cannot approve her own request, even by posting.
	status, body = alice.post("/requests/"+req.ID+"/decide", url.Values{"outcome": {"approve"}})
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, body, "your own request")
	// Reminders are rate limited by workflow.Remind.
	status, _ = alice.post("/requests/"+req.ID+"/remind", url.Values{})
	require.Equal(t, http.StatusOK, status)
	status, body = alice.post("/requests/"+req.ID+"/remind", url.Values{})
	require.Equal(t, http.StatusTooManyRequests, status, body)

	// Erin is not an approver of this request: refused, and audited by
	// the workflow.
	erin := b.signIn(t, b.env.Erin)
	status, _ = erin.get("/requests/" + req.ID)
	require.Equal(t, http.StatusNotFound, status, "erin may not even see it")
	erin.get("/")
	status, _ = erin.post("/requests/"+req.ID+"/decide", url.Values{"outcome": {"approve"}})
	require.Equal(t, http.StatusForbidden, status)
	got, err := b.env.Store.RequestGetByID(t.Context(), req.ID, false)
	require.NoError(t, err)
	require.Equal(t, access.RequestPending, got.State)

	// Bob approves in bulk with a comment.
	bob := b.signIn(t, b.env.Bob)
	status, body = bob.get("/approvals")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, req.ID)
	status, body = bob.post("/approvals", url.Values{"id": {req.ID}, "outcome": {"approve"}, "comment": {"go ahead"}})
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "1 decided.")
	got, err = b.env.Store.RequestGetByID(t.Context(), req.ID, false)
	require.NoError(t, err)
	require.Equal(t, access.RequestApproved, got.State)
	status, body = bob.get("/requests/" + req.ID)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "go ahead")
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := b.submit(t)
	alice := b.signIn(t, b.env.Alice)
	for _, tok := range []string{"", "forged"} {
		form := url.Values{"csrf": {tok}}
		if tok == "" {
			form.Set("csrf", "")
			alice.csrf = ""
		}
		resp, err := alice.c.Do(postReq(t, b.srv.URL+"/requests/"+req.ID+"/cancel", form))
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Contains(t, string(body), "CSRF check failed")
	}
	got, err := b.env.Store.RequestGetByID(t.Context(), req.ID, false)
	require.NoError(t, err)
	require.Equal(t, access.RequestPending, got.State, "nothing was done")

	// Signed out, a POST is refused before anything runs.
	anon := &browser{t: t, b: b, c: &http.Client{}}
	status, body := anon.post("/requests/"+req.ID+"/cancel", url.Values{})
	require.Equal(t, http.StatusUnauthorized, status)
	require.Contains(t, body, "Sign in first")
}

func TestRoles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := b.submit(t)
	tests := []struct {
		user   *access.User
		path   string
		status int
	}{
		{b.env.Alice, "/audit", http.StatusForbidden},
		{b.env.Alice, "/people", http.StatusForbidden},
		{b.env.Alice, "/settings", http.StatusForbidden},
		{b.env.Alice, "/people/" + b.env.Bob.ID, http.StatusNotFound},
		{b.env.Alice, "/people/" + b.env.Alice.ID, http.StatusOK},
		{b.env.Dave, "/audit", http.StatusOK},
		{b.env.Dave, "/audit/verify", http.StatusOK},
		{b.env.Dave, "/people/" + b.env.Alice.ID, http.StatusOK},
		{b.env.Dave, "/requests/" + req.ID, http.StatusOK},
		{b.env.Dave, "/settings", http.StatusForbidden},
		{b.env.Carol, "/settings", http.StatusOK},
		{b.env.Carol, "/catalog/github", http.StatusOK},
		{b.env.Carol, "/nope", http.StatusNotFound},
	}
	for _, tt := range tests {
		br := b.signIn(t, tt.user)
		status, body := br.get(tt.path)
		require.Equal(t, tt.status, status, "%s %s: %s", tt.user.Email, tt.path, body)
	}
	// An auditor reads everything but changes nothing: the catalog's
	// admin actions are refused.
	dave := b.signIn(t, b.env.Dave)
	dave.get("/")
	status, _ := dave.post("/catalog/github/watchlist", url.Values{"watchlist": {"on"}})
	require.Equal(t, http.StatusForbidden, status)
}

func TestCatalogAdmin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	carol := b.signIn(t, b.env.Carol)
	status, body := carol.post("/catalog/github/health", url.Values{})
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "Health check: target unreachable: connection refused")
	status, body = carol.post("/catalog/github/settings", url.Values{"name": {"api_token"}, "value": {"s3cr3t-value"}})
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "Setting api_token saved.")
	require.NotContains(t, body, "s3cr3t-value", "secret settings are write-only")
	require.Contains(t, body, "set (secret, never shown)")
	app, err := b.env.Store.AppGetByID(t.Context(), "github")
	require.NoError(t, err)
	require.Equal(t, "sealed:s3cr3t-value", app.ConnectorSettings["api_token"])
	status, _ = carol.post("/catalog/github/watchlist", url.Values{"watchlist": {"on"}})
	require.Equal(t, http.StatusOK, status)
	app, err = b.env.Store.AppGetByID(t.Context(), "github")
	require.NoError(t, err)
	require.True(t, app.Watchlist)
	status, body = carol.post("/catalog/github/owners", url.Values{"owners": {"bob@example.com, nobody@example.com"}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body, "no Sesame user has the email nobody@example.com")
	status, _ = carol.post("/catalog/github/owners", url.Values{"owners": {"bob@example.com, Frank@example.com"}})
	require.Equal(t, http.StatusOK, status)
	status, body = carol.post("/catalog/github/aliases", url.Values{"aliases": {"gh, Bad Alias!"}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body, "lowercase letters")
	status, _ = carol.post("/catalog/github/aliases", url.Values{"aliases": {"gh git gh"}})
	require.Equal(t, http.StatusOK, status)
	app, err = b.env.Store.AppGetByID(t.Context(), "github")
	require.NoError(t, err)
	require.Equal(t, []string{b.env.Bob.ID, b.env.Frank.ID}, app.Owners)
	require.Equal(t, []string{"gh", "git"}, app.Aliases)
	events, _, err := b.env.Store.EventList(t.Context(), store.EventListParams{SubjectType: "app", SubjectID: "github"})
	require.NoError(t, err)
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action)
		require.NotContains(t, string(e.Data), "s3cr3t-value")
	}
	require.Equal(t, []string{"app.aliases_changed", "app.owners_changed", "app.watchlist_changed", "app.setting_changed", "app.health_checked"}, actions)
}

func TestSlackLink(t *testing.T) {
	t.Parallel()
	b := setup(t)
	code := b.linker.Code("U0NEWLINK")
	alice := b.signIn(t, b.env.Alice)
	status, body := alice.get("/link/slack?code=" + url.QueryEscape(code))
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "U0NEWLINK")
	require.Contains(t, body, b.env.Alice.Email)
	status, body = alice.post("/link/slack", url.Values{"code": {code}})
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Your Slack account is linked")
	u, err := b.env.Store.UserGetBySlackID(t.Context(), "U0NEWLINK")
	require.NoError(t, err)
	require.Equal(t, b.env.Alice.ID, u.ID)

	// A bad code binds nothing; a code of a linked Slack user cannot move
	// it to someone else.
	status, _ = alice.post("/link/slack", url.Values{"code": {"forged"}})
	require.Equal(t, http.StatusBadRequest, status)
	bob := b.signIn(t, b.env.Bob)
	bob.get("/link/slack?code=" + url.QueryEscape(code))
	status, body = bob.post("/link/slack", url.Values{"code": {code}})
	require.Equal(t, http.StatusConflict, status, body)
}

// TestSlackLinkShowsWhom: the confirm page names the Slack account and its
// workspace (signed into the code) and warns against links from others,
// so a phished victim sees the attacker's name, not a bare user ID; the
// link is audited and the code expires.
func TestSlackLinkShowsWhom(t *testing.T) {
	t.Parallel()
	b := setup(t)
	code := b.linker.CodeFor("U0MALLORY", "mallory", "evil-corp")
	alice := b.signIn(t, b.env.Alice)
	status, body := alice.get("/link/slack?code=" + url.QueryEscape(code))
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "<strong>mallory</strong> (<code>U0MALLORY</code>)")
	require.Contains(t, body, "<strong>evil-corp</strong>")
	require.Contains(t, body, "Only continue if you ran <code>/access login</code> yourself just now.")
	require.Contains(t, body, "Whoever holds that Slack account will act as you")

	// The name is under the code's MAC: changing it breaks the code.
	raw, err := base64.RawURLEncoding.DecodeString(code)
	require.NoError(t, err)
	forged := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw),
		base64.RawURLEncoding.EncodeToString([]byte("mallory")), base64.RawURLEncoding.EncodeToString([]byte("alice")), 1)))
	require.NotEqual(t, code, forged)
	_, body = alice.get("/link/slack?code=" + url.QueryEscape(forged))
	require.Contains(t, body, "invalid or has expired")
	require.NotContains(t, body, "alice</strong>")

	// A code without a name still says which workspace is unknown.
	_, body = alice.get("/link/slack?code=" + url.QueryEscape(b.linker.Code("U0PLAIN")))
	require.Contains(t, body, "<code>U0PLAIN</code>")
	require.Contains(t, body, "not known")
	require.Contains(t, body, "Only continue if you ran")

	alice.get("/link/slack?code=" + url.QueryEscape(code))
	status, body = alice.post("/link/slack", url.Values{"code": {code}})
	require.Equal(t, http.StatusOK, status, body)
	events, _, err := b.env.Store.EventList(t.Context(), store.EventListParams{Action: "user.slack_linked"})
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, b.env.Alice.ID, events[0].ActorID)
	require.Contains(t, string(events[0].Data), "U0MALLORY")

	// Codes expire (the server issues them for 15 minutes; this linker
	// for an hour).
	late := b.linker.CodeFor("U0LATE", "late", "corp")
	b.env.Clock.Advance(time.Hour + time.Second)
	_, body = alice.get("/link/slack?code=" + url.QueryEscape(late))
	require.Contains(t, body, "invalid or has expired")
}

func TestSignInLinkOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok, err := signin.IssueLink(t.Context(), b.env.Store, b.env.Alice.ID, "bootstrap", b.env.Clock.Now(), signin.LinkTTL)
	require.NoError(t, err)
	anon := &browser{t: t, b: b, c: &http.Client{}}
	status, body := anon.get("/login/link/" + tok)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "one-time link", "GET does not use the link (link previews)")
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	br := &browser{t: t, b: b, c: &http.Client{Jar: jar}}
	status, _ = br.post("/login/link", url.Values{"token": {tok}})
	require.Equal(t, http.StatusOK, status)
	other := &browser{t: t, b: b, c: &http.Client{}}
	status, body = other.post("/login/link", url.Values{"token": {tok}})
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, body, "already used")
	events, _, err := b.env.Store.EventList(t.Context(), store.EventListParams{Action: "user.signed_in"})
	require.NoError(t, err)
	require.Len(t, events, 1)
}

func TestAppsJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice := b.signIn(t, b.env.Alice)
	status, body := alice.get("/apps.json?q=gh")
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `[{"id":"github","name":"GitHub"}]`, body)
}

// postReq is a form POST.
func postReq(t *testing.T, u string, form url.Values) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin") // as a browser posting a form of the page
	return req
}

// TestLoginCSRF: a session-less POST (the one-time link form) from
// another site is refused, so an attacker cannot sign a victim in as
// themselves with their own link (login CSRF).
func TestLoginCSRF(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok, err := signin.IssueLink(t.Context(), b.env.Store, b.env.Alice.ID, "test", b.env.Clock.Now(), signin.LinkTTL)
	require.NoError(t, err)
	send := func(headers map[string]string) (int, []*http.Cookie) {
		t.Helper()
		req := postReq(t, b.srv.URL+"/login/link", url.Values{"token": {tok}})
		req.Header.Del("Sec-Fetch-Site")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp.StatusCode, resp.Cookies()
	}
	for name, hd := range map[string]map[string]string{
		"cross-site":                  {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
		"same-site, other origin":     {"Sec-Fetch-Site": "same-site"},
		"Sec-Fetch-Site beats Origin": {"Sec-Fetch-Site": "cross-site", "Origin": b.srv.URL},
		"foreign Origin":              {"Origin": "https://evil.example"},
		"null Origin":                 {"Origin": "null"},
		"foreign Referer":             {"Referer": "https://evil.example/" + strings.TrimPrefix(b.srv.URL, "http://")},
		"no header at all":            {},
	} {
		status, cookies := send(hd)
		require.Equal(t, http.StatusForbidden, status, name)
		for _, ck := range cookies {
			require.NotEqual(t, signin.CookieName, ck.Name, "%s: a session cookie was set", name)
		}
	}
	events, _, err := b.env.Store.EventList(t.Context(), store.EventListParams{Action: "user.signed_in"})
	require.NoError(t, err)
	require.Empty(t, events, "nobody signed in")
	// The link was not used up: the same form from the site itself works
	// (a browser without Sec-Fetch-Site, matched by Origin).
	status, cookies := send(map[string]string{"Origin": b.srv.URL})
	require.Equal(t, http.StatusSeeOther, status)
	var session bool
	for _, ck := range cookies {
		session = session || (ck.Name == signin.CookieName && ck.Value != "")
	}
	require.True(t, session, "signed in")
}

func TestGrantActions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	req := b.submit(t)
	_, err := b.env.Service.Decide(ctx, b.env.Bob.ID, workflow.DecideParams{RequestID: req.ID, Outcome: access.Approve})
	require.NoError(t, err)
	grants, err := b.env.Store.GrantListByRequest(ctx, req.ID)
	require.NoError(t, err)
	require.Len(t, grants, 1)
	g := grants[0]
	require.NoError(t, b.env.Service.Provision(ctx, g.ID))

	alice := b.signIn(t, b.env.Alice)
	status, body := alice.get("/access")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, g.ID)
	status, body = alice.get("/access/" + g.ID)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "Revoke now")
	require.NotContains(t, body, "Make it expire in", "the holder asks for more time with a request")
	status, _ = alice.post("/access/"+g.ID+"/extend", url.Values{"duration": {"4h"}})
	require.Equal(t, http.StatusForbidden, status, "and cannot extend by posting either")
	require.Contains(t, body, "Ask for more time")
	status, body = alice.post("/access/"+g.ID+"/extension", url.Values{"duration": {"3h"}, "reason": {"the migration runs late"}})
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Extension requested")
	ext, _, err := b.env.Store.RequestList(ctx, store.RequestListParams{RequesterID: b.env.Alice.ID, States: []access.RequestState{access.RequestPending}})
	require.NoError(t, err)
	require.Len(t, ext, 1)
	require.Equal(t, g.ID, ext[0].ExtendsGrantID)
	require.Equal(t, 3*time.Hour, ext[0].Duration)

	erin := b.signIn(t, b.env.Erin)
	status, _ = erin.get("/access/" + g.ID)
	require.Equal(t, http.StatusNotFound, status)
	erin.get("/")
	status, _ = erin.post("/access/"+g.ID+"/revoke", url.Values{})
	require.Equal(t, http.StatusForbidden, status, "workflow.RevokeNow refuses someone else's grant")
	status, _ = erin.post("/access/"+g.ID+"/extension", url.Values{"duration": {"3h"}, "reason": {"mine now"}})
	require.Equal(t, http.StatusForbidden, status, "only the holder asks for more time")

	carol := b.signIn(t, b.env.Carol)
	carol.get("/access/" + g.ID)
	status, body = carol.post("/access/"+g.ID+"/extend", url.Values{"duration": {"4h"}})
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Extended")
	got, err := b.env.Store.GrantGetByID(ctx, g.ID, false)
	require.NoError(t, err)
	require.Equal(t, b.env.Clock.Now().Add(4*time.Hour), got.ExpiresAt)
	status, body = carol.post("/access/"+g.ID+"/extend", url.Values{"duration": {"100h"}})
	require.Equal(t, http.StatusBadRequest, status, body)

	alice.get("/access/" + g.ID)
	status, body = alice.post("/access/"+g.ID+"/revoke", url.Values{"reason": {"done early"}})
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Revocation started")
	got, err = b.env.Store.GrantGetByID(ctx, g.ID, false)
	require.NoError(t, err)
	require.Equal(t, access.GrantRevoking, got.State)
	status, _ = alice.post("/access/"+g.ID+"/credentials", url.Values{})
	require.Equal(t, http.StatusConflict, status, "no credentials outside an active grant")
	// The request's timeline shows its grant's events too.
	status, body = alice.get("/requests/" + req.ID)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "grant.extended")
	require.Contains(t, body, "grant.revoke_requested")
}

// TestCredentialsOnce reveals a grant's one-time credentials to its
// holder, once, through workflow.TakeCredentials.
func TestCredentialsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	box, err := secrets.New([]byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	pol, err := policy.New([]policy.Policy{{ID: "default", Default: true,
		Steps: []policy.StepRule{{Name: "approval", Approvers: policy.ApproverRule{Users: []string{"bob@example.com"}}}}}}, 0)
	require.NoError(t, err)
	svc, err := workflow.New(workflow.Config{Store: b.env.Store, Clock: b.env.Clock, Policy: pol, Connectors: connector.NewRegistry(), Secrets: box})
	require.NoError(t, err)
	srv := httptest.NewServer(ui.New(ui.Config{Service: svc, Store: b.env.Store, Clock: b.env.Clock,
		Sessions: signin.NewSessions(b.env.Store, b.env.Clock, "http://sesame.test", 0)}))
	t.Cleanup(srv.Close)
	b.srv = srv

	req := b.submit(t)
	_, err = b.env.Service.Decide(ctx, b.env.Bob.ID, workflow.DecideParams{RequestID: req.ID, Outcome: access.Approve})
	require.NoError(t, err)
	grants, err := b.env.Store.GrantListByRequest(ctx, req.ID)
	require.NoError(t, err)
	require.NoError(t, b.env.Service.Provision(ctx, grants[0].ID))
	g, err := b.env.Store.GrantGetByID(ctx, grants[0].ID, false)
	require.NoError(t, err)
	g.Credentials, err = box.Seal(`{"kind":"password","username":"alice_tmp","secret":"pa55-w0rd-once","hint":"psql -U alice_tmp"}`)
	require.NoError(t, err)
	require.NoError(t, b.env.Store.GrantUpdate(ctx, g))

	alice := b.signIn(t, b.env.Alice)
	status, body := alice.get("/access/" + g.ID)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "Reveal my credentials (once)")
	require.NotContains(t, body, "pa55-w0rd-once")
	status, body = alice.post("/access/"+g.ID+"/credentials", url.Values{})
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "pa55-w0rd-once")
	require.Contains(t, body, "alice_tmp")
	status, body = alice.post("/access/"+g.ID+"/credentials", url.Values{})
	require.Equal(t, http.StatusConflict, status, "only once")
	require.NotContains(t, body, "pa55-w0rd-once")
}

func TestFormTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice := b.signIn(t, b.env.Alice)
	alice.get("/")
	status, body := alice.post("/requests", url.Values{"reason": {strings.Repeat("x", 300<<10)}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body, "could not be read")
}

func TestDecideWithDuration(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := b.submit(t)
	bob := b.signIn(t, b.env.Bob)
	status, body := bob.get("/requests/" + req.ID)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "Your decision")
	status, body = bob.post("/requests/"+req.ID+"/decide", url.Values{"outcome": {"approve"}, "duration": {"soon"}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body, "duration")
	status, body = bob.post("/requests/"+req.ID+"/decide", url.Values{"outcome": {"maybe"}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body, "choose approve or reject")
	status, body = bob.post("/requests/"+req.ID+"/decide", url.Values{"outcome": {"approve"}, "duration": {"30m"}, "comment": {"half an hour"}})
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "Approved. The request is approved.")
	require.Contains(t, body, "for 30m")
	got, err := b.env.Store.RequestGetByID(t.Context(), req.ID, false)
	require.NoError(t, err)
	require.Len(t, got.Decisions, 1)
	require.Equal(t, 30*time.Minute, got.Decisions[0].Duration)
	require.Equal(t, "half an hour", got.Decisions[0].Comment)
	status, _ = bob.post("/requests/"+req.ID+"/decide", url.Values{"outcome": {"reject"}})
	require.Equal(t, http.StatusConflict, status, "a closed request takes no more decisions")
}

// TestBulkDecideReportsFailures: however many requests a bulk decision
// could not decide, the page after it says so (the flash used to be
// dropped when it was long).
func TestBulkDecideReportsFailures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := b.submit(t)
	bob := b.signIn(t, b.env.Bob)
	bob.get("/approvals")
	ids := []string{req.ID}
	for i := range 40 {
		ids = append(ids, fmt.Sprintf("req_01KZZZZZZZZZZZZZZZZZZZZZ%02d", i))
	}
	status, body := bob.post("/approvals", url.Values{"id": ids, "outcome": {"approve"}})
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "1 decided. 40 not decided: req_01KZZZZZZZZZZZZZZZZZZZZZ00 (")
	require.Contains(t, body, "and 37 more; they are still on /approvals.")
}

// TestSettingsChecksSlack shows what Slack answers about the bot token,
// live: the workspace and bot user, or Slack's error.
func TestSettingsChecksSlack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var answer error
	srv := httptest.NewServer(ui.New(ui.Config{Service: b.env.Service, Store: b.env.Store, Clock: b.env.Clock,
		Sessions: signin.NewSessions(b.env.Store, b.env.Clock, "http://sesame.test", 0),
		Settings: ui.Settings{SlackEnabled: true, SlackMode: "socket", SlackCommand: "/access"},
		SlackCheck: func(context.Context) (ui.SlackIdentity, error) {
			if answer != nil {
				return ui.SlackIdentity{}, answer
			}
			return ui.SlackIdentity{Team: "Acme", TeamID: "T0ACME", BotUser: "sesame"}, nil
		}}))
	t.Cleanup(srv.Close)
	b.srv = srv
	carol := b.signIn(t, b.env.Carol)
	status, body := carol.get("/settings")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "connected</span> (socket mode) to the workspace <strong>Acme</strong> (T0ACME) as <strong>@sesame</strong>")

	answer = errors.New("invalid_auth")
	status, body = carol.get("/settings")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "failing</span>")
	require.Contains(t, body, "<code>invalid_auth</code>")
	require.NotContains(t, body, "connected</span>")
}
