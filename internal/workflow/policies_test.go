package workflow_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/fake"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/workflow"
)

// policyBundle is a service whose policies live in the store: carol and
// ann are admins, alice asks, bob approves, dave audits.
type policyBundle struct {
	st    store.Store
	clock *clock.Fake
	cur   *policy.Current
	svc   *workflow.Service
	users map[string]*access.User
}

// filePolicies is the config file's set: bob approves everything.
func filePolicies() []policy.Policy {
	return []policy.Policy{{ID: "default", Default: true, MaxDuration: 8 * time.Hour,
		Steps: []policy.StepRule{{Name: "Bob", Approvers: policy.ApproverRule{Users: []string{"bob@example.com"}}}}}}
}

// autoGitHub is filePolicies plus a policy auto-approving github.
func autoGitHub() []policy.Policy {
	return append(filePolicies(), policy.Policy{ID: "github", Match: policy.Match{Apps: []string{"github"}},
		Steps:       []policy.StepRule{{Name: "Bob", Approvers: policy.ApproverRule{Users: []string{"bob@example.com"}}}},
		AutoApprove: []policy.AutoApproveRule{{Name: "always", Condition: "true"}}})
}

func setupPolicies(t *testing.T, open opener) *policyBundle {
	t.Helper()
	b := &policyBundle{st: open(t), clock: clock.NewFake(t0), users: map[string]*access.User{}}
	for _, u := range []struct {
		name  string
		roles []access.Role
	}{{"alice", nil}, {"bob", nil}, {"carol", []access.Role{access.RoleAdmin}}, {"ann", []access.Role{access.RoleAdmin}},
		{"dave", []access.Role{access.RoleAuditor}}} {
		usr := &access.User{ID: "usr_" + u.name, Email: u.name + "@example.com", Name: u.name, Roles: u.roles,
			Status: access.UserActive, CreatedAt: t0, UpdatedAt: t0}
		require.NoError(t, b.st.UserUpsert(t.Context(), usr))
		b.users[u.name] = usr
	}
	app := &access.App{ID: "github", Name: "GitHub", ConnectorType: fake.TypeName, Source: access.SourceConfig, CreatedAt: t0, UpdatedAt: t0}
	require.NoError(t, b.st.AppUpsert(t.Context(), app))
	require.NoError(t, b.st.EntitlementUpsert(t.Context(), &access.Entitlement{ID: "github:read", AppID: "github", Key: "read",
		Name: "read", Requestable: true, Risk: access.RiskLow, CreatedAt: t0, UpdatedAt: t0}))
	b.cur, b.svc = b.replica(t)
	return b
}

// replica is another service on the same store, with its own engine.
func (b *policyBundle) replica(t *testing.T) (*policy.Current, *workflow.Service) {
	t.Helper()
	cur := policy.NewCurrent(12 * time.Hour)
	reg := connector.NewRegistry()
	reg.Register(fake.TypeName, fake.NewBackend().Factory())
	svc, err := workflow.New(workflow.Config{Store: b.st, Clock: b.clock, Policy: cur, Connectors: reg})
	require.NoError(t, err)
	return cur, svc
}

func (b *policyBundle) id(name string) string { return b.users[name].ID }

// seed seeds the file's policies and returns the version.
func (b *policyBundle) seed(t *testing.T) int64 {
	t.Helper()
	_, v, err := b.svc.SeedPolicies(t.Context(), filePolicies())
	require.NoError(t, err)
	return v
}

// policyFor is the policy the service in use picks for alice's github:read.
func policyFor(t *testing.T, svc *workflow.Service, b *policyBundle) string {
	t.Helper()
	sim, err := svc.Simulate(t.Context(), b.id("alice"), workflow.SimulateParams{Entitlements: []string{"github:read"}, Duration: time.Hour})
	require.NoError(t, err)
	return sim.PolicyID
}

func (b *policyBundle) events(t *testing.T, action string) []*access.Event {
	t.Helper()
	es, _, err := b.st.EventList(t.Context(), store.EventListParams{Action: action})
	require.NoError(t, err)
	return es
}

