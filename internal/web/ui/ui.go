package ui

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/web/signin"
	"github.com/sesame-access/sesame/internal/workflow"
)

//go:embed templates static
var assets embed.FS

// CSP is the Content-Security-Policy of every response.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// SlackLinker completes "/access login" links (slackbot.CodeLinker).
type SlackLinker interface {
	// Verify returns the Slack user a link code was issued for.
	Verify(code string) (string, error)
	// CompleteLink binds the code's Slack user to the user with email.
	CompleteLink(ctx context.Context, code, email string) (*access.User, error)
}

// Config configures the dashboard. Service and Sessions are required.
type Config struct {
	Service  *workflow.Service
	Store    store.Store
	Clock    clock.Clock
	Logger   *slog.Logger
	Sessions *signin.Sessions
	// OIDC is the identity provider; nil: sign-in only with one-time
	// links.
	OIDC *signin.OIDC
	// BaseURL is the public URL ("https://sesame.example.com").
	BaseURL string
	// SlackLinker completes /access login; nil when Slack is off.
	SlackLinker SlackLinker
	// HealthCheck checks an app's connector (connector.HealthChecker);
	// nil hides the button.
	HealthCheck func(ctx context.Context, app *access.App) error
	// SealSetting encrypts a secret connector setting for storage; nil
	// makes settings read-only.
	SealSetting func(name, value string) (string, error)
	// Settings describes the server for the settings page.
	Settings Settings
	// SlackCheck asks Slack whether the bot token works (auth.test) and
	// returns the workspace and bot user it belongs to; nil when Slack is
	// off. The settings page calls it on each view, with a short timeout.
	SlackCheck func(ctx context.Context) (SlackIdentity, error)
	// Pages are extra pages, registered after the built-in ones.
	Pages []Page
}

// SlackIdentity is whom Slack says the bot token belongs to.
type SlackIdentity struct {
	Team, TeamID, BotUser, URL string
}

// Settings is what the settings page shows about the server.
type Settings struct {
	SlackEnabled  bool
	SlackMode     string
	SlackCommand  string
	AlertsChannel string
	OIDCIssuer    string
	SessionTTL    time.Duration
	Database      string
}

// Access says who may open a page.
type Access int

const (
	// AccessSignedIn (the zero value) is any signed-in, active user.
	AccessSignedIn Access = iota
	// AccessPublic is anyone, signed in or not (sign-in pages).
	AccessPublic
	// AccessPrivileged is admins and auditors (read-only everything).
	AccessPrivileged
	// AccessAdmin is admins only.
	AccessAdmin
)

// Page is one route of the dashboard.
type Page struct {
	Method string
	// Path is a ServeMux pattern path ("/requests/{id}").
	Path   string
	Access Access
	// Nav is the menu entry to highlight ("home", "requests", ...).
	Nav    string
	Handle func(h *Handler, c *Ctx, w http.ResponseWriter, r *http.Request) error
}

// Handler is the dashboard.
type Handler struct {
	cfg   Config
	svc   *workflow.Service
	st    store.Store
	clock clock.Clock
	log   *slog.Logger
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New returns the dashboard handler, to mount at "/". It panics on a
// wiring bug (no Service or Sessions, a broken template).
func New(cfg Config) *Handler {
	if cfg.Service == nil || cfg.Sessions == nil {
		panic("ui: Config.Service and Config.Sessions are required")
	}
	h := &Handler{
		cfg:   cfg,
		svc:   cfg.Service,
		st:    cmp.Or(cfg.Store, cfg.Service.Store()),
		clock: cmp.Or[clock.Clock](cfg.Clock, clock.Real{}),
		log:   cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		mux:   http.NewServeMux(),
	}
	h.cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	h.pages = mustTemplates()
	static, err := fs.Sub(assets, "static")
	if err != nil {
		panic(err)
	}
	files := http.FileServerFS(static)
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(files)))
	for _, p := range append(allPages(), cfg.Pages...) {
		h.mux.HandleFunc(p.Method+" "+p.Path, h.serve(p))
	}
	h.mux.HandleFunc("/", h.serve(Page{Method: "", Path: "/", Access: AccessPublic, Handle: (*Handler).notFound}))
	return h
}

