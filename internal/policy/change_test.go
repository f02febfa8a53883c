package policy_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
)

type changeBundle struct {
	ann, ben, eve *access.User // two admins, one not
	before, after []policy.Policy
	now           time.Time
}

func setupChange() *changeBundle {
	admin := func(name string) *access.User {
		u := &access.User{ID: "usr_" + name, Email: name + "@example.com", Status: access.UserActive, Roles: []access.Role{access.RoleAdmin}}
		return u
	}
	b := &changeBundle{ann: admin("ann"), ben: admin("ben"), eve: &access.User{ID: "usr_eve", Status: access.UserActive},
		now: time.Date(2026, 1, 20, 10, 0, 0, 0, time.UTC)}
	b.before = []policy.Policy{defaultPolicy()}
	b.after = []policy.Policy{defaultPolicy(), {ID: "aws", Match: policy.Match{Apps: []string{"aws"}},
		Steps: []policy.StepRule{step("m", policy.ApproverRule{Manager: true})}}}
	return b
}

func (b *changeBundle) propose(t *testing.T, twoPerson bool) *policy.Change {
	t.Helper()
	c, err := policy.ProposeChange(policy.ProposeParams{ID: "pch_1", Proposer: b.ann, Before: b.before, BaseVersion: 3,
		After: b.after, Comment: "aws needs managers", Now: b.now, TwoPersonRule: twoPerson})
	require.NoError(t, err)
	return c
}

func TestChangeTwoPersonRule(t *testing.T) {
	t.Parallel()
	b := setupChange()
	c := b.propose(t, true)
	require.Equal(t, policy.ChangeProposed, c.State)
	require.Equal(t, "usr_ann", c.ProposedBy)

	err := c.Apply(3, b.now)
	require.ErrorIs(t, err, access.ErrInvalidTransition, "a proposed change does not apply")

	err = c.Approve(b.ann, "lgtm", b.now)
	require.ErrorIs(t, err, policy.ErrSelfReview)
	require.Equal(t, access.CodeForbidden, access.ErrorCode(err))
	require.Equal(t, policy.ChangeProposed, c.State)

	err = c.Approve(b.eve, "", b.now)
	require.Equal(t, access.CodeForbidden, access.ErrorCode(err), "only admins review")
	offboarded := *b.ben
	offboarded.Status = access.UserOffboarded
	require.Equal(t, access.CodeForbidden, access.ErrorCode(c.Approve(&offboarded, "", b.now)))

	later := b.now.Add(time.Hour)
	require.NoError(t, c.Approve(b.ben, "ok", later))
	require.Equal(t, policy.ChangeApproved, c.State)
	require.Equal(t, "usr_ben", c.DecidedBy)
	require.Equal(t, later, c.DecidedAt)
	require.False(t, c.SelfApproved)
	require.ErrorIs(t, c.Approve(b.ben, "", later), access.ErrInvalidTransition)
	require.ErrorIs(t, c.Reject(b.ben, "", later), access.ErrInvalidTransition)

	err = c.Apply(4, later)
	require.Equal(t, access.CodeConflict, access.ErrorCode(err), "the set moved on since the proposal")
	require.Equal(t, policy.ChangeApproved, c.State)
	require.NoError(t, c.Apply(3, later))
	require.Equal(t, policy.ChangeApplied, c.State)
	require.Equal(t, int64(4), c.AppliedVersion)
	require.ErrorIs(t, c.Apply(3, later), access.ErrInvalidTransition)
}

func TestChangeWithoutTwoPersonRule(t *testing.T) {
	t.Parallel()
	b := setupChange()
	c := b.propose(t, false)
	require.Equal(t, policy.ChangeApproved, c.State)
	require.True(t, c.SelfApproved)
	require.Equal(t, "usr_ann", c.DecidedBy)
	require.NoError(t, c.Apply(3, b.now))
}

func TestChangeReject(t *testing.T) {
	t.Parallel()
	b := setupChange()
	c := b.propose(t, true)
	require.NoError(t, c.Reject(b.ann, "withdrawn", b.now), "the proposer may withdraw")
	require.Equal(t, policy.ChangeRejected, c.State)
	require.Equal(t, "withdrawn", c.DecisionComment)
	require.ErrorIs(t, c.Approve(b.ben, "", b.now), access.ErrInvalidTransition)
}

func TestProposeChangeRefusals(t *testing.T) {
	t.Parallel()
	b := setupChange()
	_, err := policy.ProposeChange(policy.ProposeParams{Proposer: b.eve, Before: b.before, After: b.after})
	require.Equal(t, access.CodeForbidden, access.ErrorCode(err))

	_, err = policy.ProposeChange(policy.ProposeParams{Proposer: b.ann, Before: b.before, After: b.before})
	require.EqualError(t, err, "invalid policies; policies: are the same as the current ones")

	bad := []policy.Policy{defaultPolicy(), {ID: "x", Match: policy.Match{Condition: "nope"}, Steps: b.after[1].Steps}}
	_, err = policy.ProposeChange(policy.ProposeParams{Proposer: b.ann, Before: b.before, After: bad})
	var ae *access.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, access.CodeInvalid, ae.Code)
	require.Equal(t, []access.FieldError{{Field: "policies[1].match.condition",
		Message: "column 1: undeclared reference to 'nope' (variables: request.duration, request.reason, request.entitlements, " +
			"requester.id, requester.email, requester.name, requester.groups, requester.manager, app.id, app.name, app.tags, " +
			"entitlement.id, entitlement.key, entitlement.name, entitlement.risk, entitlement.tags, now, oncall)"}}, ae.Fields)

	oncall := []policy.Policy{defaultPolicy(), {ID: "x", Match: policy.Match{Apps: []string{"aws"}},
		Steps: []policy.StepRule{step("o", policy.ApproverRule{OnCall: []string{"sre"}})}}}
	_, err = policy.ProposeChange(policy.ProposeParams{Proposer: b.ann, Before: b.before, After: oncall})
	require.Equal(t, access.CodeInvalid, access.ErrorCode(err))
	_, err = policy.ProposeChange(policy.ProposeParams{Proposer: b.ann, Before: b.before, After: oncall,
		Options: []policy.Option{policy.WithRotations([]policy.Rotation{weekly()})}})
	require.NoError(t, err, "validated with the options the engine is built with")
}

func TestChangeRecordRoundTrip(t *testing.T) {
	t.Parallel()
	b := setupChange()
	c := b.propose(t, true)
	require.NoError(t, c.Approve(b.ben, "ok", b.now))
	rec, err := c.Record()
	require.NoError(t, err)
	require.Equal(t, "approved", rec.State)
	back, err := policy.ChangeFromRecord(rec)
	require.NoError(t, err)
	require.Equal(t, c, back)

	rec.After = []byte(`[{"id": "x", "colour": "red"}]`)
	_, err = policy.ChangeFromRecord(rec)
	require.ErrorContains(t, err, `unknown field "colour"`)
}

func TestDiff(t *testing.T) {
	t.Parallel()
	b := setupChange()
	changed := b.after[1]
	changed.MaxDuration = time.Hour
	changed.Steps = []policy.StepRule{step("o", policy.ApproverRule{AppOwners: true})}
	require.Equal(t, []string{"added policy aws"}, policy.Diff(b.before, b.after))
	require.Equal(t, []string{"changed policy aws: steps, max_duration"}, policy.Diff(b.after, []policy.Policy{b.after[0], changed}))
	require.Equal(t, []string{"removed policy aws"}, policy.Diff(b.after, b.before))
	require.Empty(t, policy.Diff(b.after, b.after))
}
