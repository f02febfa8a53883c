// Package workflow holds Sesame's use cases. Each one runs in a store
// transaction: it loads what it needs, applies a domain transition, saves,
// appends the audit event and writes the notifications (an outbox) in the
// same transaction, then enqueues the follow-up jobs after commit. A lost
// enqueue is harmless: Sweep finds due work that has no job.
//
// Front ends (API, Slack, web, CLI) call the use cases with the ID of an
// authenticated actor; every eligibility rule is checked here and in the
// domain, never trusted from the caller.
package workflow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/store"
)

// Batch is the follow-up work of one transaction.
type Batch struct {
	// Provision lists grants to provision now (those of one change
	// share a job).
	Provision []string
	// ProvisionEach lists grants to provision now, a job each: a job is
	// unique by its grant, so a grant whose job still waits gets no
	// second one (the sweeper's, and the retries of a shared job).
	ProvisionEach []string
	// Revoke lists grants to revoke at a time (their expiry).
	Revoke []Timed
	// RevokeDue lists grants already due, to revoke at once (the due
	// poller's work: it does not wait for the queue's scheduler).
	RevokeDue []Timed
	// Deliver lists notifications to deliver now (one job for all).
	Deliver []string
	// DeliverEach lists notifications to deliver now, a job each (unique
	// by notification, like ProvisionEach: the sweeper's).
	DeliverEach []string
	// TimeOut lists requests to time out at a time.
	TimeOut []Timed
	// Remind lists automatic reminders.
	Remind []Reminder
	// ExtendTarget lists extended grants (and their new expiry) whose
	// expiry must also move in the target (connectors that set one:
	// connector.ExpiryExtender).
	ExtendTarget []Timed
}

// Timed is an ID and when its job runs.
type Timed struct {
	ID string
	At time.Time
}

// Reminder is automatic reminder N of request ID, at At.
type Reminder struct {
	ID string
	N  int
	At time.Time
}

// Empty reports whether b has no work.
func (b Batch) Empty() bool {
	return len(b.Provision)+len(b.ProvisionEach)+len(b.Revoke)+len(b.RevokeDue)+len(b.Deliver)+len(b.DeliverEach)+len(b.TimeOut)+len(b.Remind)+len(b.ExtendTarget) == 0
}

// Enqueuer schedules background jobs. Enqueue is idempotent: the same job
// enqueued twice runs once (the job queue's uniqueness), and every job is
// itself idempotent.
type Enqueuer interface {
	Enqueue(ctx context.Context, b Batch) error
}

// TxEnqueuer is an Enqueuer that can enqueue inside the store transaction
// that made the work (the job then exists if and only if the change
// committed). EnqueueTx reports false when it cannot for q; the Service
// then enqueues after commit.
type TxEnqueuer interface {
	EnqueueTx(ctx context.Context, q store.Queries, b Batch) (bool, error)
}

// Policy evaluates approval rules; *policy.Engine implements it.
type Policy interface {
	Evaluate(ctx context.Context, dir policy.Directory, in policy.Input) (*policy.Plan, error)
}

// Notifier delivers one notification (a Slack DM, an email...). It returns
// an error to have the delivery retried.
type Notifier interface {
	Deliver(ctx context.Context, n *access.Notification) error
}

// Secrets seals and opens values at rest; *secrets.Box implements it.
type Secrets interface {
	// OpenSettings opens sealed connector settings.
	OpenSettings(settings map[string]string) (map[string]string, error)
	Seal(plain string) (string, error)
	Open(sealed string) (string, error)
}

// Config configures a Service. Store, Clock, Policy and Connectors are
// required.
type Config struct {
	Store      store.Store
	Clock      clock.Clock
	Policy     Policy
	Connectors *connector.Registry
	// Secrets opens sealed connector settings and seals issued
	// credentials. Nil: settings are used as stored, and connectors that
	// issue credentials cannot be used (their grants fail).
	Secrets Secrets
	// Notifier delivers notifications; nil marks them sent after logging
	// (useful before Slack is configured).
	Notifier Notifier
	Logger   *slog.Logger
	// ProvisionAttempts is how many times provisioning is tried before the
	// grant fails (default 8).
	ProvisionAttempts int
	// StallAfter is how long a grant may sit pending or provisioning, or a
	// notification pending, before Sweep re-enqueues it (default 2m).
	StallAfter time.Duration
	// ExpiringNotice is how long before expiry the requester is warned
	// (default 15m).
	ExpiringNotice time.Duration
	// Tracer gets a span per connector call (nil: none).
	Tracer trace.Tracer
}