func cacheFor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP sets the security headers and routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	h.mux.ServeHTTP(w, r)
}

// mustTemplates parses the layout with each page.
func mustTemplates() map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/partials.html"))
	names, err := fs.Glob(assets, "templates/pages/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		t := template.Must(template.Must(base.Clone()).ParseFS(assets, n))
		out[strings.TrimSuffix(path.Base(n), ".html")] = t
	}
	return out
}

// maxFormBytes bounds a form post (the largest field is a 2,000-character
// reason or an 8 KiB setting).
const maxFormBytes = 256 << 10

// serve adapts a page: panic recovery, session, access, CSRF, errors.
func (h *Handler) serve(p Page) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := &Ctx{h: h, R: r, Now: h.clock.Now().UTC(), Nav: p.Nav, users: map[string]*access.User{}}
		defer h.recoverPanic(c, w, r)
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		}
		w.Header().Set("Cache-Control", "no-store")
		sess, err := h.cfg.Sessions.Load(r)
		switch {
		case err == nil:
			u, uerr := h.st.UserGetByID(r.Context(), sess.UserID)
			if uerr == nil && u.Active() {
				c.Session, c.User = sess, u
			}
		case !errors.Is(err, signin.ErrNoSession):
			h.fail(c, w, err)
			return
		}
		if p.Access != AccessPublic && c.User == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			h.failStatus(c, w, http.StatusUnauthorized, "Sign in first", "Your session has ended. Sign in again and repeat what you were doing.")
			return
		}
		switch {
		case p.Access == AccessAdmin && !c.Admin():
			h.failStatus(c, w, http.StatusForbidden, "Admins only", "This page is for Sesame admins.")
			return
		case p.Access == AccessPrivileged && !c.Privileged():
			h.failStatus(c, w, http.StatusForbidden, "Admins and auditors only", "This page is for Sesame admins and auditors.")
			return
		}
		if r.Method == http.MethodPost && c.Session == nil && !h.sameOrigin(r) {
			// No session, so no CSRF token: without this a cross-site form
			// could post the attacker's own one-time link to /login/link
			// and sign the victim in as the attacker (login CSRF).
			h.failStatus(c, w, http.StatusForbidden, "Form check failed",
				"This form was not sent from a Sesame page (cross-site request). Nothing was done. Open Sesame and try again.")
			return
		}
		if r.Method == http.MethodPost && c.Session != nil {
			if err := r.ParseForm(); err != nil {
				h.failStatus(c, w, http.StatusBadRequest, "Bad form", "The form could not be read.")
				return
			}
			if !c.Session.CheckCSRF(r.PostFormValue("csrf")) {
				h.failStatus(c, w, http.StatusForbidden, "Form check failed",
					"This form did not come from your Sesame session (CSRF check failed), or your session changed since the page was loaded. Nothing was done. Go back, reload the page and try again.")
				return
			}
		}
		c.Flash = h.takeFlash(w, r)
		if err := p.Handle(h, c, w, r); err != nil {
			h.fail(c, w, err)
		}
	}
}

// sameOrigin reports whether a browser sent r from a page of this site:
// Sec-Fetch-Site is same-origin (or none: typed by the person) when the
// browser sends it; else the Origin, or failing that the Referer, must be
// the base URL's origin (the request's own host when no base URL is set).
// A request with none of these headers is refused.
func (h *Handler) sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	want := h.origin(r)
	if o := r.Header.Get("Origin"); o != "" {
		return o == want
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		return err == nil && u.Scheme+"://"+u.Host == want
	}
	return false
}

