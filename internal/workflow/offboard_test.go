package workflow_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/workflow"
)

// activeGrant submits, approves and provisions a request of who for
// entitlement, approved by approver, and returns its grant.
func (b *testBundle) activeGrant(t *testing.T, who, approver, entitlement string) *access.Grant {
	t.Helper()
	r := b.submit(t, who, workflow.SubmitParams{Entitlements: []string{entitlement}, Duration: time.Hour,
		Approvers: []string{approver + "@example.com"}})
	_, err := b.svc.Decide(t.Context(), b.id(approver), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
	require.NoError(t, err)
	gs := b.grants(t, r.ID)
	require.Len(t, gs, 1)
	require.NoError(t, b.svc.Provision(t.Context(), gs[0].ID))
	g, err := b.st.GrantGetByID(t.Context(), gs[0].ID, false)
	require.NoError(t, err)
	require.Equal(t, access.GrantActive, g.State)
	return g
}

func TestOffboardTakesEverythingAway(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, open opener) {
		b := setup(t, open)
		ctx := t.Context()
		var hooked []string
		b.svc.SetOffboardHook(func(_ context.Context, u *access.User) error {
			hooked = append(hooked, u.ID+"/"+string(u.Status))
			return nil
		})
		grant := b.activeGrant(t, "alice", "bob", "github:read")
		pending := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"grafana:read"}, Duration: time.Hour,
			Approvers: []string{"bob@example.com"}})
		b.enq.revoke = nil

		res, err := b.svc.Offboard(ctx, b.id("carol"), b.id("alice"), "left the company")
		require.NoError(t, err)
		require.True(t, res.Changed)
		require.Equal(t, access.UserOffboarded, res.User.Status)
		require.Equal(t, []string{pending.ID}, res.CancelledRequests)
		require.Equal(t, []string{grant.ID}, res.RevokedGrants)
		require.Equal(t, []string{"usr_alice/offboarded"}, hooked)

		u, err := b.st.UserGetByID(ctx, b.id("alice"))
		require.NoError(t, err)
		require.Equal(t, access.UserOffboarded, u.Status)
		require.Equal(t, []string{"eng"}, u.Groups, "fields offboarding does not own are kept")
		r, err := b.st.RequestGetByID(ctx, pending.ID, false)
		require.NoError(t, err)
		require.Equal(t, access.RequestCancelled, r.State)
		g, err := b.st.GrantGetByID(ctx, grant.ID, false)
		require.NoError(t, err)
		require.Equal(t, access.GrantRevoking, g.State)
		require.Contains(t, g.RevokeReason, "offboarded: left the company")
		require.Equal(t, []string{grant.ID}, b.enq.revoke, "revoked through the normal revoke job")
		require.NoError(t, b.svc.Revoke(ctx, grant.ID))
		require.False(t, b.backend.Has("github", "alice@example.com", "read"))

		// A second deactivation does nothing more.
		res, err = b.svc.Offboard(ctx, b.id("carol"), b.id("alice"), "again")
		require.NoError(t, err)
		require.False(t, res.Changed)
		require.Empty(t, res.CancelledRequests)
		require.Empty(t, res.RevokedGrants)
		require.Len(t, hooked, 1)

		events, _, err := b.st.EventList(ctx, store.EventListParams{SubjectID: b.id("alice"), Action: "user.offboarded"})
		require.NoError(t, err)
		require.Len(t, events, 1)
		require.Equal(t, b.id("carol"), events[0].ActorID)
		verifyAudit(t, b.st)

		// The offboarded person can no longer act.
		_, err = b.svc.Submit(ctx, b.id("alice"), workflow.SubmitParams{Entitlements: []string{"github:read"}, Duration: time.Hour, Reason: "back again"})
		require.Equal(t, access.CodeForbidden, access.ErrorCode(err))
	})
}

func TestOffboardMovesApprovals(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, open opener) {
		b := setup(t, open)
		ctx := t.Context()
		// alice chose bob among github's owners (bob, carol).
		gh := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"github:read"}, Duration: time.Hour,
			Approvers: []string{"bob@example.com"}})
		require.Equal(t, []string{"usr_bob"}, gh.Steps[0].Notified)
		// aws-prod: bob is alice's manager, the only one at step 1.
		aws := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"aws-prod:read"}, Duration: time.Hour})
		require.Equal(t, []string{"usr_bob"}, aws.Steps[0].Eligible)

		res, err := b.svc.Offboard(ctx, b.id("carol"), b.id("bob"), "")
		require.NoError(t, err)
		require.ElementsMatch(t, []string{gh.ID, aws.ID}, res.Reassigned)
		require.Equal(t, []string{aws.ID}, res.Unapprovable, "nobody is left at the manager step and it has no escalation")

		got, err := b.st.RequestGetByID(ctx, gh.ID, false)
		require.NoError(t, err)
		require.Equal(t, []string{"usr_carol"}, got.Steps[0].Eligible)
		require.Equal(t, []string{"usr_carol"}, got.Steps[0].Notified)
		require.Contains(t, b.notifications(t, gh.ID), "approval_requested>usr_carol")
		// carol may now approve it.
		got, err = b.svc.Decide(ctx, b.id("carol"), workflow.DecideParams{RequestID: gh.ID, Outcome: access.Approve})
		require.NoError(t, err)
		require.Equal(t, access.RequestApproved, got.State)

		got, err = b.st.RequestGetByID(ctx, aws.ID, false)
		require.NoError(t, err)
		require.Empty(t, got.Steps[0].Eligible)
		_, err = b.svc.Decide(ctx, b.id("bob"), workflow.DecideParams{RequestID: aws.ID, Outcome: access.Approve})
		require.Error(t, err, "an offboarded approver decides nothing")

		res, err = b.svc.Offboard(ctx, b.id("carol"), b.id("bob"), "")
		require.NoError(t, err)
		require.False(t, res.Changed)
		require.Empty(t, res.Reassigned, "idempotent")
		verifyAudit(t, b.st)
	})
}

