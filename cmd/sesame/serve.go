package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/sesame-access/sesame/internal/auth"
	"github.com/sesame-access/sesame/internal/catalog"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/config"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/awsidc"
	"github.com/sesame-access/sesame/internal/connector/baton"
	"github.com/sesame-access/sesame/internal/connector/fake"
	"github.com/sesame-access/sesame/internal/connector/github"
	"github.com/sesame-access/sesame/internal/connector/gworkspace"
	"github.com/sesame-access/sesame/internal/connector/ldap"
	"github.com/sesame-access/sesame/internal/connector/manual"
	"github.com/sesame-access/sesame/internal/connector/mysql"
	"github.com/sesame-access/sesame/internal/connector/okta"
	"github.com/sesame-access/sesame/internal/connector/postgresql"
	"github.com/sesame-access/sesame/internal/connector/scim"
	"github.com/sesame-access/sesame/internal/connector/sshca"
	"github.com/sesame-access/sesame/internal/connector/webhook"
	"github.com/sesame-access/sesame/internal/findings"
	"github.com/sesame-access/sesame/internal/integrations"
	"github.com/sesame-access/sesame/internal/jobs"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/slackbot"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/telemetry"
	"github.com/sesame-access/sesame/internal/web/api"
	"github.com/sesame-access/sesame/internal/workflow"
)

// Main is the server: ParseFlags reads the command line and config, Run
// builds and starts everything, Close stops it. Tests run a Main on port
// 0 against a temporary database.
type Main struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Clock          clock.Clock

	Config *config.Config
	Logger *slog.Logger
	// Tuning of background work (flags of serve; zero: defaults).
	JobTimeout, RescueAfter, SweepInterval, StallAfter, ReconcileInterval time.Duration
	// ListConcurrency is api.Config.ListConcurrency (0: by dialect).
	ListConcurrency int
	// Fake is the shared backend of the "fake" connector.
	Fake *fake.Backend

	keyNote string
	// tokenUses saves API tokens' last use (closed before the store).
	tokenUses *auth.UseRecorder
	// PolicyRefreshInterval is how often this process picks up policy
	// changes applied by another replica (default 10s).
	PolicyRefreshInterval time.Duration
	stopRefresh           context.CancelFunc
	bot                   *slackbot.Bot
	stopSocket            context.CancelFunc
	socketDone            chan struct{}
	refreshDone           chan struct{}
	db                    *database
	queue                 *jobs.Queue
	findings              *findings.Service
	integrations          *integrations.Service
	svc                   *workflow.Service
	tracing               *telemetry.Tracing
	server                *http.Server
	listener              net.Listener
	serveErr              chan error
}

// NewMain returns a Main writing to stdout and stderr and reading the
// environment through getenv.
func NewMain(stdout, stderr io.Writer, getenv func(string) string) *Main {
	return &Main{Stdout: stdout, Stderr: stderr, Getenv: getenv, Clock: clock.Real{}, Fake: fake.NewBackend()}
}

// registry returns the connector types Sesame ships.
func (m *Main) registry() *connector.Registry {
	reg := connector.NewRegistry()
	reg.Register(fake.TypeName, m.Fake.Factory())
	reg.Register(manual.TypeName, manual.New)
	reg.Register(postgresql.TypeName, postgresql.New)
	reg.Register(mysql.TypeName, mysql.New)
	reg.Register(ldap.TypeName, ldap.New)
	reg.Register(sshca.TypeName, sshca.New)
	reg.Register(github.TypeName, github.New)
	reg.Register(okta.TypeName, okta.New)
	reg.Register(awsidc.TypeName, awsidc.New)
	reg.Register(gworkspace.TypeName, gworkspace.New)
	reg.Register(scim.TypeName, scim.New)
	reg.Register(webhook.TypeName, webhook.New)
	reg.Register(baton.TypeName, baton.New)
	return reg
}

// loadOptions validates connector types and settings against the registry.
func loadOptions(reg *connector.Registry) config.LoadOptions {
	return config.LoadOptions{
		ConnectorTypes: reg.Types(),
		ValidateConnector: func(typ string, settings map[string]string) error {
			_, err := reg.Open(typ, settings)
			return err
		},
	}
}

