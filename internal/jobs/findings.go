package jobs

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/sesame-access/sesame/internal/findings"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/sqldb"
)

// Findings is what the findings workers call: *findings.Service.
type Findings interface {
	Deliver(ctx context.Context, alertID string, rev int) error
	SyncAll(ctx context.Context) (findings.SyncReport, error)
}

// AlertDeliverArgs posts (or updates) one alert's channel message. Rev is
// findings.Delivery.Rev: an update after a button click is a job of its
// own, not merged with the post job that may still be running.
type AlertDeliverArgs struct {
	AlertID string `json:"alert_id"`
	Rev     int    `json:"rev,omitempty"`
}

// Kind implements river.JobArgs.
func (AlertDeliverArgs) Kind() string { return "alert_deliver" }

// DiscoveryArgs runs one discovery sync (periodic, leader only; also
// enqueued on demand). RequestedAt (whole seconds) sets an on-demand sync
// apart from the periodic one and from a finished one River has not yet
// marked complete; two requests in one second are one job.
type DiscoveryArgs struct {
	RequestedAt time.Time `json:"requested_at,omitzero"`
}

// Kind implements river.JobArgs.
func (DiscoveryArgs) Kind() string { return "discovery_sync" }

// alertAttempts is River's attempt limit for one delivery job; the
// findings sweep enqueues a new job for a delivery still pending after
// that, so a long Slack outage is ridden out.
const alertAttempts = 12

// findingsHolder is set once the findings service exists (it is built
// after the queue).
type findingsHolder struct {
	mu sync.Mutex
	f  Findings
}

func (h *findingsHolder) get() Findings {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.f
}

// SetFindings gives the queue the findings service; until then the
// findings jobs do nothing.
func (q *Queue) SetFindings(f Findings) {
	q.findings.mu.Lock()
	defer q.findings.mu.Unlock()
	q.findings.f = f
}

func alertParams(ds []findings.Delivery) []river.InsertManyParams {
	ps := make([]river.InsertManyParams, 0, len(ds))
	for _, d := range ds {
		ps = append(ps, river.InsertManyParams{Args: AlertDeliverArgs{AlertID: d.AlertID, Rev: d.Rev},
			InsertOpts: &river.InsertOpts{MaxAttempts: alertAttempts, Priority: 2, UniqueOpts: uniqueOpts()}})
	}
	return ps
}

// EnqueueAlerts implements findings.Enqueuer.
func (q *Queue) EnqueueAlerts(ctx context.Context, ds []findings.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	return q.insertMany(ctx, alertParams(ds))
}

// EnqueueAlertsTx implements findings.TxEnqueuer (SQLite: in the store's
// transaction; PostgreSQL: false, enqueued after commit).
func (q *Queue) EnqueueAlertsTx(ctx context.Context, tx store.Queries, ds []findings.Delivery) (bool, error) {
	if q.insertManyTx == nil || len(ds) == 0 {
		return false, nil
	}
	sqlTx, ok := sqldb.SQLTx(tx)
	if !ok {
		return false, nil
	}
	// Not cancelled with ctx: on SQLite an interrupted statement would
	// roll back the whole transaction, other calls of its group commit
	// included.
	return true, q.insertManyTx(context.WithoutCancel(ctx), sqlTx, alertParams(ds))
}

// EnqueueDiscovery asks for a discovery sync now.
func (q *Queue) EnqueueDiscovery(ctx context.Context) error {
	at := q.clock.Now().UTC().Truncate(time.Second)
	return q.insertMany(ctx, []river.InsertManyParams{{Args: DiscoveryArgs{RequestedAt: at},
		InsertOpts: &river.InsertOpts{MaxAttempts: 1, Priority: 4, UniqueOpts: uniqueOpts()}}})
}

type alertDeliverWorker struct {
	river.WorkerDefaults[AlertDeliverArgs]
	q *Queue
}

func (w *alertDeliverWorker) Work(ctx context.Context, j *river.Job[AlertDeliverArgs]) error {
	f := w.q.findings.get()
	if f == nil {
		return errors.New("findings are not wired yet")
	}
	return result(f.Deliver(ctx, j.Args.AlertID, j.Args.Rev), w.q.clock.Now())
}

type discoveryWorker struct {
	river.WorkerDefaults[DiscoveryArgs]
	q *Queue
}

func (w *discoveryWorker) Work(ctx context.Context, _ *river.Job[DiscoveryArgs]) error {
	f := w.q.findings.get()
	if f == nil {
		return nil
	}
	rep, err := f.SyncAll(ctx)
	seen, added, gone := 0, 0, 0
	for _, a := range rep.Apps {
		seen, added, gone = seen+a.Seen, added+a.New, gone+a.Gone
		if a.Error != "" {
			w.q.log.WarnContext(ctx, "discovery sync of an app failed", "app", a.AppID, "err", a.Error)
		}
	}
	w.q.log.InfoContext(ctx, "discovery sync", "apps", len(rep.Apps), "accounts", seen, "new", added, "gone", gone,
		"new_apps", rep.Discovered.NewApps, "offboarded_alerts", rep.Offboarded, "err", err)
	return err
}

// Timeout gives a sync of many accounts more than the default job time.
func (w *discoveryWorker) Timeout(*river.Job[DiscoveryArgs]) time.Duration { return time.Hour }

// addFindingsWorkers registers the findings workers and returns the
// periodic discovery sync (leader only, every Config.DiscoveryInterval,
// default 1h; not at start, so that restarts do not sync every time).
func (q *Queue) addFindingsWorkers(workers *river.Workers) *river.PeriodicJob {
	river.AddWorker(workers, &alertDeliverWorker{q: q})
	river.AddWorker(workers, &discoveryWorker{q: q})
	every := q.cfg.DiscoveryInterval
	if every <= 0 {
		every = time.Hour
	}
	return river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) {
			return DiscoveryArgs{}, &river.InsertOpts{MaxAttempts: 1, Priority: 4, UniqueOpts: uniqueOpts()}
		}, nil)
}
