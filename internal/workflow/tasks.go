package workflow

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/store"
)

// NotDueError means a job ran before its time (a clock difference, or an
// extension): the queue should run it again at At.
type NotDueError struct{ At time.Time }

func (e *NotDueError) Error() string { return "not due until " + e.At.Format(time.RFC3339Nano) }

// MaxDeliveryAttempts is how many times a notification is tried before it
// is marked failed.
const MaxDeliveryAttempts = 10

// Deliver sends notificationID through the Notifier. A sent notification
// is not sent again. Failures are counted and returned as *RetryableError
// until MaxDeliveryAttempts, when the notification is marked failed.
func (s *Service) Deliver(ctx context.Context, notificationID string) error {
	d, ok, err := s.send(ctx, notificationID)
	if err != nil || !ok {
		return err
	}
	if err := s.st.NotificationUpdate(ctx, d.n); err != nil {
		return fmt.Errorf("save notification: %w", err)
	}
	return s.delivered(ctx, d)
}

// delivery is a notification after a send, and the send's error.
type delivery struct {
	n       *access.Notification
	sendErr error
}

// send loads notificationID and sends it when it is pending, and returns
// it with its new state; ok is false when there is nothing to do. A
// *RetryableError when ctx ended while sending.
func (s *Service) send(ctx context.Context, notificationID string) (d delivery, ok bool, err error) {
	n, pending, err := s.pendingNotification(ctx, notificationID)
	if err != nil || !pending {
		return delivery{}, false, err
	}
	return s.sendLoaded(ctx, n)
}

// pendingNotification loads notificationID; pending is false when it is
// gone or no longer pending.
func (s *Service) pendingNotification(ctx context.Context, notificationID string) (n *access.Notification, pending bool, err error) {
	n, err = s.st.NotificationGetByID(ctx, notificationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return n, n.State == access.NotificationPending, nil
}

// sendLoaded sends the pending notification n (see send).
func (s *Service) sendLoaded(ctx context.Context, n *access.Notification) (d delivery, ok bool, err error) {
	var sendErr error
	if s.notifier != nil {
		sendErr = s.notifier.Deliver(ctx, n)
	} else {
		s.log.InfoContext(ctx, "notification (no notifier configured)", "kind", n.Kind, "recipient", n.RecipientID, "request", n.RequestID, "grant", n.GrantID)
	}
	if sendErr != nil && ctx.Err() != nil {
		return delivery{}, false, &RetryableError{Err: sendErr}
	}
	now := s.now()
	// A rate-limited try (the recipient's service said when to come
	// back) does not count against MaxDeliveryAttempts.
	if _, limited := connector.RetryAfter(sendErr); !limited {
		n.Attempts++
	}
	switch {
	case sendErr == nil:
		n.State = access.NotificationSent
		n.SentAt = now
		n.LastError = ""
	case n.Attempts >= MaxDeliveryAttempts:
		n.State = access.NotificationFailed
		n.LastError = sendErr.Error()
	default:
		n.LastError = sendErr.Error()
	}
	return delivery{n: n, sendErr: sendErr}, true, nil
}

// delivered is what a saved delivery returns: a *RetryableError while
// the notification is still pending after a failure.
func (s *Service) delivered(ctx context.Context, d delivery) error {
	n, sendErr := d.n, d.sendErr
	if sendErr != nil && n.State == access.NotificationPending {
		return &RetryableError{Err: sendErr}
	}
	if n.State == access.NotificationFailed {
		s.log.ErrorContext(ctx, "notification failed for good", "notification", n.ID, "kind", n.Kind, "err", sendErr)
	}
	return nil
}

// deliverParallel is how many recipients DeliverAll sends to at once.
const deliverParallel = 8

// DeliverAll is Deliver for several notifications, saving their new
// states in one transaction (one commit instead of one per notification).
// It sends to up to deliverParallel recipients at once, each recipient's
// notifications one after the other in the order given (a DM that updates
// an earlier one comes after it). The error, when some failed, is a
// *DeliveryError; nothing is sent twice when it runs again.
func (s *Service) DeliverAll(ctx context.Context, notificationIDs []string) error {
	var (
		done []delivery
		fail DeliveryError
	)
	var recipients []string
	byRecipient := map[string][]*access.Notification{}
	seen := map[string]bool{}
	for _, id := range notificationIDs {
		if seen[id] {
			continue // listed twice: sent once
		}
		seen[id] = true
		n, pending, err := s.pendingNotification(ctx, id)
		if err != nil {
			fail.add(id, err)
			continue
		}
		if !pending {
			continue
		}
		if _, seen := byRecipient[n.RecipientID]; !seen {
			recipients = append(recipients, n.RecipientID)
		}
		byRecipient[n.RecipientID] = append(byRecipient[n.RecipientID], n)
	}
	type sent struct {
		d   delivery
		ok  bool
		err error
	}
	results := make([][]sent, len(recipients))
	sem := make(chan struct{}, deliverParallel)
	var wg sync.WaitGroup
	for i, r := range recipients {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			for _, n := range byRecipient[r] {
				d, ok, err := s.sendLoaded(ctx, n)
				results[i] = append(results[i], sent{d, ok, err}) // DeliveryError.add names the notification
			}
		})
	}
	wg.Wait()
	for i, rs := range results {
		for j, r := range rs {
			switch {
			case r.err != nil:
				fail.add(byRecipient[recipients[i]][j].ID, r.err)
			case r.ok:
				done = append(done, r.d)
			}
		}
	}
	if len(done) > 0 {
		// What was sent is saved even if ctx ends now (a job timeout):
		// unsaved, it would all be sent again.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		err := s.st.InTx(sctx, func(q store.Queries) error {
			for _, d := range done {
				if err := q.NotificationUpdate(sctx, d.n); err != nil {
					return fmt.Errorf("save notification %s: %w", d.n.ID, err)
				}
			}
			return nil
		})
		if err != nil {
			fail.Other = err
			return &fail
		}
	}
	for _, d := range done {
		if err := s.delivered(ctx, d); err != nil {
			fail.add(d.n.ID, err)
		}
	}
	if len(fail.IDs) == 0 {
		return nil
	}
	return &fail
}

