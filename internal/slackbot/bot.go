package slackbot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/workflow"
)

// Connection modes.
const (
	ModeSocket = "socket"
	ModeHTTP   = "http"
)

// Defaults.
const (
	DefaultCommand = "/access"
	DefaultAPIURL  = "https://slack.com/api/"
	// DefaultAckBudget is how long a handler may work before the bot
	// acknowledges anyway (Slack allows 3 s, and the network needs some).
	DefaultAckBudget = 2500 * time.Millisecond
	// LinkTTL is how long a /access login link stays valid.
	LinkTTL = 15 * time.Minute
)

// Config configures a Bot. Service and BotToken are required; so are
// AppToken in socket mode and SigningSecret in HTTP mode, and LinkSecret
// (at least 16 bytes) unless Linker is set.
type Config struct {
	Service *workflow.Service
	// Store is read for views (default: Service.Store()).
	Store  store.Store
	Clock  clock.Clock  // default clock.Real
	Logger *slog.Logger // default: discard

	BotToken      string // xoxb-...
	AppToken      string // xapp-..., socket mode
	SigningSecret string // HTTP mode
	// APIURL is the Slack Web API base URL (default DefaultAPIURL); tests
	// point it at slackfake.
	APIURL string
	// Command is the slash command (default DefaultCommand).
	Command string
	// BaseURL is Sesame's public URL: links to requests and, in HTTP mode,
	// the request URLs in the manifest.
	BaseURL string
	// Mode is ModeSocket (default) or ModeHTTP.
	Mode string
	// LinkSecret signs /access login codes (see CodeLinker).
	LinkSecret []byte
	// Linker replaces the default CodeLinker.
	Linker Linker
	// HTTPClient makes the Web API calls (default: 10 s timeout).
	HTTPClient *http.Client
	// AckBudget bounds the work before an ack (default DefaultAckBudget).
	AckBudget time.Duration
}

// Bot is the Slack front end. Safe for concurrent use.
type Bot struct {
	svc       *workflow.Service
	st        store.Store
	clock     clock.Clock
	log       *slog.Logger
	api       *slack.Client
	mode      string
	command   string
	baseURL   string
	secret    []byte
	appToken  string
	linker    Linker
	ackBudget time.Duration
	events    *recentSet
	ims       *imCache
	bg        *background
	catalog   *catalog
	linkTmpl  *template.Template
	// work limits the handlers working at once (their store work is
	// CPU-bound; Slack's rate limits cap the useful rate far below what
	// these slots allow even while they wait on Slack's API).
	work chan struct{}
	// alerts handles the security alert buttons (alerts.go).
	alerts alertsSlot
	// forms orders the request form's refreshes (formupdates.go).
	forms formUpdates
}

