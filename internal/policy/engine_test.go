package policy_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
)

// weekly is a rotation with alice on call on Tuesday 2026-01-20 (the
// bundle's now): shifts start Mondays 09:00 in Paris, alice has the third.
func weekly() policy.Rotation {
	return policy.Rotation{ID: "sre", Timezone: "Europe/Paris", Period: policy.RotationWeekly, Handoff: "09:00",
		Members: []string{"erin@example.com", "bob@example.com", "alice@example.com"},
		Start:   time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)}
}

func TestEvaluateMatching(t *testing.T) {
	t.Parallel()
	owners := []policy.StepRule{step("owners", policy.ApproverRule{AppOwners: true})}
	pol := func(id string, m policy.Match) policy.Policy { return policy.Policy{ID: id, Match: m, Steps: owners} }
	tests := []struct {
		name     string
		policies []policy.Policy
		opts     []policy.Option
		keys     []string
		modify   func(b *testBundle, in *policy.Input)
		want     string      // policy ID
		wantCode access.Code // when an error is expected
		wantWhy  []string
	}{
		{name: "nothing matches: the default", keys: []string{"read"},
			policies: []policy.Policy{pol("gh", policy.Match{Apps: []string{"github"}})},
			// Policies that select other apps are not even looked at.
			want: "default", wantWhy: []string{"no policy matches; the default policy default applies"}},
		{name: "app", keys: []string{"read"}, policies: []policy.Policy{pol("aws", policy.Match{Apps: []string{"aws"}})},
			want: "aws", wantWhy: []string{"policy aws matches (specificity 1): app aws"}},
		{name: "entitlement beats app", keys: []string{"admin"},
			policies: []policy.Policy{pol("aws", policy.Match{Apps: []string{"aws"}}), pol("admin", policy.Match{Entitlements: []string{"aws:admin"}})},
			want:     "admin"},
		{name: "entitlement listed elsewhere does not match", keys: []string{"read"},
			policies: []policy.Policy{pol("aws", policy.Match{Apps: []string{"aws"}}), pol("admin", policy.Match{Entitlements: []string{"aws:admin"}})},
			want:     "aws", wantWhy: []string{"policy aws matches (specificity 1): app aws"}},
		{name: "tags", keys: []string{"admin"}, policies: []policy.Policy{pol("pci", policy.Match{Tags: []string{"pci", "sox"}})},
			want: "pci", wantWhy: []string{"policy pci matches (specificity 1): tagged pci"}},
		{name: "tags missing", keys: []string{"read"}, policies: []policy.Policy{pol("pci", policy.Match{Tags: []string{"pci"}})},
			want: "default"},
		{name: "risk", keys: []string{"admin"}, policies: []policy.Policy{pol("high", policy.Match{Risk: []access.Risk{access.RiskHigh}})},
			want: "high"},
		{name: "risk mismatch", keys: []string{"billing"}, policies: []policy.Policy{pol("high", policy.Match{Risk: []access.Risk{access.RiskHigh}})},
			want: "default", wantWhy: []string{"no policy matches; the default policy default applies",
				"policy high (specificity 1) does not match: entitlement aws:billing has risk medium, not high"}},
		{name: "requester group", keys: []string{"read"}, policies: []policy.Policy{pol("sre", policy.Match{Groups: []string{"dba", "sre"}})},
			want: "sre", wantWhy: []string{"policy sre matches (specificity 1): requester in group sre"}},
		{name: "requester not in group", keys: []string{"read"}, policies: []policy.Policy{pol("dba", policy.Match{Groups: []string{"dba"}})},
			want: "default"},
		{name: "condition true", keys: []string{"read"},
			policies: []policy.Policy{pol("c", policy.Match{Condition: `request.reason.startsWith("OPS-") && app.id == "aws"`})}, want: "c"},
		{name: "condition false", keys: []string{"read"},
			policies: []policy.Policy{pol("c", policy.Match{Condition: `request.duration > duration("2h")`})}, want: "default"},
		{name: "groups make an app policy more specific", keys: []string{"read"},
			policies: []policy.Policy{pol("aws", policy.Match{Apps: []string{"aws"}}), pol("aws-sre", policy.Match{Apps: []string{"aws"}, Groups: []string{"sre"}})},
			want:     "aws-sre"},
		{name: "a condition makes a policy more specific", keys: []string{"read"},
			policies: []policy.Policy{pol("prod", policy.Match{Tags: []string{"prod"}}),
				pol("prod-weekday", policy.Match{Tags: []string{"prod"}, Condition: `now.weekday("Europe/Paris") == "tuesday"`})},
			want: "prod-weekday"},
		{name: "the more specific policy's condition is false", keys: []string{"read"},
			policies: []policy.Policy{pol("prod", policy.Match{Tags: []string{"prod"}}),
				pol("prod-weekend", policy.Match{Tags: []string{"prod"}, Condition: `now.weekday("Europe/Paris") == "sunday"`})},
			want: "prod", wantWhy: []string{"policy prod matches (specificity 1): tagged prod",
				"policy prod-weekend (specificity 2) does not match: the condition is false"}},
		{name: "entitlements of one policy", keys: []string{"read", "admin"},
			policies: []policy.Policy{pol("prod", policy.Match{Tags: []string{"prod"}})}, want: "prod",
			wantWhy: []string{"aws:read: policy prod matches (specificity 1): tagged prod", "aws:admin: policy prod matches (specificity 1): tagged prod"}},
		{name: "entitlements under different policies are refused", keys: []string{"read", "admin"},
			policies: []policy.Policy{pol("high", policy.Match{Risk: []access.Risk{access.RiskHigh}})}, wantCode: access.CodeInvalid},
		{name: "a failing condition refuses rather than falling back", keys: []string{"read"},
			policies: []policy.Policy{pol("c", policy.Match{Condition: `requester.groups[7] == "x"`})}, wantCode: access.CodeInvalid},
		{name: "cost limit", keys: []string{"read"}, opts: []policy.Option{policy.WithLimits(policy.Limits{Cost: 50})},
			policies: []policy.Policy{pol("c", policy.Match{Condition: `[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, a * b > 0))`})},
			wantCode: access.CodeInvalid},
		{name: "timeout", keys: []string{"read"}, opts: []policy.Option{policy.WithLimits(policy.Limits{Timeout: time.Nanosecond, Cost: 1 << 40})},
			policies: []policy.Policy{pol("c", policy.Match{Condition: `[0,1,2,3,4,5,6,7,8,9].all(a, [0,1,2,3,4,5,6,7,8,9].all(b, [0,1,2,3,4,5,6,7,8,9].all(c, a + b + c >= 0)))`})},
			wantCode: access.CodeUnavailable},
		{name: "a tie the catalog hid is refused at evaluation", keys: []string{"billing"},
			opts: []policy.Option{policy.WithCatalog([]*access.Entitlement{{ID: "aws:billing", Risk: access.RiskMedium, Tags: []string{"finance"}}})},
			policies: []policy.Policy{pol("billing", policy.Match{Entitlements: []string{"aws:billing"}}),
				pol("pci-medium", policy.Match{Tags: []string{"pci"}, Risk: []access.Risk{access.RiskMedium}})},
			modify: func(b *testBundle, in *policy.Input) {
				e := *b.ents["billing"]
				e.Tags = []string{"finance", "pci"} // discovered since
				in.Entitlements = []*access.Entitlement{&e}
			},
			wantCode: access.CodeInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			e := engine(t, tc.opts, tc.policies...)
			in := b.input(tc.keys...)
			if tc.modify != nil {
				tc.modify(b, &in)
			}
			plan, err := e.Evaluate(b.ctx, b.dir, in)
			if tc.wantCode != "" {
				require.Error(t, err)
				require.Equal(t, tc.wantCode, access.ErrorCode(err), err.Error())
				require.Nil(t, plan)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, plan.PolicyID)
			if tc.wantWhy != nil {
				require.Equal(t, tc.wantWhy, plan.Why)
			}
		})
	}
}

