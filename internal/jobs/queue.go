package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/trace"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/sqldb"
	"github.com/sesame-access/sesame/internal/workflow"
)

// Config configures a Queue. Service and Clock are required.
type Config struct {
	Service Service
	Clock   clock.Clock
	Logger  *slog.Logger
	// Workers is how many jobs run at once (default 10).
	Workers int
	// SweepInterval is how often the leader sweeps (default 15s).
	SweepInterval time.Duration
	// DueInterval is how often the leader looks for grants that fell due
	// (default 1s): the bound on revocation lag.
	DueInterval time.Duration
	// ReconcileInterval is how often the leader compares every app's real
	// access with Sesame's grants (default 1h).
	ReconcileInterval time.Duration
	// DiscoveryInterval is how often the leader runs the discovery sync
	// of accounts and apps (default 1h).
	DiscoveryInterval time.Duration
	// PollInterval is how often idle workers look for jobs (default
	// 200ms, 100ms on SQLite, which has no LISTEN/NOTIFY: there it bounds
	// the latency of a new job).
	PollInterval time.Duration
	// ProvisionAttempts must match the workflow's; River's own attempt
	// limit is set above it so the workflow decides when a grant fails.
	ProvisionAttempts int
	// RetryBase is the first retry delay, doubled at each attempt up to
	// RetryMax (defaults 5s and 1h).
	RetryBase time.Duration
	RetryMax  time.Duration
	// JobTimeout bounds one job run (default 1m); RescueAfter is how long
	// a job may stay running before River assumes its process died and
	// runs it again (default 2m; must exceed JobTimeout).
	JobTimeout  time.Duration
	RescueAfter time.Duration
	// Registerer receives the queue's metrics (nil: not registered).
	Registerer prometheus.Registerer
	// ID names this process's River client (default: River's).
	ID string
	// Tracer, when set, gets a span per job run.
	Tracer trace.Tracer
}

// Queue enqueues and works jobs. It implements workflow.Enqueuer.
type Queue struct {
	svc     Service
	clock   clock.Clock
	log     *slog.Logger
	metrics *metrics
	cfg     Config

	insertMany   func(ctx context.Context, ps []river.InsertManyParams) error
	insertManyTx func(ctx context.Context, tx *sql.Tx, ps []river.InsertManyParams) error
	start        func(ctx context.Context) error
	stop         func(ctx context.Context) error
	cancel       func(ctx context.Context) error
	depth        func(ctx context.Context) (int, error)
	busy         func(ctx context.Context) (int, error)
	events       func() (<-chan *river.Event, func())
	stopSubs     func()
	integrations integrationsSlot
	findings     findingsHolder
	coalesce     coalescer
}

var (
	_ workflow.Enqueuer   = (*Queue)(nil)
	_ workflow.TxEnqueuer = (*Queue)(nil)
)

func newQueue(cfg Config) (*Queue, error) {
	if cfg.Service == nil || cfg.Clock == nil {
		return nil, errors.New("jobs: Service and Clock are required")
	}
	cfg.Workers = cmp.Or(cfg.Workers, 10)
	cfg.SweepInterval = cmp.Or(cfg.SweepInterval, 15*time.Second)
	cfg.PollInterval = cmp.Or(cfg.PollInterval, 200*time.Millisecond)
	cfg.DueInterval = cmp.Or(cfg.DueInterval, time.Second)
	cfg.ReconcileInterval = cmp.Or(cfg.ReconcileInterval, time.Hour)
	cfg.ProvisionAttempts = cmp.Or(cfg.ProvisionAttempts, 8)
	cfg.RetryBase = cmp.Or(cfg.RetryBase, 5*time.Second)
	cfg.RetryMax = cmp.Or(cfg.RetryMax, time.Hour)
	cfg.JobTimeout = cmp.Or(cfg.JobTimeout, time.Minute)
	cfg.RescueAfter = cmp.Or(cfg.RescueAfter, 2*time.Minute)
	if cfg.RescueAfter <= cfg.JobTimeout {
		return nil, fmt.Errorf("jobs: RescueAfter (%s) must exceed JobTimeout (%s)", cfg.RescueAfter, cfg.JobTimeout)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	q := &Queue{svc: cfg.Service, clock: cfg.Clock, log: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)), metrics: m, cfg: cfg}
	q.coalesce.insert = func(ctx context.Context, b workflow.Batch) error { return q.insertMany(ctx, q.params(b)) }
	return q, nil
}

