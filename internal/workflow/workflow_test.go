package workflow_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/fake"
	"github.com/sesame-access/sesame/internal/connector/manual"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/secrets"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/postgres"
	"github.com/sesame-access/sesame/internal/store/sqlite"
	"github.com/sesame-access/sesame/internal/workflow"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// recorder is an Enqueuer that remembers what was enqueued, so tests run
// the jobs themselves.
type recorder struct {
	mu        sync.Mutex
	provision []string
	revoke    []string
	deliver   []string
	timeout   []string
	remind    []string
	extend    []string
	revokeDue []string
}

func (r *recorder) Enqueue(_ context.Context, b workflow.Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.provision = append(r.provision, b.Provision...)
	r.provision = append(r.provision, b.ProvisionEach...)
	for _, t := range b.Revoke {
		r.revoke = append(r.revoke, t.ID)
	}
	r.deliver = append(r.deliver, b.Deliver...)
	for _, t := range b.TimeOut {
		r.timeout = append(r.timeout, t.ID)
	}
	for _, t := range b.Remind {
		r.remind = append(r.remind, t.ID)
	}
	for _, t := range b.ExtendTarget {
		r.extend = append(r.extend, t.ID)
	}
	for _, t := range b.RevokeDue {
		r.revokeDue = append(r.revokeDue, t.ID)
	}
	return nil
}

type testBundle struct {
	st      store.Store
	clock   *clock.Fake
	svc     *workflow.Service
	backend *fake.Backend
	enq     *recorder
	users   map[string]*access.User // by short name
}

// policies used by the tests: github needs one owner approval (the
// requester picks); aws-prod needs the manager then two security people.
func testPolicies() []policy.Policy {
	return []policy.Policy{
		{ID: "default", Default: true, MaxDuration: 8 * time.Hour, DefaultDuration: time.Hour,
			Steps:  []policy.StepRule{{Name: "Owner approval", Approvers: policy.ApproverRule{AppOwners: true}, RequesterChooses: true}},
			Reason: policy.ReasonRule{Required: true, MinLength: 5}},
		{ID: "aws", Match: policy.Match{Apps: []string{"aws-prod"}}, MaxDuration: 2 * time.Hour,
			Steps: []policy.StepRule{
				{Name: "Manager", Approvers: policy.ApproverRule{Manager: true}},
				{Name: "Security", Approvers: policy.ApproverRule{Groups: []string{"security"}}, Required: 2},
			}},
		{ID: "nobody", Match: policy.Match{Apps: []string{"orphan"}},
			Steps: []policy.StepRule{{Name: "Owners", Approvers: policy.ApproverRule{AppOwners: true}}}},
	}
}

type opener func(t *testing.T) store.Store

func openers() map[string]opener {
	return map[string]opener{
		"sqlite":   func(t *testing.T) store.Store { return sqlite.OpenTest(t) },
		"postgres": func(t *testing.T) store.Store { return postgres.OpenTest(t) },
	}
}

// setupOptions change what setup builds.
type setupOptions struct {
	// policies replace testPolicies().
	policies []policy.Policy
	// register adds connector types.
	register func(reg *connector.Registry)
}

