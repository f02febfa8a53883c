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
	now  time.Time
	jobs Batch
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
		fx.jobs.Deliver = append(fx.jobs.Deliver, n.ID)
	}
	return nil
}

// reset clears after-commit work before a retried transaction runs again.
func (fx *effects) reset() {
	*fx = effects{now: fx.now}
}

// flush enqueues the collected jobs after commit. A failure is logged,
// not returned: the change is committed and Sweep recovers a lost job.
func (s *Service) flush(ctx context.Context, fx *effects) {
	if fx.jobs.Empty() {
		return
	}
	if err := s.enq.Enqueue(ctx, fx.jobs); err != nil {
		s.log.WarnContext(ctx, "enqueue failed; the sweeper will retry", "err", err)
	}
}

// run executes fn in a retried transaction with fresh effects. The jobs are
// enqueued in the same transaction when the Enqueuer can (TxEnqueuer),
// after commit otherwise.
func (s *Service) run(ctx context.Context, fn func(q store.Queries, fx *effects) error) error {
	fx := &effects{now: s.now()}
	inTx := false
	err := s.inTx(ctx, func(q store.Queries) error {
		fx.reset()
		inTx = false
		if err := fn(q, fx); err != nil {
			return err
		}
		if te, ok := s.enq.(TxEnqueuer); ok && !fx.jobs.Empty() {
			done, err := te.EnqueueTx(ctx, q, fx.jobs)
			if err != nil {
				return fmt.Errorf("enqueue jobs: %w", err)
			}
			inTx = done
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !inTx {
		s.flush(ctx, fx)
	}
	return nil
}