// NewSQLite builds a queue on SQLite. db must be the store's writer
// connection (its SQL()): jobs are then inserted in the store's own
// transactions, and River's writes queue behind ours instead of waiting in
// SQLite's busy handler.
//
// River runs poll-only on SQLite: its SQLite driver imitates LISTEN/NOTIFY
// with a table that every insert writes and a listener polls, both on the
// one writer connection. Workers poll for jobs every PollInterval instead
// (default 100 ms on SQLite), and a busy queue is fetched again after a
// short cooldown.
func NewSQLite(db *sql.DB, cfg Config) (*Queue, error) {
	cfg.PollInterval = cmp.Or(cfg.PollInterval, sqlitePollInterval)
	q, err := newQueue(cfg)
	if err != nil {
		return nil, err
	}
	q.depth = func(ctx context.Context) (int, error) {
		var n int
		err := db.QueryRowContext(ctx, depthSQL).Scan(&n)
		return n, err
	}
	q.busy = func(ctx context.Context) (int, error) {
		var n int
		err := db.QueryRowContext(ctx, busySQL).Scan(&n)
		return n, err
	}
	return q, build(q, riversqlite.New(db), true)
}

// sqlitePollInterval is how often idle workers look for jobs on SQLite.
const sqlitePollInterval = 100 * time.Millisecond

// NewPostgres builds a queue on PostgreSQL.
func NewPostgres(pool *pgxpool.Pool, cfg Config) (*Queue, error) {
	q, err := newQueue(cfg)
	if err != nil {
		return nil, err
	}
	q.depth = func(ctx context.Context) (int, error) {
		var n int
		err := pool.QueryRow(ctx, depthSQL).Scan(&n)
		return n, err
	}
	q.busy = func(ctx context.Context) (int, error) {
		var n int
		err := pool.QueryRow(ctx, busySQL).Scan(&n)
		return n, err
	}
	return q, build(q, riverpgxv5.New(pool), false)
}

const depthSQL = `SELECT count(*) FROM river_job WHERE state IN ('available', 'scheduled', 'retryable', 'running')`

// busySQL counts the jobs to run now or running (not those scheduled for
// later, such as a revocation at expiry).
const busySQL = `SELECT count(*) FROM river_job WHERE state IN ('available', 'running')`

// MigrateSQLite creates or upgrades River's tables on SQLite.
func MigrateSQLite(ctx context.Context, db *sql.DB) error {
	return migrate(ctx, riversqlite.New(db))
}

// MigratePostgres creates or upgrades River's tables on PostgreSQL.
func MigratePostgres(ctx context.Context, pool *pgxpool.Pool) error {
	return migrate(ctx, riverpgxv5.New(pool))
}

func migrate[TTx any](ctx context.Context, d riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New(d, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrate: %w", err)
	}
	return nil
}