func TestEvaluateErrorsExplain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := engine(t, nil, policy.Policy{ID: "high", Match: policy.Match{Risk: []access.Risk{access.RiskHigh}},
		Steps: []policy.StepRule{step("m", policy.ApproverRule{Manager: true})}})
	_, err := e.Evaluate(b.ctx, b.dir, b.input("read", "admin"))
	require.EqualError(t, err, "aws:read and aws:admin fall under different approval policies (default and high): request them separately")

	_, err = e.Evaluate(b.ctx, b.dir, policy.Input{Requester: b.users["alice"], App: b.app})
	require.Error(t, err)
	other := &access.Entitlement{ID: "gh:x", AppID: "gh"}
	_, err = e.Evaluate(b.ctx, b.dir, policy.Input{Requester: b.users["alice"], App: b.app, Entitlements: []*access.Entitlement{other}})
	require.ErrorContains(t, err, "must belong to the input's app")
}

func TestEvaluateApprovers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		steps     []policy.StepRule
		requester string
		keys      []string
		// want lists each step's eligible emails.
		want     [][]string
		required []int
		reasons  map[string]string // email -> reason, first step
		escalate [][]string
	}{
		{name: "named users; unknown ones skipped", steps: []policy.StepRule{step("s", policy.ApproverRule{Users: []string{"carol@example.com", "nobody@example.com", "DANA@example.com"}})},
			want: [][]string{{"carol@example.com", "dana@example.com"}}, reasons: map[string]string{"carol@example.com": "named in the policy"}},
		{name: "groups: active members but the requester", steps: []policy.StepRule{step("s", policy.ApproverRule{Groups: []string{"sre", "security"}})},
			want: [][]string{{"erin@example.com", "carol@example.com", "sam@example.com"}}, reasons: map[string]string{"sam@example.com": "member of group security"}},
		{name: "manager and manager's manager", steps: []policy.StepRule{step("s", policy.ApproverRule{Manager: true, ManagersManager: true})},
			want:    [][]string{{"bob@example.com", "dana@example.com"}},
			reasons: map[string]string{"bob@example.com": "the requester's manager", "dana@example.com": "the requester's manager's manager"}},
		{name: "no manager", requester: "dana", steps: []policy.StepRule{step("s", policy.ApproverRule{Manager: true, ManagersManager: true})},
			want: [][]string{{}}, required: []int{1}},
		{name: "manager without a manager", requester: "bob", steps: []policy.StepRule{step("s", policy.ApproverRule{ManagersManager: true})},
			want: [][]string{{}}},
		{name: "app owners: offboarded ones left out", steps: []policy.StepRule{step("s", policy.ApproverRule{AppOwners: true})},
			want: [][]string{{"erin@example.com"}}, reasons: map[string]string{"erin@example.com": "owner of AWS"}},
		{name: "entitlement owners", keys: []string{"admin"}, steps: []policy.StepRule{step("s", policy.ApproverRule{EntitlementOwners: true})},
			want: [][]string{{"sam@example.com"}}, reasons: map[string]string{"sam@example.com": "owner of Admin"}},
		{name: "on call", requester: "erin", steps: []policy.StepRule{step("s", policy.ApproverRule{OnCall: []string{"sre"}})},
			want: [][]string{{"alice@example.com"}}, reasons: map[string]string{"alice@example.com": "on call for sre"}},
		{name: "the requester on call approves nothing", steps: []policy.StepRule{step("s", policy.ApproverRule{OnCall: []string{"sre"}})},
			want: [][]string{{}}},
		{name: "the requester is never eligible", steps: []policy.StepRule{step("s", policy.ApproverRule{Users: []string{"alice@example.com"},
			Groups: []string{"eng"}, OnCall: []string{"sre"}})},
			want: [][]string{{"bob@example.com", "erin@example.com"}}},
		{name: "offboarded users are never eligible", steps: []policy.StepRule{step("s", policy.ApproverRule{Users: []string{"olga@example.com"}, Groups: []string{"security"}})},
			want: [][]string{{"carol@example.com", "sam@example.com"}}},
		{name: "two reasons", requester: "erin", steps: []policy.StepRule{step("s", policy.ApproverRule{Groups: []string{"sre"}, OnCall: []string{"sre"}, Users: []string{"alice@example.com"}})},
			want: [][]string{{"alice@example.com"}}, reasons: map[string]string{"alice@example.com": "named in the policy; member of group sre; on call for sre"}},
		{name: "required and all", steps: []policy.StepRule{
			{Name: "two", Approvers: policy.ApproverRule{Groups: []string{"security"}}, Required: 2},
			{Name: "all", Approvers: policy.ApproverRule{Groups: []string{"managers"}}, All: true},
			{Name: "all of nobody", Approvers: policy.ApproverRule{Groups: []string{"nobody"}}, All: true}},
			want:     [][]string{{"carol@example.com", "sam@example.com"}, {"bob@example.com", "dana@example.com"}, {}},
			required: []int{2, 2, 1}},
		{name: "escalation adds new people only", steps: []policy.StepRule{{Name: "s", Approvers: policy.ApproverRule{Manager: true},
			EscalateAfter: time.Hour, EscalateTo: policy.ApproverRule{Groups: []string{"managers", "sre"}, Users: []string{"olga@example.com"}}}},
			want: [][]string{{"bob@example.com"}}, escalate: [][]string{{"dana@example.com", "erin@example.com"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			e := engine(t, []policy.Option{policy.WithRotations([]policy.Rotation{weekly()})},
				policy.Policy{ID: "p", Match: policy.Match{Apps: []string{"aws"}}, Steps: tc.steps})
			in := b.input(tc.keys...)
			if len(tc.keys) == 0 {
				in = b.input("read")
			}
			if tc.requester != "" {
				in.Requester = b.users[tc.requester]
			}
			plan, err := e.Evaluate(b.ctx, b.dir, in)
			require.NoError(t, err)
			require.Len(t, plan.Steps, len(tc.want))
			for i, want := range tc.want {
				require.Equal(t, want, emails(plan.Steps[i].Eligible), "step %d", i)
			}
			for i, r := range tc.required {
				require.Equal(t, r, plan.Steps[i].Required, "step %d required", i)
			}
			for email, reason := range tc.reasons {
				found := false
				for _, a := range plan.Steps[0].Eligible {
					if a.Email == email {
						require.Equal(t, reason, a.Reason)
						found = true
					}
				}
				require.True(t, found, email)
			}
			for i, want := range tc.escalate {
				require.Equal(t, want, emails(plan.Steps[i].EscalateTo))
				require.Equal(t, time.Hour, plan.Steps[i].EscalateAfter)
			}
		})
	}
}