// origin is the site's origin ("https://sesame.example.com").
func (h *Handler) origin(r *http.Request) string {
	if u, err := url.Parse(h.cfg.BaseURL); err == nil && u.Scheme != "" && u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (h *Handler) recoverPanic(c *Ctx, w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
		panic(v)
	}
	h.log.ErrorContext(r.Context(), "dashboard handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v)
	h.failStatus(c, w, http.StatusInternalServerError, "Something went wrong", "The error was logged.")
}

// statusFor maps an error code to an HTTP status.
func statusFor(code access.Code) int {
	switch code {
	case access.CodeInvalid:
		return http.StatusBadRequest
	case access.CodeNotFound:
		return http.StatusNotFound
	case access.CodeForbidden:
		return http.StatusForbidden
	case access.CodeUnauthorized:
		return http.StatusUnauthorized
	case access.CodeConflict:
		return http.StatusConflict
	case access.CodeRateLimited:
		return http.StatusTooManyRequests
	case access.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorView is the error page's data.
type errorView struct {
	Status  int
	Title   string
	Message string
	Fields  []access.FieldError
}

// fail renders err as an error page.
func (h *Handler) fail(c *Ctx, w http.ResponseWriter, err error) {
	if ae, ok := errors.AsType[*access.Error](err); ok {
		if st := statusFor(ae.Code); st != http.StatusInternalServerError {
			c.render(w, st, "error", errorView{Status: st, Title: http.StatusText(st), Message: ae.Message, Fields: ae.Fields})
			return
		}
	}
	if !errors.Is(err, context.Canceled) {
		uid := ""
		if c.User != nil {
			uid = c.User.ID
		}
		h.log.ErrorContext(c.R.Context(), "dashboard error", "method", c.R.Method, "path", c.R.URL.Path, "user", uid, "err", err)
	}
	h.failStatus(c, w, http.StatusInternalServerError, "Something went wrong", "The error was logged; try again in a moment.")
}

func (h *Handler) failStatus(c *Ctx, w http.ResponseWriter, status int, title, msg string) {
	c.render(w, status, "error", errorView{Status: status, Title: title, Message: msg})
}

func (h *Handler) notFound(c *Ctx, w http.ResponseWriter, _ *http.Request) error {
	h.failStatus(c, w, http.StatusNotFound, "Not found", "There is no page at this address.")
	return nil
}

// flashCookie carries a one-line message to the next page.
const flashCookie = "sesame_flash"

// maxFlash bounds a flash message in bytes: Done cuts a longer one (with
// "…") rather than losing it, so the cookie stays far below browsers'
// 4 KiB limit even escaped.
const maxFlash = 300

// truncate cuts s to at most n bytes on a rune boundary, ending with "…"
// when cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ell = "…"
	cut := n - len(ell)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ell
}

func (h *Handler) takeFlash(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(flashCookie)
	if err != nil || ck.Value == "" {
		return ""
	}
	//nolint:gosec // G124: Secure follows the base URL; HttpOnly and SameSite are set
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: h.cfg.Sessions.Secure(), SameSite: http.SameSiteLaxMode})
	msg, err := url.QueryUnescape(ck.Value)
	if err != nil {
		return ""
	}
	return truncate(msg, maxFlash)
}

// view is what every template gets.
type view struct {
	C *Ctx
	D any
}

// render executes page name into a buffer, then writes it with status.
func (c *Ctx) render(w http.ResponseWriter, status int, name string, data any) {
	t, ok := c.h.pages[name]
	if !ok {
		panic("ui: no template " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", view{C: c, D: data}); err != nil {
		c.h.log.ErrorContext(c.R.Context(), "render page", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) //nolint:errcheck // the client went away
}

// Render writes page name with data (see doc.go).
func (c *Ctx) Render(w http.ResponseWriter, status int, name string, data any) error {
	c.render(w, status, name, data)
	return nil
}

// Done redirects to to (a local path) after a successful POST, showing
// msg there.
func (c *Ctx) Done(w http.ResponseWriter, to, msg string) error {
	if msg != "" {
		//nolint:gosec // G124: as in takeFlash
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(truncate(msg, maxFlash)), Path: "/", MaxAge: 60, HttpOnly: true,
			Secure: c.h.cfg.Sessions.Secure(), SameSite: http.SameSiteLaxMode})
	}
	http.Redirect(w, c.R, signin.LocalPath(to), http.StatusSeeOther) //nolint:gosec // G710: LocalPath allows only paths on this site
	return nil
}

