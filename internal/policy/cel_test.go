package policy_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/policy"
)

// TestConditionVariables checks what each variable holds: alice asks for
// aws:admin for 1h on Tuesday 2026-01-20 10:00 UTC, on call for sre.
func TestConditionVariables(t *testing.T) {
	t.Parallel()
	for _, cond := range []string{
		`request.duration == duration("1h")`,
		`request.reason == "OPS-1 fix the thing"`,
		`request.entitlements == ["aws:admin"]`,
		`requester.id == "usr_alice" && requester.email == "alice@example.com" && requester.name == "Alice"`,
		`requester.groups == ["eng", "sre"] && "sre" in requester.groups`,
		`requester.manager == "bob@example.com"`,
		`app.id == "aws" && app.name == "AWS" && app.tags == ["critical"]`,
		`entitlement.id == "aws:admin" && entitlement.key == "admin" && entitlement.name == "Admin"`,
		`entitlement.risk == "high" && "pci" in entitlement.tags`,
		`now == timestamp("2026-01-20T10:00:00Z")`,
		`oncall == ["sre"]`,
		`now.hour() == 10 && now.hour("Europe/Paris") == 11 && now.hour("America/New_York") == 5`,
		`now.weekday() == "tuesday" && now.weekday("Asia/Tokyo") == "tuesday" && now.weekday("Pacific/Honolulu") == "tuesday"`,
		`now.getHours() == 10 && now.getDayOfWeek() == 2`,
		`request.reason.matches("^[A-Z]+-[0-9]+ ") && request.duration < duration("90m")`,
		`requester.groups.exists(g, g.startsWith("s"))`,
	} {
		t.Run(cond, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			e := engine(t, []policy.Option{policy.WithRotations([]policy.Rotation{weekly()})},
				policy.Policy{ID: "c", Match: policy.Match{Condition: cond}, Steps: []policy.StepRule{step("m", policy.ApproverRule{Manager: true})}})
			in := b.input("admin")
			in.AppTags = []string{"critical"}
			plan, err := e.Evaluate(b.ctx, b.dir, in)
			require.NoError(t, err)
			require.Equal(t, "c", plan.PolicyID, "the condition holds")
		})
	}
}

func TestVariablesDocumented(t *testing.T) {
	t.Parallel()
	vars := policy.Variables()
	require.Len(t, vars, 18)
	for _, v := range vars {
		require.NotEmpty(t, v.Doc, v.Name)
		require.NotEmpty(t, v.Type, v.Name)
	}
	require.Equal(t, policy.Variable{Name: "request.duration", Type: "google.protobuf.Duration",
		Doc: "the requested duration; in auto_approve conditions, the policy's default_duration when the requester gave none"}, vars[0])
}
