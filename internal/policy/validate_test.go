package policy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
)

// problems returns Validate's problems as "path: message" lines.
func problems(t *testing.T, ps []policy.Policy, opts ...policy.Option) []string {
	t.Helper()
	err := policy.Validate(ps, opts...)
	if err == nil {
		return nil
	}
	var ve *policy.ValidationError
	require.ErrorAs(t, err, &ve)
	var out []string
	for _, p := range ve.Problems {
		out = append(out, p.String())
	}
	require.Equal(t, strings.Join(out, "\n"), err.Error())
	return out
}

func TestValidate(t *testing.T) {
	t.Parallel()
	manager := []policy.StepRule{step("m", policy.ApproverRule{Manager: true})}
	with := func(mod func(p *policy.Policy)) []policy.Policy {
		p := policy.Policy{ID: "p", Match: policy.Match{Apps: []string{"aws"}}, Steps: manager}
		mod(&p)
		return []policy.Policy{defaultPolicy(), p}
	}
	rot := []policy.Option{policy.WithRotations([]policy.Rotation{weekly()})}
	tests := []struct {
		name     string
		policies []policy.Policy
		opts     []policy.Option
		want     []string
	}{
		{name: "valid", policies: with(func(*policy.Policy) {})},
		{name: "extension rules", policies: with(func(p *policy.Policy) {
			p.Extension = policy.ExtensionRule{Approval: policy.ExtensionSteps, AutoWithin: time.Hour}
		})},
		{name: "extension approval", policies: with(func(p *policy.Policy) { p.Extension.Approval = "yes" }),
			want: []string{`policies[1].extension.approval: "yes" is not an approval mode (steps, auto or deny)`}},
		{name: "extension auto_within", policies: with(func(p *policy.Policy) {
			p.Extension = policy.ExtensionRule{Approval: policy.ExtensionDeny, AutoWithin: time.Hour}
		}), want: []string{`policies[1].extension.auto_within: applies only with approval "steps" (the approval is "deny")`}},
		{name: "extension negative", policies: with(func(p *policy.Policy) { p.Extension.AutoWithin = -time.Minute }),
			want: []string{`policies[1].extension.auto_within: must not be negative`}},
		{name: "no default", policies: with(func(*policy.Policy) {})[1:],
			want: []string{"policies: exactly one policy must have default: true (found 0)"}},
		{name: "two defaults", policies: []policy.Policy{defaultPolicy(), func() policy.Policy { p := defaultPolicy(); p.ID = "d2"; return p }()},
			want: []string{"policies: exactly one policy must have default: true (found 2)"}},
		{name: "ids", policies: with(func(p *policy.Policy) { p.ID = "default" }),
			want: []string{`policies[1].id: "default" is used twice`}},
		{name: "id characters", policies: with(func(p *policy.Policy) { p.ID = "a policy" }),
			want: []string{`policies[1].id: "a policy" is not an id: letters, digits, '.', '_' and '-', at most 64`}},
		{name: "default with a match", policies: []policy.Policy{{ID: "d", Default: true, Steps: manager, Match: policy.Match{Tags: []string{"x"}}}},
			want: []string{"policies[0].match: the default policy cannot have match rules"}},
		{name: "selectors", policies: with(func(p *policy.Policy) {
			p.Match = policy.Match{Apps: []string{"gh", ""}, Entitlements: []string{"aws:admin", "nocolon"}, Risk: []access.Risk{"severe"},
				Tags: []string{" "}, Groups: []string{""}}
		}), want: []string{
			`policies[1].match.risk: "severe" is not low, medium or high`,
			`policies[1].match.entitlements[1]: "nocolon" is not an entitlement ID like github:admin`,
			`policies[1].match.apps[1]: must not be empty`,
			`policies[1].match.tags[0]: must not be empty`,
			`policies[1].match.groups[0]: must not be empty`,
			`policies[1].match.entitlements: none of these entitlements belongs to the apps listed (gh, ): the policy can never match`,
		}},
		{name: "some entitlements outside the apps", policies: with(func(p *policy.Policy) {
			p.Match = policy.Match{Apps: []string{"aws"}, Entitlements: []string{"aws:admin", "gh:admin"}}
		}), want: []string{"policies[1].match.entitlements: gh:admin do(es) not belong to the apps listed (aws)"}},
		{name: "condition with a typo", policies: with(func(p *policy.Policy) { p.Match.Condition = `requester.emial == "x"` }),
			want: []string{"policies[1].match.condition: column 10: undeclared reference to 'requester.emial' (did you mean 'requester.email'?)"}},
		{name: "condition with an unknown variable", policies: with(func(p *policy.Policy) { p.Match.Condition = `team == "x"` }),
			want: []string{"policies[1].match.condition: column 1: undeclared reference to 'team' (variables: " +
				"request.duration, request.reason, request.entitlements, requester.id, requester.email, requester.name, requester.groups, " +
				"requester.manager, app.id, app.name, app.tags, entitlement.id, entitlement.key, entitlement.name, entitlement.risk, " +
				"entitlement.tags, now, oncall)"}},
		{name: "condition on several lines", policies: with(func(p *policy.Policy) { p.Match.Condition = "true &&\n  request.duration > 3" }),
			want: []string{"policies[1].match.condition: line 2, column 20: found no matching overload for '_>_' applied to '(duration, int)'"}},
		{name: "condition not bool", policies: with(func(p *policy.Policy) { p.Match.Condition = `request.reason` }),
			want: []string{"policies[1].match.condition: must be true or false, not string"}},
		{name: "condition too long", policies: with(func(p *policy.Policy) { p.Match.Condition = "true" + strings.Repeat(" ", policy.MaxConditionLength) }),
			want: []string{"policies[1].match.condition: is longer than 4096 bytes"}},
		{name: "condition time zones", policies: with(func(p *policy.Policy) {
			p.Match.Condition = `now.hour("Mars/Olympus") > 1 || now.getHours("Europe/Paris") > 1 || now.weekday(request.reason) == "x"`
		}), want: []string{`policies[1].match.condition: hour(): "Mars/Olympus" is not a time zone name like Europe/Paris; ` +
			`getHours() with a time zone is not allowed: use now.hour("Europe/Paris") or now.weekday("Europe/Paris"); ` +
			`weekday(): the time zone must be a quoted name like "Europe/Paris"`}},
		{name: "steps", policies: with(func(p *policy.Policy) { p.Steps = nil }),
			want: []string{"policies[1].steps: at least one approval step is required"}},
		{name: "step rules", policies: with(func(p *policy.Policy) {
			p.Steps = []policy.StepRule{
				{Name: "nobody"},
				{Name: "n", Approvers: policy.ApproverRule{Manager: true}, Required: -1, Choose: -1},
				{Name: "all", Approvers: policy.ApproverRule{Manager: true}, All: true, Required: 2},
				{Name: "choose", Approvers: policy.ApproverRule{Manager: true}, Choose: 1},
				{Name: "few", Approvers: policy.ApproverRule{Manager: true}, RequesterChooses: true, Required: 3, Choose: 2},
				{Name: "bad", Approvers: policy.ApproverRule{Users: []string{"bob"}, Groups: []string{""}, OnCall: []string{"nope"}}},
			}
		}), want: []string{
			"policies[1].steps[0].approvers: names nobody: set users, groups, manager, managers_manager, app_owners, entitlement_owners or oncall",
			"policies[1].steps[1].required: must be at least 1",
			"policies[1].steps[1].choose: must not be negative",
			"policies[1].steps[2].required: cannot be combined with all",
			"policies[1].steps[3].choose: needs requester_chooses",
			"policies[1].steps[4].choose: must be at least required (3)",
			`policies[1].steps[5].approvers.users[0]: "bob" is not an email`,
			"policies[1].steps[5].approvers.groups[0]: must not be empty",
			`policies[1].steps[5].approvers.oncall[0]: "nope" is not a configured on-call rotation (see oncall:)`,
		}},
		{name: "escalation", opts: rot, policies: with(func(p *policy.Policy) {
			p.PendingTimeout = 2 * time.Hour
			p.Steps = []policy.StepRule{
				{Name: "a", Approvers: policy.ApproverRule{Manager: true}, EscalateAfter: time.Hour},
				{Name: "b", Approvers: policy.ApproverRule{Manager: true}, EscalateTo: policy.ApproverRule{Manager: true}},
				{Name: "c", Approvers: policy.ApproverRule{Manager: true}, EscalateAfter: 2 * time.Hour, EscalateTo: policy.ApproverRule{OnCall: []string{"sre"}}},
				{Name: "d", Approvers: policy.ApproverRule{Manager: true}, EscalateAfter: -time.Hour},
				{Name: "e", Approvers: policy.ApproverRule{Manager: true}, EscalateAfter: time.Hour, EscalateTo: policy.ApproverRule{OnCall: []string{"x"}}},
			}
		}), want: []string{
			"policies[1].steps[0].escalate_to: is required with escalate_after: name who is asked next",
			"policies[1].steps[1].escalate_after: is required with escalate_to: how long the step waits before escalating",
			"policies[1].steps[2].escalate_after: 2h is not shorter than the pending timeout (2h): the request would time out first",
			"policies[1].steps[3].escalate_after: must not be negative",
			`policies[1].steps[4].escalate_to.oncall[0]: "x" is not a configured on-call rotation (see oncall:)`,
		}},
		{name: "auto-approve rules", policies: with(func(p *policy.Policy) {
			p.AutoApprove = []policy.AutoApproveRule{{Condition: "true"}, {Name: "a b", Condition: "true"}, {Name: "x", Condition: "true"},
				{Name: "x", Condition: " "}, {Name: "y", Condition: "1"}}
		}), want: []string{
			"policies[1].auto_approve[0].name: is required",
			`policies[1].auto_approve[1].name: "a b" is not a name: letters, digits, '.', '_' and '-', at most 64`,
			`policies[1].auto_approve[3].name: "x" is used twice in this policy`,
			"policies[1].auto_approve[3].condition: is required: an auto-approve rule without a condition would approve everything",
			"policies[1].auto_approve[4].condition: must be true or false, not int",
		}},
		{name: "durations", policies: with(func(p *policy.Policy) {
			p.MaxDuration, p.DefaultDuration, p.PendingTimeout = time.Hour, 2*time.Hour, -time.Hour
			p.Reminders = policy.Reminders{After: -1, Every: -1, Max: -1}
		}), want: []string{
			"policies[1].pending_timeout: must not be negative",
			"policies[1].reminders.after: must not be negative",
			"policies[1].reminders.every: must not be negative",
			"policies[1].default_duration: is longer than max_duration",
			"policies[1].reminders.max: must not be negative",
		}},
		{name: "reason", policies: with(func(p *policy.Policy) {
			p.Reason = policy.ReasonRule{MinLength: -1, Pattern: "(", TicketPattern: "x"}
		}), want: []string{
			"policies[1].reason.min_length: must not be negative",
			"policies[1].reason.required: must be true with pattern or ticket_pattern: otherwise an empty reason passes",
			"policies[1].reason.pattern: is not a valid regular expression: error parsing regexp: missing closing ): `^(?:()$`",
		}},
		{name: "rotations", opts: []policy.Option{policy.WithRotations([]policy.Rotation{
			{ID: "Bad", Timezone: "Mars/Olympus", Period: "monthly", Handoff: "9am"},
			weekly(), weekly(),
		})}, policies: with(func(*policy.Policy) {}), want: []string{
			`oncall[0].id: "Bad" is not an id: lowercase letters, digits and dashes`,
			`oncall[0].timezone: "Mars/Olympus" is not a time zone name like Europe/Paris`,
			"oncall[0].members: at least one member is required",
			`oncall[0].rotation: "monthly" is not daily or weekly`,
			"oncall[0].start: is required: when the first shift starts, like 2026-01-05T09:00:00Z",
			`oncall[0].handoff: "9am" is not a time of day like 09:00`,
			`oncall[2].id: "sre" is used twice`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, problems(t, tc.policies, tc.opts...))
			_, err := policy.New(tc.policies, time.Hour, tc.opts...)
			require.Equal(t, tc.want == nil, err == nil)
		})
	}
}

