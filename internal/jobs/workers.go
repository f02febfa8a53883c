package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/workflow"
)

// Service is what the workers call: *workflow.Service.
type Service interface {
	Provision(ctx context.Context, grantID string) error
	Revoke(ctx context.Context, grantID string) error
	ExtendTarget(ctx context.Context, grantID string) error
	Deliver(ctx context.Context, notificationID string) error
	TimeOut(ctx context.Context, requestID string) error
	RemindAuto(ctx context.Context, requestID string, n int) error
	Sweep(ctx context.Context) (workflow.SweepResult, error)
	EnqueueDue(ctx context.Context, limit int) (int, error)
	ReconcileAll(ctx context.Context) ([]workflow.DriftReport, error)
}

type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	q *Queue
}

func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	reps, err := w.q.svc.ReconcileAll(ctx)
	for _, r := range reps {
		if r.Reappeared > 0 || r.Unmanaged > 0 {
			w.q.log.WarnContext(ctx, "access drift", "app", r.AppID, "reappeared", r.Reappeared, "unmanaged", r.Unmanaged)
		}
	}
	return err
}

// Timeout gives reconciliation of many apps more than the default job time.
func (w *reconcileWorker) Timeout(*river.Job[ReconcileArgs]) time.Duration { return 30 * time.Minute }

// dueBatch bounds one due poll; a larger backlog is taken in several polls
// within the same job.
const dueBatch = 5000

// dueRevokeBatch bounds one step of a due poll that revokes in batches.
const dueRevokeBatch = 1000

type dueWorker struct {
	river.WorkerDefaults[DueArgs]
	q *Queue
}

// dueBatchRevoker is a Service that revokes due grants in batches itself
// (*workflow.Service); without it the due poller enqueues a job per grant.
type dueBatchRevoker interface {
	RevokeDue(ctx context.Context, limit int) (int, error)
}

// dueRunFor bounds one due poll's work when it revokes in batches, so
// that the next poll (and newly due grants) are not held up for long by
// a large backlog.
const dueRunFor = 20 * time.Second

func (w *dueWorker) Work(ctx context.Context, _ *river.Job[DueArgs]) error {
	step, limit, again := w.q.svc.EnqueueDue, dueBatch, dueBatch
	if r, ok := w.q.svc.(dueBatchRevoker); ok {
		// Revoking takes a while: grants that fell due meanwhile are
		// taken at once rather than at the next poll.
		step, limit, again = r.RevokeDue, dueRevokeBatch, 1
	}
	start := w.q.clock.Now()
	for {
		n, err := step(ctx, limit)
		if err != nil || n < again || w.q.clock.Now().Sub(start) > dueRunFor {
			return err
		}
	}
}

// result maps a use case's error to River: not due yet snoozes until due;
// a target's own Retry-After snoozes that long; anything else is returned
// for River's retry with backoff.
func result(err error, now time.Time) error {
	if nd, ok := errors.AsType[*workflow.NotDueError](err); ok {
		return river.JobSnooze(max(nd.At.Sub(now), time.Second))
	}
	// A target that said how long to wait (rate limited) is not tried
	// again sooner; the failed attempt is already recorded on the grant.
	if after, ok := connector.RetryAfter(err); ok && after > 0 {
		return river.JobSnooze(max(after, time.Second))
	}
	return err
}

type provisionWorker struct {
	river.WorkerDefaults[ProvisionArgs]
	q *Queue
}

// provisionConcurrency bounds the connector calls one provisioning job
// makes at once.
const provisionConcurrency = 8

// Work provisions the job's grants, up to provisionConcurrency at once;
// each grant commits on its own as soon as its target answers. A grant
// that failed gets a job of its own (unique by grant, so never a second
// one beside a sweeper's), due after the wait its target asked
// (Retry-After) or the first retry delay; River's backoff and the grant's
// own attempt count take it from there. The shared job then ends: one
// slow or rate-limited target does not hold back the others' retries. If
// those jobs cannot be inserted, the shared job fails and its retry skips
// the grants already done (Provision leaves a grant that is no longer
// pending alone).
func (w *provisionWorker) Work(ctx context.Context, j *river.Job[ProvisionArgs]) error {
	ids := j.Args.ids()
	if len(ids) == 1 {
		return result(w.q.svc.Provision(ctx, ids[0]), w.q.clock.Now())
	}
	errs := make([]error, len(ids))
	sem := make(chan struct{}, provisionConcurrency)
	var wg sync.WaitGroup
	for i, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = w.q.svc.Provision(ctx, id)
		})
	}
	wg.Wait()
	var args []river.JobArgs
	var failed []error
	for i, err := range errs {
		if err != nil {
			args = append(args, ProvisionArgs{GrantID: ids[i]})
			failed = append(failed, fmt.Errorf("grant %s: %w", ids[i], err))
		}
	}
	if len(args) == 0 {
		return nil
	}
	if err := w.q.retryAlone(ctx, args, failed, river.InsertOpts{MaxAttempts: w.q.cfg.ProvisionAttempts + 2}); err != nil {
		return errors.Join(append(failed, err)...)
	}
	w.q.log.InfoContext(ctx, "provisioning retries each grant that failed in a job of its own", "failed", len(args), "of", len(ids),
		"err", errors.Join(failed...))
	return nil
}

