package workflow_test

import (
	"context"
	"errors"
	"sync"
	"testing"

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
