package workflow_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/workflow"
)

// EnqueueDue enqueues a due grant once per DueRecheck, not at every poll,
// and again for a new expiry.
func TestEnqueueDueSkipsRecentlyEnqueued(t *testing.T) {
	t.Parallel()
	b := setup(t, openers()["sqlite"])
	ctx := t.Context()
	r := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"github:read"}, Duration: time.Hour})
	_, err := b.svc.Decide(ctx, b.id("bob"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
	require.NoError(t, err)
	g := b.grants(t, r.ID)[0]
	require.NoError(t, b.svc.Provision(ctx, g.ID))

	n, err := b.svc.EnqueueDue(ctx, 100)
	require.NoError(t, err)
	require.Zero(t, n, "not due yet")

	b.clock.Advance(time.Hour + time.Second)
	n, err = b.svc.EnqueueDue(ctx, 100)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = b.svc.EnqueueDue(ctx, 100)
	require.NoError(t, err)
	require.Zero(t, n, "its job is queued")

	b.clock.Advance(workflow.DueRecheck)
	n, err = b.svc.EnqueueDue(ctx, 100)
	require.NoError(t, err)
	require.Equal(t, 1, n, "still due a minute later: enqueued again")

	require.NoError(t, b.svc.Revoke(ctx, g.ID))
	b.clock.Advance(workflow.DueRecheck)
	n, err = b.svc.EnqueueDue(ctx, 100)
	require.NoError(t, err)
	require.Zero(t, n, "revoked")
}