// policiesIn decodes the policies of an audit snapshot.
func policiesIn(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var v struct {
		Policies []policy.Policy `json:"policies"`
	}
	require.NoError(t, json.Unmarshal(raw, &v))
	var out []string
	for _, p := range v.Policies {
		out = append(out, p.ID)
	}
	return out
}

func requireCode(t *testing.T, err error, code access.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, access.ErrorCode(err), "%v", err)
}

func TestSeedPolicies(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, open opener) {
		b := setupPolicies(t, open)
		ctx := t.Context()

		e, v, err := b.svc.SeedPolicies(ctx, filePolicies())
		require.NoError(t, err)
		require.Equal(t, int64(1), v)
		inUse, inUseV := b.cur.Engine()
		require.Same(t, e, inUse)
		require.Equal(t, int64(1), inUseV)
		seeded := b.events(t, "policy.seeded")
		require.Len(t, seeded, 1)
		require.Equal(t, access.SystemActor, seeded[0].ActorID)
		require.Equal(t, "1", seeded[0].SubjectID)
		require.Equal(t, []string{"default"}, policiesIn(t, seeded[0].After))
		require.Empty(t, seeded[0].Before, "nothing was stored")

		// Idempotent: the same file writes nothing, here or on another replica.
		_, v, err = b.svc.SeedPolicies(ctx, filePolicies())
		require.NoError(t, err)
		require.Equal(t, int64(1), v)
		cur2, svc2 := b.replica(t)
		_, v, err = svc2.SeedPolicies(ctx, filePolicies())
		require.NoError(t, err)
		require.Equal(t, int64(1), v)
		_, v = cur2.Engine()
		require.Equal(t, int64(1), v)
		require.Len(t, b.events(t, "policy.seeded"), 1)

		// An API change survives a restart with the same file...
		_, err = b.svc.ProposePolicyChange(ctx, b.id("carol"), autoGitHub(), "", false)
		require.NoError(t, err)
		_, v, err = b.svc.SeedPolicies(ctx, filePolicies())
		require.NoError(t, err)
		require.Equal(t, int64(2), v)
		require.Equal(t, "github", policyFor(t, b.svc, b))

		// ...and a changed file wins, audited with what it replaced.
		changed := filePolicies()
		changed[0].MaxDuration = 4 * time.Hour
		_, v, err = b.svc.SeedPolicies(ctx, changed)
		require.NoError(t, err)
		require.Equal(t, int64(3), v)
		require.Equal(t, "default", policyFor(t, b.svc, b))
		seeded = b.events(t, "policy.seeded")
		require.Len(t, seeded, 2)
		require.Equal(t, []string{"default", "github"}, policiesIn(t, seeded[0].Before))
		require.Equal(t, []string{"default"}, policiesIn(t, seeded[0].After))
		require.Contains(t, string(seeded[0].Data), `"previous_source":"api"`)
		require.Positive(t, verifyAudit(t, b.st))
	})
}

