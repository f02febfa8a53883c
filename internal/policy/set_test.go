package policy_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
)

// everything is a policy with every field set.
func everything() policy.Policy {
	return policy.Policy{ID: "all", Description: "every field",
		Match: policy.Match{Apps: []string{"aws"}, Entitlements: []string{"aws:admin"}, Tags: []string{"prod"},
			Risk: []access.Risk{access.RiskHigh}, Groups: []string{"sre"}, Condition: `request.duration < duration("2h")`},
		Steps: []policy.StepRule{{Name: "s", Approvers: policy.ApproverRule{Users: []string{"bob@example.com"}, Groups: []string{"g"},
			Manager: true, ManagersManager: true, AppOwners: true, EntitlementOwners: true, OnCall: []string{"sre"}},
			Required: 2, RequesterChooses: true, Choose: 3, EscalateAfter: 90 * time.Minute,
			EscalateTo: policy.ApproverRule{Users: []string{"dana@example.com"}}}},
		AutoApprove: []policy.AutoApproveRule{{Name: "r", Condition: "true"}},
		MaxDuration: 4 * time.Hour, DefaultDuration: time.Hour, PendingTimeout: 2 * 24 * time.Hour,
		Reminders: policy.Reminders{After: time.Hour, Every: 4 * time.Hour, Max: 3},
		Reason:    policy.ReasonRule{Required: true, MinLength: 10, Pattern: "p", TicketPattern: "t", Hint: "h"},
		Extension: policy.ExtensionRule{Approval: policy.ExtensionSteps, AutoWithin: 2 * time.Hour}}
}