func setup(t *testing.T, open opener, opts ...func(o *setupOptions)) *testBundle {
	t.Helper()
	ctx := t.Context()
	o := setupOptions{policies: testPolicies(), register: func(*connector.Registry) {}}
	for _, f := range opts {
		f(&o)
	}
	b := &testBundle{st: open(t), clock: clock.NewFake(t0), backend: fake.NewBackend(), enq: &recorder{}, users: map[string]*access.User{}}
	engine, err := policy.New(o.policies, 12*time.Hour)
	require.NoError(t, err)
	reg := connector.NewRegistry()
	reg.Register(fake.TypeName, b.backend.Factory())
	reg.Register(manual.TypeName, manual.New)
	reg.Register("issuer", func(map[string]string) (connector.Connector, error) { return issuer{}, nil })
	o.register(reg)
	box, err := secrets.New(make([]byte, secrets.KeySize))
	require.NoError(t, err)
	b.svc, err = workflow.New(workflow.Config{Store: b.st, Clock: b.clock, Policy: engine, Connectors: reg, ProvisionAttempts: 3, Secrets: box})
	require.NoError(t, err)
	b.svc.SetEnqueuer(b.enq)

	for _, u := range []struct {
		id, manager string
		groups      []string
		roles       []access.Role
	}{
		{"alice", "bob", []string{"eng"}, nil},
		{"bob", "", []string{"eng"}, nil},
		{"carol", "", []string{"security"}, []access.Role{access.RoleAdmin}},
		{"dave", "", []string{"security"}, nil},
		{"erin", "", []string{"security"}, nil},
		{"mallory", "", nil, nil},
	} {
		usr := &access.User{ID: "usr_" + u.id, Email: u.id + "@example.com", Name: u.id, Groups: u.groups, Roles: u.roles,
			Status: access.UserActive, CreatedAt: t0, UpdatedAt: t0}
		if u.manager != "" {
			usr.ManagerID = "usr_" + u.manager
		}
		require.NoError(t, b.st.UserUpsert(ctx, usr))
		b.users[u.id] = usr
	}
	for _, app := range []*access.App{
		{ID: "github", Name: "GitHub", ConnectorType: fake.TypeName, Owners: []string{"usr_bob", "usr_carol"}, Source: access.SourceConfig},
		{ID: "aws-prod", Name: "AWS", ConnectorType: fake.TypeName, Owners: []string{"usr_carol"}, Source: access.SourceConfig},
		{ID: "grafana", Name: "Grafana", ConnectorType: manual.TypeName, Owners: []string{"usr_bob"}, Source: access.SourceConfig},
		{ID: "broken", Name: "Broken", ConnectorType: fake.TypeName, ConnectorSettings: map[string]string{"fail": "grant"}, Owners: []string{"usr_bob"}, Source: access.SourceConfig},
		{ID: "denied", Name: "Denied", ConnectorType: fake.TypeName, ConnectorSettings: map[string]string{"deny": "both"}, Owners: []string{"usr_bob"}, Source: access.SourceConfig},
		{ID: "orphan", Name: "Orphan", ConnectorType: fake.TypeName, Source: access.SourceConfig},
		{ID: "vault", Name: "Vault", ConnectorType: "issuer", Owners: []string{"usr_bob"}, Source: access.SourceConfig},
	} {
		app.CreatedAt, app.UpdatedAt = t0, t0
		require.NoError(t, b.st.AppUpsert(ctx, app))
		for _, key := range []string{"read", "admin"} {
			require.NoError(t, b.st.EntitlementUpsert(ctx, &access.Entitlement{ID: access.EntitlementID(app.ID, key), AppID: app.ID, Key: key,
				Name: key, Requestable: true, Risk: access.RiskLow, MaxDuration: 4 * time.Hour, CreatedAt: t0, UpdatedAt: t0}))
		}
	}
	return b
}

func (b *testBundle) id(name string) string { return b.users[name].ID }

func (b *testBundle) submit(t *testing.T, who string, p workflow.SubmitParams) *access.Request {
	t.Helper()
	if p.Reason == "" {
		p.Reason = "incident 42 needs it"
	}
	r, err := b.svc.Submit(t.Context(), b.id(who), p)
	require.NoError(t, err)
	return r
}

func (b *testBundle) grants(t *testing.T, reqID string) []*access.Grant {
	t.Helper()
	gs, err := b.st.GrantListByRequest(t.Context(), reqID)
	require.NoError(t, err)
	return gs
}

func (b *testBundle) notifications(t *testing.T, reqID string) []string {
	t.Helper()
	ns, err := b.st.NotificationListByRequest(t.Context(), reqID)
	require.NoError(t, err)
	var out []string
	for _, n := range ns {
		out = append(out, string(n.Kind)+">"+n.RecipientID)
	}
	slices.Sort(out)
	return out
}

func verifyAudit(t *testing.T, st store.Store) int64 {
	t.Helper()
	var v access.ChainVerifier
	after := int64(0)
	for {
		es, err := st.EventListAfter(t.Context(), after, 200)
		require.NoError(t, err)
		if len(es) == 0 {
			return v.Count
		}
		for _, e := range es {
			require.NoError(t, v.Next(e))
			after = e.Seq
		}
	}
}

func forEachDB(t *testing.T, fn func(t *testing.T, open opener)) {
	for name, open := range openers() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, open)
		})
	}
}

