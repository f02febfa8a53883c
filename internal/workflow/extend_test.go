package workflow_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/fake"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/workflow"
)

// stretcher is a connector that sets an expiry in its target
// (connector.ExpiryExtender) and re-issues credentials when it moves.
type stretcher struct {
	mu    sync.Mutex
	moved []time.Time
	fail  error
}

func (*stretcher) Grant(context.Context, connector.Target) error  { return nil }
func (*stretcher) Revoke(context.Context, connector.Target) error { return nil }
func (s *stretcher) ExtendGrant(_ context.Context, t connector.Target) (*connector.Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	s.moved = append(s.moved, t.ExpiresAt)
	return &connector.Credentials{Kind: "ssh-certificate", Secret: "cert-until-" + t.ExpiresAt.Format(time.RFC3339)}, nil
}

type extBundle struct {
	*testBundle
	stretch *stretcher
}

// setupExt adds apps whose policies have extension rules: ops (up to 1h
// more is approved at once), locked (no extensions), easy (always at once,
// on a connector with its own expiry). bob owns them.
func setupExt(t *testing.T, open opener) *extBundle {
	t.Helper()
	st := &stretcher{}
	owners := policy.StepRule{Name: "Owners", Approvers: policy.ApproverRule{AppOwners: true}}
	b := setup(t, open, func(o *setupOptions) {
		o.policies = append(o.policies,
			policy.Policy{ID: "ops", Match: policy.Match{Apps: []string{"ops"}}, Steps: []policy.StepRule{owners},
				Extension: policy.ExtensionRule{AutoWithin: time.Hour}},
			policy.Policy{ID: "locked", Match: policy.Match{Apps: []string{"locked"}}, Steps: []policy.StepRule{owners},
				Extension: policy.ExtensionRule{Approval: policy.ExtensionDeny}},
			policy.Policy{ID: "easy", Match: policy.Match{Apps: []string{"easy"}}, Steps: []policy.StepRule{owners},
				Extension: policy.ExtensionRule{Approval: policy.ExtensionAuto}})
		o.register = func(reg *connector.Registry) {
			reg.Register("stretch", func(map[string]string) (connector.Connector, error) { return st, nil })
		}
	})
	for _, app := range []*access.App{
		{ID: "ops", Name: "Ops", ConnectorType: fake.TypeName},
		{ID: "locked", Name: "Locked", ConnectorType: fake.TypeName},
		{ID: "easy", Name: "Easy", ConnectorType: "stretch"},
	} {
		app.Owners, app.Source, app.CreatedAt, app.UpdatedAt = []string{"usr_bob"}, access.SourceConfig, t0, t0
		require.NoError(t, b.st.AppUpsert(t.Context(), app))
		require.NoError(t, b.st.EntitlementUpsert(t.Context(), &access.Entitlement{ID: app.ID + ":read", AppID: app.ID, Key: "read",
			Name: "read", Requestable: true, Risk: access.RiskLow, MaxDuration: 4 * time.Hour, CreatedAt: t0, UpdatedAt: t0}))
	}
	return &extBundle{testBundle: b, stretch: st}
}

