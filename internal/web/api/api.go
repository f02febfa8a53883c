package api

import (
	"cmp"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strings"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/auth"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/integrations"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/workflow"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1"

// Config configures the API handler. Service is required.
type Config struct {
	// Service runs the use cases.
	Service *workflow.Service
	// Store serves read-only queries (lists, the audit log, tokens);
	// default Service.Store().
	Store store.Store
	// Clock is read for token checks and timestamps; default clock.Real.
	Clock clock.Clock
	// Logger receives internal errors (5xx) with their cause; default
	// discards.
	Logger *slog.Logger
	// BaseURL is the server's external URL ("https://sesame.example.com"),
	// used in Location headers; "" makes them absolute paths.
	BaseURL string
	// Integrations serves /integrations (integrations.go); nil: those
	// routes answer 503.
	Integrations *integrations.Service
	// TwoPersonRule is org.policy_changes.two_person_rule: a policy change
	// proposed through the API waits for a second admin. Off, it applies
	// at once.
	TwoPersonRule bool
	// Findings serves discovery, alerts and alert settings (findings.go);
	// nil: those routes answer 503. AlertsChannel is slack.alerts_channel,
	// shown with the alert settings.
	Findings      Findings
	AlertsChannel string
	// TokenUses saves API tokens' last use in the background; nil saves
	// it before the request is answered.
	TokenUses *auth.UseRecorder
	// ListConcurrency is how many list requests (routes that read a page
	// of many rows) run at once; the others wait their turn. Default
	// DefaultListConcurrency(Store's dialect).
	ListConcurrency int
}

// handler holds the API's dependencies; routes are its methods.
type handler struct {
	svc     *workflow.Service
	st      store.Store
	clock   clock.Clock
	log     *slog.Logger
	baseURL string
	routes  []route
	// integrations is Config.Integrations.
	integrations *integrations.Service
	// tokenUses is Config.TokenUses.
	tokenUses *auth.UseRecorder
	// lists holds a slot per list request running (Config.ListConcurrency).
	lists chan struct{}
	// twoPersonRule is Config.TwoPersonRule.
	twoPersonRule bool
	findings      Findings
	alertsChannel string
}

// principal is the authenticated caller.
type principal struct {
	User  *access.User
	Token *access.Token
}

// admin reports whether the caller is an admin.
func (p *principal) admin() bool { return p.User.HasRole(access.RoleAdmin) }

// privileged reports whether the caller may read everything (admin or
// auditor).
func (p *principal) privileged() bool {
	return p.User.HasRole(access.RoleAdmin) || p.User.HasRole(access.RoleAuditor)
}

// New returns the API handler. It serves every path under Prefix and
// answers anything else with a 404 problem, so it can be mounted as
// mux.Handle(api.Prefix+"/", api.New(cfg)). It panics when cfg.Service is
// nil (a wiring bug).
func New(cfg Config) http.Handler {
	if cfg.Service == nil {
		panic("api: Config.Service is required")
	}
	h := &handler{
		svc:     cfg.Service,
		st:      cmp.Or(cfg.Store, cfg.Service.Store()),
		clock:   cmp.Or[clock.Clock](cfg.Clock, clock.Real{}),
		log:     cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		baseURL: strings.TrimRight(cfg.BaseURL, "/"),
		routes:  routeTable(),

		twoPersonRule: cfg.TwoPersonRule,
		findings:      cfg.Findings,
		alertsChannel: cfg.AlertsChannel,
	}
	h.integrations = cfg.Integrations
	h.tokenUses = cfg.TokenUses
	h.lists = make(chan struct{}, max(1, cmp.Or(cfg.ListConcurrency, DefaultListConcurrency(h.st.Dialect()))))
	mux := http.NewServeMux()
	for _, rt := range h.routes {
		mux.HandleFunc(rt.Method+" "+rt.Path, h.serve(rt))
	}
	mux.HandleFunc("/", h.fallback)
	return mux
}

// DefaultListConcurrency is how many list requests run at once on a
// database dialect. On SQLite, GOMAXPROCS: the lists run in this process,
// enough of them to keep every core busy, few enough that a write (which
// SQLite runs on one connection, one at a time) is not left waiting for a
// core behind dozens of them. On PostgreSQL a list mostly waits for the
// server, so four times as many.
func DefaultListConcurrency(dialect string) int {
	if dialect == "sqlite" {
		return max(1, runtime.GOMAXPROCS(0)-1)
	}
	return 4 * runtime.GOMAXPROCS(0)
}

// serve adapts a route to an http.HandlerFunc: common headers, panic
// recovery, authentication, and the one place errors become problems.
func (h *handler) serve(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer h.recoverPanic(w, r)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		var p *principal
		if !rt.Public {
			var err error
			p, err = h.authenticate(r)
			if err != nil {
				h.fail(w, r, nil, err)
				return
			}
		}
		if rt.List {
			select {
			case h.lists <- struct{}{}:
				defer func() { <-h.lists }()
			case <-r.Context().Done():
				return // the client went away while waiting
			}
		}
		if err := rt.Handle(h, w, r, p); err != nil {
			h.fail(w, r, p, err)
		}
	}
}

// authenticate reads the bearer token.
func (h *handler) authenticate(r *http.Request) (*principal, error) {
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return nil, &httpError{status: http.StatusUnauthorized, code: string(access.CodeUnauthorized),
			detail: "send an API token: Authorization: Bearer ses_..."}
	}
	u, t, err := auth.Authenticate(r.Context(), h.st, h.tokenUses, strings.TrimSpace(secret), h.clock.Now())
	if err != nil {
		return nil, err
	}
	return &principal{User: u, Token: t}, nil
}

// recoverPanic turns a handler panic into a logged 500. http.ErrAbortHandler
// (an aborted stream) is passed on.
func (h *handler) recoverPanic(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
		panic(v)
	}
	h.log.ErrorContext(r.Context(), "api handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v)
	writeProblem(w, r, problemFor(internalError()))
}

// fallback answers paths no route matched: 405 with Allow when the path
// exists under other methods, 404 otherwise.
func (h *handler) fallback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	var allow []string
	for _, rt := range h.routes {
		if pathMatches(rt.Path, r.URL.Path) && !slices.Contains(allow, rt.Method) {
			allow = append(allow, rt.Method)
			if rt.Method == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, r, problemFor(&httpError{status: http.StatusMethodNotAllowed, code: "method_not_allowed",
			detail: r.Method + " is not allowed here; use " + strings.Join(allow, ", ")}))
		return
	}
	writeProblem(w, r, problemFor(&httpError{status: http.StatusNotFound, code: string(access.CodeNotFound),
		detail: "no API route matches " + r.URL.Path}))
}

// pathMatches reports whether path fits pattern, where a {name} segment
// matches any one non-empty segment.
func pathMatches(pattern, path string) bool {
	ps := strings.Split(pattern, "/")
	xs := strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i, p := range ps {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if xs[i] == "" {
				return false
			}
			continue
		}
		if p != xs[i] {
			return false
		}
	}
	return true
}

// url returns the external URL of an API path.
func (h *handler) url(path string) string { return h.baseURL + Prefix + path }
