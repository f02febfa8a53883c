package policy_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
)

// FuzzCondition feeds arbitrary CEL to the validator, as a match condition
// and as an auto-approve rule: it must never panic, and a condition that
// validates must evaluate (to a plan or a coded error) without panicking or
// running past the limits.
func FuzzCondition(f *testing.F) {
	for _, seed := range []string{
		`true`, `request.duration <= duration("1h")`, `"sre" in oncall && entitlement.risk != "high"`,
		`now.hour("Europe/Paris") >= 9 && now.weekday("Europe/Paris") != "sunday"`,
		`requester.groups.exists(g, g == "sre")`, `request.reason.matches("[A-Z]+-[0-9]+")`,
		`[1,2,3].map(x, [1,2,3].map(y, x * y)).size() > 0`, `requester.groups[3] == "x"`,
		`now.getHours("Europe/Paris") > 1`, `1 / 0 == 1`, `request.reason.size() > 9223372036854775807`,
		`((((((((((true))))))))))`, `"\xff"`, `{"a": 1}["b"] == 1`, `duration("99999999999h") > request.duration`,
		`timestamp("9999-12-31T23:59:59Z") > now`, `now.hour(request.reason) == 1`, `dyn(1) == true`,
	} {
		f.Add(seed)
	}
	b := newBundle()
	rot := policy.WithRotations([]policy.Rotation{weekly()})
	limits := policy.WithLimits(policy.Limits{Cost: 10_000, Timeout: 100 * time.Millisecond})
	f.Fuzz(func(t *testing.T, cond string) {
		steps := []policy.StepRule{step("m", policy.ApproverRule{Manager: true})}
		ps := []policy.Policy{defaultPolicy(),
			{ID: "c", Match: policy.Match{Apps: []string{"aws"}, Condition: cond}, Steps: steps},
			{ID: "a", Match: policy.Match{Entitlements: []string{"aws:read"}}, Steps: steps,
				AutoApprove: []policy.AutoApproveRule{{Name: "r", Condition: cond}}}}
		e, err := policy.New(ps, time.Hour, rot, limits)
		if err != nil {
			var ve *policy.ValidationError
			require.ErrorAs(t, err, &ve)
			require.NotEmpty(t, ve.Problems)
			return
		}
		for _, key := range []string{"read", "admin"} {
			plan, err := e.Evaluate(t.Context(), b.dir, b.input(key))
			if err != nil {
				require.NotEmpty(t, access.ErrorCode(err), "a condition's failure is coded: %v", err)
				continue
			}
			require.NotEmpty(t, plan.PolicyID)
		}
		sim, err := e.Simulate(t.Context(), b.dir, b.input("read"))
		require.NoError(t, err)
		require.NotEmpty(t, sim.Text())
	})
}

// FuzzPolicySetJSON decodes arbitrary JSON as a policy set: no panic, and
// a set that decodes encodes to JSON that decodes to the same set.
func FuzzPolicySetJSON(f *testing.F) {
	data, _, err := policy.EncodeSet([]policy.Policy{defaultPolicy(), everything()})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{string(data), `[]`, `[{}]`, `[{"id":"x","max_duration":"1h"}]`, `[{"steps":[{"escalate_after":"-1h"}]}]`,
		`[{"reminders":{"after":"1w","every":"0s"}}]`, `null`, `[{"match":{"risk":["x"]}}]`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := policy.DecodeSet(data)
		if err != nil {
			return
		}
		_ = policy.Validate(set) //nolint:errcheck // only checking it does not panic
		again, digest, err := policy.EncodeSet(set)
		require.NoError(t, err)
		back, err := policy.DecodeSet(again)
		require.NoError(t, err)
		twice, digest2, err := policy.EncodeSet(back)
		require.NoError(t, err)
		require.JSONEq(t, string(again), string(twice))
		require.Equal(t, digest, digest2)
	})
}