// Service runs the use cases. Safe for concurrent use.
type Service struct {
	st       store.Store
	clock    clock.Clock
	policy   Policy
	conns    *connector.Registry
	notifier Notifier
	secrets  Secrets
	log      *slog.Logger
	enq      Enqueuer
	tracer   trace.Tracer
	// dueSeen: the grants EnqueueDue enqueued lately.
	dueSeen dueMemo

	provisionAttempts int
	stallAfter        time.Duration
	expiringNotice    time.Duration

	// offboardHook runs after an offboarding commits (offboard.go).
	offboardHook func(ctx context.Context, u *access.User) error
}

// New validates cfg and returns a Service. Call SetEnqueuer before use.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Clock == nil || cfg.Policy == nil || cfg.Connectors == nil {
		return nil, errors.New("workflow: Store, Clock, Policy and Connectors are required")
	}
	return &Service{
		st:                cfg.Store,
		clock:             cfg.Clock,
		policy:            cfg.Policy,
		conns:             cfg.Connectors,
		notifier:          cfg.Notifier,
		secrets:           cfg.Secrets,
		log:               cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		tracer:            cmp.Or[trace.Tracer](cfg.Tracer, noop.NewTracerProvider().Tracer("")),
		enq:               nopEnqueuer{},
		provisionAttempts: cmp.Or(cfg.ProvisionAttempts, 8),
		stallAfter:        cmp.Or(cfg.StallAfter, 2*time.Minute),
		expiringNotice:    cmp.Or(cfg.ExpiringNotice, 15*time.Minute),
	}, nil
}

// SetEnqueuer sets the job queue. The queue's workers call back into the
// Service, so it is set after both exist; until then enqueues are dropped
// and Sweep recovers them.
func (s *Service) SetEnqueuer(e Enqueuer) { s.enq = e }

// SetNotifier sets how notifications are delivered (the Slack bot is
// built after the Service it calls). Call before starting the job queue.
func (s *Service) SetNotifier(n Notifier) { s.notifier = n }

// Store returns the service's store, for read-only front-end queries.
func (s *Service) Store() store.Store { return s.st }

// ProvisionAttempts is how many provisioning attempts a grant gets.
func (s *Service) ProvisionAttempts() int { return s.provisionAttempts }

// now is the clock's time at the precision every store keeps.
func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

// maxTxAttempts bounds retries of a transaction that lost an optimistic
// concurrency race.
const maxTxAttempts = 8

// inTx runs fn in a transaction, retrying when an update lost a race
// (store.ErrConflict from a Version check). fn must be safe to re-run.
func (s *Service) inTx(ctx context.Context, fn func(q store.Queries) error) error {
	var err error
	for range maxTxAttempts {
		err = s.st.InTx(ctx, fn)
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("gave up after %d conflicting attempts: %w", maxTxAttempts, err)
}

// openConnector builds app's connector with its settings opened.
func (s *Service) openConnector(app *access.App) (connector.Connector, error) {
	settings := app.ConnectorSettings
	if s.secrets != nil {
		opened, err := s.secrets.OpenSettings(settings)
		if err != nil {
			return nil, connector.Permanent(fmt.Errorf("app %s: %w", app.ID, err))
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

// loadActor returns the active user id. An unknown user is
// CodeUnauthorized; an offboarded one CodeForbidden.
func loadActor(ctx context.Context, q store.Queries, id string) (*access.User, error) {
	u, err := q.UserGetByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, access.Errorf(access.CodeUnauthorized, "unknown user %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load actor: %w", err)
	}
	if !u.Active() {
		return nil, access.Errorf(access.CodeForbidden, "user %s is %s", u.Email, u.Status)
	}
	return u, nil
}

// notFound maps store.ErrNotFound to a coded not-found error.
func notFound(err error, kind, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return access.Errorf(access.CodeNotFound, "%s %s not found", kind, id)
	}
	return err
}

type nopEnqueuer struct{}

func (nopEnqueuer) Enqueue(context.Context, Batch) error { return nil }
