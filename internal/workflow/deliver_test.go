package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/workflow"
)

// countingNotifier counts deliveries per notification and fails those to
// failFor.
type countingNotifier struct {
	mu      sync.Mutex
	sent    map[string]int
	failFor string
}

func (c *countingNotifier) Deliver(_ context.Context, n *access.Notification) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent[n.ID]++
	if n.RecipientID == c.failFor {
		return errors.New("recipient unreachable")
	}
	return nil
}

// DeliverAll sends each pending notification once, saves them together,
// reports the failed ones as retryable, and skips unknown and sent ones.
func TestDeliverAll(t *testing.T) {
	t.Parallel()
	for name, open := range openers() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, open)
			ctx := t.Context()
			cn := &countingNotifier{sent: map[string]int{}, failFor: b.id("carol")}
			b.svc.SetNotifier(cn)
			r := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"github:read"}})
			ns, err := b.st.NotificationListByRequest(ctx, r.ID)
			require.NoError(t, err)
			ids := []string{"ntf_unknown"}
			for _, n := range ns {
				ids = append(ids, n.ID)
			}
			require.Greater(t, len(ids), 2)

			err = b.svc.DeliverAll(ctx, ids)
			var retry *workflow.RetryableError
			require.ErrorAs(t, err, &retry, "carol's copy failed and will be retried")
			f, ok := errors.AsType[*workflow.DeliveryError](err)
			require.True(t, ok, "the failures by notification")
			var carols []string
			for _, n := range ns {
				if n.RecipientID == b.id("carol") {
					carols = append(carols, n.ID)
				}
			}
			require.NotEmpty(t, carols)
			require.ElementsMatch(t, carols, f.IDs, "exactly carol's copies failed")
			require.Len(t, f.Errs, len(f.IDs))
			for i, e := range f.Errs {
				require.Equal(t, 1, strings.Count(e.Error(), f.IDs[i]), "each error names its notification once: %v", e)
			}
			require.NoError(t, f.Other, "what was sent was saved")
			require.NoError(t, b.svc.DeliverAll(ctx, ids[:1]), "an unknown notification is nothing to do")

			err = b.svc.DeliverAll(ctx, ids)
			require.ErrorAs(t, err, &retry)
			for _, n := range ns {
				got, err := b.st.NotificationGetByID(ctx, n.ID)
				require.NoError(t, err)
				if n.RecipientID == b.id("carol") {
					require.Equal(t, access.NotificationPending, got.State)
					require.Equal(t, 2, got.Attempts)
					require.Equal(t, "recipient unreachable", got.LastError)
					require.Equal(t, 2, cn.sent[n.ID])
					continue
				}
				require.Equal(t, access.NotificationSent, got.State, n.Kind)
				require.Equal(t, 1, got.Attempts)
				require.Equal(t, 1, cn.sent[n.ID], "sent once")
			}
		})
	}
}

// overlapNotifier makes each recipient's first delivery wait until
// deliveries to two recipients have started (so a DeliverAll that sent one
// notification at a time would fail), and records each recipient's order.
type overlapNotifier struct {
	mu      sync.Mutex
	started map[string]bool
	both    chan struct{}
	order   map[string][]string
}

func (o *overlapNotifier) Deliver(ctx context.Context, n *access.Notification) error {
	o.mu.Lock()
	first := !o.started[n.RecipientID]
	o.started[n.RecipientID] = true
	if first && len(o.started) == 2 {
		close(o.both)
	}
	o.order[n.RecipientID] = append(o.order[n.RecipientID], n.ID)
	o.mu.Unlock()
	if !first {
		return nil
	}
	select {
	case <-o.both:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("no second recipient was being sent to at the same time")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// DeliverAll sends to several recipients at once, and to each recipient
// in the order given.
func TestDeliverAllSendsToRecipientsAtOnceInOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, openers()["sqlite"])
	ctx := t.Context()
	on := &overlapNotifier{started: map[string]bool{}, both: make(chan struct{}), order: map[string][]string{}}
	b.svc.SetNotifier(on)
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	var ids []string
	want := map[string][]string{}
	for i := range 4 {
		for _, who := range []string{"alice", "bob", "carol"} {
			n := &access.Notification{ID: fmt.Sprintf("ntf_%s_%d", who, i), Kind: access.NotifyApprovalRequested,
				RecipientID: b.id(who), DedupKey: fmt.Sprintf("test/%s/%d", who, i), State: access.NotificationPending, CreatedAt: now}
			_, err := b.st.NotificationCreate(ctx, n)
			require.NoError(t, err)
			ids = append(ids, n.ID)
			want[b.id(who)] = append(want[b.id(who)], n.ID)
		}
	}
	require.NoError(t, b.svc.DeliverAll(ctx, ids))
	require.Equal(t, want, on.order)
	for _, id := range ids {
		got, err := b.st.NotificationGetByID(ctx, id)
		require.NoError(t, err)
		require.Equal(t, access.NotificationSent, got.State, id)
	}
}

// A notification listed twice (two merged batches) is sent once.
func TestDeliverAllSendsADuplicateOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, openers()["sqlite"])
	ctx := t.Context()
	cn := &countingNotifier{sent: map[string]int{}}
	b.svc.SetNotifier(cn)
	n := &access.Notification{ID: "ntf_twice", Kind: access.NotifyApprovalRequested, RecipientID: b.id("bob"),
		DedupKey: "test/twice", State: access.NotificationPending, CreatedAt: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
	_, err := b.st.NotificationCreate(ctx, n)
	require.NoError(t, err)
	require.NoError(t, b.svc.DeliverAll(ctx, []string{n.ID, n.ID}))
	require.Equal(t, 1, cn.sent[n.ID])
}
