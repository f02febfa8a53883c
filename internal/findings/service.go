package findings

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/secrets"
	"github.com/sesame-access/sesame/internal/store"
)

// Poster posts and updates alert messages in a channel (the Slack bot).
// PostAlert takes a channel ID or #name and returns the channel's ID (what
// UpdateAlert is then given) and the message's ts.
// Errors wrapped with connector.Permanent are not retried (the channel is
// gone, the bot is not in it); a *connector.RetryAfterError waits as long
// as Slack asked.
type Poster interface {
	PostAlert(ctx context.Context, channel string, m Message) (channelID, ts string, err error)
	UpdateAlert(ctx context.Context, channel, ts string, m Message) error
}

// Forwarder passes an alert on to other destinations (the notification
// integrations that carry the alerts category for the alert's app). It
// must be idempotent per alert: it may be called again for one alert.
type Forwarder interface {
	ForwardAlert(ctx context.Context, m Message) error
}

// Message is what an alert's channel message shows.
type Message struct {
	Alert *access.Alert
	// ReviewURL is the dashboard page of the app or person ("" when
	// Sesame has no base URL).
	ReviewURL string
}

// Delivery names one delivery job: the alert, and Rev, 0 for the first
// post (and the sweep) or the alert's Version after a button changed it
// (so that the update job is not merged with a post job still running).
type Delivery struct {
	AlertID string
	Rev     int
}

// Enqueuer enqueues the delivery jobs of alerts (the job queue). Jobs
// with equal deliveries waiting at once are one job.
type Enqueuer interface {
	EnqueueAlerts(ctx context.Context, ds []Delivery) error
}

// TxEnqueuer is an Enqueuer that can enqueue inside a store transaction;
// ok is false when it cannot (the caller then enqueues after commit).
type TxEnqueuer interface {
	EnqueueAlertsTx(ctx context.Context, q store.Queries, ds []Delivery) (ok bool, err error)
}

// Config configures a Service. Store and Clock are required.
type Config struct {
	Store  store.Store
	Clock  clock.Clock
	Logger *slog.Logger
	// Connectors and Secrets open the connectors of apps for syncs (nil
	// Connectors: no connector syncs).
	Connectors *connector.Registry
	Secrets    *secrets.Box
	// BaseURL is Sesame's external URL, for the Review in Sesame button.
	BaseURL string
	// Defaults are the settings of types the store has no setting for
	// (the config's alerts section); DefaultChannel is where enabled types
	// without a channel post (slack.alerts_channel).
	Defaults       map[access.AlertType]access.AlertSetting
	DefaultChannel string
	// MaxSignupAlerts bounds the sign-up alerts one app raises in one sync
	// (default 20); more new accounts are logged and counted.
	MaxSignupAlerts int
	// PageSize is the keyset page and write batch of a sync (default 1000).
	PageSize int
	// LastSeenEvery is how stale an unchanged account's LastSeen may get
	// before a sync writes it again (default 12h): a sync that changes
	// nothing then writes almost nothing.
	LastSeenEvery time.Duration
}

// Service runs the findings use cases. Safe for concurrent use.
type Service struct {
	st        store.Store
	clock     clock.Clock
	log       *slog.Logger
	conns     *connector.Registry
	box       *secrets.Box
	baseURL   string
	defaults  map[access.AlertType]access.AlertSetting
	defChan   string
	maxAlert  int
	pageSize  int
	seenEvery time.Duration

	mu     sync.Mutex
	poster Poster
	enq    Enqueuer
	fwd    Forwarder
}

// New validates cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Clock == nil {
		return nil, errors.New("findings: Store and Clock are required")
	}
	return &Service{
		st: cfg.Store, clock: cfg.Clock, log: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		conns: cfg.Connectors, box: cfg.Secrets, baseURL: strings.TrimRight(cfg.BaseURL, "/"),
		defaults: cfg.Defaults, defChan: cfg.DefaultChannel,
		maxAlert: cmp.Or(cfg.MaxSignupAlerts, 20), pageSize: cmp.Or(cfg.PageSize, 1000),
		seenEvery: cmp.Or(cfg.LastSeenEvery, 12*time.Hour),
	}, nil
}