func TestRequestLifecycle(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, open opener) {
		b := setup(t, open)
		ctx := t.Context()
		r := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"github:admin", "github:read"}, Duration: 2 * time.Hour,
			Approvers: []string{"bob@example.com"}})
		require.Equal(t, access.RequestPending, r.State)
		require.Equal(t, []string{"usr_bob"}, r.Steps[0].Notified)
		require.ElementsMatch(t, []string{"usr_bob", "usr_carol"}, r.Steps[0].Eligible)
		require.Equal(t, []string{"approval_requested>usr_bob", "request_created>usr_alice"}, b.notifications(t, r.ID))
		require.Empty(t, b.enq.timeout, "timeouts come from the sweeper")
		require.Len(t, b.enq.deliver, 2)

		// carol was not chosen but is eligible: she may approve, with a shorter duration.
		r, err := b.svc.Decide(ctx, b.id("carol"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve, Comment: "ok", Duration: 90 * time.Minute})
		require.NoError(t, err)
		require.Equal(t, access.RequestApproved, r.State)
		require.Equal(t, 90*time.Minute, r.Duration)
		gs := b.grants(t, r.ID)
		require.Len(t, gs, 2, "one grant per entitlement")
		require.ElementsMatch(t, []string{gs[0].ID, gs[1].ID}, b.enq.provision)

		for _, g := range gs {
			require.NoError(t, b.svc.Provision(ctx, g.ID))
			require.NoError(t, b.svc.Provision(ctx, g.ID), "a second run is a no-op")
		}
		grants, _ := b.backend.Counts()
		require.Equal(t, 2, grants)
		require.True(t, b.backend.Has("github", "alice@example.com", "admin"))
		r, _, err = b.svc.GetRequest(ctx, b.id("alice"), r.ID)
		require.NoError(t, err)
		require.Equal(t, access.RequestActive, r.State)
		for _, g := range b.grants(t, r.ID) {
			require.Equal(t, access.GrantActive, g.State)
			require.Equal(t, t0.Add(90*time.Minute), g.ExpiresAt)
		}

		// Too early: nothing happens.
		require.NoError(t, b.svc.Revoke(ctx, gs[0].ID))
		require.True(t, b.backend.Has("github", "alice@example.com", "admin"))
		// Due: both revoked; the request expires.
		b.clock.Advance(90 * time.Minute)
		res, err := b.svc.Sweep(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, res.Revocations)
		for _, g := range gs {
			require.NoError(t, b.svc.Revoke(ctx, g.ID))
			require.NoError(t, b.svc.Revoke(ctx, g.ID))
		}
		_, revokes := b.backend.Counts()
		require.Equal(t, 2, revokes)
		require.Empty(t, b.backend.Granted())
		r, _, err = b.svc.GetRequest(ctx, b.id("alice"), r.ID)
		require.NoError(t, err)
		require.Equal(t, access.RequestExpired, r.State)
		require.Equal(t, []string{
			"approval_requested>usr_bob", "grant_active>usr_alice", "grant_active>usr_alice", "grant_revoked>usr_alice", "grant_revoked>usr_alice",
			"request_approved>usr_alice", "request_created>usr_alice", "request_decided>usr_bob",
		}, b.notifications(t, r.ID))
		require.Greater(t, verifyAudit(t, b.st), int64(8))
	})
}

func TestMultiStepPolicy(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, open opener) {
		b := setup(t, open)
		ctx := t.Context()
		r := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"aws-prod:admin"}, Duration: time.Hour})
		require.Equal(t, "aws", r.PolicyID)
		require.Len(t, r.Steps, 2)
		require.Equal(t, []string{"usr_bob"}, r.Steps[0].Notified)

		_, err := b.svc.Decide(ctx, b.id("dave"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
		require.ErrorIs(t, err, access.ErrNotEligible, "step 2 approver cannot act at step 1")
		r, err = b.svc.Decide(ctx, b.id("bob"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
		require.NoError(t, err)
		require.Equal(t, 1, r.CurrentStep)
		require.Contains(t, b.notifications(t, r.ID), "approval_requested>usr_dave")
		r, err = b.svc.Decide(ctx, b.id("dave"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
		require.NoError(t, err)
		require.Equal(t, access.RequestPending, r.State, "step 2 needs two")
		r, err = b.svc.Decide(ctx, b.id("erin"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
		require.NoError(t, err)
		require.Equal(t, access.RequestApproved, r.State)
	})
}

func TestSubmitValidation(t *testing.T) { //nolint:tparallel // the checks after the cases need them finished
	t.Parallel()
	b := setup(t, openers()["sqlite"])
	tests := []struct {
		name  string
		who   string
		p     workflow.SubmitParams
		code  access.Code
		field string
	}{
		{"no entitlements", "alice", workflow.SubmitParams{Reason: "because of x"}, access.CodeInvalid, "entitlements"},
		{"unknown entitlement", "alice", workflow.SubmitParams{Entitlements: []string{"github:nope"}, Reason: "because of x"}, access.CodeInvalid, "entitlements[0]"},
		{"two apps", "alice", workflow.SubmitParams{Entitlements: []string{"github:read", "aws-prod:read"}, Reason: "because of x"}, access.CodeInvalid, "entitlements[1]"},
		{"duplicate", "alice", workflow.SubmitParams{Entitlements: []string{"github:read", "github:read"}, Reason: "because of x"}, access.CodeInvalid, "entitlements[1]"},
		{"too long for entitlement", "alice", workflow.SubmitParams{Entitlements: []string{"github:read"}, Duration: 5 * time.Hour, Reason: "because of x"}, access.CodeInvalid, "duration"},
		{"negative", "alice", workflow.SubmitParams{Entitlements: []string{"github:read"}, Duration: -time.Hour, Reason: "because of x"}, access.CodeInvalid, "duration"},
		{"no reason", "alice", workflow.SubmitParams{Entitlements: []string{"github:read"}}, access.CodeInvalid, "reason"},
		{"short reason", "alice", workflow.SubmitParams{Entitlements: []string{"github:read"}, Reason: "x"}, access.CodeInvalid, "reason"},
		{"chosen approver not eligible", "alice", workflow.SubmitParams{Entitlements: []string{"github:read"}, Reason: "because of x", Approvers: []string{"mallory@example.com"}}, access.CodeInvalid, "approvers"},
		{"unknown approver", "alice", workflow.SubmitParams{Entitlements: []string{"github:read"}, Reason: "because of x", Approvers: []string{"ghost@example.com"}}, access.CodeInvalid, "approvers"},
		{"nobody can approve", "alice", workflow.SubmitParams{Entitlements: []string{"orphan:read"}, Reason: "because of x"}, access.CodeInvalid, ""},
		{"only approver is the requester", "carol", workflow.SubmitParams{Entitlements: []string{"aws-prod:read"}, Reason: "because of x"}, access.CodeInvalid, ""},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				_, err := b.svc.Submit(t.Context(), b.id(tc.who), tc.p)
				require.Error(t, err)
				require.Equal(t, tc.code, access.ErrorCode(err), err.Error())
				var ae *access.Error
				require.ErrorAs(t, err, &ae)
				if tc.field != "" {
					require.NotEmpty(t, ae.Fields, err.Error())
					require.Equal(t, tc.field, ae.Fields[0].Field, err.Error())
				}
			})
		}
	})
	n, _, err := b.st.RequestList(t.Context(), store.RequestListParams{})
	require.NoError(t, err)
	require.Empty(t, n, "a refused request leaves nothing behind")

	_, err = b.svc.Submit(t.Context(), "usr_ghost", workflow.SubmitParams{Entitlements: []string{"github:read"}, Reason: "because of x"})
	require.Equal(t, access.CodeUnauthorized, access.ErrorCode(err))

	// Default duration from the policy; overlapping a pending request is refused.
	r := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"github:read"}})
	require.Equal(t, time.Hour, r.Duration)
	_, err = b.svc.Submit(t.Context(), b.id("alice"), workflow.SubmitParams{Entitlements: []string{"github:read"}, Reason: "because of x"})
	require.Equal(t, access.CodeConflict, access.ErrorCode(err))
	require.Contains(t, err.Error(), "already have a pending request")
}