func TestOffboardActors(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, open opener) {
		b := setup(t, open)
		ctx := t.Context()
		_, err := b.svc.Offboard(ctx, b.id("dave"), b.id("alice"), "")
		require.Equal(t, access.CodeForbidden, access.ErrorCode(err), "only admins")
		_, err = b.svc.Offboard(ctx, b.id("carol"), b.id("carol"), "")
		require.Equal(t, access.CodeInvalid, access.ErrorCode(err))
		_, err = b.svc.Offboard(ctx, b.id("carol"), "usr_nobody", "")
		require.Equal(t, access.CodeNotFound, access.ErrorCode(err))
		_, err = b.svc.Offboard(ctx, "scc_unknown", b.id("alice"), "")
		require.Equal(t, access.CodeUnauthorized, access.ErrorCode(err))

		c := &store.ScimClient{ID: "scc_okta", Name: "okta", Hash: "h", CreatedAt: t0}
		require.NoError(t, b.st.ScimClientCreate(ctx, c))
		b.svc.SetOffboardHook(func(context.Context, *access.User) error { return errors.New("slack is down") })
		res, err := b.svc.Offboard(ctx, c.ID, b.id("alice"), "deactivated in okta")
		require.NoError(t, err, "a failing hook does not undo the offboarding")
		require.True(t, res.Changed)
		u, err := b.st.UserGetByID(ctx, b.id("alice"))
		require.NoError(t, err)
		require.Equal(t, access.UserOffboarded, u.Status)
		events, _, err := b.st.EventList(ctx, store.EventListParams{Action: "user.offboard_hook_failed"})
		require.NoError(t, err)
		require.Len(t, events, 1)

		// The next offboarding retries the failed hook, once.
		calls := 0
		b.svc.SetOffboardHook(func(context.Context, *access.User) error { calls++; return nil })
		res, err = b.svc.Offboard(ctx, c.ID, b.id("alice"), "deactivated again")
		require.NoError(t, err)
		require.False(t, res.Changed)
		require.Equal(t, 1, calls, "the failed hook is retried")
		_, err = b.svc.Offboard(ctx, c.ID, b.id("alice"), "and again")
		require.NoError(t, err)
		require.Equal(t, 1, calls, "a hook that succeeded is not run again")
		events, _, err = b.st.EventList(ctx, store.EventListParams{Action: "user.offboard_hook_retried"})
		require.NoError(t, err)
		require.Len(t, events, 1)

		c.RevokedAt = t0
		require.NoError(t, b.st.ScimClientUpdate(ctx, c))
		_, err = b.svc.Offboard(ctx, c.ID, b.id("erin"), "")
		require.Equal(t, access.CodeUnauthorized, access.ErrorCode(err), "a revoked client")
	})
}

func TestOffboardEscalatesWhenNobodyRemains(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, open opener) {
		b := setup(t, open)
		ctx := t.Context()
		// A request whose only approver is bob, escalating to dave and erin
		// (and, not asked yet, to mallory).
		r := &access.Request{ID: "req_escalate", RequesterID: b.id("alice"), AppID: "orphan", EntitlementIDs: []string{"orphan:read"},
			Duration: time.Hour, MaxDuration: 2 * time.Hour, Reason: "incident 7", State: access.RequestPending, PolicyID: "nobody",
			Steps: []access.Step{{Name: "Owners", Eligible: []string{b.id("bob")}, Notified: []string{b.id("bob")}, Required: 1,
				OpenedAt: t0, EscalateAfter: time.Hour, EscalateTo: []string{b.id("dave"), b.id("erin"), b.id("mallory")}}},
			CreatedAt: t0, UpdatedAt: t0, PendingUntil: t0.Add(24 * time.Hour)}
		require.NoError(t, b.st.RequestCreate(ctx, r))
		// mallory leaves first: she only leaves the escalation list.
		res, err := b.svc.Offboard(ctx, b.id("carol"), b.id("mallory"), "")
		require.NoError(t, err)
		require.Equal(t, []string{r.ID}, res.Reassigned)
		got, err := b.st.RequestGetByID(ctx, r.ID, false)
		require.NoError(t, err)
		require.Equal(t, []string{b.id("dave"), b.id("erin")}, got.Steps[0].EscalateTo)
		require.Equal(t, []string{b.id("bob")}, got.Steps[0].Eligible)

		res, err = b.svc.Offboard(ctx, b.id("carol"), b.id("bob"), "")
		require.NoError(t, err)
		require.Equal(t, []string{r.ID}, res.Escalated)
		require.Empty(t, res.Unapprovable)
		got, err = b.st.RequestGetByID(ctx, r.ID, false)
		require.NoError(t, err)
		require.Equal(t, []string{b.id("dave"), b.id("erin")}, got.Steps[0].Eligible)
		require.Equal(t, []string{b.id("dave"), b.id("erin")}, got.Steps[0].Notified)
		require.True(t, got.Steps[0].Escalated)
		require.Subset(t, b.notifications(t, r.ID), []string{"approval_requested>usr_dave", "approval_requested>usr_erin"})
		got, err = b.svc.Decide(ctx, b.id("erin"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
		require.NoError(t, err)
		require.Equal(t, access.RequestApproved, got.State)
	})
}
