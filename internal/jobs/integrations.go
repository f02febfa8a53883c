package jobs

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/sesame-access/sesame/internal/integrations"
)

// IntegrationDeliverArgs sends one stored integration delivery (a message
// to a webhook or channel, or an admin's health DM).
type IntegrationDeliverArgs struct {
	DeliveryID string `json:"delivery_id"`
	// Due is the delivery's due time when enqueued: part of the job's
	// uniqueness, so that a delivery released again is not taken for a
	// duplicate of its earlier job (still "running" until River records
	// its completion).
	Due time.Time `json:"due"`
}

// Kind implements river.JobArgs.
func (IntegrationDeliverArgs) Kind() string { return "integration_deliver" }

// IntegrationSweepArgs runs the integrations' sweep once (periodic, leader
// only).
type IntegrationSweepArgs struct{}

// Kind implements river.JobArgs.
func (IntegrationSweepArgs) Kind() string { return "integration_sweep" }

// Integrations is what the integration workers call:
// *integrations.Service.
type Integrations interface {
	Deliver(ctx context.Context, deliveryID string) error
	Sweep(ctx context.Context) (integrations.SweepResult, error)
}

// integrationsSlot holds the integrations service, set after the queue is
// built (SetIntegrations).
type integrationsSlot struct {
	mu  sync.Mutex
	svc Integrations
}

func (s *integrationsSlot) get() Integrations {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.svc
}

// errNoIntegrations makes a job wait for the service to be set.
var errNoIntegrations = errors.New("integrations service not set yet")

// SetIntegrations gives the queue the service its integration jobs call;
// until then they are retried.
func (q *Queue) SetIntegrations(svc Integrations) {
	q.integrations.mu.Lock()
	defer q.integrations.mu.Unlock()
	q.integrations.svc = svc
}

// EnqueueDeliveries implements integrations.Enqueuer: one job per
// delivery, unique while it waits or runs.
func (q *Queue) EnqueueDeliveries(ctx context.Context, jobs []integrations.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	ps := make([]river.InsertManyParams, 0, len(jobs))
	for _, j := range jobs {
		ps = append(ps, river.InsertManyParams{Args: IntegrationDeliverArgs{DeliveryID: j.DeliveryID, Due: j.Due.UTC()},
			InsertOpts: &river.InsertOpts{MaxAttempts: integrations.MaxAttempts + 15, Priority: 2, UniqueOpts: uniqueOpts()}})
	}
	return q.insertMany(ctx, ps)
}

var _ integrations.Enqueuer = (*Queue)(nil)

// addIntegrationWorkers registers the integration workers and returns
// their periodic job.
func (q *Queue) addIntegrationWorkers(workers *river.Workers) *river.PeriodicJob {
	river.AddWorker(workers, &integrationDeliverWorker{q: q})
	river.AddWorker(workers, &integrationSweepWorker{q: q})
	return river.NewPeriodicJob(river.PeriodicInterval(q.cfg.SweepInterval),
		func() (river.JobArgs, *river.InsertOpts) {
			return IntegrationSweepArgs{}, &river.InsertOpts{MaxAttempts: 1, Priority: 3, UniqueOpts: uniqueOpts()}
		}, &river.PeriodicJobOpts{RunOnStart: true})
}

type integrationDeliverWorker struct {
	river.WorkerDefaults[IntegrationDeliverArgs]
	q *Queue
}

// Work sends the delivery; Slack's Retry-After snoozes the job that long,
// other failures are retried with the queue's backoff.
func (w *integrationDeliverWorker) Work(ctx context.Context, j *river.Job[IntegrationDeliverArgs]) error {
	svc := w.q.integrations.get()
	if svc == nil {
		return errNoIntegrations
	}
	err := svc.Deliver(ctx, j.Args.DeliveryID)
	if re, ok := errors.AsType[*integrations.RetryError](err); ok && re.After > 0 {
		return river.JobSnooze(re.After)
	}
	return err
}

type integrationSweepWorker struct {
	river.WorkerDefaults[IntegrationSweepArgs]
	q *Queue
}

func (w *integrationSweepWorker) Work(ctx context.Context, _ *river.Job[IntegrationSweepArgs]) error {
	svc := w.q.integrations.get()
	if svc == nil {
		return nil
	}
	res, err := svc.Sweep(ctx)
	if res != (integrations.SweepResult{}) {
		w.q.log.InfoContext(ctx, "integration sweep enqueued deliveries", "stalled", res.Stalled, "probes", res.Probes)
	}
	return err
}