func TestDecisionRefusalsAreAudited(t *testing.T) {
	t.Parallel()
	b := setup(t, openers()["sqlite"])
	ctx := t.Context()
	r := b.submit(t, "bob", workflow.SubmitParams{Entitlements: []string{"github:read"}})
	_, err := b.svc.Decide(ctx, b.id("bob"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
	require.ErrorIs(t, err, access.ErrSelfApproval)
	_, err = b.svc.Decide(ctx, b.id("mallory"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
	require.ErrorIs(t, err, access.ErrNotEligible)
	_, err = b.svc.Decide(ctx, b.id("carol"), workflow.DecideParams{RequestID: "req_nope", Outcome: access.Approve})
	require.Equal(t, access.CodeNotFound, access.ErrorCode(err))

	es, _, err := b.st.EventList(ctx, store.EventListParams{Action: "request.decision_refused"})
	require.NoError(t, err)
	require.Len(t, es, 2)
	got, _, err := b.svc.GetRequest(ctx, b.id("bob"), r.ID)
	require.NoError(t, err)
	require.Equal(t, access.RequestPending, got.State)
	require.Empty(t, got.Decisions)
}

// TestConcurrentApprovals races approvers on one request: with one approval
// required, exactly one provisioning results and every decision is either
// recorded or refused; the same approver racing itself decides once.
func TestConcurrentApprovals(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, open opener) {
		b := setup(t, open)
		ctx := t.Context()
		r := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"github:read"}})
		deciders := []string{"bob", "carol", "bob", "carol", "bob", "carol"}
		var wg sync.WaitGroup
		errs := make([]error, len(deciders))
		for i, who := range deciders {
			wg.Go(func() {
				_, errs[i] = b.svc.Decide(ctx, b.id(who), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			require.Equal(t, access.CodeConflict, access.ErrorCode(err), err.Error())
		}
		require.Equal(t, 1, ok, "one approval closes the request; the rest are refused")
		got, gs, err := b.svc.GetRequest(ctx, b.id("alice"), r.ID)
		require.NoError(t, err)
		require.Len(t, got.Decisions, 1)
		require.Len(t, gs, 1)
		require.Len(t, b.enq.provision, 1)

		// Two steps needing two: the same person racing twice counts once.
		r2 := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"aws-prod:read"}, Duration: time.Hour})
		_, err = b.svc.Decide(ctx, b.id("bob"), workflow.DecideParams{RequestID: r2.ID, Outcome: access.Approve})
		require.NoError(t, err)
		errs = make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = b.svc.Decide(ctx, b.id("dave"), workflow.DecideParams{RequestID: r2.ID, Outcome: access.Approve})
			})
		}
		wg.Wait()
		ok = 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				require.ErrorIs(t, err, access.ErrAlreadyDecided)
			}
		}
		require.Equal(t, 1, ok)
		got, gs, err = b.svc.GetRequest(ctx, b.id("alice"), r2.ID)
		require.NoError(t, err)
		require.Equal(t, access.RequestPending, got.State)
		require.Len(t, got.Decisions, 2)
		require.Empty(t, gs)
		verifyAudit(t, b.st)
	})
}