// ParseFlags reads serve's flags and loads the configuration.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	configPath := fs.String("config", m.Getenv("SESAME_CONFIG"), "configuration file (env SESAME_CONFIG); none: defaults, env and the demo catalog")
	addr := fs.String("addr", "", "listen address, overrides server.addr (default 127.0.0.1:8080)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (overrides log.level)")
	logFormat := fs.String("log-format", "", "auto, text or json (overrides log.format)")
	fs.DurationVar(&m.JobTimeout, "job-timeout", 0, "longest a background job may run (default 1m)")
	fs.DurationVar(&m.RescueAfter, "job-rescue-after", 0, "how long a job of a dead process stays stuck before it runs again (default 2m; > job-timeout)")
	fs.DurationVar(&m.SweepInterval, "sweep-interval", 0, "how often the leader looks for due work without a job (default 15s)")
	fs.DurationVar(&m.StallAfter, "stall-after", 0, "how long work may wait before the sweeper enqueues it again (default 2m)")
	fs.DurationVar(&m.ReconcileInterval, "reconcile-interval", 0, "how often every app's real access is compared with Sesame's grants (default 1h)")
	fs.IntVar(&m.ListConcurrency, "list-concurrency", 0, "API list requests run at once; more waits its turn (overrides server.list_concurrency; default: GOMAXPROCS-1 on SQLite, 4*GOMAXPROCS on PostgreSQL)")
	fs.Usage = func() {
		fmt.Fprint(m.Stderr, "Usage: sesame serve [--config FILE] [--addr HOST:PORT] [--log-level LEVEL]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if m.ListConcurrency < 0 || m.ListConcurrency > config.MaxListConcurrency {
		return fmt.Errorf("--list-concurrency must be 0 (the default for the database) to %d, not %d", config.MaxListConcurrency, m.ListConcurrency)
	}
	cfg, err := loadOptions(m.registry()).Load(*configPath, m.Getenv)
	if err != nil {
		return err
	}
	listFlag := false
	fs.Visit(func(f *flag.Flag) { listFlag = listFlag || f.Name == "list-concurrency" })
	if !listFlag {
		m.ListConcurrency = cfg.Server.ListConcurrency // the flag, even 0, wins over server.list_concurrency
	}
	if *addr != "" {
		// A base URL derived from the configured address follows --addr
		// (the dashboard's links and OIDC redirect must reach this server).
		derived := cfg.Server.BaseURL == config.DefaultBaseURL(cfg.Server.Addr)
		cfg.Server.Addr = *addr
		if derived {
			cfg.Server.BaseURL = config.DefaultBaseURL(*addr)
		}
	}
	if *logLevel != "" {
		cfg.Log.Level = *logLevel
	}
	if *logFormat != "" {
		cfg.Log.Format = *logFormat
	}
	m.Config = cfg
	return nil
}