// hold gives alice an active grant of ent for 1h (bob approves).
func (b *testBundle) hold(t *testing.T, ent string) *access.Grant {
	t.Helper()
	r := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{ent}, Duration: time.Hour})
	_, err := b.svc.Decide(t.Context(), b.id("bob"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
	require.NoError(t, err)
	g := b.grants(t, r.ID)[0]
	require.NoError(t, b.svc.Provision(t.Context(), g.ID))
	g, err = b.st.GrantGetByID(t.Context(), g.ID, false)
	require.NoError(t, err)
	require.Equal(t, access.GrantActive, g.State)
	return g
}

func (b *testBundle) grant(t *testing.T, id string) *access.Grant {
	t.Helper()
	g, err := b.st.GrantGetByID(t.Context(), id, false)
	require.NoError(t, err)
	return g
}

func (b *testBundle) events(t *testing.T, action string) []*access.Event {
	t.Helper()
	es, _, err := b.st.EventList(t.Context(), store.EventListParams{Action: action})
	require.NoError(t, err)
	return es
}

func TestExtensionApprovedMovesTheSameGrant(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, open opener) {
		b := setup(t, open)
		ctx := t.Context()
		g := b.hold(t, "github:read")
		require.Equal(t, t0.Add(time.Hour), g.ExpiresAt)

		b.clock.Advance(30 * time.Minute)
		r, err := b.svc.RequestExtension(ctx, b.id("alice"), workflow.ExtensionParams{GrantID: g.ID, Duration: 2 * time.Hour,
			Reason: "the migration runs late"})
		require.NoError(t, err)
		require.Equal(t, access.RequestPending, r.State)
		require.Equal(t, g.ID, r.ExtendsGrantID)
		require.Equal(t, []string{"github:read"}, r.EntitlementIDs)
		require.Contains(t, b.notifications(t, r.ID), "approval_requested>usr_bob")

		_, err = b.svc.Decide(ctx, b.id("alice"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
		require.ErrorIs(t, err, access.ErrSelfApproval, "the holder never approves their own extension")

		b.clock.Advance(10 * time.Minute)
		b.enq.revoke, b.enq.extend = nil, nil
		r, err = b.svc.Decide(ctx, b.id("bob"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve, Comment: "fine"})
		require.NoError(t, err)
		require.Equal(t, access.RequestExtended, r.State)
		require.Empty(t, b.grants(t, r.ID), "an extension creates no grant")

		after := b.grant(t, g.ID)
		newExpiry := t0.Add(40*time.Minute + 2*time.Hour)
		require.Equal(t, access.GrantActive, after.State)
		require.Equal(t, newExpiry, after.ExpiresAt, "extended in place, from the approval")
		require.Equal(t, g.ActivatedAt, after.ActivatedAt)
		require.Equal(t, []string{g.ID}, b.enq.revoke, "the revocation is rescheduled")
		require.Equal(t, []string{g.ID}, b.enq.extend, "the target's expiry is moved by a job")
		grants, _ := b.backend.Counts()
		require.Equal(t, 1, grants, "nothing is provisioned again")
		require.Contains(t, b.notifications(t, g.RequestID), "grant_extended>usr_alice")
		require.Contains(t, b.notifications(t, r.ID), "request_decided>usr_bob")
		ext := b.events(t, "grant.extended")
		require.Len(t, ext, 1)
		require.Equal(t, "usr_bob", ext[0].ActorID)
		require.JSONEq(t, `{"by":"usr_bob","from":"2026-11-02T10:00:00Z","to":"2026-11-02T11:40:00Z",
			"expires_at":"2026-11-02T11:40:00Z","previous_expires_at":"2026-11-02T10:00:00Z","request":"`+r.ID+`"}`, string(ext[0].Data))

		// The old expiry passes: nothing is revoked.
		b.clock.Set(t0.Add(time.Hour))
		require.NoError(t, b.svc.Revoke(ctx, g.ID))
		res, err := b.svc.Sweep(ctx)
		require.NoError(t, err)
		require.Zero(t, res.Revocations)
		require.True(t, b.backend.Has("github", "alice@example.com", "read"))
		require.Equal(t, access.GrantActive, b.grant(t, g.ID).State)

		// The new one does.
		b.clock.Set(newExpiry)
		require.NoError(t, b.svc.Revoke(ctx, g.ID))
		require.Equal(t, access.GrantRevoked, b.grant(t, g.ID).State)
		require.False(t, b.backend.Has("github", "alice@example.com", "read"))
		verifyAudit(t, b.st)
	})
}

func TestExtensionRejectedLeavesTheGrant(t *testing.T) {
	t.Parallel()
	b := setup(t, openers()["sqlite"])
	ctx := t.Context()
	g := b.hold(t, "github:read")
	r, err := b.svc.RequestExtension(ctx, b.id("alice"), workflow.ExtensionParams{GrantID: g.ID, Duration: 3 * time.Hour, Reason: "more please"})
	require.NoError(t, err)
	r, err = b.svc.Decide(ctx, b.id("carol"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Reject, Comment: "finish tomorrow"})
	require.NoError(t, err)
	require.Equal(t, access.RequestRejected, r.State)
	require.Equal(t, g.ExpiresAt, b.grant(t, g.ID).ExpiresAt)
	require.Contains(t, b.notifications(t, r.ID), "request_rejected>usr_alice")
	require.Empty(t, b.events(t, "grant.extended"))

	b.clock.Set(g.ExpiresAt)
	require.NoError(t, b.svc.Revoke(ctx, g.ID))
	require.Equal(t, access.GrantRevoked, b.grant(t, g.ID).State, "still revoked at the first expiry")

	// A new request for it is an ordinary request again.
	r2 := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"github:read"}})
	require.False(t, r2.IsExtension())
}