func TestPolicyChangeTwoPersonRule(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, open opener) {
		b := setupPolicies(t, open)
		ctx := t.Context()
		b.seed(t)

		c, err := b.svc.ProposePolicyChange(ctx, b.id("carol"), autoGitHub(), "auto-approve github", true)
		require.NoError(t, err)
		require.Equal(t, policy.ChangeProposed, c.State)
		require.Equal(t, int64(1), c.BaseVersion)

		// Nothing changes until a second admin approves.
		require.Equal(t, "default", policyFor(t, b.svc, b))
		r, err := b.svc.Submit(ctx, b.id("alice"), workflow.SubmitParams{Entitlements: []string{"github:read"}, Duration: time.Hour, Reason: "look at a PR"})
		require.NoError(t, err)
		require.Equal(t, access.RequestPending, r.State)
		active, err := b.svc.ActivePolicies(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(1), active.Version)

		// Not the proposer, not a non-admin.
		_, err = b.svc.ApprovePolicyChange(ctx, b.id("carol"), c.ID, "")
		requireCode(t, err, access.CodeForbidden)
		require.ErrorIs(t, err, policy.ErrSelfReview)
		_, err = b.svc.ApprovePolicyChange(ctx, b.id("alice"), c.ID, "")
		requireCode(t, err, access.CodeForbidden)
		require.Len(t, b.events(t, "policy.change_approve_refused"), 2)
		require.Equal(t, "default", policyFor(t, b.svc, b))

		applied, err := b.svc.ApprovePolicyChange(ctx, b.id("ann"), c.ID, "lgtm")
		require.NoError(t, err)
		require.Equal(t, policy.ChangeApplied, applied.State)
		require.Equal(t, b.id("ann"), applied.DecidedBy)
		require.Equal(t, int64(2), applied.AppliedVersion)
		require.False(t, applied.SelfApproved)

		// The engine in use switched without a restart.
		_, v := b.cur.Engine()
		require.Equal(t, int64(2), v)
		require.Equal(t, "github", policyFor(t, b.svc, b))
		_, err = b.svc.Cancel(ctx, b.id("alice"), r.ID)
		require.NoError(t, err)
		r, err = b.svc.Submit(ctx, b.id("alice"), workflow.SubmitParams{Entitlements: []string{"github:read"}, Duration: time.Hour, Reason: "look at a PR"})
		require.NoError(t, err)
		require.Equal(t, access.RequestApproved, r.State)

		got, err := b.svc.GetPolicyChange(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, policy.ChangeApplied, got.State)
		require.Len(t, got.After, 2)
		active, err = b.svc.ActivePolicies(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(2), active.Version)
		require.Equal(t, policy.SourceAPI, active.Source)
		require.Equal(t, c.ID, active.ChangeID)

		// The audit log has the whole sets.
		proposed := b.events(t, "policy.change_proposed")
		require.Len(t, proposed, 1)
		require.Equal(t, b.id("carol"), proposed[0].ActorID)
		require.Equal(t, c.ID, proposed[0].SubjectID)
		require.Equal(t, []string{"default"}, policiesIn(t, proposed[0].Before))
		require.Equal(t, []string{"default", "github"}, policiesIn(t, proposed[0].After))
		require.Contains(t, string(proposed[0].Data), `"added policy github"`)
		require.Len(t, b.events(t, "policy.change_approved"), 1)
		changed := b.events(t, "policy.changed")
		require.Len(t, changed, 1)
		require.Equal(t, b.id("ann"), changed[0].ActorID)
		require.Equal(t, "policy_set", changed[0].SubjectType)
		require.Equal(t, "2", changed[0].SubjectID)
		require.Equal(t, []string{"default"}, policiesIn(t, changed[0].Before))
		require.Equal(t, []string{"default", "github"}, policiesIn(t, changed[0].After))
		var after workflow.PolicySet
		require.NoError(t, json.Unmarshal(changed[0].After, &after))
		require.Equal(t, autoGitHub()[1].AutoApprove, after.Policies[1].AutoApprove)
		require.Positive(t, verifyAudit(t, b.st))

		// Applied is final.
		_, err = b.svc.ApprovePolicyChange(ctx, b.id("dave"), c.ID, "")
		requireCode(t, err, access.CodeForbidden)
		_, err = b.svc.RejectPolicyChange(ctx, b.id("carol"), c.ID, "")
		requireCode(t, err, access.CodeConflict)

		changes, next, err := b.svc.ListPolicyChanges(ctx, store.PolicyChangeListParams{})
		require.NoError(t, err)
		require.Empty(t, next)
		require.Len(t, changes, 1)
	})
}