// retryAlone gives each failed item of a shared job a job of its own
// (args[i], unique by its arguments, so never a second one beside a job
// already waiting for the item), due after the wait errs[i] says its
// target asked for (Retry-After) or else the first retry delay; River's
// backoff takes it from there.
func (q *Queue) retryAlone(ctx context.Context, args []river.JobArgs, errs []error, opts river.InsertOpts) error {
	now := q.clock.Now()
	ps := make([]river.InsertManyParams, len(args))
	for i := range args {
		wait := q.cfg.RetryBase
		if after, ok := connector.RetryAfter(errs[i]); ok {
			wait = max(after, time.Second)
		}
		o := opts
		o.ScheduledAt = now.Add(wait)
		o.UniqueOpts = uniqueOpts()
		ps[i] = river.InsertManyParams{Args: args[i], InsertOpts: &o}
	}
	if err := q.insertMany(context.WithoutCancel(ctx), ps); err != nil {
		return fmt.Errorf("enqueue the retries: %w", err)
	}
	return nil
}

type revokeWorker struct {
	river.WorkerDefaults[RevokeArgs]
	q *Queue
}

func (w *revokeWorker) Work(ctx context.Context, j *river.Job[RevokeArgs]) error {
	err := w.q.svc.Revoke(ctx, j.Args.GrantID)
	if err == nil {
		w.q.metrics.observeRevokeLag(w.q.clock.Now().Sub(j.Args.ExpiresAt))
	}
	return result(err, w.q.clock.Now())
}

type extendTargetWorker struct {
	river.WorkerDefaults[ExtendTargetArgs]
	q *Queue
}

func (w *extendTargetWorker) Work(ctx context.Context, j *river.Job[ExtendTargetArgs]) error {
	return result(w.q.svc.ExtendTarget(ctx, j.Args.GrantID), w.q.clock.Now())
}

// batchDeliverer is a Service that delivers a batch of notifications and
// saves them together (*workflow.Service).
type batchDeliverer interface {
	DeliverAll(ctx context.Context, notificationIDs []string) error
}

type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	q *Queue
}

// Work delivers every notification of the batch. Those that failed are
// retried in jobs of their own (see retryAlone); a job of one, or a batch
// whose sends could not be saved, fails instead, to be retried by River
// (snoozed as long as a rate-limited recipient asked), and delivered ones
// are skipped on the retry.
func (w *deliverWorker) Work(ctx context.Context, j *river.Job[DeliverArgs]) error {
	// A service that saves a batch in one transaction does it in one
	// commit instead of one per notification.
	if b, ok := w.q.svc.(batchDeliverer); ok {
		err := b.DeliverAll(ctx, j.Args.NotificationIDs)
		f, isF := errors.AsType[*workflow.DeliveryError](err)
		switch {
		case err == nil:
			return nil
		case !isF:
			return err
		case len(j.Args.NotificationIDs) < 2 || f.Other != nil:
			// A job of one, or nothing saved: this job retries.
			return batchResult(f.Unwrap())
		}
		// Each that failed is retried in a job of its own, so that one
		// rate-limited recipient does not set the pace of the others'
		// retries, and a notification never has two jobs at once.
		args := make([]river.JobArgs, len(f.IDs))
		for i, id := range f.IDs {
			args[i] = DeliverArgs{NotificationIDs: []string{id}}
		}
		if err := w.q.retryAlone(ctx, args, f.Errs, river.InsertOpts{MaxAttempts: workflow.MaxDeliveryAttempts + 2, Priority: 2}); err != nil {
			return errors.Join(err, f)
		}
		w.q.log.InfoContext(ctx, "delivery retries each notification that failed in a job of its own", "failed", len(f.IDs),
			"of", len(j.Args.NotificationIDs))
		return nil
	}
	var errs []error
	for _, id := range j.Args.NotificationIDs {
		if err := w.q.svc.Deliver(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("notification %s: %w", id, err))
		}
	}
	return batchResult(errs)
}

// batchResult is the outcome of a delivery job that retries as a whole
// (a job of one notification, or a batch whose sends could not be saved):
// when a recipient's service rate-limited any of them (Slack's 429
// Retry-After), the job waits as long as the longest wait asked (a
// snooze, which River does not count as a failed attempt) and then
// retries the unfinished ones; otherwise the joined errors go to River's
// backoff.
func batchResult(errs []error) error {
	var wait time.Duration
	for _, err := range errs {
		if after, ok := connector.RetryAfter(err); ok {
			wait = max(wait, after, time.Second)
		}
	}
	if wait > 0 {
		return river.JobSnooze(wait)
	}
	return errors.Join(errs...)
}

type timeOutWorker struct {
	river.WorkerDefaults[TimeOutArgs]
	q *Queue
}

func (w *timeOutWorker) Work(ctx context.Context, j *river.Job[TimeOutArgs]) error {
	return result(w.q.svc.TimeOut(ctx, j.Args.RequestID), w.q.clock.Now())
}

type remindWorker struct {
	river.WorkerDefaults[RemindArgs]
	q *Queue
}

func (w *remindWorker) Work(ctx context.Context, j *river.Job[RemindArgs]) error {
	return result(w.q.svc.RemindAuto(ctx, j.Args.RequestID, j.Args.N), w.q.clock.Now())
}

type sweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	q *Queue
}

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	res, err := w.q.svc.Sweep(ctx)
	if err != nil {
		return err
	}
	if res != (workflow.SweepResult{}) {
		w.q.log.InfoContext(ctx, "sweep enqueued due work", "revocations", res.Revocations, "retry_revokes", res.RetryRevokes,
			"provisions", res.Provisions, "timeouts", res.TimeOuts, "deliveries", res.Deliveries, "expiry_notices", res.ExpiryNotices,
			"escalations", res.Escalations, "target_extends", res.TargetExtends)
	}
	return nil
}
