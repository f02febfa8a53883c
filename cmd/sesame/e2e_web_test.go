package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/oauth2-proxy/mockoidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/slackfake"
)

// chromium returns the browser to drive, skipping the test when there is
// none (failing on CI, where .ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("SESAME_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil { //nolint:gosec // G703: fixed paths and the tester's own variable
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install -y chromium)")
	}
	t.Skip("chromium is not installed")
	return ""
}

// web drives one headless browser against one sesame serve.
type web struct {
	t     *testing.T
	ctx   context.Context
	base  string
	oidc  *mockoidc.MockOIDC
	shots string
}

func newWeb(t *testing.T, base string, m *mockoidc.MockOIDC) *web {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-first-run", true), chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	// Start the browser on ctx itself: a browser started under a derived
	// context dies with it.
	require.NoError(t, chromedp.Do(ctx))
	w := &web{t: t, ctx: ctx, base: base, oidc: m}
	if os.Getenv("SESAME_SCREENSHOTS") == "1" {
		w.shots = filepath.Join("..", "..", "docs", "screenshots")
		require.NoError(t, os.MkdirAll(w.shots, 0o755)) //nolint:gosec // G301: documentation in the repository
	}
	return w
}

// do runs steps with a deadline.
func (w *web) do(steps ...chromedp.Action[chromedp.Void]) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, 20*time.Second)
	defer cancel()
	require.NoError(w.t, chromedp.Do(ctx, steps...))
}

// open navigates to path and returns the text of main.
func (w *web) open(path string) string {
	w.t.Helper()
	w.do(chromedp.Navigate(w.base+path), chromedp.WaitVisible(chromedp.CSS("main")))
	return w.text("main")
}

func (w *web) text(sel string) string {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(w.t, err)
	return s
}

func (w *web) location() string {
	w.t.Helper()
	loc, err := chromedp.Run(w.ctx, chromedp.Location())
	require.NoError(w.t, err)
	return loc
}

// click clicks sel, waits for the next page to load and returns the
// text of its main.
func (w *web) click(sel string) string {
	w.t.Helper()
	require.True(w.t, eval[bool](w, "window.__sesameOld = true"))
	w.do(chromedp.Click(chromedp.CSS(sel)))
	w.waitLoaded()
	return w.text("main")
}