func TestPolicyChangeRefusals(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, open opener) {
		b := setupPolicies(t, open)
		ctx := t.Context()

		// Nothing stored yet.
		_, err := b.svc.ProposePolicyChange(ctx, b.id("carol"), autoGitHub(), "", true)
		requireCode(t, err, access.CodeConflict)
		_, err = b.svc.ActivePolicies(ctx)
		requireCode(t, err, access.CodeNotFound)
		b.seed(t)

		// Only admins propose.
		for _, who := range []string{"alice", "dave"} {
			_, err = b.svc.ProposePolicyChange(ctx, b.id(who), autoGitHub(), "", true)
			requireCode(t, err, access.CodeForbidden)
		}
		require.Len(t, b.events(t, "policy.change_propose_refused"), 3, "with the one before seeding")
		_, err = b.svc.ProposePolicyChange(ctx, "usr_nobody", autoGitHub(), "", true)
		requireCode(t, err, access.CodeUnauthorized)

		// Invalid sets name the problems by path.
		bad := autoGitHub()
		bad[1].Match.Condition = "request.nope"
		_, err = b.svc.ProposePolicyChange(ctx, b.id("carol"), bad, "", true)
		requireCode(t, err, access.CodeInvalid)
		var ae *access.Error
		require.ErrorAs(t, err, &ae)
		require.Equal(t, "policies[1].match.condition", ae.Fields[0].Field)
		_, err = b.svc.ProposePolicyChange(ctx, b.id("carol"), filePolicies(), "", true)
		requireCode(t, err, access.CodeInvalid)

		// A change proposed on a set that moved on is refused.
		first, err := b.svc.ProposePolicyChange(ctx, b.id("carol"), autoGitHub(), "first", true)
		require.NoError(t, err)
		longer := filePolicies()
		longer[0].MaxDuration = 10 * time.Hour
		second, err := b.svc.ProposePolicyChange(ctx, b.id("ann"), longer, "second", true)
		require.NoError(t, err)
		_, err = b.svc.ApprovePolicyChange(ctx, b.id("carol"), second.ID, "")
		require.NoError(t, err)
		_, err = b.svc.ApprovePolicyChange(ctx, b.id("ann"), first.ID, "")
		requireCode(t, err, access.CodeConflict)
		require.Contains(t, err.Error(), "propose it again")
		got, err := b.svc.GetPolicyChange(ctx, first.ID)
		require.NoError(t, err)
		require.Equal(t, policy.ChangeProposed, got.State, "a refused approval changes nothing")
		_, v := b.cur.Engine()
		require.Equal(t, int64(2), v)

		// The proposer withdraws it.
		rejected, err := b.svc.RejectPolicyChange(ctx, b.id("carol"), first.ID, "stale")
		require.NoError(t, err)
		require.Equal(t, policy.ChangeRejected, rejected.State)
		require.Equal(t, "stale", rejected.DecisionComment)
		_, err = b.svc.ApprovePolicyChange(ctx, b.id("ann"), first.ID, "")
		requireCode(t, err, access.CodeConflict)
		require.Len(t, b.events(t, "policy.change_rejected"), 1)

		_, err = b.svc.GetPolicyChange(ctx, "pch_nope")
		requireCode(t, err, access.CodeNotFound)
		_, err = b.svc.RejectPolicyChange(ctx, b.id("alice"), second.ID, "")
		requireCode(t, err, access.CodeForbidden)

		proposed, _, err := b.svc.ListPolicyChanges(ctx, store.PolicyChangeListParams{States: []string{string(policy.ChangeApplied)}})
		require.NoError(t, err)
		require.Len(t, proposed, 1)
		require.Equal(t, second.ID, proposed[0].ID)
	})
}

func TestPolicyChangeWithoutTwoPersonRule(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, open opener) {
		b := setupPolicies(t, open)
		ctx := t.Context()
		b.seed(t)
		cur2, svc2 := b.replica(t)
		_, _, err := svc2.SeedPolicies(ctx, filePolicies())
		require.NoError(t, err)

		c, err := b.svc.ProposePolicyChange(ctx, b.id("carol"), autoGitHub(), "", false)
		require.NoError(t, err)
		require.Equal(t, policy.ChangeApplied, c.State)
		require.True(t, c.SelfApproved)
		require.Equal(t, b.id("carol"), c.DecidedBy)
		require.Equal(t, "github", policyFor(t, b.svc, b))
		require.Len(t, b.events(t, "policy.changed"), 1)

		// The other replica switches when it refreshes.
		require.Equal(t, "default", policyFor(t, svc2, b))
		require.NoError(t, svc2.RefreshPolicies(ctx))
		_, v := cur2.Engine()
		require.Equal(t, int64(2), v)
		require.Equal(t, "github", policyFor(t, svc2, b))
		require.NoError(t, svc2.RefreshPolicies(ctx), "nothing new")
	})
}

func TestPolicyChangesNeedCurrent(t *testing.T) {
	t.Parallel()
	b := setup(t, openers()["sqlite"])
	_, _, err := b.svc.SeedPolicies(t.Context(), testPolicies())
	requireCode(t, err, access.CodeUnavailable)
	require.Error(t, b.svc.RefreshPolicies(t.Context()))
}