func TestPolicyJSON(t *testing.T) {
	t.Parallel()
	data, err := json.Marshal(everything())
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"all","description":"every field",
		"match":{"apps":["aws"],"entitlements":["aws:admin"],"tags":["prod"],"risk":["high"],"groups":["sre"],"condition":"request.duration < duration(\"2h\")"},
		"steps":[{"name":"s","approvers":{"users":["bob@example.com"],"groups":["g"],"manager":true,"managers_manager":true,"app_owners":true,"entitlement_owners":true,"oncall":["sre"]},
			"required":2,"requester_chooses":true,"choose":3,"escalate_after":"1h30m","escalate_to":{"users":["dana@example.com"]}}],
		"auto_approve":[{"name":"r","condition":"true"}],
		"max_duration":"4h","default_duration":"1h","pending_timeout":"2d",
		"reminders":{"after":"1h","every":"4h","max":3},
		"reason":{"required":true,"min_length":10,"pattern":"p","ticket_pattern":"t","hint":"h"},
		"extension":{"approval":"steps","auto_within":"2h"}}`, string(data))
	var back policy.Policy
	require.NoError(t, json.Unmarshal(data, &back))
	require.Equal(t, everything(), back)

	for _, bad := range []string{
		`{"id":"x","colour":"red"}`,
		`{"id":"x","max_duration":3600}`,
		`{"id":"x","max_duration":"soon"}`,
		`{"id":"x","match":{"app":["aws"]}}`,
		`{"id":"x","steps":[{"approvers":{"owners":true}}]}`,
		`{"id":"x","steps":[{"escalate_after":"1 fortnight"}]}`,
		`{"id":"x","reminders":{"after":"1h","often":true}}`,
		`{"id":"x","reason":{"regex":"x"}}`,
		`{"id":"x","auto_approve":[{"name":"r","when":"true"}]}`,
		`{"id":"x","extension":{"approval":"auto","within":"1h"}}`,
		`{"id":"x","extension":{"auto_within":7200}}`,
	} {
		require.Error(t, json.Unmarshal([]byte(bad), &back), bad)
	}
}

func TestEncodeDecodeSet(t *testing.T) {
	t.Parallel()
	set := []policy.Policy{defaultPolicy(), everything()}
	data, digest, err := policy.EncodeSet(set)
	require.NoError(t, err)
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, digest)
	back, err := policy.DecodeSet(data)
	require.NoError(t, err)
	require.Equal(t, set, back)
	_, again, err := policy.EncodeSet(back)
	require.NoError(t, err)
	require.Equal(t, digest, again, "encoding is stable")

	empty, _, err := policy.EncodeSet(nil)
	require.NoError(t, err)
	require.JSONEq(t, `[]`, string(empty))
	_, err = policy.DecodeSet([]byte(`{}`))
	require.Error(t, err)
}

func TestSeedFromConfig(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 20, 10, 0, 0, 0, time.UTC)
	file := []policy.Policy{defaultPolicy()}

	first, put, err := policy.SeedFromConfig(nil, file, "system", now)
	require.NoError(t, err)
	require.True(t, put, "an empty store is seeded")
	require.Equal(t, int64(0), first.Version)
	require.Equal(t, policy.SourceConfig, first.Source)
	require.Equal(t, first.Digest, first.ConfigDigest)
	first.Version = 1

	_, put, err = policy.SeedFromConfig(first, file, "system", now)
	require.NoError(t, err)
	require.False(t, put, "an unchanged file leaves the store alone")

	// An API change keeps the file's digest: the next start leaves it.
	c := &policy.Change{ID: "pch_1", ProposedBy: "usr_ann", After: []policy.Policy{defaultPolicy(), everything()}}
	next, err := policy.NextSet(first, c, now)
	require.NoError(t, err)
	require.Equal(t, policy.SourceAPI, next.Source)
	require.Equal(t, first.ConfigDigest, next.ConfigDigest)
	require.NotEqual(t, first.Digest, next.Digest)
	require.Equal(t, "pch_1", next.ChangeID)
	next.Version = 2
	_, put, err = policy.SeedFromConfig(next, file, "system", now)
	require.NoError(t, err)
	require.False(t, put)

	// A changed file wins.
	changed := []policy.Policy{defaultPolicy(), everything()}
	changed[0].MaxDuration = time.Hour
	seed, put, err := policy.SeedFromConfig(next, changed, "system", now)
	require.NoError(t, err)
	require.True(t, put)
	require.Equal(t, int64(2), seed.Version, "put on top of the stored version")

	_, err = policy.NextSet(nil, c, now)
	require.Error(t, err)
}

func TestCurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var cur policy.Current
	_, err := cur.Evaluate(b.ctx, b.dir, b.input("read"))
	require.Error(t, err, "nothing loaded")
	e, v := cur.Engine()
	require.Nil(t, e)
	require.Zero(t, v)

	cur.Set(engine(t, nil), 7)
	plan, err := cur.Evaluate(b.ctx, b.dir, b.input("read"))
	require.NoError(t, err)
	require.Equal(t, "default", plan.PolicyID)
	_, v = cur.Engine()
	require.Equal(t, int64(7), v)
}

func TestCurrentBuilds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cur := policy.NewCurrent(30*time.Minute, policy.WithRotations(nil))
	_, err := cur.Simulate(b.ctx, b.dir, b.input("read"))
	require.Error(t, err, "nothing loaded")
	require.Len(t, cur.Options(), 1)

	// Build compiles with the org maximum: a 1h request is too long.
	e, err := cur.Build([]policy.Policy{defaultPolicy()})
	require.NoError(t, err)
	require.True(t, cur.SetIfNewer(e, 2))
	sim, err := cur.Simulate(b.ctx, b.dir, b.input("read"))
	require.NoError(t, err)
	require.Equal(t, "30m", sim.Durations.Max)

	// An older version never replaces a newer one.
	older := engine(t, nil)
	require.False(t, cur.SetIfNewer(older, 1))
	require.False(t, cur.SetIfNewer(older, 2))
	got, v := cur.Engine()
	require.Same(t, e, got)
	require.Equal(t, int64(2), v)
	require.True(t, cur.SetIfNewer(older, 3))

	_, err = cur.Build([]policy.Policy{{ID: "x"}})
	require.Error(t, err)
}