func TestOverlappingRequestBecomesExtension(t *testing.T) {
	t.Parallel()
	b := setup(t, openers()["postgres"])
	ctx := t.Context()
	g := b.hold(t, "github:read")

	r := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"github:read"}, Duration: 3 * time.Hour})
	require.Equal(t, g.ID, r.ExtendsGrantID, "a request for what alice holds asks to extend it")
	require.Equal(t, access.RequestPending, r.State)
	require.Equal(t, 3*time.Hour, r.Duration)
	es := b.events(t, "request.submitted")
	require.Contains(t, string(es[0].Data), `"extends_grant":"`+g.ID+`"`)

	_, err := b.svc.Submit(ctx, b.id("alice"), workflow.SubmitParams{Entitlements: []string{"github:read"}, Reason: "again and again"})
	require.Equal(t, access.CodeConflict, access.ErrorCode(err))
	require.Contains(t, err.Error(), "pending extension request "+r.ID)
	_, err = b.svc.RequestExtension(ctx, b.id("alice"), workflow.ExtensionParams{GrantID: g.ID, Duration: 2 * time.Hour, Reason: "again and again"})
	require.Equal(t, access.CodeConflict, access.ErrorCode(err), "one pending extension per grant")

	_, err = b.svc.Cancel(ctx, b.id("alice"), r.ID)
	require.NoError(t, err)
	_, err = b.svc.Submit(ctx, b.id("alice"), workflow.SubmitParams{Entitlements: []string{"github:read", "github:admin"}, Reason: "both of them"})
	require.Equal(t, access.CodeConflict, access.ErrorCode(err))
	require.Contains(t, err.Error(), "separate request")

	// Someone else asking for the same entitlement is an ordinary request.
	other := b.submit(t, "dave", workflow.SubmitParams{Entitlements: []string{"github:read"}})
	require.False(t, other.IsExtension())
}

func TestExtensionRefusals(t *testing.T) { //nolint:tparallel // the checks after the cases need them finished
	t.Parallel()
	b := setupExt(t, openers()["sqlite"])
	ctx := t.Context()
	g := b.hold(t, "github:read")
	locked := b.hold(t, "locked:read")
	ended := b.hold(t, "ops:read")
	_, err := b.svc.RevokeNow(ctx, b.id("alice"), ended.ID, "done")
	require.NoError(t, err)
	b.clock.Advance(30 * time.Minute)

	tests := []struct {
		name  string
		who   string
		p     workflow.ExtensionParams
		code  access.Code
		field string
		msg   string
	}{
		{"someone else's grant", "mallory", workflow.ExtensionParams{GrantID: g.ID, Duration: time.Hour, Reason: "let me in"}, access.CodeForbidden, "", "only the holder"},
		{"an owner extends directly", "bob", workflow.ExtensionParams{GrantID: g.ID, Duration: time.Hour, Reason: "for alice"}, access.CodeForbidden, "", "only the holder"},
		{"past the entitlement's max", "alice", workflow.ExtensionParams{GrantID: g.ID, Duration: 5 * time.Hour, Reason: "a long one"}, access.CodeInvalid, "duration", "at most 4h"},
		{"not later than now", "alice", workflow.ExtensionParams{GrantID: g.ID, Duration: 10 * time.Minute, Reason: "a short one"}, access.CodeInvalid, "duration", "already lasts until"},
		{"reason rule", "alice", workflow.ExtensionParams{GrantID: g.ID, Duration: 2 * time.Hour}, access.CodeInvalid, "reason", ""},
		{"policy denies", "alice", workflow.ExtensionParams{GrantID: locked.ID, Duration: 2 * time.Hour}, access.CodeInvalid, "", "does not allow extensions"},
		{"grant ended", "alice", workflow.ExtensionParams{GrantID: ended.ID, Duration: 2 * time.Hour}, access.CodeConflict, "", "only active grants"},
		{"unknown grant", "alice", workflow.ExtensionParams{GrantID: "grt_nope", Duration: 2 * time.Hour}, access.CodeNotFound, "", ""},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				_, err := b.svc.RequestExtension(ctx, b.id(tc.who), tc.p)
				require.Error(t, err)
				require.Equal(t, tc.code, access.ErrorCode(err), err.Error())
				require.Contains(t, err.Error(), tc.msg)
				if tc.field != "" {
					var ae *access.Error
					require.ErrorAs(t, err, &ae)
					require.Equal(t, tc.field, ae.Fields[0].Field, err.Error())
				}
			})
		}
	})
	list, _, err := b.st.RequestList(ctx, store.RequestListParams{States: []access.RequestState{access.RequestPending}})
	require.NoError(t, err)
	require.Empty(t, list, "a refused extension leaves nothing behind")
	require.Equal(t, t0.Add(time.Hour), b.grant(t, g.ID).ExpiresAt)
	refused := b.events(t, "grant.extension_refused")
	require.Len(t, refused, 3, "forbidden and conflicting asks are audited (not input errors)")
	var actors []string
	for _, e := range refused {
		actors = append(actors, e.ActorID)
	}
	require.ElementsMatch(t, []string{"usr_mallory", "usr_bob", "usr_alice"}, actors)
}