func build[TTx any](q *Queue, d riverdriver.Driver[TTx], pollOnly bool) error {
	workers := river.NewWorkers()
	river.AddWorker(workers, &provisionWorker{q: q})
	river.AddWorker(workers, &revokeWorker{q: q})
	river.AddWorker(workers, &deliverWorker{q: q})
	river.AddWorker(workers, &extendTargetWorker{q: q})
	river.AddWorker(workers, &timeOutWorker{q: q})
	river.AddWorker(workers, &remindWorker{q: q})
	river.AddWorker(workers, &sweepWorker{q: q})
	river.AddWorker(workers, &dueWorker{q: q})
	river.AddWorker(workers, &reconcileWorker{q: q})
	integrationSweep := q.addIntegrationWorkers(workers)
	discovery := q.addFindingsWorkers(workers)
	var middleware []rivertype.Middleware
	if q.cfg.Tracer != nil {
		middleware = append(middleware, &traceMiddleware{tracer: q.cfg.Tracer})
	}
	client, err := river.NewClient(d, &river.Config{
		Middleware:        middleware,
		ID:                q.cfg.ID,
		Logger:            q.log.With("component", "river"),
		Workers:           workers,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: q.cfg.Workers}},
		FetchPollInterval: q.cfg.PollInterval,
		PollOnly:          pollOnly,
		FetchCooldown:     min(q.cfg.PollInterval, 5*time.Millisecond),
		RetryPolicy:       &backoff{q: q},
		JobTimeout:        q.cfg.JobTimeout,
		// A job whose process died is rescued after this long.
		RescueStuckJobsAfter: q.cfg.RescueAfter,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(q.cfg.SweepInterval),
				func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{}, &river.InsertOpts{MaxAttempts: 1} },
				&river.PeriodicJobOpts{RunOnStart: true}),
			// River moves scheduled jobs to available every 5 s; the due
			// poller makes revocation precise to DueInterval instead.
			river.NewPeriodicJob(river.PeriodicInterval(q.cfg.DueInterval),
				func() (river.JobArgs, *river.InsertOpts) {
					return DueArgs{}, &river.InsertOpts{MaxAttempts: 1, Priority: 1, UniqueOpts: uniqueOpts()}
				},
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(q.cfg.ReconcileInterval),
				func() (river.JobArgs, *river.InsertOpts) {
					return ReconcileArgs{}, &river.InsertOpts{MaxAttempts: 1, Priority: 4, UniqueOpts: uniqueOpts()}
				}, nil),
			integrationSweep,
			discovery,
		},
	})
	if err != nil {
		return fmt.Errorf("river client: %w", err)
	}
	q.insertMany = func(ctx context.Context, ps []river.InsertManyParams) error {
		_, err := client.InsertMany(ctx, ps)
		return err
	}
	if c, ok := any(client).(*river.Client[*sql.Tx]); ok {
		q.insertManyTx = func(ctx context.Context, tx *sql.Tx, ps []river.InsertManyParams) error {
			_, err := c.InsertManyTx(ctx, tx, ps)
			return err
		}
	}
	q.start = client.Start
	q.stop = client.Stop
	q.cancel = client.StopAndCancel
	q.events = func() (<-chan *river.Event, func()) {
		return client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobSnoozed, river.EventKindJobCancelled)
	}
	return nil
}

// backoff retries after RetryBase·2^(attempt-1), capped at RetryMax, with
// ±10% jitter.
type backoff struct{ q *Queue }

func (b *backoff) NextRetry(job *rivertype.JobRow) time.Time {
	d := b.q.cfg.RetryBase
	for i := 1; i < job.Attempt && d < b.q.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, b.q.cfg.RetryMax)
	jitter := time.Duration(rand.Int64N(int64(d)/5+1)) - d/10 //nolint:gosec // jitter needs no crypto
	return b.q.clock.Now().Add(d + jitter)
}

// Start begins working jobs and sweeping (when leader).
func (q *Queue) Start(ctx context.Context) error {
	ch, cancel := q.events()
	q.stopSubs = cancel
	go q.metrics.consume(ch)
	if err := q.start(ctx); err != nil {
		return fmt.Errorf("start job queue: %w", err)
	}
	return nil
}

// Stop lets running jobs finish until ctx is done, then cancels them
// (they are retried later: every job is idempotent).
func (q *Queue) Stop(ctx context.Context) error {
	err := q.stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err = q.cancel(cctx)
	}
	if q.stopSubs != nil {
		q.stopSubs()
	}
	return err
}

// Depth counts jobs waiting or running.
func (q *Queue) Depth(ctx context.Context) (int, error) { return q.depth(ctx) }

// Busy counts jobs to run now or running: Depth less the jobs scheduled
// for later.
func (q *Queue) Busy(ctx context.Context) (int, error) { return q.busy(ctx) }

