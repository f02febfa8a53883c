package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/store"
)

// effects collects what a transaction must do: audit events and
// notifications are written inside it; jobs are enqueued after commit.
type effects struct {
	now time.Time
	// after-commit enqueues
	provision []string
	revoke    []timedID
	deliver   []string
	timeout   []timedID
	remind    []remindJob
}

type timedID struct {
	id string
	at time.Time
}

type remindJob struct {
	id string
	n  int
	at time.Time
}

// audit appends an event in q.
func (fx *effects) audit(ctx context.Context, q store.Queries, actor, action, subjType, subjID string, before, after any, data map[string]any) error {
	e := &access.Event{
		ID:          ids.New("evt", fx.now),
		Time:        fx.now,
		ActorID:     actor,
		Action:      action,
		SubjectType: subjType,
		SubjectID:   subjID,
		Before:      access.Snapshot(before),
		After:       access.Snapshot(after),
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

// notify writes a notification to the outbox; dedup makes a repeat a
// no-op, so re-running a job never notifies twice.
func (fx *effects) notify(ctx context.Context, q store.Queries, kind access.NotificationKind, recipient, requestID, grantID, dedup string, data map[string]string) error {
	n := &access.Notification{
		ID:          ids.New("ntf", fx.now),
		Kind:        kind,
		RecipientID: recipient,
		RequestID:   requestID,
		GrantID:     grantID,
		Data:        data,
		DedupKey:    string(kind) + "/" + recipient + "/" + dedup,
		State:       access.NotificationPending,
		CreatedAt:   fx.now,
	}
	inserted, err := q.NotificationCreate(ctx, n)
	if err != nil {
		return fmt.Errorf("write notification %s: %w", kind, err)
	}
	if inserted {
		fx.deliver = append(fx.deliver, n.ID)
	}
	return nil
}

// reset clears after-commit work before a retried transaction runs again.
func (fx *effects) reset() {
	*fx = effects{now: fx.now}
}

// flush enqueues the collected jobs. Failures are logged, not returned:
// the change is committed and Sweep recovers a lost job.
func (s *Service) flush(ctx context.Context, fx *effects) {
	for _, id := range fx.provision {
		if err := s.enq.EnqueueProvision(ctx, id); err != nil {
			s.log.WarnContext(ctx, "enqueue provision failed; the sweeper will retry", "grant", id, "err", err)
		}
	}
	for _, r := range fx.revoke {
		if err := s.enq.EnqueueRevoke(ctx, r.id, r.at); err != nil {
			s.log.WarnContext(ctx, "enqueue revoke failed; the sweeper will retry", "grant", r.id, "err", err)
		}
	}
	for _, id := range fx.deliver {
		if err := s.enq.EnqueueDeliver(ctx, id); err != nil {
			s.log.WarnContext(ctx, "enqueue delivery failed; the sweeper will retry", "notification", id, "err", err)
		}
	}
	for _, r := range fx.timeout {
		if err := s.enq.EnqueueTimeOut(ctx, r.id, r.at); err != nil {
			s.log.WarnContext(ctx, "enqueue timeout failed; the sweeper will retry", "request", r.id, "err", err)
		}
	}
	for _, r := range fx.remind {
		if err := s.enq.EnqueueRemind(ctx, r.id, r.n, r.at); err != nil {
			s.log.WarnContext(ctx, "enqueue reminder failed", "request", r.id, "err", err)
		}
	}
}

// run executes fn in a retried transaction with fresh effects, then
// flushes them.
func (s *Service) run(ctx context.Context, fn func(q store.Queries, fx *effects) error) error {
	fx := &effects{now: s.now()}
	err := s.inTx(ctx, func(q store.Queries) error {
		fx.reset()
		return fn(q, fx)
	})
	if err != nil {
		return err
	}
	s.flush(ctx, fx)
	return nil
}