func TestEvaluateRequesterChooses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := engine(t, nil, policy.Policy{ID: "p", Match: policy.Match{Apps: []string{"aws"}}, Steps: []policy.StepRule{
		{Name: "pick", Approvers: policy.ApproverRule{Groups: []string{"security"}}, RequesterChooses: true},
		{Name: "pick two", Approvers: policy.ApproverRule{Groups: []string{"managers", "security"}}, RequesterChooses: true, Required: 1, Choose: 2},
	}})
	plan, err := e.Evaluate(b.ctx, b.dir, b.input("read"))
	require.NoError(t, err)
	require.True(t, plan.Steps[0].RequesterChooses)
	require.Equal(t, 1, plan.Steps[0].Choose, "choose defaults to required")
	require.Equal(t, 2, plan.Steps[1].Choose)
	require.Equal(t, 1, plan.Notified(), "the requester picks one at the first step")
}

func TestEvaluateAutoApprove(t *testing.T) {
	t.Parallel()
	people := []policy.StepRule{step("m", policy.ApproverRule{Manager: true})}
	tests := []struct {
		name     string
		rules    []policy.AutoApproveRule
		keys     []string
		duration time.Duration
		def, max time.Duration
		want     string
		whyHas   string
	}{
		{name: "on call, short, not high risk", keys: []string{"read"}, duration: time.Hour,
			rules: []policy.AutoApproveRule{{Name: "oncall", Condition: `"sre" in oncall && request.duration <= duration("1h") && entitlement.risk != "high"`}},
			want:  "p/oncall", whyHas: "auto-approved by rule p/oncall"},
		{name: "too long", keys: []string{"read"}, duration: 2 * time.Hour,
			rules: []policy.AutoApproveRule{{Name: "oncall", Condition: `"sre" in oncall && request.duration <= duration("1h")`}}},
		{name: "the default duration counts when none is given", keys: []string{"read"}, def: 30 * time.Minute,
			rules: []policy.AutoApproveRule{{Name: "short", Condition: `request.duration <= duration("1h")`}}, want: "p/short"},
		{name: "a long default does not pass for short", keys: []string{"read"}, def: 3 * time.Hour,
			rules: []policy.AutoApproveRule{{Name: "short", Condition: `request.duration <= duration("1h")`}}},
		{name: "no duration at all: rules are not checked", keys: []string{"read"},
			rules:  []policy.AutoApproveRule{{Name: "any", Condition: `true`}},
			whyHas: "auto-approve rules not checked: no duration was given and the policy has no default"},
		{name: "above the maximum: rules are not checked", keys: []string{"read"}, duration: 3 * time.Hour, max: 2 * time.Hour,
			rules:  []policy.AutoApproveRule{{Name: "any", Condition: `true`}},
			whyHas: "auto-approve rules not checked: 3h is longer than the maximum (2h)"},
		{name: "every entitlement must pass", keys: []string{"read", "admin"}, duration: time.Hour,
			rules: []policy.AutoApproveRule{{Name: "low", Condition: `entitlement.risk == "low"`}}},
		{name: "a failing rule approves nothing, the next may", keys: []string{"read"}, duration: time.Hour,
			rules: []policy.AutoApproveRule{{Name: "broken", Condition: `requester.groups[9] == "x"`}, {Name: "second", Condition: `request.reason.matches("^OPS-[0-9]+ ")`}},
			want:  "p/second", whyHas: "auto-approve rule p/broken failed and approves nothing"},
		{name: "first matching rule wins", keys: []string{"read"}, duration: time.Hour,
			rules: []policy.AutoApproveRule{{Name: "a", Condition: `false`}, {Name: "b", Condition: `true`}, {Name: "c", Condition: `true`}},
			want:  "p/b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			e := engine(t, []policy.Option{policy.WithRotations([]policy.Rotation{weekly()})},
				policy.Policy{ID: "p", Match: policy.Match{Apps: []string{"aws"}}, Steps: people, AutoApprove: tc.rules,
					DefaultDuration: tc.def, MaxDuration: tc.max})
			in := b.input(tc.keys...)
			in.Duration = tc.duration
			plan, err := e.Evaluate(b.ctx, b.dir, in)
			require.NoError(t, err)
			require.Equal(t, tc.want, plan.AutoApproveRule)
			if tc.whyHas != "" {
				require.Contains(t, plan.Why, firstWith(plan.Why, tc.whyHas), plan.Why)
			}
			if tc.want != "" {
				ok, _ := plan.Unapprovable()
				require.False(t, ok)
				require.Equal(t, 0, plan.Notified())
			}
		})
	}
}