func TestSpecificity(t *testing.T) {
	t.Parallel()
	require.Equal(t, 0, policy.Specificity(policy.Match{}))
	require.Equal(t, 1, policy.Specificity(policy.Match{Apps: []string{"a"}}))
	require.Equal(t, 2, policy.Specificity(policy.Match{Entitlements: []string{"a:b"}}))
	require.Equal(t, 2, policy.Specificity(policy.Match{Apps: []string{"a"}, Entitlements: []string{"a:b"}}), "apps add nothing to entitlements")
	require.Equal(t, 6, policy.Specificity(policy.Match{Entitlements: []string{"a:b"}, Tags: []string{"t"}, Risk: []access.Risk{"low"},
		Groups: []string{"g"}, Condition: "true"}))
}

func TestValidateTies(t *testing.T) {
	t.Parallel()
	steps := []policy.StepRule{step("m", policy.ApproverRule{Manager: true})}
	pol := func(id string, m policy.Match) policy.Policy { return policy.Policy{ID: id, Match: m, Steps: steps} }
	high, medium := []access.Risk{access.RiskHigh}, []access.Risk{access.RiskMedium}
	catalog := policy.WithCatalog([]*access.Entitlement{
		{ID: "aws:admin", AppID: "aws", Risk: access.RiskHigh, Tags: []string{"prod"}},
		{ID: "aws:read", AppID: "aws", Risk: access.RiskLow, Tags: []string{"prod"}},
	})
	tests := []struct {
		name     string
		policies []policy.Policy
		opts     []policy.Option
		tie      string // the region in the message; "" for none
	}{
		{name: "different apps", policies: []policy.Policy{pol("a", policy.Match{Apps: []string{"aws"}}), pol("b", policy.Match{Apps: []string{"gh"}})}},
		{name: "shared app", policies: []policy.Policy{pol("a", policy.Match{Apps: []string{"aws", "gcp"}}), pol("b", policy.Match{Apps: []string{"gh", "aws"}})},
			tie: "app aws"},
		{name: "same selectors", policies: []policy.Policy{pol("a", policy.Match{Risk: high}), pol("b", policy.Match{Risk: high})},
			tie: "any app, risk high"},
		{name: "disjoint risks", policies: []policy.Policy{pol("a", policy.Match{Risk: high}), pol("b", policy.Match{Risk: medium})}},
		{name: "empty against non-empty: app and risk", policies: []policy.Policy{pol("a", policy.Match{Apps: []string{"aws"}}), pol("b", policy.Match{Risk: high})},
			tie: "app aws, risk high"},
		{name: "tags can always meet", policies: []policy.Policy{pol("a", policy.Match{Tags: []string{"prod"}}), pol("b", policy.Match{Tags: []string{"pci"}})},
			tie: "any app, tagged prod and pci"},
		{name: "groups can always meet", policies: []policy.Policy{pol("a", policy.Match{Apps: []string{"aws"}, Groups: []string{"sre", "dba"}}),
			pol("b", policy.Match{Apps: []string{"aws"}, Groups: []string{"eng"}})},
			tie: "app aws, by a member of one of sre, dba and eng"},
		{name: "conditions can always both hold", policies: []policy.Policy{pol("a", policy.Match{Apps: []string{"aws"}, Condition: "true"}),
			pol("b", policy.Match{Apps: []string{"aws"}, Condition: "false"})}, tie: "app aws, when both conditions hold"},
		{name: "entitlements against an app", policies: []policy.Policy{pol("a", policy.Match{Entitlements: []string{"aws:admin"}}),
			pol("b", policy.Match{Apps: []string{"aws"}, Groups: []string{"sre"}})}, tie: "entitlement aws:admin, by a member of sre"},
		{name: "entitlements of another app", policies: []policy.Policy{pol("a", policy.Match{Entitlements: []string{"gh:admin"}}),
			pol("b", policy.Match{Apps: []string{"aws"}, Groups: []string{"sre"}})}},
		{name: "the catalog rules out a listed entitlement", opts: []policy.Option{catalog},
			policies: []policy.Policy{pol("a", policy.Match{Entitlements: []string{"aws:read"}}), pol("b", policy.Match{Tags: []string{"prod"}, Risk: high})}},
		{name: "the catalog confirms a listed entitlement", opts: []policy.Option{catalog},
			policies: []policy.Policy{pol("a", policy.Match{Entitlements: []string{"aws:admin"}}), pol("b", policy.Match{Tags: []string{"prod"}, Risk: high})},
			tie:      "entitlement aws:admin, risk high, tagged prod"},
		{name: "a more specific policy covers the overlap", policies: []policy.Policy{pol("a", policy.Match{Tags: []string{"prod"}}),
			pol("b", policy.Match{Risk: high}), pol("c", policy.Match{Tags: []string{"prod", "pci"}, Risk: []access.Risk{"high", "medium"}})}},
		{name: "a more specific policy covering part of it does not", policies: []policy.Policy{pol("a", policy.Match{Tags: []string{"prod"}}),
			pol("b", policy.Match{Risk: high}), pol("c", policy.Match{Tags: []string{"prod"}, Risk: high, Groups: []string{"sre"}})},
			tie: "any app, risk high, tagged prod"},
		{name: "a condition never covers", policies: []policy.Policy{pol("a", policy.Match{Tags: []string{"prod"}}),
			pol("b", policy.Match{Risk: high}), pol("c", policy.Match{Tags: []string{"prod"}, Risk: high, Condition: "true"})},
			tie: "any app, risk high, tagged prod"},
		{name: "a shared condition covers", policies: []policy.Policy{pol("a", policy.Match{Apps: []string{"aws"}, Condition: "true"}),
			pol("b", policy.Match{Risk: high, Condition: "false"}), pol("c", policy.Match{Apps: []string{"aws"}, Risk: high, Condition: "true"})}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := problems(t, append([]policy.Policy{defaultPolicy()}, tc.policies...), tc.opts...)
			if tc.tie == "" {
				require.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			require.Contains(t, got[0], "policies a and b are equally specific")
			require.Contains(t, got[0], "can both match a request ("+tc.tie+")")
			require.True(t, strings.HasPrefix(got[0], "policies[2].match: "), got[0])
		})
	}
}