// TestProvisionGivesTheTargetItsExpiry checks the connector is told when
// access ends (a login's VALID UNTIL, a certificate's validity) at the
// first provisioning, and the grant ends then too, even though the
// connector took a while.
func TestProvisionGivesTheTargetItsExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t, openers()["sqlite"])
	ctx := t.Context()
	r := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"github:admin"}, Duration: 2 * time.Hour,
		Approvers: []string{"bob@example.com"}})
	_, err := b.svc.Decide(ctx, b.id("bob"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
	require.NoError(t, err)
	start := b.clock.Now()
	var given time.Time
	b.backend.GrantFunc = func(tg connector.Target) error {
		given = tg.ExpiresAt
		b.clock.Advance(7 * time.Second) // the target is slow
		return nil
	}
	g := b.grants(t, r.ID)[0]
	require.NoError(t, b.svc.Provision(ctx, g.ID))
	g = b.grants(t, r.ID)[0]
	require.Equal(t, access.GrantActive, g.State)
	require.Equal(t, start.Add(2*time.Hour), given, "the connector gets the expiry")
	require.Equal(t, given, g.ExpiresAt, "the grant ends when the target's access does")
	require.Equal(t, given, g.TargetExpiresAt)
	require.Equal(t, start.Add(7*time.Second), g.ActivatedAt)
	require.False(t, g.TargetBehind())
}

// TestRevokeDuringProvisioningTakesTheLateGrantBack revokes a grant while
// its connector call is granting: the call completes after the revocation
// found nothing to take, so provisioning puts the grant back to revoking
// and has it revoked, and the target ends without the access.
func TestRevokeDuringProvisioningTakesTheLateGrantBack(t *testing.T) {
	t.Parallel()
	for name, open := range openers() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, open)
			ctx := t.Context()
			r := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"github:admin"}, Duration: time.Hour,
				Approvers: []string{"bob@example.com"}})
			_, err := b.svc.Decide(ctx, b.id("bob"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
			require.NoError(t, err)
			g := b.grants(t, r.ID)[0]
			b.backend.GrantFunc = func(connector.Target) error {
				// An admin revokes while the target is still granting.
				_, err := b.svc.RevokeNow(ctx, b.id("carol"), g.ID, "approved by mistake")
				require.NoError(t, err)
				return nil
			}
			require.NoError(t, b.svc.Provision(ctx, g.ID))
			require.True(t, b.backend.Has("github", "alice@example.com", "admin"), "the target granted")
			g = b.grants(t, r.ID)[0]
			require.Equal(t, access.GrantRevoking, g.State, "the late grant is taken back")
			require.Contains(t, b.enq.revokeDue, g.ID, "its revocation runs at once")
			require.NoError(t, b.svc.Revoke(ctx, g.ID))
			require.False(t, b.backend.Has("github", "alice@example.com", "admin"))
			g = b.grants(t, r.ID)[0]
			require.Equal(t, access.GrantRevoked, g.State)
			es, _, err := b.st.EventList(ctx, store.EventListParams{SubjectID: g.ID, Page: store.Page{Limit: 50}})
			require.NoError(t, err)
			var actions []string
			for _, e := range es {
				actions = append(actions, e.Action)
			}
			require.Contains(t, actions, "grant.late_grant_revoking")
			verifyAudit(t, b.st)
		})
	}
}