// DeliveryError is DeliverAll's error: the notifications that failed
// (IDs, with the error of each at the same index in Errs; a pending one's
// is a *RetryableError), and Other when what was sent could not be saved
// (then everything is to be tried again). It unwraps to every error.
type DeliveryError struct {
	IDs   []string
	Errs  []error
	Other error
}

func (f *DeliveryError) add(id string, err error) {
	f.IDs = append(f.IDs, id)
	f.Errs = append(f.Errs, fmt.Errorf("notification %s: %w", id, err))
}

func (f *DeliveryError) Error() string { return errors.Join(f.Unwrap()...).Error() }

// Unwrap returns the notifications' errors and Other.
func (f *DeliveryError) Unwrap() []error {
	if f.Other == nil {
		return f.Errs
	}
	return append(append([]error{}, f.Errs...), f.Other)
}

// TimeOut ends requestID if it is still pending at its PendingUntil. An
// early call returns *NotDueError.
func (s *Service) TimeOut(ctx context.Context, requestID string) error {
	var notDue error
	err := s.run(ctx, func(q store.Queries, fx *effects) error {
		notDue = nil
		r, err := q.RequestGetByID(ctx, requestID, true)
		if err != nil {
			return err
		}
		if r.State != access.RequestPending {
			return nil
		}
		if fx.now.Before(r.PendingUntil) {
			notDue = &NotDueError{At: r.PendingUntil}
			return nil
		}
		before := *r
		if err := r.TimeOut(fx.now); err != nil {
			return err
		}
		if err := q.RequestUpdate(ctx, r); err != nil {
			return err
		}
		if err := fx.audit(ctx, q, access.SystemActor, "request.timed_out", "request", r.ID, &before, r, nil); err != nil {
			return err
		}
		if err := fx.notify(ctx, q, access.NotifyRequestTimedOut, r.RequesterID, r.ID, "", r.ID, nil); err != nil {
			return err
		}
		return s.notifyDecided(ctx, q, fx, r)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return notDue
}

// RemindAuto sends automatic reminder n (from 1) of a pending request, as
// its policy's reminder settings say, and schedules the next one.
func (s *Service) RemindAuto(ctx context.Context, requestID string, n int) error {
	return s.run(ctx, func(q store.Queries, fx *effects) error {
		r, err := q.RequestGetByID(ctx, requestID, true)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if r.State != access.RequestPending {
			return nil // decided meanwhile
		}
		plan, err := s.planFor(ctx, q, r)
		if err != nil {
			return err
		}
		rm := plan.Reminders
		if rm.After <= 0 || n > rm.Max {
			return nil
		}
		// A re-run of this job (or a manual reminder just before it) finds a
		// recent reminder and does nothing.
		gap := rm.After
		if rm.Every > 0 {
			gap = min(gap, rm.Every)
		}
		if err := r.RecordReminder(fx.now, gap/2); err != nil {
			if access.ErrorCode(err) == access.CodeRateLimited {
				return nil
			}
			return err
		}
		if err := q.RequestUpdate(ctx, r); err != nil {
			return err
		}
		if err := fx.audit(ctx, q, access.SystemActor, "request.reminded", "request", r.ID, nil, nil,
			map[string]any{"count": r.RemindCount, "manual": false}); err != nil {
			return err
		}
		if err := s.remindStep(ctx, q, fx, r); err != nil {
			return err
		}
		if n < rm.Max && rm.Every > 0 {
			fx.jobs.Remind = append(fx.jobs.Remind, Reminder{r.ID, n + 1, fx.now.Add(rm.Every)})
		}
		return nil
	})
}

// planFor re-evaluates the policy of a stored request.
func (s *Service) planFor(ctx context.Context, q store.Queries, r *access.Request) (*policy.Plan, error) {
	u, err := q.UserGetByID(ctx, r.RequesterID)
	if err != nil {
		return nil, fmt.Errorf("load requester: %w", err)
	}
	app, err := q.AppGetByID(ctx, r.AppID)
	if err != nil {
		return nil, fmt.Errorf("load app: %w", err)
	}
	var ents []*access.Entitlement
	for _, id := range r.EntitlementIDs {
		e, err := q.EntitlementGetByID(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("load entitlement: %w", err)
		}
		ents = append(ents, e)
	}
	return s.policy.Evaluate(ctx, q, policy.Input{Requester: u, App: app, Entitlements: ents, Duration: r.Duration, Reason: r.Reason, Now: s.now()})
}

// EnqueueDue enqueues the immediate revocation of every grant due now (at
// most limit, oldest expiry first), so access ends within one poll of its
// expiry. It reads the (state, expires_at) index: its cost grows with the
// grants due, not the grants held. A grant this Service enqueued for the
// same expiry less than DueRecheck ago is skipped (its job is queued: when
// revocations fall behind, inserting the whole backlog again every poll
// would only slow them down further). It returns how many it enqueued.
func (s *Service) EnqueueDue(ctx context.Context, limit int) (int, error) {
	now := s.now()
	due, err := s.st.GrantListDue(ctx, now, limit)
	if err != nil || len(due) == 0 {
		return 0, err
	}
	var b Batch
	for _, g := range due {
		if s.dueSeen.fresh(g.ID, g.ExpiresAt, now) {
			continue
		}
		b.RevokeDue = append(b.RevokeDue, Timed{g.ID, g.ExpiresAt})
	}
	if b.Empty() {
		return 0, nil
	}
	if err := s.enq.Enqueue(ctx, b); err != nil {
		return 0, fmt.Errorf("enqueue due revocations: %w", err)
	}
	s.dueSeen.add(b.RevokeDue, now)
	return len(b.RevokeDue), nil
}

// DueRecheck is how long EnqueueDue trusts a revoke job it enqueued to be
// waiting in the queue; after that it enqueues the grant again if it is
// still due (the queue ignores a duplicate job).
const DueRecheck = time.Minute

// dueMemo remembers the grants EnqueueDue enqueued, by grant and expiry.
type dueMemo struct {
	mu   sync.Mutex
	seen map[dueKey]time.Time
}

type dueKey struct {
	id string
	at int64 // expiry, Unix nanoseconds
}

// fresh reports whether id was enqueued for expiry at less than
// DueRecheck before now.
func (m *dueMemo) fresh(id string, at, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	when, ok := m.seen[dueKey{id, at.UnixNano()}]
	return ok && now.Sub(when) < DueRecheck
}

// add records ts as enqueued at now and forgets entries older than
// DueRecheck.
func (m *dueMemo) add(ts []Timed, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[dueKey]time.Time{}
	}
	for k, when := range m.seen {
		if now.Sub(when) >= DueRecheck {
			delete(m.seen, k)
		}
	}
	for _, t := range ts {
		m.seen[dueKey{t.ID, t.At.UnixNano()}] = now
	}
}

// escalateDue escalates the pending requests whose current step waited
// longer than its escalation delay, and returns how many.
func (s *Service) escalateDue(ctx context.Context, now time.Time) (int, error) {
	n := 0
	cursor := ""
	for range 20 { // at most 10,000 pending requests per sweep
		rs, next, err := s.st.RequestList(ctx, store.RequestListParams{States: []access.RequestState{access.RequestPending},
			Page: store.Page{Cursor: cursor, Limit: 500}})
		if err != nil {
			return n, fmt.Errorf("list pending requests: %w", err)
		}
		for _, r := range rs {
			if !r.EscalationDue(now) {
				continue
			}
			if err := s.Escalate(ctx, r.ID); err != nil {
				return n, err
			}
			n++
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return n, nil
}

// Escalate widens the current step of a pending request whose escalation
// is due to the policy's backup approvers, asks them, and audits it. It
// does nothing when no escalation is due (already escalated, decided).
func (s *Service) Escalate(ctx context.Context, requestID string) error {
	return s.run(ctx, func(q store.Queries, fx *effects) error {
		r, err := q.RequestGetByID(ctx, requestID, true)
		if err != nil {
			return notFound(err, "request", requestID)
		}
		if !r.EscalationDue(fx.now) {
			return nil
		}
		step := r.CurrentStep
		added, err := r.Escalate(fx.now)
		if err != nil {
			return err
		}
		if err := q.RequestUpdate(ctx, r); err != nil {
			return err
		}
		if err := fx.audit(ctx, q, access.SystemActor, "request.escalated", "request", r.ID, nil, nil,
			map[string]any{"step": step, "added": added}); err != nil {
			return err
		}
		for _, id := range added {
			if err := fx.notify(ctx, q, access.NotifyApprovalRequested, id, r.ID, "", fmt.Sprintf("%s/%d/escalated", r.ID, step),
				map[string]string{"step": r.Steps[step].Name, "escalated": "true"}); err != nil {
				return err
			}
		}
		return nil
	})
}

// SweepResult counts what one sweep found and enqueued.
type SweepResult struct {
	Revocations   int
	Provisions    int
	RetryRevokes  int
	TimeOuts      int
	Deliveries    int
	ExpiryNotices int
	Escalations   int
	// TargetExtends counts the grants whose target's own expiry is still
	// behind their extended expiry (ExtendTarget enqueued again).
	TargetExtends int
}

// sweepBatch bounds each kind of work one sweep picks up.
const sweepBatch = 1000

// Sweep finds due work that may have lost its job (a crash between commit
// and enqueue, a restart after downtime) and enqueues it; the queue's
// uniqueness drops duplicates of jobs that still exist. Overdue
// revocations come first. Target extensions are among that work: a grant
// extended whose target's own expiry has still not moved StallAfter after
// its last update (access.Grant.TargetBehind) gets ExtendTarget again,
// also when its job ran out of attempts. It is also what times out
// pending requests (within one sweep interval of their deadline), and it
// sends "expiring soon" notices.
func (s *Service) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	var b Batch
	now := s.now()
	due, err := s.st.GrantListDue(ctx, now, sweepBatch)
	if err != nil {
		return res, fmt.Errorf("list due grants: %w", err)
	}
	for _, g := range due {
		if s.dueSeen.fresh(g.ID, g.ExpiresAt, now) {
			continue // the due poller of this process has it in hand
		}
		b.Revoke = append(b.Revoke, Timed{g.ID, g.ExpiresAt})
		res.Revocations++
	}
	stalled := now.Add(-s.stallAfter)
	gs, err := s.st.GrantListStalled(ctx, []access.GrantState{access.GrantRevoking, access.GrantRevokeFailed}, stalled, sweepBatch)
	if err != nil {
		return res, fmt.Errorf("list stalled revocations: %w", err)
	}
	for _, g := range gs {
		if g.ManualTask == "" {
			b.Revoke = append(b.Revoke, Timed{g.ID, g.ExpiresAt})
			res.RetryRevokes++
		}
	}
	gs, err = s.st.GrantListStalled(ctx, []access.GrantState{access.GrantPending, access.GrantProvisioning}, stalled, sweepBatch)
	if err != nil {
		return res, fmt.Errorf("list stalled provisions: %w", err)
	}
	for _, g := range gs {
		if g.ManualTask == "" {
			b.ProvisionEach = append(b.ProvisionEach, g.ID)
			res.Provisions++
		}
	}
	gs, err = s.st.GrantListTargetBehind(ctx, stalled, sweepBatch)
	if err != nil {
		return res, fmt.Errorf("list grants whose target is behind: %w", err)
	}
	for _, g := range gs {
		b.ExtendTarget = append(b.ExtendTarget, Timed{g.ID, g.ExpiresAt})
		res.TargetExtends++
	}
	rs, err := s.st.RequestListTimedOut(ctx, now, sweepBatch)
	if err != nil {
		return res, fmt.Errorf("list timed out requests: %w", err)
	}
	for _, r := range rs {
		b.TimeOut = append(b.TimeOut, Timed{r.ID, r.PendingUntil})
		res.TimeOuts++
	}
	n, err := s.escalateDue(ctx, now)
	if err != nil {
		return res, err
	}
	res.Escalations = n
	ns, err := s.st.NotificationListPending(ctx, stalled, sweepBatch)
	if err != nil {
		return res, fmt.Errorf("list pending notifications: %w", err)
	}
	for _, n := range ns {
		b.DeliverEach = append(b.DeliverEach, n.ID)
		res.Deliveries++
	}
	if !b.Empty() {
		if err := s.enq.Enqueue(ctx, b); err != nil {
			return res, fmt.Errorf("enqueue due work: %w", err)
		}
	}
	notices, err := s.expiryNotices(ctx, now)
	res.ExpiryNotices = notices
	return res, err
}

// expiryNotices warns holders of grants expiring within ExpiringNotice,
// once per expiry.
func (s *Service) expiryNotices(ctx context.Context, now time.Time) (int, error) {
	var soon []*access.Grant
	cursor := ""
	for range 20 { // at most 10,000 grants expiring soon per sweep
		page, next, err := s.st.GrantList(ctx, store.GrantListParams{States: []access.GrantState{access.GrantActive},
			ExpiringBefore: now.Add(s.expiringNotice), Page: store.Page{Cursor: cursor, Limit: 500}})
		if err != nil {
			return 0, fmt.Errorf("list expiring grants: %w", err)
		}
		for _, g := range page {
			if !g.Due(now) {
				soon = append(soon, g)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	// One transaction per 100 grants; the dedup key makes a notice that
	// was already written a no-op, and only new ones are counted.
	count := 0
	for start := 0; start < len(soon); start += 100 {
		chunk := soon[start:min(start+100, len(soon))]
		written := 0
		err := s.run(ctx, func(q store.Queries, fx *effects) error {
			for _, g := range chunk {
				if err := fx.notify(ctx, q, access.NotifyGrantExpiring, g.UserID, g.RequestID, g.ID,
					g.ID+"/"+g.ExpiresAt.Format(time.RFC3339Nano), map[string]string{"expires_at": g.ExpiresAt.Format(time.RFC3339)}); err != nil {
					return err
				}
			}
			written = len(fx.jobs.Deliver)
			return nil
		})
		if err != nil {
			return count, err
		}
		count += written
	}
	return count, nil
}
