package policy_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/policy/policytest"
)

// benchOrg is a large organisation: 100,000 users in 5,000 groups (3
// each, about 60 per group, managers 10 levels deep), 200 apps of 10
// entitlements, 20 weekly rotations, and 1,000 policies: the default, one
// per app, one per app for a group with a condition, and one for each of
// 599 entitlements, a third of them with an auto-approve rule.
type benchOrg struct {
	engine *policy.Engine
	dir    *policytest.Directory
	users  []*access.User
	apps   []*access.App
	ents   [][]*access.Entitlement
	now    time.Time
}

const (
	benchUsers    = 100_000
	benchGroups   = 5_000
	benchApps     = 200
	benchEntsApp  = 10
	benchPolicies = 1_000
)

func newBenchOrg(tb testing.TB) *benchOrg {
	tb.Helper()
	o := &benchOrg{dir: policytest.NewDirectory(), now: time.Date(2026, 1, 20, 10, 0, 0, 0, time.UTC)}
	group := func(i int) string { return fmt.Sprintf("g%04d", i%benchGroups) }
	for i := range benchUsers {
		u := &access.User{ID: fmt.Sprintf("usr_%06d", i), Email: fmt.Sprintf("user%06d@example.com", i), Name: fmt.Sprintf("User %d", i),
			Groups: []string{group(i), group(i*7 + 1), group(i*13 + 2)}, Status: access.UserActive}
		if i > 0 {
			u.ManagerID = fmt.Sprintf("usr_%06d", i/10)
		}
		if i%97 == 0 {
			u.Status = access.UserOffboarded
		}
		o.users = append(o.users, u)
		o.dir.Add(u)
	}
	var rotations []policy.Rotation
	for r := range 20 {
		rot := policy.Rotation{ID: fmt.Sprintf("rot-%d", r), Timezone: "Europe/Paris", Period: policy.RotationWeekly, Handoff: "09:00",
			Start: time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)}
		for m := range 10 {
			rot.Members = append(rot.Members, o.users[(r*10+m)*37].Email)
		}
		rotations = append(rotations, rot)
	}
	risks := []access.Risk{access.RiskLow, access.RiskMedium, access.RiskHigh}
	for a := range benchApps {
		app := &access.App{ID: fmt.Sprintf("app-%03d", a), Name: fmt.Sprintf("App %d", a),
			Owners: []string{o.users[a*11].ID, o.users[a*11+1].ID}}
		o.apps = append(o.apps, app)
		var ents []*access.Entitlement
		for k := range benchEntsApp {
			ents = append(ents, &access.Entitlement{ID: access.EntitlementID(app.ID, fmt.Sprintf("e%d", k)), AppID: app.ID,
				Key: fmt.Sprintf("e%d", k), Name: fmt.Sprintf("E%d", k), Risk: risks[k%3], Tags: []string{"prod"},
				Owners: []string{o.users[a*13+k].ID}})
		}
		o.ents = append(o.ents, ents)
	}
	ps := []policy.Policy{{ID: "default", Default: true, Steps: []policy.StepRule{
		{Name: "owners", Approvers: policy.ApproverRule{AppOwners: true}, RequesterChooses: true}}}}
	for a, app := range o.apps {
		ps = append(ps, policy.Policy{ID: "app-" + app.ID, Match: policy.Match{Apps: []string{app.ID}},
			Steps: []policy.StepRule{
				{Name: "manager", Approvers: policy.ApproverRule{Manager: true, ManagersManager: true}},
				{Name: "team", Approvers: policy.ApproverRule{Groups: []string{group(a)}}, EscalateAfter: time.Hour,
					EscalateTo: policy.ApproverRule{Groups: []string{group(a + 1)}}},
			}})
		ps = append(ps, policy.Policy{ID: "team-" + app.ID,
			Match: policy.Match{Apps: []string{app.ID}, Groups: []string{group(a * 3)},
				Condition: `request.duration <= duration("4h") && now.weekday("Europe/Paris") != "sunday"`},
			Steps: []policy.StepRule{{Name: "peer", Approvers: policy.ApproverRule{Groups: []string{group(a * 3)}}, RequesterChooses: true}}})
	}
	for i := 0; len(ps) < benchPolicies; i++ {
		a, k := i%benchApps, i/benchApps
		p := policy.Policy{ID: fmt.Sprintf("ent-%d", i), Match: policy.Match{Entitlements: []string{o.ents[a][k].ID}},
			Steps: []policy.StepRule{
				{Name: "owners", Approvers: policy.ApproverRule{EntitlementOwners: true, AppOwners: true}},
				{Name: "security", Approvers: policy.ApproverRule{Groups: []string{group(i + 7)}, OnCall: []string{rotations[i%20].ID}}, Required: 1},
			}, MaxDuration: 4 * time.Hour, DefaultDuration: time.Hour,
			Reason: policy.ReasonRule{Required: true, TicketPattern: `[A-Z]+-\d+`}}
		if i%3 == 0 {
			p.AutoApprove = []policy.AutoApproveRule{{Name: "oncall",
				Condition: fmt.Sprintf(`%q in oncall && request.duration <= duration("1h") && entitlement.risk != "high"`, rotations[i%20].ID)}}
		}
		ps = append(ps, p)
	}
	start := time.Now() //nolint:forbidigo // measuring real time
	e, err := policy.New(ps, 12*time.Hour, policy.WithRotations(rotations))
	require.NoError(tb, err)
	tb.Logf("validated and compiled %d policies in %s", len(ps), time.Since(start).Round(time.Millisecond)) //nolint:forbidigo // see above
	o.engine = e
	return o
}

// BenchmarkEvaluate evaluates random single-entitlement requests and
// reports the latency percentiles of one evaluation (target: p99 under
// 1 ms).
func BenchmarkEvaluate(b *testing.B) {
	o := newBenchOrg(b)
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := make([]policy.Input, 4096)
	for i := range inputs {
		a := rng.IntN(benchApps)
		inputs[i] = policy.Input{Requester: o.users[rng.IntN(benchUsers)], App: o.apps[a],
			Entitlements: []*access.Entitlement{o.ents[a][rng.IntN(benchEntsApp)]},
			Duration:     time.Duration(1+rng.IntN(4)) * time.Hour, Reason: "OPS-1 benchmark", Now: o.now}
	}
	ctx := b.Context()
	latencies := make([]time.Duration, 0, 1<<16)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		in := inputs[i%len(inputs)]
		i++
		start := time.Now() //nolint:forbidigo // the benchmark measures real latency
		plan, err := o.engine.Evaluate(ctx, o.dir, in)
		latencies = append(latencies, time.Since(start)) //nolint:forbidigo // see above
		if err != nil || plan == nil {
			b.Fatalf("evaluate: %v", err)
		}
	}
	slices.Sort(latencies)
	at := func(q float64) float64 {
		return float64(latencies[min(len(latencies)-1, int(q*float64(len(latencies))))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
	b.ReportMetric(at(1)-0, "max-µs")
}

// TestBenchOrgValid keeps the benchmark's organisation valid and its
// evaluations quick without running the benchmark.
func TestBenchOrgValid(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 100,000 users")
	}
	t.Parallel()
	o := newBenchOrg(t)
	in := policy.Input{Requester: o.users[12345], App: o.apps[3], Entitlements: []*access.Entitlement{o.ents[3][0]},
		Duration: time.Hour, Now: o.now}
	plan, err := o.engine.Evaluate(t.Context(), o.dir, in)
	require.NoError(t, err)
	require.Equal(t, "ent-3", plan.PolicyID)
}