// TestRevokeRetriesWhenTheGrantChangedDuringTheCall changes a revoking
// grant while the target is revoking it (as provisioning does when a
// late grant lands: back to revoking, a new version): the revocation is
// not recorded on the strength of that call, and the next run takes the
// access away and records it.
func TestRevokeRetriesWhenTheGrantChangedDuringTheCall(t *testing.T) {
	t.Parallel()
	b := setup(t, openers()["sqlite"])
	ctx := t.Context()
	r := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"github:admin"}, Duration: time.Hour,
		Approvers: []string{"bob@example.com"}})
	_, err := b.svc.Decide(ctx, b.id("bob"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
	require.NoError(t, err)
	g := b.grants(t, r.ID)[0]
	require.NoError(t, b.svc.Provision(ctx, g.ID))
	_, err = b.svc.RevokeNow(ctx, b.id("carol"), g.ID, "done")
	require.NoError(t, err)
	conn, err := b.backend.Factory()(nil)
	require.NoError(t, err)
	var target connector.Target
	b.backend.RevokeFunc = func(tg connector.Target) error {
		target = tg
		b.backend.RevokeFunc = nil
		return b.st.InTx(ctx, func(q store.Queries) error {
			cur, err := q.GrantGetByID(ctx, g.ID, true)
			if err != nil {
				return err
			}
			if err := cur.RevokeLateGrant(b.clock.Now()); err != nil {
				return err
			}
			return q.GrantUpdate(ctx, cur)
		})
	}
	err = b.svc.Revoke(ctx, g.ID)
	require.ErrorContains(t, err, "changed while its access was being revoked")
	require.Equal(t, access.GrantRevoking, b.grants(t, r.ID)[0].State, "not recorded revoked")
	// The late grant lands after that call.
	require.NoError(t, conn.Grant(ctx, target))
	require.True(t, b.backend.Has("github", "alice@example.com", "admin"))
	require.NoError(t, b.svc.Revoke(ctx, g.ID), "the retry")
	require.False(t, b.backend.Has("github", "alice@example.com", "admin"))
	require.Equal(t, access.GrantRevoked, b.grants(t, r.ID)[0].State)
}

func TestProvisionFailures(t *testing.T) {
	t.Parallel()
	b := setup(t, openers()["sqlite"])
	ctx := t.Context()

	// Retryable failures until the last attempt.
	r := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"broken:read"}})
	_, err := b.svc.Decide(ctx, b.id("bob"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
	require.NoError(t, err)
	g := b.grants(t, r.ID)[0]
	for attempt := 1; attempt <= 2; attempt++ {
		err := b.svc.Provision(ctx, g.ID)
		var re *workflow.RetryableError
		require.ErrorAs(t, err, &re, "attempt %d", attempt)
	}
	require.NoError(t, b.svc.Provision(ctx, g.ID), "the last attempt fails the grant and ends the job")
	g, err = b.st.GrantGetByID(ctx, g.ID, false)
	require.NoError(t, err)
	require.Equal(t, access.GrantFailed, g.State)
	require.Equal(t, 3, g.Attempts)
	require.Contains(t, g.LastError, "unavailable")
	got, _, err := b.svc.GetRequest(ctx, b.id("alice"), r.ID)
	require.NoError(t, err)
	require.Equal(t, access.RequestFailed, got.State)
	require.Contains(t, b.notifications(t, r.ID), "grant_failed>usr_alice")
	require.Contains(t, b.notifications(t, r.ID), "grant_failed>usr_bob", "app owners are alerted")

	// A permanent error fails at once.
	r = b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"denied:read"}})
	_, err = b.svc.Decide(ctx, b.id("bob"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
	require.NoError(t, err)
	g = b.grants(t, r.ID)[0]
	require.NoError(t, b.svc.Provision(ctx, g.ID))
	g, err = b.st.GrantGetByID(ctx, g.ID, false)
	require.NoError(t, err)
	require.Equal(t, access.GrantFailed, g.State)
	require.Equal(t, 1, g.Attempts)
}

func TestRevokeFailureIsLoudAndRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, openers()["sqlite"])
	ctx := t.Context()
	r := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"github:read"}})
	_, err := b.svc.Decide(ctx, b.id("bob"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
	require.NoError(t, err)
	g := b.grants(t, r.ID)[0]
	require.NoError(t, b.svc.Provision(ctx, g.ID))

	fail := true
	b.backend.RevokeFunc = func(connector.Target) error {
		if fail {
			return errors.New("target down")
		}
		return nil
	}
	b.clock.Advance(2 * time.Hour)
	for range 3 {
		var re *workflow.RetryableError
		require.ErrorAs(t, b.svc.Revoke(ctx, g.ID), &re)
	}
	g, err = b.st.GrantGetByID(ctx, g.ID, false)
	require.NoError(t, err)
	require.Equal(t, access.GrantRevokeFailed, g.State)
	ns := b.notifications(t, r.ID)
	require.Equal(t, 1, countOf(ns, "revoke_failed>usr_bob"), "owners alerted once, not per retry")
	require.Equal(t, 1, countOf(ns, "revoke_failed>usr_carol"))

	b.clock.Advance(5 * time.Minute)
	res, err := b.svc.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, res.RetryRevokes, "the sweeper keeps retrying")
	fail = false
	require.NoError(t, b.svc.Revoke(ctx, g.ID))
	g, err = b.st.GrantGetByID(ctx, g.ID, false)
	require.NoError(t, err)
	require.Equal(t, access.GrantRevoked, g.State)
	require.False(t, b.backend.Has("github", "alice@example.com", "read"))
}

func countOf(xs []string, x string) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

