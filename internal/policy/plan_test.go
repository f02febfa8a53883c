package policy_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/policy"
)

func TestCheckReason(t *testing.T) {
	t.Parallel()
	ticket := policy.ReasonRule{Required: true, MinLength: 10, TicketPattern: `[A-Z]+-\d+`}
	tests := []struct {
		name   string
		rule   policy.ReasonRule
		reason string
		want   []string
	}{
		{"optional and empty", policy.ReasonRule{MinLength: 10}, "  ", nil},
		{"optional but too short when given", policy.ReasonRule{MinLength: 10}, "short", []string{"must be at least 10 characters (it has 5)"}},
		{"required", policy.ReasonRule{Required: true}, " \n", []string{"is required"}},
		{"required with a hint", policy.ReasonRule{Required: true, Hint: "name the ticket"}, "", []string{"is required (name the ticket)"}},
		{"length counts characters", policy.ReasonRule{MinLength: 3}, "été", nil},
		{"ticket present", ticket, "OPS-42 disk full", nil},
		{"ticket missing", ticket, "the disk is full", []string{`must contain a ticket reference matching [A-Z]+-\d+`}},
		{"everything wrong", ticket, "ops-1", []string{"must be at least 10 characters (it has 5)", `must contain a ticket reference matching [A-Z]+-\d+`}},
		{"pattern matches the whole reason", policy.ReasonRule{Required: true, Pattern: `[A-Z]+-\d+: .{5,}`}, "OPS-1: rotate keys", nil},
		{"pattern is anchored", policy.ReasonRule{Required: true, Pattern: `[A-Z]+-\d+`}, "see OPS-1 please", []string{`must match the pattern [A-Z]+-\d+`}},
		{"hint replaces the pattern", policy.ReasonRule{Required: true, Pattern: `x`, TicketPattern: `y`, Hint: "say x and y"}, "z",
			[]string{"must match say x and y", "must contain say x and y"}},
		{"broken pattern", policy.ReasonRule{Pattern: `(`}, "x", []string{"cannot be checked: the policy's pattern: error parsing regexp: missing closing ): `^(?:()$`"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plan := &policy.Plan{Reason: tc.rule}
			var got []string
			for _, f := range plan.CheckReason(tc.reason) {
				require.Equal(t, "reason", f.Field)
				got = append(got, f.Message)
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestCheckReasonFromEvaluateAndJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := engine(t, nil, policy.Policy{ID: "p", Match: policy.Match{Apps: []string{"aws"}},
		Steps:  []policy.StepRule{step("m", policy.ApproverRule{Manager: true})},
		Reason: policy.ReasonRule{Required: true, TicketPattern: `[A-Z]+-\d+`}})
	plan, err := e.Evaluate(b.ctx, b.dir, b.input("read"))
	require.NoError(t, err)
	require.Empty(t, plan.CheckReason("OPS-1 go"))
	require.Len(t, plan.CheckReason("go"), 1)

	data, err := json.Marshal(plan)
	require.NoError(t, err)
	var decoded policy.Plan
	require.NoError(t, json.Unmarshal(data, &decoded))
	require.Equal(t, plan.CheckReason("go"), decoded.CheckReason("go"), "a decoded plan checks the same")
}

func approvers(ids ...string) []policy.Approver {
	var out []policy.Approver
	for _, id := range ids {
		out = append(out, policy.Approver{UserID: id, Email: id + "@example.com"})
	}
	return out
}

func TestUnapprovable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		plan policy.Plan
		want string // "" when approvable
	}{
		{"enough people", policy.Plan{PolicyID: "p", Steps: []policy.PlanStep{{Name: "s", Eligible: approvers("a", "b"), Required: 2}}}, ""},
		{"nobody", policy.Plan{PolicyID: "p", Steps: []policy.PlanStep{{Name: "s", Required: 1}}},
			"step 1 (s) of policy p needs 1 approval(s) but nobody other than the requester is eligible"},
		{"too few", policy.Plan{PolicyID: "p", Steps: []policy.PlanStep{{Eligible: approvers("a"), Required: 1}, {Eligible: approvers("b"), Required: 2}}},
			"step 2 (step 2) of policy p needs 2 approval(s) but only 1 person other than the requester is eligible"},
		{"the requester must choose more than there are", policy.Plan{PolicyID: "p", Steps: []policy.PlanStep{
			{Name: "s", Eligible: approvers("a", "b"), Required: 1, RequesterChooses: true, Choose: 3}}},
			"step 1 (s) of policy p asks the requester to choose 3 approver(s) but only 2 people other than the requester are eligible"},
		{"one person cannot approve two steps", policy.Plan{PolicyID: "p", Steps: []policy.PlanStep{
			{Eligible: approvers("a"), Required: 1}, {Eligible: approvers("a"), Required: 1}}},
			"policy p needs 2 distinct approvers across its steps and a person approves at most one step, but steps 1 to 2 share too few people"},
		{"distinct people found by matching", policy.Plan{PolicyID: "p", Steps: []policy.PlanStep{
			{Eligible: approvers("a", "b"), Required: 1}, {Eligible: approvers("a"), Required: 1}, {Eligible: approvers("b", "c"), Required: 1}}}, ""},
		{"three steps, two people", policy.Plan{PolicyID: "p", Steps: []policy.PlanStep{
			{Eligible: approvers("a", "b"), Required: 1}, {Eligible: approvers("a", "b"), Required: 1}, {Eligible: approvers("b", "a"), Required: 1}}},
			"policy p needs 3 distinct approvers across its steps and a person approves at most one step, but steps 1 to 3 share too few people"},
		{"auto-approved plans are fine", policy.Plan{PolicyID: "p", AutoApproveRule: "p/r", Steps: []policy.PlanStep{{Required: 1}}}, ""},
		{"no steps", policy.Plan{PolicyID: "p"}, "policy p has no approval steps"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bad, why := tc.plan.Unapprovable()
			require.Equal(t, tc.want != "", bad)
			require.Equal(t, tc.want, why)
		})
	}
}

func TestUnapprovableFromEvaluate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := engine(t, nil, policy.Policy{ID: "p", Match: policy.Match{Apps: []string{"aws"}}, Steps: []policy.StepRule{
		step("security", policy.ApproverRule{Users: []string{"olga@example.com", "alice@example.com", "ghost@example.com"}}),
	}})
	plan, err := e.Evaluate(b.ctx, b.dir, b.input("read"))
	require.NoError(t, err, "an unapprovable plan is not an error")
	bad, why := plan.Unapprovable()
	require.True(t, bad)
	require.Equal(t, "step 1 (security) of policy p needs 1 approval(s) but nobody other than the requester is eligible", why)
	require.Equal(t, 0, plan.Notified())
}