// Ctx is one request to the dashboard.
type Ctx struct {
	h *Handler
	R *http.Request
	// User is the signed-in user (nil on public pages when signed out).
	User    *access.User
	Session *signin.Session
	Now     time.Time
	Nav     string
	Flash   string
	users   map[string]*access.User
}

// CSRF is the session's CSRF token ("" when signed out).
func (c *Ctx) CSRF() string {
	if c.Session == nil {
		return ""
	}
	return c.Session.CSRFToken()
}

// Admin reports whether the user is an admin.
func (c *Ctx) Admin() bool { return c.User.HasRole(access.RoleAdmin) }

// Auditor reports whether the user is an auditor.
func (c *Ctx) Auditor() bool { return c.User.HasRole(access.RoleAuditor) }

// Privileged reports whether the user may read everything.
func (c *Ctx) Privileged() bool { return c.Admin() || c.Auditor() }

// Lookup returns the user with id (cached per request), or nil.
func (c *Ctx) Lookup(id string) *access.User {
	if u, ok := c.users[id]; ok {
		return u
	}
	u, err := c.h.st.UserGetByID(c.R.Context(), id)
	if err != nil {
		u = nil
	}
	c.users[id] = u
	return u
}

// preloadRows looks up, in one query, the requesters of reqs and the
// holders of grants that c has not looked up yet, so that the Person calls
// of a page's request and grant tables read c's cache.
func (c *Ctx) preloadRows(reqs []*access.Request, grants []*access.Grant) error {
	var missing []string
	add := func(id string) {
		if _, ok := c.users[id]; !ok && id != "" {
			missing = append(missing, id)
		}
	}
	for _, r := range reqs {
		add(r.RequesterID)
	}
	for _, g := range grants {
		add(g.UserID)
	}
	if len(missing) == 0 {
		return nil
	}
	found, err := c.h.st.UserListByIDs(c.R.Context(), missing)
	if err != nil {
		return fmt.Errorf("load people: %w", err)
	}
	for _, id := range missing {
		c.users[id] = nil
	}
	for _, u := range found {
		c.users[u.ID] = u
	}
	return nil
}

// Person returns a user's name (or the id when unknown).
func (c *Ctx) Person(id string) string {
	if id == "" {
		return ""
	}
	if u := c.Lookup(id); u != nil {
		return cmp.Or(u.Name, u.Email)
	}
	return id
}

// When shows t in UTC with a relative hint ("in 2h", "5m ago").
func (c *Ctx) When(t time.Time) template.HTML {
	if t.IsZero() {
		return "—"
	}
	u := t.UTC()
	return template.HTML(fmt.Sprintf(`<time datetime=%q title=%q>%s</time> <span class="rel">(%s)</span>`, //nolint:gosec // only formatted times
		u.Format(time.RFC3339), u.Format("2006-01-02 15:04:05 UTC"), u.Format("2006-01-02 15:04 UTC"), Relative(c.Now, u)))
}

// Relative describes t from now: "just now", "in 2h", "3d ago".
func Relative(now, t time.Time) string {
	d := t.Sub(now)
	future := d > 0
	if d < 0 {
		d = -d
	}
	if d < time.Minute {
		return "just now"
	}
	s := access.FormatDuration(roundDuration(d))
	if future {
		return "in " + s
	}
	return s + " ago"
}

// roundDuration keeps two units at most.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= 48*time.Hour:
		return d.Truncate(24 * time.Hour)
	case d >= time.Hour:
		return d.Truncate(time.Hour)
	}
	return d.Truncate(time.Minute)
}

// asCoded returns err as a coded error a person may read, or nil.
func asCoded(err error) *access.Error {
	if ae, ok := errors.AsType[*access.Error](err); ok && statusFor(ae.Code) != http.StatusInternalServerError {
		return ae
	}
	return nil
}