func TestManualConnectorTask(t *testing.T) {
	t.Parallel()
	b := setup(t, openers()["sqlite"])
	ctx := t.Context()
	r := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"grafana:admin"}})
	_, err := b.svc.Decide(ctx, b.id("bob"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
	require.NoError(t, err)
	g := b.grants(t, r.ID)[0]
	require.NoError(t, b.svc.Provision(ctx, g.ID))
	g, err = b.st.GrantGetByID(ctx, g.ID, false)
	require.NoError(t, err)
	require.Equal(t, access.GrantProvisioning, g.State)
	require.Contains(t, g.ManualTask, `Grant "admin" in grafana for alice <alice@example.com>`)
	require.Contains(t, b.notifications(t, r.ID), "manual_task>usr_bob")

	_, err = b.svc.CompleteTask(ctx, b.id("alice"), g.ID)
	require.Equal(t, access.CodeForbidden, access.ErrorCode(err), "the holder cannot mark their own access done")
	g, err = b.svc.CompleteTask(ctx, b.id("bob"), g.ID)
	require.NoError(t, err)
	require.Equal(t, access.GrantActive, g.State)

	g, err = b.svc.RevokeNow(ctx, b.id("alice"), g.ID, "done")
	require.NoError(t, err)
	require.Equal(t, access.GrantRevoking, g.State)
	require.NoError(t, b.svc.Revoke(ctx, g.ID))
	g, err = b.st.GrantGetByID(ctx, g.ID, false)
	require.NoError(t, err)
	require.Contains(t, g.ManualTask, "Remove")
	g, err = b.svc.CompleteTask(ctx, b.id("bob"), g.ID)
	require.NoError(t, err)
	require.Equal(t, access.GrantRevoked, g.State)
}

func TestCancelRemindTimeoutExtend(t *testing.T) {
	t.Parallel()
	b := setup(t, openers()["sqlite"])
	ctx := t.Context()
	r := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"github:read"}})
	_, err := b.svc.Remind(ctx, b.id("alice"), r.ID)
	require.NoError(t, err)
	_, err = b.svc.Remind(ctx, b.id("alice"), r.ID)
	require.Equal(t, access.CodeRateLimited, access.ErrorCode(err))
	b.clock.Advance(31 * time.Minute)
	_, err = b.svc.Remind(ctx, b.id("alice"), r.ID)
	require.NoError(t, err)
	require.Equal(t, 2, countOf(b.notifications(t, r.ID), "reminder>usr_bob"))

	_, err = b.svc.Cancel(ctx, b.id("bob"), r.ID)
	require.Equal(t, access.CodeForbidden, access.ErrorCode(err))
	r, err = b.svc.Cancel(ctx, b.id("alice"), r.ID)
	require.NoError(t, err)
	require.Equal(t, access.RequestCancelled, r.State)
	_, err = b.svc.Decide(ctx, b.id("bob"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
	require.ErrorIs(t, err, access.ErrInvalidTransition)

	// Timeout.
	r = b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"github:read"}})
	var nd *workflow.NotDueError
	require.ErrorAs(t, b.svc.TimeOut(ctx, r.ID), &nd)
	b.clock.Advance(25 * time.Hour)
	res, err := b.svc.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, res.TimeOuts)
	require.NoError(t, b.svc.TimeOut(ctx, r.ID))
	got, _, err := b.svc.GetRequest(ctx, b.id("alice"), r.ID)
	require.NoError(t, err)
	require.Equal(t, access.RequestTimedOut, got.State)
	require.Contains(t, b.notifications(t, r.ID), "request_timed_out>usr_alice")

	// Extend: owners and admins only, within max, no re-provisioning.
	r = b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"github:read"}})
	_, err = b.svc.Decide(ctx, b.id("bob"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
	require.NoError(t, err)
	g := b.grants(t, r.ID)[0]
	require.NoError(t, b.svc.Provision(ctx, g.ID))
	_, err = b.svc.Extend(ctx, b.id("alice"), g.ID, 3*time.Hour)
	require.Equal(t, access.CodeForbidden, access.ErrorCode(err))
	_, err = b.svc.Extend(ctx, b.id("bob"), g.ID, 9*time.Hour)
	require.Equal(t, access.CodeInvalid, access.ErrorCode(err))
	g, err = b.svc.Extend(ctx, b.id("bob"), g.ID, 3*time.Hour)
	require.NoError(t, err)
	require.Equal(t, b.clock.Now().Add(3*time.Hour), g.ExpiresAt)
	grants, _ := b.backend.Counts()
	require.Equal(t, 1, grants)

	// Expiry notice once per expiry.
	b.clock.Advance(2*time.Hour + 50*time.Minute)
	res, err = b.svc.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, res.ExpiryNotices)
	_, err = b.svc.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, countOf(b.notifications(t, r.ID), "grant_expiring>usr_alice"))

	// Revoke now by a stranger is refused and audited.
	_, err = b.svc.RevokeNow(ctx, b.id("mallory"), g.ID, "")
	require.Equal(t, access.CodeForbidden, access.ErrorCode(err))
	verifyAudit(t, b.st)
}

func TestDeliver(t *testing.T) {
	t.Parallel()
	b := setup(t, openers()["sqlite"])
	ctx := t.Context()
	r := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"github:read"}})
	ns, err := b.st.NotificationListByRequest(ctx, r.ID)
	require.NoError(t, err)
	require.NotEmpty(t, ns)
	for _, n := range ns {
		require.NoError(t, b.svc.Deliver(ctx, n.ID))
		require.NoError(t, b.svc.Deliver(ctx, n.ID))
		got, err := b.st.NotificationGetByID(ctx, n.ID)
		require.NoError(t, err)
		require.Equal(t, access.NotificationSent, got.State)
		require.Equal(t, 1, got.Attempts, "delivered once")
	}
}

