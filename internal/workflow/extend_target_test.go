package workflow_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/fake"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/workflow"
)

// addExpiryApp adds the app pgdb (bob owns it), whose fake connector keeps
// an expiry per grant in the target (connector.ExpiryExtender).
func (b *testBundle) addExpiryApp(t *testing.T) {
	t.Helper()
	require.NoError(t, b.st.AppUpsert(t.Context(), &access.App{ID: "pgdb", Name: "Postgres", ConnectorType: fake.TypeName,
		ConnectorSettings: map[string]string{"expiry": "true"}, Owners: []string{"usr_bob"}, Source: access.SourceConfig,
		CreatedAt: t0, UpdatedAt: t0}))
	require.NoError(t, b.st.EntitlementUpsert(t.Context(), &access.Entitlement{ID: "pgdb:read", AppID: "pgdb", Key: "read",
		Name: "read", Requestable: true, Risk: access.RiskLow, MaxDuration: 8 * time.Hour, CreatedAt: t0, UpdatedAt: t0}))
}

// sweepTargetExtends runs a sweep and returns how many target extensions
// it enqueued.
func (b *testBundle) sweepTargetExtends(t *testing.T) int {
	t.Helper()
	res, err := b.svc.Sweep(t.Context())
	require.NoError(t, err)
	return res.TargetExtends
}

// TestExtendTargetRecordsTheTargetExpiry follows the expiry a grant
// records for its target: in sync at activation, behind once extended
// (and found by the sweeper once stalled), still behind after a retryable
// failure, and in sync once the target moved or refused for good.
func TestExtendTargetRecordsTheTargetExpiry(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, open opener) {
		b := setup(t, open)
		b.addExpiryApp(t)
		ctx := t.Context()

		g := b.hold(t, "pgdb:read")
		require.Equal(t, g.ExpiresAt, g.TargetExpiresAt, "activation is in sync")
		require.False(t, g.TargetBehind())
		b.clock.Advance(5 * time.Minute)
		require.Zero(t, b.sweepTargetExtends(t))

		// Extended: behind in the same transaction, whatever becomes of
		// the job.
		b.enq.extend = nil
		first := g.ExpiresAt
		_, err := b.svc.Extend(ctx, b.id("bob"), g.ID, 3*time.Hour)
		require.NoError(t, err)
		second := b.clock.Now().Add(3 * time.Hour)
		g = b.grant(t, g.ID)
		require.Equal(t, second, g.ExpiresAt)
		require.Equal(t, first, g.TargetExpiresAt)
		require.True(t, g.TargetBehind())
		require.Equal(t, []string{g.ID}, b.enq.extend)
		require.Zero(t, b.sweepTargetExtends(t), "its job may still be on its way")
		b.clock.Advance(3 * time.Minute)
		require.Equal(t, 1, b.sweepTargetExtends(t), "stalled: the sweeper enqueues it again")
		require.Equal(t, []string{g.ID, g.ID}, b.enq.extend)

		// A passing failure: retried by the queue, the grant stays behind.
		b.backend.ExtendFunc = func(connector.Target) error { return errors.New("target briefly down") }
		var re *workflow.RetryableError
		require.ErrorAs(t, b.svc.ExtendTarget(ctx, g.ID), &re)
		require.Equal(t, first, b.grant(t, g.ID).TargetExpiresAt)
		require.Equal(t, 1, b.sweepTargetExtends(t))

		// Moved: in sync, and the sweeper has nothing left.
		b.backend.ExtendFunc = nil
		require.NoError(t, b.svc.ExtendTarget(ctx, g.ID))
		g = b.grant(t, g.ID)
		require.Equal(t, second, g.TargetExpiresAt)
		require.False(t, g.TargetBehind())
		require.Equal(t, []time.Time{second}, b.backend.Expiries(g.ID))
		require.Len(t, b.events(t, "grant.target_extended"), 1)
		b.clock.Advance(3 * time.Minute)
		require.Zero(t, b.sweepTargetExtends(t))

		// Refused for good: audited, owners alerted, and in sync (nothing
		// more will move it; the grant is still revoked at its expiry).
		_, err = b.svc.Extend(ctx, b.id("bob"), g.ID, 4*time.Hour)
		require.NoError(t, err)
		third := b.clock.Now().Add(4 * time.Hour)
		b.backend.ExtendFunc = func(connector.Target) error { return connector.Permanent(errors.New("permission denied")) }
		require.NoError(t, b.svc.ExtendTarget(ctx, g.ID))
		g = b.grant(t, g.ID)
		require.Equal(t, third, g.ExpiresAt)
		require.Equal(t, third, g.TargetExpiresAt)
		require.Len(t, b.events(t, "grant.target_extend_failed"), 1)
		require.Contains(t, b.notifications(t, g.RequestID), "grant_failed>usr_bob")
		require.Equal(t, []time.Time{second}, b.backend.Expiries(g.ID), "nothing was moved")
		b.clock.Advance(3 * time.Minute)
		require.Zero(t, b.sweepTargetExtends(t))
	})
}