// New validates cfg and returns a Bot.
func New(cfg Config) (*Bot, error) {
	if cfg.Service == nil {
		return nil, errors.New("slackbot: Service is required")
	}
	if cfg.BotToken == "" {
		return nil, errors.New("slackbot: BotToken is required")
	}
	mode := cmp.Or(cfg.Mode, ModeSocket)
	switch mode {
	case ModeSocket:
		if cfg.AppToken == "" {
			return nil, errors.New("slackbot: socket mode needs AppToken (xapp-...)")
		}
	case ModeHTTP:
		if cfg.SigningSecret == "" {
			return nil, errors.New("slackbot: HTTP mode needs SigningSecret")
		}
	default:
		return nil, fmt.Errorf("slackbot: Mode %q is not %s or %s", cfg.Mode, ModeSocket, ModeHTTP)
	}
	command := cmp.Or(cfg.Command, DefaultCommand)
	if !strings.HasPrefix(command, "/") || len(command) < 2 || strings.ContainsAny(command, " \t\n") {
		return nil, fmt.Errorf("slackbot: Command %q must look like /access", command)
	}
	apiURL := cmp.Or(cfg.APIURL, DefaultAPIURL)
	if u, err := url.Parse(apiURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("slackbot: APIURL %q is not an http(s) URL", apiURL)
	}
	if !strings.HasSuffix(apiURL, "/") {
		apiURL += "/"
	}
	clk := cmp.Or[clock.Clock](cfg.Clock, clock.Real{})
	st := cmp.Or[store.Store](cfg.Store, cfg.Service.Store())
	baseURL := strings.TrimRight(cfg.BaseURL, "/")
	linker := cfg.Linker
	if linker == nil {
		l, err := NewCodeLinker(st, clk, cfg.LinkSecret, baseURL, LinkTTL)
		if err != nil {
			return nil, fmt.Errorf("slackbot: %w", err)
		}
		linker = l
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	log := cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	opts := []slack.Option{slack.OptionAPIURL(apiURL), slack.OptionHTTPClient(hc)}
	if cfg.AppToken != "" {
		opts = append(opts, slack.OptionAppLevelToken(cfg.AppToken))
	}
	bg := newBackground(log, 16)
	return &Bot{
		svc:       cfg.Service,
		st:        st,
		clock:     clk,
		log:       log,
		api:       slack.New(cfg.BotToken, opts...),
		mode:      mode,
		command:   command,
		baseURL:   baseURL,
		secret:    []byte(cfg.SigningSecret),
		appToken:  cfg.AppToken,
		linker:    linker,
		ackBudget: cmp.Or(cfg.AckBudget, DefaultAckBudget),
		events:    newRecentSet(4096, 30*time.Minute),
		ims:       newIMCache(10000),
		bg:        bg,
		catalog:   newCatalog(st, clk, log, bg, CatalogTTL),
		linkTmpl:  template.Must(template.New("link").Parse(linkPage)),
		work:      make(chan struct{}, max(8, 4*runtime.GOMAXPROCS(0))),
	}, nil
}

// Notifier returns the workflow.Notifier that delivers notifications as
// Slack DMs and keeps Home tabs and approvers' messages current. The
// Service is built before the Bot: pass it with Service.SetNotifier.
func (b *Bot) Notifier() workflow.Notifier { return (*notifier)(b) }

// Shutdown waits for background work (Home tab refreshes, message updates
// after a decision) to finish, or for ctx.
func (b *Bot) Shutdown(ctx context.Context) error { return b.bg.wait(ctx) }

// now is the clock's time.
func (b *Bot) now() time.Time { return b.clock.Now() }

// background runs best-effort work after an ack, bounded in concurrency.
// Unlike a sync.WaitGroup, it may be waited on while work is being added.
type background struct {
	log  *slog.Logger
	sem  chan struct{}
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0
}

func newBackground(log *slog.Logger, n int) *background {
	return &background{log: log, sem: make(chan struct{}, n)}
}

// goTimeout runs fn in the background with its own timeout, detached from
// parent's cancellation (the request that started it has been answered).
func (bg *background) goTimeout(parent context.Context, name string, timeout time.Duration, fn func(ctx context.Context) error) {
	bg.mu.Lock()
	if bg.n == 0 {
		bg.idle = make(chan struct{})
	}
	bg.n++
	bg.mu.Unlock()
	go func() {
		defer bg.finish()
		bg.sem <- struct{}{}
		defer func() { <-bg.sem }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), timeout)
		defer cancel()
		if err := fn(ctx); err != nil {
			bg.log.WarnContext(ctx, "slack background work failed", "work", name, "err", err)
		}
	}()
}

// track counts work run elsewhere (Socket Mode handlers) as background
// work, so that wait (and Shutdown) also waits for it; call done at its end.
func (bg *background) track() (done func()) {
	bg.mu.Lock()
	if bg.n == 0 {
		bg.idle = make(chan struct{})
	}
	bg.n++
	bg.mu.Unlock()
	return bg.finish
}

func (bg *background) finish() {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	bg.n--
	if bg.n == 0 {
		close(bg.idle)
	}
}

// wait returns when no background work is running (work started while
// waiting is waited for too), or when ctx ends.
func (bg *background) wait(ctx context.Context) error {
	for {
		bg.mu.Lock()
		if bg.n == 0 {
			bg.mu.Unlock()
			return nil
		}
		idle := bg.idle
		bg.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// recentSet remembers keys (event IDs) for a while, to drop Slack's
// retries of an event already handled.
type recentSet struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	seen  map[string]time.Time
	order []string
}

func newRecentSet(capacity int, ttl time.Duration) *recentSet {
	return &recentSet{max: capacity, ttl: ttl, seen: map[string]time.Time{}}
}

// add records key at now and reports whether it was new.
func (r *recentSet) add(key string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if at, ok := r.seen[key]; ok && now.Sub(at) < r.ttl {
		return false
	}
	r.seen[key] = now
	r.order = append(r.order, key)
	for len(r.order) > r.max {
		delete(r.seen, r.order[0])
		r.order = r.order[1:]
	}
	return true
}

// imCache remembers the IM channel of each Slack user (conversations.open
// is Tier 3). Losing it costs one API call.
type imCache struct {
	mu  sync.Mutex
	max int
	m   map[string]string
}

func newIMCache(capacity int) *imCache { return &imCache{max: capacity, m: map[string]string{}} }

func (c *imCache) get(user string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.m[user]
	return ch, ok
}

func (c *imCache) put(user, ch string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[user] = ch
}