// issuer is a connector that issues a password per grant.
type issuer struct{}

func (issuer) Grant(context.Context, connector.Target) error  { return nil }
func (issuer) Revoke(context.Context, connector.Target) error { return nil }
func (issuer) IssueGrant(_ context.Context, t connector.Target) (connector.Credentials, error) {
	return connector.Credentials{Kind: "password", Username: "tmp_" + t.GrantID, Secret: "s3cret-" + t.GrantID, Hint: "psql -U tmp"}, nil
}

func TestIssuedCredentialsAreHandedOverOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, openers()["sqlite"])
	ctx := t.Context()
	r := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"vault:read"}})
	_, err := b.svc.Decide(ctx, b.id("bob"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
	require.NoError(t, err)
	g := b.grants(t, r.ID)[0]
	require.NoError(t, b.svc.Provision(ctx, g.ID))
	g, err = b.st.GrantGetByID(ctx, g.ID, false)
	require.NoError(t, err)
	require.Equal(t, access.GrantActive, g.State)
	require.True(t, secrets.IsSealed(g.Credentials), "stored sealed, never in clear")
	require.NotContains(t, g.Credentials, "s3cret")

	_, err = b.svc.TakeCredentials(ctx, b.id("bob"), g.ID)
	require.Equal(t, access.CodeNotFound, access.ErrorCode(err), "only the holder")
	c, err := b.svc.TakeCredentials(ctx, b.id("alice"), g.ID)
	require.NoError(t, err)
	require.Equal(t, "s3cret-"+g.ID, c.Secret)
	require.Equal(t, "tmp_"+g.ID, c.Username)
	_, err = b.svc.TakeCredentials(ctx, b.id("alice"), g.ID)
	require.Equal(t, access.CodeConflict, access.ErrorCode(err), "once")
	g, err = b.st.GrantGetByID(ctx, g.ID, false)
	require.NoError(t, err)
	require.Empty(t, g.Credentials)
	es, _, err := b.st.EventList(ctx, store.EventListParams{Action: "grant.credentials_retrieved"})
	require.NoError(t, err)
	require.Len(t, es, 1)
	require.NotContains(t, string(es[0].Data), "s3cret")
}

func TestReconcileFindsDrift(t *testing.T) {
	t.Parallel()
	b := setup(t, openers()["sqlite"])
	ctx := t.Context()
	r := b.submit(t, "alice", workflow.SubmitParams{Entitlements: []string{"github:read"}})
	_, err := b.svc.Decide(ctx, b.id("bob"), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
	require.NoError(t, err)
	g := b.grants(t, r.ID)[0]
	require.NoError(t, b.svc.Provision(ctx, g.ID))

	// In order: nothing to report.
	rep, err := b.svc.Reconcile(ctx, "github")
	require.NoError(t, err)
	require.Equal(t, workflow.DriftReport{AppID: "github", Present: 1}, rep)

	// Expire it, then someone restores the access by hand, and someone else
	// gets admin outside Sesame; another app's access is not github's.
	b.clock.Advance(2 * time.Hour)
	require.NoError(t, b.svc.Revoke(ctx, g.ID))
	conn, err := b.backend.Factory()(nil)
	require.NoError(t, err)
	require.NoError(t, conn.Grant(ctx, connector.Target{AppID: "github", Email: "alice@example.com", EntitlementKey: "read"}))
	require.NoError(t, conn.Grant(ctx, connector.Target{AppID: "github", Email: "mallory@example.com", EntitlementKey: "admin"}))
	require.NoError(t, conn.Grant(ctx, connector.Target{AppID: "aws-prod", Email: "erin@example.com", EntitlementKey: "admin"}))

	rep, err = b.svc.Reconcile(ctx, "github")
	require.NoError(t, err)
	require.Equal(t, workflow.DriftReport{AppID: "github", Present: 2, Reappeared: 1, Unmanaged: 1}, rep)
	require.False(t, b.backend.Has("github", "alice@example.com", "read"), "reappeared access is revoked again")
	require.True(t, b.backend.Has("github", "mallory@example.com", "admin"), "unmanaged access is reported, not touched")

	rep, err = b.svc.Reconcile(ctx, "github")
	require.NoError(t, err)
	require.Equal(t, 1, rep.Unmanaged)
	es, _, err := b.st.EventList(ctx, store.EventListParams{Action: "app.unmanaged_access"})
	require.NoError(t, err)
	require.Len(t, es, 1, "reported once")
	es, _, err = b.st.EventList(ctx, store.EventListParams{Action: "grant.drift_revoked"})
	require.NoError(t, err)
	require.Len(t, es, 1)

	rep, err = b.svc.Reconcile(ctx, "grafana")
	require.NoError(t, err)
	require.True(t, rep.Skipped, "the manual connector cannot list")
}