// Run opens the database, migrates, syncs the catalog, starts the job
// queue and the HTTP server, and returns once it is listening. Call Close
// to stop.
func (m *Main) Run(ctx context.Context) (err error) {
	cfg := m.Config
	if m.Logger == nil {
		m.Logger = telemetry.NewLogger(m.Stderr, cfg.Log.Format, cfg.Log.Level)
	}
	log := m.Logger
	defer func() {
		if err != nil {
			_ = m.Close() //nolint:errcheck // the start-up error matters more
		}
	}()

	m.db, err = openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	box, keyNote, err := secretBox(cfg, m.Getenv)
	if err != nil {
		return err
	}
	m.keyNote = keyNote
	sum, err := catalog.SyncWith(ctx, m.db.store, cfg, m.Clock.Now(), catalog.Options{Secrets: box})
	if err != nil {
		return fmt.Errorf("sync catalog: %w", err)
	}
	policies := policy.NewCurrent(cfg.Org.MaxDuration, cfg.PolicyOptions()...)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// OpenTelemetry tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set.
	m.tracing, err = telemetry.NewTracing(ctx, m.Getenv, version)
	if err != nil {
		return err
	}
	m.svc, err = workflow.New(workflow.Config{
		Tracer:     m.tracing.Tracer(),
		Store:      m.db.store,
		Clock:      m.Clock,
		Policy:     policies,
		Connectors: m.registry(),
		Secrets:    box,
		Logger:     log,
		StallAfter: m.StallAfter,
	})
	if err != nil {
		return err
	}
	_, policyVersion, err := m.svc.SeedPolicies(ctx, cfg.Policies)
	if err != nil {
		return fmt.Errorf("policies: %w", err)
	}
	log.InfoContext(ctx, "policies loaded", "version", policyVersion)
	refreshCtx, stopRefresh := context.WithCancel(context.WithoutCancel(ctx))
	m.stopRefresh, m.refreshDone = stopRefresh, make(chan struct{})
	go m.refreshPolicies(refreshCtx, cmp.Or(m.PolicyRefreshInterval, 10*time.Second))

	var jobTracer trace.Tracer
	if m.tracing.Enabled {
		jobTracer = m.tracing.Tracer()
	}
	m.queue, err = m.db.newQueue(jobs.Config{
		Tracer:            jobTracer,
		Service:           m.svc,
		Clock:             m.Clock,
		Logger:            log,
		ProvisionAttempts: m.svc.ProvisionAttempts(),
		Registerer:        reg,
		JobTimeout:        m.JobTimeout,
		RescueAfter:       m.RescueAfter,
		SweepInterval:     m.SweepInterval,
		ReconcileInterval: m.ReconcileInterval,
		DiscoveryInterval: cfg.Alerts.DiscoveryInterval,
	})
	if err != nil {
		return err
	}
	m.svc.SetEnqueuer(m.queue)
	mux := http.NewServeMux()
	if err := m.startSlack(ctx, mux, box); err != nil {
		return err
	}
	if err := m.startWeb(ctx, mux, box); err != nil {
		return err
	}
	if err := m.startIdentity(ctx, mux, box); err != nil {
		return err
	}
	if err := m.startFindings(ctx, mux, box); err != nil {
		return err
	}
	if err := m.startIntegrations(ctx, mux, box); err != nil {
		return err
	}
	if err := m.queue.Start(ctx); err != nil {
		return err
	}
	reg.MustRegister(telemetry.NewStoreCollector(m.db.store, m.queue.Depth))
	httpMetrics, err := telemetry.NewHTTPMetrics(reg)
	if err != nil {
		return err
	}

	m.tokenUses = auth.NewUseRecorder(m.db.store, log)
	mux.Handle("/api/", api.New(api.Config{Service: m.svc, Store: m.db.store, Clock: m.Clock, Logger: log, BaseURL: cfg.Server.BaseURL,
		TokenUses: m.tokenUses, ListConcurrency: m.ListConcurrency, Integrations: m.integrations, TwoPersonRule: cfg.Org.PolicyChanges.TwoPersonRule, Findings: m.findingsAPI(), AlertsChannel: cfg.Slack.AlertsChannel}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n") //nolint:errcheck // nothing to do if the client went away
	})
	mux.HandleFunc("GET /readyz", m.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	m.listener, err = (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Addr, err)
	}
	m.server = &http.Server{
		Handler:           m.tracing.HTTP(httpMetrics.Middleware(mux)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      5 * time.Minute, // audit exports stream
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	m.serveErr = make(chan error, 1)
	go func() { m.serveErr <- m.server.Serve(m.listener) }()
	m.banner(sum)
	log.InfoContext(ctx, "sesame started", "addr", m.listener.Addr().String(), "database", m.db.dialect, "demo", cfg.Demo)
	return nil
}

// refreshPolicies picks up policy changes applied by another replica. It
// runs in every process (River's periodic jobs run on the leader only).
func (m *Main) refreshPolicies(ctx context.Context, every time.Duration) {
	defer close(m.refreshDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.svc.RefreshPolicies(ctx); err != nil && ctx.Err() == nil {
				m.Logger.WarnContext(ctx, "policy refresh failed; keeping the policies in use", "err", err)
			}
		}
	}
}

// ready answers 200 when the database is reachable and migrated.
func (m *Main) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := m.db.store.Ping(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, "not ready: %v\n", err) //nolint:errcheck // best effort
		return
	}
	_, _ = io.WriteString(w, "ready\n") //nolint:errcheck // best effort
}

// URL is the server's base URL once Run has returned.
func (m *Main) URL() string { return "http://" + m.listener.Addr().String() }

// Service returns the workflow service (for tests).
func (m *Main) Service() *workflow.Service { return m.svc }

// Store returns the store (for tests).
func (m *Main) Store() store.Store { return m.db.store }

// Wait blocks until the HTTP server stops by itself (an error) or ctx is
// done.
func (m *Main) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-m.serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// Close stops accepting requests, lets in-flight requests and jobs finish
// (up to 15s; unfinished jobs are cancelled and retried after restart), and
// closes the database.
func (m *Main) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var errs []error
	if m.server != nil {
		if err := m.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
	}
	if m.tokenUses != nil {
		m.tokenUses.Close()
	}
	if m.stopRefresh != nil {
		m.stopRefresh()
		<-m.refreshDone
	}
	if err := m.stopSlack(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop slack: %w", err))
	}
	if m.queue != nil {
		if err := m.queue.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop jobs: %w", err))
		}
	}
	if m.db != nil {
		if err := m.db.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if m.tracing != nil {
		if err := m.tracing.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// serve is the "serve" command: run until interrupted.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	m := NewMain(stdout, stderr, getenv)
	if err := m.ParseFlags(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "sesame serve: %v\n", err)
		return 2
	}
	if err := m.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "sesame serve: %v\n", err)
		return 1
	}
	waitErr := m.Wait(ctx)
	fmt.Fprintln(stderr, "sesame: shutting down")
	if err := errors.Join(waitErr, m.Close()); err != nil {
		fmt.Fprintf(stderr, "sesame serve: %v\n", err)
		return 1
	}
	return 0
}