// waitLoaded waits until a new document has loaded (after click marked the
// old one).
func (w *web) waitLoaded() {
	w.t.Helper()
	ok := assert.Eventually(w.t, func() bool {
		ctx, cancel := context.WithTimeout(w.ctx, 2*time.Second)
		defer cancel()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__sesameOld === undefined && document.readyState === "complete" && !!document.querySelector("main")`, chromedp.EvalAsValue))
		return err == nil && ok
	}, 20*time.Second, 50*time.Millisecond)
	if !ok {
		body, _ := chromedp.Run(w.ctx, chromedp.Evaluate[string](`document.body.innerText`, chromedp.EvalAsValue)) //nolint:errcheck // diagnostics
		w.t.Fatalf("the next page did not load; at %s:\n%s", w.location(), body)
	}
}

// probe opens path and evaluates js there, returning "" on any error
// (for polling inside Eventually, where require must not be used).
func (w *web) probe(path, js string) string {
	ctx, cancel := context.WithTimeout(w.ctx, 5*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(w.base+path), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
		return ""
	}
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAsValue))
	if err != nil {
		return ""
	}
	return s
}

// eval runs JavaScript (awaiting a promise) and returns its value.
func eval[T any](w *web, js string) T {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise, chromedp.EvalAsValue))
	require.NoError(w.t, err, js)
	return v
}

// shot saves a screenshot of the page as docs/screenshots/name.png when
// SESAME_SCREENSHOTS=1.
func (w *web) shot(name string) {
	w.t.Helper()
	if w.shots == "" {
		return
	}
	png, err := chromedp.Run(w.ctx, chromedp.FullScreenshot(100)) // 100: PNG
	require.NoError(w.t, err)
	require.NoError(w.t, os.WriteFile(filepath.Join(w.shots, name+".png"), png, 0o644)) //nolint:gosec // documentation images
}

// signInOIDC signs in through the identity provider as email.
func (w *web) signInOIDC(email string) string {
	w.t.Helper()
	w.oidc.QueueUser(&mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: true})
	w.open("/login")
	return w.click("#signin")
}

func (w *web) signOut() {
	w.t.Helper()
	body := w.click("form[action='/logout'] button")
	require.Contains(w.t, body, "Sign in to Sesame")
}

// post submits a form to path from inside the page (as a forged or
// hand-made form would), returning the status and body.
func (w *web) post(path string, fields map[string]string) (int, string) {
	w.t.Helper()
	var b strings.Builder
	for k, v := range fields {
		b.WriteString("f.append(" + jsString(k) + "," + jsString(v) + ");")
	}
	res := eval[[]any](w, `(async () => { const f = new URLSearchParams(); `+b.String()+
		` const r = await fetch(`+jsString(path)+`, {method: "POST", body: f, credentials: "same-origin"}); return [r.status, await r.text()]; })()`)
	return int(res[0].(float64)), res[1].(string)
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// request fills the request form for one GitHub entitlement, picks
// approver and submits; it returns the new request's ID.
func (w *web) request(ent, reason, approver string) string {
	w.t.Helper()
	w.open("/requests/new?app=github")
	// Setting .checked fires no change event: the plan is re-checked by
	// the button, as without JavaScript.
	require.True(w.t, eval[bool](w, `(() => { for (const c of document.querySelectorAll("input[name=ent]")) c.checked = c.value === `+jsString(ent)+`; return true })()`))
	body := w.click("#recheck")
	require.Contains(w.t, body, "Policy ")
	w.do(chromedp.SendKeys(chromedp.CSS("#reason"), reason))
	require.True(w.t, eval[bool](w, `(() => { for (const l of document.querySelectorAll("label")) { if (l.textContent.includes(`+jsString(approver)+`)) { document.getElementById(l.htmlFor).checked = true; return true } } return false })()`), body)
	body = w.click("#request-form button.primary")
	require.Contains(w.t, body, "submitted", body)
	m := reqIDRE.FindStringSubmatch(w.location())
	require.NotNil(w.t, m, w.location())
	return m[1]
}

var reqIDRE = regexp.MustCompile(`/requests/(req_[A-Za-z0-9]+)`)

// TestWebDashboard drives the dashboard in headless Chromium against the
// real binary, real SQLite and a test OIDC provider: sign-in, request ->
// approve -> revoke, CSRF rejection, an ineligible approver posting the
// form by hand, one-time links, and every page.
func TestWebDashboard(t *testing.T) {
	t.Parallel()
	m, err := mockoidc.Run()
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Shutdown() }) //nolint:errcheck // test teardown
	dir := t.TempDir()
	env := []string{"SESAME_DATA_DIR=" + filepath.Join(dir, "sesame-data"),
		"SESAME_WEB_OIDC_ISSUER=" + m.Issuer(), "SESAME_WEB_OIDC_CLIENT_ID=" + m.ClientID, "SESAME_WEB_OIDC_CLIENT_SECRET=" + m.ClientSecret}
	p := startServe(t, env)
	w := newWeb(t, p.url(), m)

	t.Log("signed out: every page asks to sign in")
	require.Contains(t, w.open("/approvals"), "Sign in to Sesame")
	w.shot("login")

	t.Log("an unknown email is refused")
	body := w.signInOIDC("mallory@example.net")
	require.Contains(t, body, "No Sesame user has the email mallory@example.net")

	t.Log("alice asks for GitHub read access and picks bob")
	body = w.signInOIDC("alice@example.com")
	require.Contains(t, body, "My open requests")
	w.shot("home")
	// The type-ahead fetches matching apps as she types.
	w.open("/requests/new")
	w.do(chromedp.SendKeys(chromedp.CSS("#app-q"), "git"), chromedp.WaitVisible(chromedp.CSS("#app-q-suggest a[data-app='github']")))
	body = w.click("#app-q-suggest a[data-app='github']")
	require.Contains(t, body, "at most")
	// Read is preselected (the least risky); the plan is the default
	// policy's: one owner, chosen by the requester.
	require.True(t, eval[bool](w, `document.querySelector("input[value='github:read']").checked`))
	require.False(t, eval[bool](w, `document.querySelector("input[value='github:admin']").checked`))
	require.Contains(t, body, "Policy default")
	w.do(chromedp.SendKeys(chromedp.CSS("#reason"), "fix the deploy pipeline"),
		chromedp.SetValue(chromedp.CSS("#duration"), "2h"))
	require.True(t, eval[bool](w, `(() => { for (const l of document.querySelectorAll("label")) { if (l.textContent.includes("bob@example.com")) { document.getElementById(l.htmlFor).checked = true; return true } } return false })()`), w.text("main"))
	w.shot("new-request")
	body = w.click("#request-form button.primary")
	require.Contains(t, body, "submitted", body)
	m1 := reqIDRE.FindStringSubmatch(w.location())
	require.NotNil(t, m1, w.location())
	reqID := m1[1]
	require.Contains(t, body, "fix the deploy pipeline")
	require.Contains(t, body, "Send reminder")

	t.Log("alice asks for write access, reminds bob, then cancels; and asks again")
	req2 := w.request("github:write", "review the release branch", "bob@example.com")
	body = w.click("form[action$='/remind'] button")
	require.Contains(t, body, "The approvers were reminded.")
	body = w.click("form[action$='/remind'] button")
	require.Contains(t, body, "Too Many Requests", "one manual reminder per 30 minutes")
	w.open("/requests/" + req2)
	body = w.click("form[action$='/cancel'] button")
	require.Contains(t, body, "Request cancelled.")
	require.Contains(t, body, "cancelled")
	req3 := w.request("github:write", "review the release branch again", "bob@example.com")

	t.Log("a POST without the session's CSRF token is refused with 403")
	status, resp := w.post("/requests/"+reqID+"/cancel", map[string]string{"csrf": "forged"})
	require.Equal(t, 403, status)
	require.Contains(t, resp, "CSRF check failed")
	require.Contains(t, w.open("/requests/"+reqID), "pending", "nothing was done")
	w.signOut()

	t.Log("dave (auditor, not an approver) posts the approve form by hand: refused")
	w.signInOIDC("dave@example.com")
	body = w.open("/requests/" + reqID)
	require.NotContains(t, body, "Your decision")
	csrf := eval[string](w, `document.querySelector("input[name=csrf]").value`)
	status, resp = w.post("/requests/"+reqID+"/decide", map[string]string{"csrf": csrf, "outcome": "approve"})
	require.Equal(t, 403, status, resp)
	require.Contains(t, w.open("/requests/"+reqID), "pending")
	w.signOut()

	t.Log("bob approves from his approvals page")
	w.signInOIDC("bob@example.com")
	body = w.open("/approvals")
	require.Contains(t, body, reqID)
	w.shot("approvals")
	w.open("/requests/" + reqID)
	w.shot("request")
	w.do(chromedp.SendKeys(chromedp.CSS("#comment"), "ok for today"))
	body = w.click("button[value=approve]")
	require.Contains(t, body, "Approved")
	require.Contains(t, body, "ok for today")
	t.Log("bob rejects what is left in bulk")
	body = w.open("/approvals")
	require.Contains(t, body, req3)
	require.NotContains(t, body, reqID)
	w.do(chromedp.Click(chromedp.CSS("#all")))
	require.True(t, eval[bool](w, `document.querySelector("input[name=id]").checked`), "select all")
	w.do(chromedp.SendKeys(chromedp.CSS("#bulk-comment"), "not this week"))
	body = w.click("button[value=reject]")
	require.Contains(t, body, "1 decided.")
	require.Contains(t, w.open("/requests/"+req3), "rejected")

	t.Log("the grant becomes active, and bob (an owner) revokes it")
	var grantPath string
	require.Eventually(t, func() bool {
		res := w.probe("/requests/"+reqID, `(() => { const a = document.querySelector("a[href^='/access/']"); return a ? a.getAttribute("href") + " " + a.closest("tr").textContent : "" })()`)
		grantPath, _, _ = strings.Cut(res, " ")
		return strings.Contains(res, "active")
	}, 30*time.Second, 300*time.Millisecond, "the grant did not become active")
	body = w.open(grantPath)
	require.Contains(t, body, "Revoke now")
	w.do(chromedp.SendKeys(chromedp.CSS("#extend-d"), "3h"))
	body = w.click("form[action$='/extend'] button")
	require.Contains(t, body, "Extended: now expires")
	w.shot("grant")
	body = w.click("form[action$='/revoke'] button")
	require.Contains(t, body, "Revocation started")
	require.Eventually(t, func() bool {
		return strings.Contains(w.probe(grantPath, `document.querySelector("h1").textContent`), "revoked")
	}, 30*time.Second, 300*time.Millisecond, "the grant was not revoked")
	w.signOut()

	t.Log("a one-time link from sesame admin bootstrap signs carol in, once")
	// The operator runs it with the server's configuration (here: its base URL).
	link := strings.TrimSpace(runCLI(t, append(env, "SESAME_SERVER_BASE_URL="+p.url()), "admin", "bootstrap", "--email", "carol@example.com"))
	require.True(t, strings.HasPrefix(link, p.url()+"/login/link/sln_"), link)
	w.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("main")))
	body = w.click("form[action='/login/link'] button")
	require.Contains(t, body, "Signed in as carol@example.com")
	w.signOut()
	w.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("main")))
	body = w.click("form[action='/login/link'] button")
	require.Contains(t, body, "invalid, was already used, or has expired")
	w.signInOIDC("carol@example.com")

	t.Log("every page renders for an admin")
	carolID := strings.TrimPrefix(eval[string](w, `document.querySelector(".me a").getAttribute("href")`), "/people/")
	pages := []struct{ path, want, shot string }{
		{"/", "Waiting for my approval", ""},
		{"/requests", "Requests", ""},
		{"/requests?scope=all", reqID, ""},
		{"/requests/new?app=github", "Request access", ""},
		{"/requests/" + reqID, "Timeline", ""},
		{"/approvals", "Waiting for my approval", ""},
		{"/access", "Active access", "access"},
		{"/catalog", "GitHub", "catalog"},
		{"/catalog/github", "Entitlements", "app"},
		{"/people", "alice@example.com", ""},
		{"/people/" + carolID, "carol@example.com", "person"},
		{"/policies", "Active policies", ""},
		{"/policies?entitlements=github:write&requester=alice@example.com", "Outcome", "policies"},
		{"/audit", "request.approved", "audit"},
		{"/audit?action=request.&since=1h", reqID, ""},
		{"/audit/verify", "Chain verified", ""},
		{"/settings", "Slack", "settings"},
	}
	for _, pg := range pages {
		body := w.open(pg.path)
		require.Contains(t, body, pg.want, pg.path)
		require.NotContains(t, body, "Something went wrong", pg.path)
		if pg.shot != "" {
			w.shot(pg.shot)
		}
	}
	w.open("/catalog/github")
	body = w.click("form[action='/catalog/github/health'] button")
	require.Contains(t, body, "Health check:")
	csv := eval[string](w, `fetch("/audit/export?format=csv").then(r => r.text())`)
	require.True(t, strings.HasPrefix(csv, "seq,id,time,actor_id,action"), csv)
	require.Contains(t, csv, reqID)
}

var slackLinkRE = regexp.MustCompile(`<(http[^|>]+)\|Open this link>`)

// TestWebSlackLink completes "/access login" through the dashboard: the
// Slack user (whose email Slack has not confirmed, so no automatic link)
// opens the link, signs in, confirms, and is linked to the signed-in user.
func TestWebSlackLink(t *testing.T) {
	t.Parallel()
	m, err := mockoidc.Run()
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Shutdown() }) //nolint:errcheck // test teardown
	fake := slackfake.New(slackfake.Options{})
	t.Cleanup(fake.Close)
	fake.AddUser(slackfake.User{ID: "U0ERIN", Name: "erin", RealName: "Erin Evans", Email: "erin@example.com", EmailConfirmed: false})
	env := []string{"SESAME_DATA_DIR=" + filepath.Join(t.TempDir(), "sesame-data"),
		"SESAME_WEB_OIDC_ISSUER=" + m.Issuer(), "SESAME_WEB_OIDC_CLIENT_ID=" + m.ClientID, "SESAME_WEB_OIDC_CLIENT_SECRET=" + m.ClientSecret,
		"SESAME_SLACK_MODE=socket", "SESAME_SLACK_BOT_TOKEN=" + fake.BotToken(), "SESAME_SLACK_APP_TOKEN=" + fake.AppToken(),
		"SESAME_SLACK_API_URL=" + fake.APIURL()}
	p := startServe(t, env)
	w := newWeb(t, p.url(), m)

	login := func() string {
		t.Helper()
		before := len(fake.Ephemerals("U0ERIN"))
		waitUntil(t, 20*time.Second, "the app answers /access login", func() bool {
			_, err := fake.Command(t.Context(), "U0ERIN", "/access", "login")
			return err == nil
		})
		waitUntil(t, 10*time.Second, "an ephemeral reply", func() bool { return len(fake.Ephemerals("U0ERIN")) > before })
		return fake.LastEphemeral("U0ERIN")
	}
	reply := login()
	m1 := slackLinkRE.FindStringSubmatch(reply)
	require.NotNil(t, m1, reply)
	w.do(chromedp.Navigate(m1[1]), chromedp.WaitVisible(chromedp.CSS("#continue")))
	w.oidc.QueueUser(&mockoidc.MockUser{Subject: "sub-erin", Email: "erin@example.com", EmailVerified: true})
	w.click("#continue")       // to the dashboard, which asks to sign in
	body := w.click("#signin") // through the provider and back to the link page
	require.Contains(t, body, "U0ERIN")
	require.Contains(t, body, "erin@example.com")
	require.Contains(t, body, "Only continue if you ran /access login yourself just now.", "the phishing warning")
	body = w.click("form[action='/link/slack'] button")
	require.Contains(t, body, "Your Slack account is linked to erin@example.com")
	require.Contains(t, login(), "erin@example.com", "Slack now knows who U0ERIN is")
	require.Empty(t, fake.Violations())
}
