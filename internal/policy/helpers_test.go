package policy_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/policy/policytest"
)

// testBundle is a small org: alice asks, the others approve.
//
//	alice  eng, sre      manager bob
//	bob    eng, managers manager dana
//	carol  security      manager dana
//	dana   managers
//	erin   eng, sre      manager bob
//	olga   security      offboarded
//	sam    security      manager carol
type testBundle struct {
	ctx   context.Context
	dir   *policytest.Directory
	users map[string]*access.User
	app   *access.App
	ents  map[string]*access.Entitlement
	now   time.Time
}

func setup(t testing.TB) *testBundle {
	t.Helper()
	b := newBundle()
	b.ctx = t.Context()
	return b
}

// newBundle builds the bundle without a context (for fuzz targets, which
// use each input's).
func newBundle() *testBundle {
	b := &testBundle{users: map[string]*access.User{}, ents: map[string]*access.Entitlement{},
		now: time.Date(2026, 1, 20, 10, 0, 0, 0, time.UTC)} // a Tuesday
	add := func(name, manager string, groups ...string) *access.User {
		u := policytest.User(name, groups...)
		if manager != "" {
			u.ManagerID = "usr_" + manager
		}
		b.users[name] = u
		return u
	}
	add("alice", "bob", "eng", "sre")
	add("bob", "dana", "eng", "managers")
	add("carol", "dana", "security")
	add("dana", "", "managers")
	add("erin", "bob", "eng", "sre")
	add("olga", "", "security").Status = access.UserOffboarded
	add("sam", "carol", "security")
	b.dir = policytest.NewDirectory()
	for _, name := range []string{"alice", "bob", "carol", "dana", "erin", "olga", "sam"} {
		b.dir.Add(b.users[name])
	}
	b.app = &access.App{ID: "aws", Name: "AWS", Owners: []string{"usr_erin", "usr_olga"}}
	for _, e := range []*access.Entitlement{
		{Key: "read", Name: "Read", Risk: access.RiskLow, Tags: []string{"prod"}},
		{Key: "admin", Name: "Admin", Risk: access.RiskHigh, MaxDuration: time.Hour, Tags: []string{"prod", "pci"}, Owners: []string{"usr_sam"}},
		{Key: "billing", Name: "Billing", Risk: access.RiskMedium, Tags: []string{"finance"}},
	} {
		e.ID, e.AppID = access.EntitlementID("aws", e.Key), "aws"
		b.ents[e.Key] = e
	}
	return b
}

// input is alice asking for the entitlements (keys of aws) for 1h.
func (b *testBundle) input(keys ...string) policy.Input {
	in := policy.Input{Requester: b.users["alice"], App: b.app, Duration: time.Hour, Reason: "OPS-1 fix the thing", Now: b.now}
	for _, k := range keys {
		in.Entitlements = append(in.Entitlements, b.ents[k])
	}
	return in
}

func defaultPolicy() policy.Policy {
	return policy.Policy{ID: "default", Default: true,
		Steps: []policy.StepRule{{Name: "owners", Approvers: policy.ApproverRule{AppOwners: true}}}}
}

// engine builds an engine from the default policy and ps.
func engine(t *testing.T, opts []policy.Option, ps ...policy.Policy) *policy.Engine {
	t.Helper()
	e, err := policy.New(append([]policy.Policy{defaultPolicy()}, ps...), 12*time.Hour, opts...)
	require.NoError(t, err)
	return e
}

func emails(as []policy.Approver) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.Email)
	}
	return out
}

func step(name string, a policy.ApproverRule) policy.StepRule {
	return policy.StepRule{Name: name, Approvers: a}
}
