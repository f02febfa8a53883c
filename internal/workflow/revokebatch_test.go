package workflow_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector/fake"
	"github.com/sesame-access/sesame/internal/workflow"
)

// RevokeDue revokes due grants in batches: those whose connector works are
// revoked and their requests settled; one whose target is down stays
// revoking for its job, which then fails it and alerts as usual; grants
// not due are left alone.
func TestRevokeDueInBatches(t *testing.T) {
	t.Parallel()
	for name, open := range openers() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, open)
			ctx := t.Context()
			require.NoError(t, b.st.AppUpsert(ctx, &access.App{ID: "flaky", Name: "Flaky", ConnectorType: fake.TypeName,
				ConnectorSettings: map[string]string{"fail": "revoke"}, Owners: []string{"usr_bob"}, Source: access.SourceConfig, CreatedAt: t0, UpdatedAt: t0}))
			require.NoError(t, b.st.EntitlementUpsert(ctx, &access.Entitlement{ID: "flaky:read", AppID: "flaky", Key: "read", Name: "read",
				Requestable: true, Risk: access.RiskLow, CreatedAt: t0, UpdatedAt: t0}))
			grant := func(who, ent string, d time.Duration) *access.Grant {
				r := b.submit(t, who, workflow.SubmitParams{Entitlements: []string{ent}, Duration: d, Reason: "batch test"})
				_, err := b.svc.Decide(ctx, b.id("bob"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
				require.NoError(t, err)
				g := b.grants(t, r.ID)[0]
				require.NoError(t, b.svc.Provision(ctx, g.ID))
				return g
			}
			ok1 := grant("alice", "github:read", time.Hour)
			ok2 := grant("dave", "github:read", time.Hour)
			down := grant("alice", "flaky:read", time.Hour)
			later := grant("erin", "github:read", 3*time.Hour)

			b.clock.Advance(time.Hour + time.Second)
			n, err := b.svc.RevokeDue(ctx, 100)
			require.NoError(t, err)
			require.Equal(t, 3, n)
			state := func(g *access.Grant) access.GrantState {
				got, err := b.st.GrantGetByID(ctx, g.ID, false)
				require.NoError(t, err)
				return got.State
			}
			require.Equal(t, access.GrantRevoked, state(ok1))
			require.Equal(t, access.GrantRevoked, state(ok2))
			require.Equal(t, access.GrantRevoking, state(down), "left to its job")
			require.Equal(t, access.GrantActive, state(later))
			req, err := b.st.RequestGetByID(ctx, ok1.RequestID, false)
			require.NoError(t, err)
			require.Equal(t, access.RequestExpired, req.State, "the request is settled")

			n, err = b.svc.RevokeDue(ctx, 100)
			require.NoError(t, err)
			require.Zero(t, n, "nothing new is due")

			// The job of the grant left behind retries it as Revoke does.
			var retry *workflow.RetryableError
			require.ErrorAs(t, b.svc.Revoke(ctx, down.ID), &retry)
			require.Equal(t, access.GrantRevokeFailed, state(down))
			verifyAudit(t, b.st)
		})
	}
}