// TestExtendTargetExtendedMeanwhile extends a grant again while its
// target is being moved to the previous expiry: the grant records the
// expiry that was applied and stays behind the new one, which the next
// run applies.
func TestExtendTargetExtendedMeanwhile(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, open opener) {
		b := setup(t, open)
		b.addExpiryApp(t)
		ctx := t.Context()
		g := b.hold(t, "pgdb:read")
		_, err := b.svc.Extend(ctx, b.id("bob"), g.ID, 2*time.Hour)
		require.NoError(t, err)
		second := t0.Add(2 * time.Hour)

		b.clock.Advance(time.Minute)
		third := b.clock.Now().Add(3 * time.Hour)
		b.backend.ExtendFunc = func(tg connector.Target) error {
			if tg.ExpiresAt.Equal(second) {
				_, err := b.svc.Extend(ctx, b.id("bob"), g.ID, 3*time.Hour)
				return err
			}
			return nil
		}
		require.NoError(t, b.svc.ExtendTarget(ctx, g.ID))
		g = b.grant(t, g.ID)
		require.Equal(t, third, g.ExpiresAt)
		require.Equal(t, second, g.TargetExpiresAt, "the expiry applied, not the grant's newer one")
		require.True(t, g.TargetBehind())

		require.NoError(t, b.svc.ExtendTarget(ctx, g.ID))
		g = b.grant(t, g.ID)
		require.Equal(t, third, g.TargetExpiresAt)
		require.Equal(t, []time.Time{second, third}, b.backend.Expiries(g.ID))
	})
}

// TestExtendTargetWithoutTargetExpiry extends a grant whose connector
// sets no expiry in the target: ExtendTarget has nothing to move and
// marks the grant in sync, so the sweeper leaves it alone. A grant no
// longer active is left as it is.
func TestExtendTargetWithoutTargetExpiry(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, open opener) {
		b := setup(t, open)
		ctx := t.Context()
		g := b.hold(t, "github:read")
		_, err := b.svc.Extend(ctx, b.id("bob"), g.ID, 2*time.Hour)
		require.NoError(t, err)
		require.True(t, b.grant(t, g.ID).TargetBehind())
		require.NoError(t, b.svc.ExtendTarget(ctx, g.ID))
		g = b.grant(t, g.ID)
		require.Equal(t, g.ExpiresAt, g.TargetExpiresAt)
		require.Empty(t, b.events(t, "grant.target_extended"), "nothing happened in the target")
		b.clock.Advance(5 * time.Minute)
		require.Zero(t, b.sweepTargetExtends(t))

		// Revoked while behind: nothing to move, nothing recorded.
		_, err = b.svc.Extend(ctx, b.id("bob"), g.ID, 3*time.Hour)
		require.NoError(t, err)
		_, err = b.svc.RevokeNow(ctx, b.id("bob"), g.ID, "done")
		require.NoError(t, err)
		require.NoError(t, b.svc.Revoke(ctx, g.ID))
		revoked := b.grant(t, g.ID)
		require.Equal(t, access.GrantRevoked, revoked.State)
		require.NoError(t, b.svc.ExtendTarget(ctx, g.ID))
		require.Equal(t, revoked, b.grant(t, g.ID))
		b.clock.Advance(5 * time.Minute)
		require.Zero(t, b.sweepTargetExtends(t))
	})
}

// TestExtendTargetUnkeepableCredentials moves a target whose connector
// re-issues credentials, on a service without a key for secrets at rest:
// the credentials can never be kept, which is reported once as a
// permanent failure and ends the work (the grant is in sync), instead of
// re-issuing them on every retry and sweep.
func TestExtendTargetUnkeepableCredentials(t *testing.T) {
	t.Parallel()
	b := setupExt(t, openers()["sqlite"])
	ctx := t.Context()
	e := b.hold(t, "easy:read")
	_, err := b.svc.Extend(ctx, b.id("bob"), e.ID, 3*time.Hour)
	require.NoError(t, err)
	want := t0.Add(3 * time.Hour)

	engine, err := policy.New(testPolicies(), 12*time.Hour)
	require.NoError(t, err)
	reg := connector.NewRegistry()
	reg.Register("stretch", func(map[string]string) (connector.Connector, error) { return b.stretch, nil })
	keyless, err := workflow.New(workflow.Config{Store: b.st, Clock: b.clock, Policy: engine, Connectors: reg, ProvisionAttempts: 3})
	require.NoError(t, err)
	keyless.SetEnqueuer(b.enq)

	require.NoError(t, keyless.ExtendTarget(ctx, e.ID))
	require.Equal(t, []time.Time{want}, b.stretch.moved)
	g := b.grant(t, e.ID)
	require.Equal(t, want, g.TargetExpiresAt)
	require.Empty(t, g.Credentials)
	failed := b.events(t, "grant.target_extend_failed")
	require.Len(t, failed, 1)
	require.Contains(t, string(failed[0].Data), "key for secrets")
	require.Contains(t, b.notifications(t, e.RequestID), "grant_failed>usr_bob")
	b.clock.Advance(5 * time.Minute)
	require.Zero(t, b.sweepTargetExtends(t))
}