func TestNotified(t *testing.T) {
	t.Parallel()
	plan := policy.Plan{Steps: []policy.PlanStep{{Eligible: approvers("a", "b", "c"), Required: 1}}}
	require.Equal(t, 3, plan.Notified())
	plan.Steps[0].RequesterChooses, plan.Steps[0].Choose = true, 2
	require.Equal(t, 2, plan.Notified())
}

func TestExtensionDecision(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		rule     policy.ExtensionRule
		autoRule string
		more     time.Duration
		deny     bool
		want     string
	}{
		{name: "steps by default", more: time.Hour},
		{name: "steps keep the policy's auto-approve rule", autoRule: "p/low-risk", more: time.Hour, want: "p/low-risk"},
		{name: "auto", rule: policy.ExtensionRule{Approval: policy.ExtensionAuto}, more: 100 * time.Hour, want: "p/extension:auto"},
		{name: "deny", rule: policy.ExtensionRule{Approval: policy.ExtensionDeny}, autoRule: "p/low-risk", more: time.Minute, deny: true},
		{name: "within", rule: policy.ExtensionRule{AutoWithin: 2 * time.Hour}, more: 2 * time.Hour, want: "p/extension:auto_within 2h"},
		{name: "beyond", rule: policy.ExtensionRule{AutoWithin: 2 * time.Hour}, more: 2*time.Hour + time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := &policy.Plan{PolicyID: "p", AutoApproveRule: tt.autoRule, Extension: tt.rule}
			deny, rule := p.ExtensionDecision(tt.more)
			require.Equal(t, tt.deny, deny != "", deny)
			if tt.deny {
				require.Contains(t, deny, "does not allow extensions")
			}
			require.Equal(t, tt.want, rule)
		})
	}
}