func TestExtensionAutoRules(t *testing.T) {
	t.Parallel()
	b := setupExt(t, openers()["sqlite"])
	ctx := t.Context()
	g := b.hold(t, "ops:read")
	b.clock.Advance(30 * time.Minute)

	// 1h from now moves the expiry by 30m, within ops' auto_within 1h.
	r, err := b.svc.RequestExtension(ctx, b.id("alice"), workflow.ExtensionParams{GrantID: g.ID, Duration: time.Hour})
	require.NoError(t, err)
	require.Equal(t, access.RequestExtended, r.State)
	require.Equal(t, "ops/extension:auto_within 1h", r.AutoApproveRule)
	require.Equal(t, t0.Add(90*time.Minute), b.grant(t, g.ID).ExpiresAt)
	ext := b.events(t, "grant.extended")
	require.Len(t, ext, 1)
	require.Equal(t, access.SystemActor, ext[0].ActorID)

	// 3h from now moves it by 2h: bob must approve.
	r, err = b.svc.RequestExtension(ctx, b.id("alice"), workflow.ExtensionParams{GrantID: g.ID, Duration: 3 * time.Hour})
	require.NoError(t, err)
	require.Equal(t, access.RequestPending, r.State)
	require.Equal(t, t0.Add(90*time.Minute), b.grant(t, g.ID).ExpiresAt)

	// easy: always at once; its connector's own expiry moves too, and the
	// credentials it re-issues wait for the holder.
	e := b.hold(t, "easy:read")
	b.enq.extend = nil
	r, err = b.svc.RequestExtension(ctx, b.id("alice"), workflow.ExtensionParams{GrantID: e.ID, Duration: 4 * time.Hour})
	require.NoError(t, err)
	require.Equal(t, access.RequestExtended, r.State)
	require.Equal(t, "easy/extension:auto", r.AutoApproveRule)
	want := b.clock.Now().Add(4 * time.Hour)
	require.Equal(t, want, b.grant(t, e.ID).ExpiresAt)
	require.Equal(t, []string{e.ID}, b.enq.extend)
	require.NoError(t, b.svc.ExtendTarget(ctx, e.ID))
	require.NoError(t, b.svc.ExtendTarget(ctx, g.ID), "a connector without its own expiry has nothing to do")
	require.Equal(t, []time.Time{want}, b.stretch.moved)
	creds, err := b.svc.TakeCredentials(ctx, b.id("alice"), e.ID)
	require.NoError(t, err)
	require.Equal(t, "cert-until-"+want.Format(time.RFC3339), creds.Secret)
	require.Len(t, b.events(t, "grant.target_extended"), 1)
	require.Equal(t, 2, countOf(b.notifications(t, e.RequestID), "grant_extended>usr_alice"), "extended, then new credentials waiting")

	// A target that refuses for good is audited and its owners alerted;
	// the grant stays extended in Sesame.
	b.stretch.fail = connector.Permanent(context.DeadlineExceeded)
	require.NoError(t, b.svc.ExtendTarget(ctx, e.ID))
	require.Len(t, b.events(t, "grant.target_extend_failed"), 1)
	require.Contains(t, b.notifications(t, e.RequestID), "grant_failed>usr_bob")
	require.Equal(t, want, b.grant(t, e.ID).ExpiresAt)
	// A passing failure is retried by the job queue.
	b.stretch.fail = context.DeadlineExceeded
	var re *workflow.RetryableError
	require.ErrorAs(t, b.svc.ExtendTarget(ctx, e.ID), &re)
}