// SetPoster sets where alerts are posted (nil: alerts are stored and
// their delivery is skipped).
func (s *Service) SetPoster(p Poster) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.poster = p
}

// SetForwarder sets where alerts of catalog apps are forwarded besides
// the alert channel (nil: nowhere).
func (s *Service) SetForwarder(f Forwarder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fwd = f
}

func (s *Service) getForwarder() Forwarder {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fwd
}

// SetEnqueuer sets the job queue that delivers alerts.
func (s *Service) SetEnqueuer(e Enqueuer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enq = e
}

func (s *Service) getPoster() Poster {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.poster
}

func (s *Service) getEnqueuer() Enqueuer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enq
}

// Store returns the store.
func (s *Service) Store() store.Store { return s.st }

func (s *Service) now() time.Time { return s.clock.Now().UTC() }

// tx collects what one transaction did: alerts to deliver.
type tx struct {
	now    time.Time
	alerts []Delivery
}

// run runs fn in a transaction and enqueues the deliveries it made: in
// the transaction when the queue can, else after commit (a lost enqueue
// is found by Sweep).
func (s *Service) run(ctx context.Context, fn func(q store.Queries, t *tx) error) error {
	t := &tx{now: s.now()}
	enq := s.getEnqueuer()
	enqueued := false
	err := s.st.InTx(ctx, func(q store.Queries) error {
		t.alerts = t.alerts[:0]
		enqueued = false
		if err := fn(q, t); err != nil {
			return err
		}
		if te, ok := enq.(TxEnqueuer); ok && len(t.alerts) > 0 {
			ok, err := te.EnqueueAlertsTx(ctx, q, t.alerts)
			if err != nil {
				return fmt.Errorf("enqueue alert delivery: %w", err)
			}
			enqueued = ok
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !enqueued && enq != nil && len(t.alerts) > 0 {
		if err := enq.EnqueueAlerts(ctx, t.alerts); err != nil {
			s.log.WarnContext(ctx, "enqueue alert delivery failed; the sweep will retry", "alerts", len(t.alerts), "err", err)
		}
	}
	return nil
}

// audit appends an event in q.
func audit(ctx context.Context, q store.Queries, now time.Time, actor, action, subjType, subjID string, before, after any, data map[string]any) error {
	e := &access.Event{
		ID: ids.New("evt", now), Time: now, ActorID: actor, Action: action, SubjectType: subjType, SubjectID: subjID,
		Before: access.Snapshot(before), After: access.Snapshot(after),
	}
	if len(data) > 0 {
		b, err := json.Marshal(data)
		if err != nil {
			return fmt.Errorf("audit data: %w", err)
		}
		e.Data = b
	}
	if err := q.EventAppend(ctx, e); err != nil {
		return fmt.Errorf("append audit event %s: %w", action, err)
	}
	return nil
}

// openConnector opens app's connector with its settings unsealed.
func (s *Service) openConnector(app *access.App) (connector.Connector, error) {
	if s.conns == nil {
		return nil, errors.New("no connector registry")
	}
	settings := app.ConnectorSettings
	if s.box != nil {
		opened, err := s.box.OpenSettings(settings)
		if err != nil {
			return nil, fmt.Errorf("app %s: %w", app.ID, err)
		}
		settings = opened
	}
	conn, err := s.conns.Open(app.ConnectorType, settings)
	if err != nil {
		return nil, err
	}
	if sc, ok := conn.(connector.AppScoped); ok {
		conn = sc.ForApp(app.ID)
	}
	return conn, nil
}

// SyncRequester is an Enqueuer that can queue a discovery sync now.
type SyncRequester interface {
	EnqueueDiscovery(ctx context.Context) error
}

// RequestSync queues a discovery sync (the job runs SyncAll); requests
// within one second are one sync.
func (s *Service) RequestSync(ctx context.Context) error {
	sr, ok := s.getEnqueuer().(SyncRequester)
	if !ok {
		return access.Errorf(access.CodeUnavailable, "the job queue is not running")
	}
	if err := sr.EnqueueDiscovery(ctx); err != nil {
		return fmt.Errorf("queue a discovery sync: %w", err)
	}
	return nil
}