// firstWith returns the first line with prefix, or prefix itself (so that
// require.Contains reports the lines).
func firstWith(lines []string, prefix string) string {
	for _, l := range lines {
		if len(l) >= len(prefix) && l[:len(prefix)] == prefix {
			return l
		}
	}
	return prefix
}

func TestEvaluateDurations(t *testing.T) {
	t.Parallel()
	b := setup(t)
	steps := []policy.StepRule{step("m", policy.ApproverRule{Manager: true})}
	e, err := policy.New([]policy.Policy{
		{ID: "default", Default: true, Steps: steps},
		{ID: "p", Match: policy.Match{Apps: []string{"aws"}}, Steps: steps, MaxDuration: 4 * time.Hour, DefaultDuration: 3 * time.Hour,
			PendingTimeout: 2 * time.Hour, Reminders: policy.Reminders{After: time.Hour, Every: time.Hour, Max: 2},
			Reason: policy.ReasonRule{Required: true, MinLength: 5}},
	}, 8*time.Hour)
	require.NoError(t, err)

	plan, err := e.Evaluate(b.ctx, b.dir, b.input("read"))
	require.NoError(t, err)
	require.Equal(t, 4*time.Hour, plan.MaxDuration, "the policy's max is below the org's")
	require.Equal(t, 3*time.Hour, plan.DefaultDuration)
	require.Equal(t, 2*time.Hour, plan.PendingTimeout)
	require.Equal(t, policy.Reminders{After: time.Hour, Every: time.Hour, Max: 2}, plan.Reminders)
	require.Equal(t, policy.ReasonRule{Required: true, MinLength: 5}, plan.Reason)

	plan, err = e.Evaluate(b.ctx, b.dir, b.input("admin"))
	require.NoError(t, err)
	require.Equal(t, time.Hour, plan.MaxDuration, "the entitlement's max is the smallest")
	require.Equal(t, time.Hour, plan.DefaultDuration, "the default never exceeds the max")

	e, err = policy.New([]policy.Policy{{ID: "default", Default: true, Steps: steps}}, 0)
	require.NoError(t, err)
	plan, err = e.Evaluate(b.ctx, b.dir, b.input("billing"))
	require.NoError(t, err)
	require.Zero(t, plan.MaxDuration, "nothing limits")
	require.Equal(t, policy.DefaultPendingTimeout, plan.PendingTimeout)
}