// params turns a batch into River inserts.
func (q *Queue) params(b workflow.Batch) []river.InsertManyParams {
	var ps []river.InsertManyParams
	add := func(args river.JobArgs, opts *river.InsertOpts) {
		opts.UniqueOpts = uniqueOpts()
		ps = append(ps, river.InsertManyParams{Args: args, InsertOpts: opts})
	}
	// One job for the grants approved together (a River insert, fetch
	// and completion per grant were a quarter of SQLite's writer time in a
	// request lifecycle); a grant alone keeps the one-grant form.
	for ids := range slices.Chunk(dedupe(b.Provision), maxProvisionIDs) {
		args := ProvisionArgs{GrantIDs: ids}
		if len(ids) == 1 {
			args = ProvisionArgs{GrantID: ids[0]}
		}
		add(args, &river.InsertOpts{MaxAttempts: q.cfg.ProvisionAttempts + 2})
	}
	// One job each, unique by grant: a grant that already has a job (a
	// retry waiting) gets no second one.
	for _, id := range dedupe(b.ProvisionEach) {
		add(ProvisionArgs{GrantID: id}, &river.InsertOpts{MaxAttempts: q.cfg.ProvisionAttempts + 2})
	}
	for _, r := range b.Revoke {
		add(RevokeArgs{GrantID: r.ID, ExpiresAt: r.At.UTC()}, &river.InsertOpts{ScheduledAt: r.At, MaxAttempts: 1000, Priority: 1})
	}
	for _, r := range b.RevokeDue {
		add(RevokeArgs{GrantID: r.ID, ExpiresAt: r.At.UTC(), Due: true}, &river.InsertOpts{MaxAttempts: 1000, Priority: 1})
	}
	for _, r := range b.ExtendTarget {
		add(ExtendTargetArgs{GrantID: r.ID, ExpiresAt: r.At.UTC()}, &river.InsertOpts{MaxAttempts: q.cfg.ProvisionAttempts + 2, Priority: 2})
	}
	for ids := range slices.Chunk(b.Deliver, maxDeliverIDs) {
		add(DeliverArgs{NotificationIDs: ids}, &river.InsertOpts{MaxAttempts: workflow.MaxDeliveryAttempts + 2, Priority: 2})
	}
	for _, id := range dedupe(b.DeliverEach) {
		add(DeliverArgs{NotificationIDs: []string{id}}, &river.InsertOpts{MaxAttempts: workflow.MaxDeliveryAttempts + 2, Priority: 2})
	}
	for _, r := range b.TimeOut {
		add(TimeOutArgs{RequestID: r.ID}, &river.InsertOpts{ScheduledAt: r.At, MaxAttempts: 50})
	}
	for _, r := range b.Remind {
		add(RemindArgs{RequestID: r.ID, N: r.N}, &river.InsertOpts{ScheduledAt: r.At, MaxAttempts: 5, Priority: 3})
	}
	return ps
}

// Enqueue implements workflow.Enqueuer: one River insert of the batch,
// shared with the Enqueue calls made at the same time (coalescer).
func (q *Queue) Enqueue(ctx context.Context, b workflow.Batch) error {
	if b.Empty() {
		return nil
	}
	return q.coalesce.enqueue(ctx, b)
}

// maxDeliverIDs bounds the notifications of one delivery job.
const maxDeliverIDs = 100

// maxProvisionIDs bounds the grants of one provisioning job: as many as
// it provisions at once, so that each connector call has the whole job
// timeout, as a job of its own would (a longer job timeout would have to
// stay under RescueAfter, or River would run the job again).
const maxProvisionIDs = provisionConcurrency

// dedupe returns ids without repeats, in order.
func dedupe(ids []string) []string {
	if len(ids) < 2 {
		return ids
	}
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// EnqueueTx implements workflow.TxEnqueuer: on SQLite the jobs are inserted
// in the store's own transaction (River shares the store's connection),
// so a job exists exactly when the change that made it committed. They
// are inserted just before the commit (PreCommit), together with the jobs
// of the other calls of the same group commit: one River insert for the
// group, and one delivery job for all its notifications. On PostgreSQL it
// returns false (River's pgx driver cannot join a database/sql
// transaction) and the workflow enqueues after commit.
func (q *Queue) EnqueueTx(ctx context.Context, tx store.Queries, b workflow.Batch) (bool, error) {
	if q.insertManyTx == nil || b.Empty() {
		return false, nil
	}
	return sqldb.AddPreCommit(tx, q, b), nil
}

// PreCommit implements sqldb.PreCommitter: it inserts the batches that
// EnqueueTx added to a transaction, merged into one River insert.
func (q *Queue) PreCommit(ctx context.Context, tx *sql.Tx, items []any) error {
	var all workflow.Batch
	for _, it := range items {
		b, ok := it.(workflow.Batch)
		if !ok {
			return fmt.Errorf("jobs: pre-commit item %T is not a workflow.Batch", it)
		}
		all = mergeBatch(all, b)
	}
	if all.Empty() {
		return nil
	}
	return q.insertManyTx(ctx, tx, q.params(all))
}