// A grant that ends (revoked at expiry, or early) takes its pending
// extension requests with it: they are cancelled, audited, and nobody can
// approve them any more.
func TestExtensionCancelledWhenTheGrantEnds(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, open opener) {
		b := setup(t, open)
		ctx := t.Context()
		g := b.hold(t, "github:read")
		r, err := b.svc.RequestExtension(ctx, b.id("alice"), workflow.ExtensionParams{GrantID: g.ID, Duration: 2 * time.Hour, Reason: "need more time"})
		require.NoError(t, err)
		require.Equal(t, access.RequestPending, r.State)
		other := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"github:admin"}, Duration: time.Hour, Reason: "another thing"})
		require.Equal(t, access.RequestPending, other.State)
		b.clock.Set(g.ExpiresAt)
		require.NoError(t, b.svc.Revoke(ctx, g.ID))

		got, err := b.st.RequestGetByID(ctx, r.ID, false)
		require.NoError(t, err)
		require.Equal(t, access.RequestCancelled, got.State)
		evs := b.events(t, "request.cancelled")
		require.Len(t, evs, 1)
		require.Equal(t, access.SystemActor, evs[0].ActorID)
		require.Equal(t, r.ID, evs[0].SubjectID)

		_, err = b.svc.Decide(ctx, b.id("bob"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
		require.Error(t, err, "a cancelled extension cannot be approved")
		require.Equal(t, access.GrantRevoked, b.grant(t, g.ID).State, "a revoked grant is never brought back")

		// Another pending request of alice's for the same app is left alone.
		got, err = b.st.RequestGetByID(ctx, other.ID, false)
		require.NoError(t, err)
		require.Equal(t, access.RequestPending, got.State)
	})
}

func TestDirectExtendByOwner(t *testing.T) {
	t.Parallel()
	b := setupExt(t, openers()["sqlite"])
	ctx := t.Context()
	g := b.hold(t, "easy:read")
	b.enq.revoke, b.enq.extend = nil, nil
	got, err := b.svc.Extend(ctx, b.id("bob"), g.ID, 3*time.Hour)
	require.NoError(t, err)
	require.Equal(t, g.ID, got.ID)
	require.Equal(t, t0.Add(3*time.Hour), got.ExpiresAt)
	require.Equal(t, []string{g.ID}, b.enq.revoke)
	require.Equal(t, []string{g.ID}, b.enq.extend)
	require.True(t, slices.Contains(b.notifications(t, g.RequestID), "grant_extended>usr_alice"), "the holder is told")
}

// An admin who holds a grant cannot extend it directly: the holder asks
// like anyone else, so no one extends their own access unreviewed.
func TestDirectExtendRefusesAdminHolder(t *testing.T) {
	t.Parallel()
	b := setupExt(t, openers()["sqlite"])
	ctx := t.Context()
	g := b.hold(t, "ops:read")
	alice, err := b.st.UserGetByID(ctx, b.id("alice"))
	require.NoError(t, err)
	alice.Roles = []access.Role{access.RoleAdmin}
	require.NoError(t, b.st.UserUpsert(ctx, alice))

	_, err = b.svc.Extend(ctx, alice.ID, g.ID, 3*time.Hour)
	require.ErrorIs(t, err, access.ErrNotEligible)
	require.Equal(t, g.ExpiresAt, b.grant(t, g.ID).ExpiresAt, "the grant is unchanged")
	require.Len(t, b.events(t, "grant.extend_refused"), 1)

	_, err = b.svc.Extend(ctx, b.id("carol"), g.ID, 3*time.Hour)
	require.NoError(t, err, "another admin still may")
}