func TestEvaluateOnCallInPlan(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := engine(t, []policy.Option{policy.WithRotations([]policy.Rotation{weekly()})})
	plan, err := e.Evaluate(b.ctx, b.dir, b.input("read"))
	require.NoError(t, err)
	require.Equal(t, []string{"sre"}, plan.OnCall)
	require.Equal(t, map[string]string{"sre": "alice@example.com"}, e.OnCall(b.now))
	require.Equal(t, []policy.Rotation{weekly()}, e.Rotations())
}

// failingDirectory fails every read.
type failingDirectory struct{}

var errDirectory = errors.New("directory down")

func (failingDirectory) UserGetByID(_ context.Context, _ string) (*access.User, error) {
	return nil, errDirectory
}

func (failingDirectory) UserGetByEmail(_ context.Context, _ string) (*access.User, error) {
	return nil, errDirectory
}

func (failingDirectory) UserListByGroup(_ context.Context, _ string) ([]*access.User, error) {
	return nil, errDirectory
}

func TestEvaluateDirectoryErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, a := range []policy.ApproverRule{{Users: []string{"bob@example.com"}}, {Groups: []string{"g"}}, {Manager: true}, {AppOwners: true}} {
		e := engine(t, nil, policy.Policy{ID: "p", Match: policy.Match{Apps: []string{"aws"}}, Steps: []policy.StepRule{step("s", a)}})
		_, err := e.Evaluate(b.ctx, failingDirectory{}, b.input("read"))
		require.ErrorIs(t, err, errDirectory)
		require.Empty(t, access.ErrorCode(err), "a directory failure is not the requester's fault")
	}
	e := engine(t, nil, policy.Policy{ID: "p", Match: policy.Match{Condition: `requester.manager == "bob@example.com"`},
		Steps: []policy.StepRule{step("s", policy.ApproverRule{Manager: true})}})
	_, err := e.Evaluate(b.ctx, failingDirectory{}, b.input("read"))
	require.ErrorIs(t, err, errDirectory)
	plan, err := e.Evaluate(b.ctx, b.dir, b.input("read"))
	require.NoError(t, err)
	require.Equal(t, "p", plan.PolicyID, "requester.manager is the manager's email")
}

// TestEvaluateConcurrently shares one engine between goroutines (run with
// -race).
func TestEvaluateConcurrently(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := engine(t, []policy.Option{policy.WithRotations([]policy.Rotation{weekly()})},
		policy.Policy{ID: "p", Match: policy.Match{Tags: []string{"prod"}, Condition: `now.hour("Europe/Paris") > 3`},
			Steps:       []policy.StepRule{{Name: "s", Approvers: policy.ApproverRule{Groups: []string{"security"}}, EscalateAfter: time.Hour, EscalateTo: policy.ApproverRule{Manager: true}}},
			AutoApprove: []policy.AutoApproveRule{{Name: "r", Condition: `"sre" in oncall && entitlement.risk == "low"`}}})
	errs := make(chan error, 16)
	for i := range 16 {
		go func() {
			key := []string{"read", "admin"}[i%2]
			for range 50 {
				plan, err := e.Evaluate(b.ctx, b.dir, b.input(key))
				if err == nil && (plan.PolicyID != "p" || len(plan.Steps[0].Eligible) != 2) {
					err = fmt.Errorf("unexpected plan %+v", plan)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 16 {
		require.NoError(t, <-errs)
	}
}
