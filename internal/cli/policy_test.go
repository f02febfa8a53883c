package cli_test

import (
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/auth"
	"github.com/sesame-access/sesame/internal/cli"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/fake"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/web/api"
	"github.com/sesame-access/sesame/internal/web/api/apitest"
	"github.com/sesame-access/sesame/internal/workflow"
)

// setupPolicies serves the apitest fixture from a Service whose policies
// live in the store, with the two-person rule on and a second admin, ann.
func setupPolicies(t *testing.T) (*testBundle, *access.User) {
	t.Helper()
	env := apitest.New(t)
	ctx := t.Context()
	now := env.Clock.Now()
	ann := &access.User{ID: "usr_ann", Email: "ann@example.com", Name: "Ann", Roles: []access.Role{access.RoleAdmin},
		Status: access.UserActive, CreatedAt: now, UpdatedAt: now}
	require.NoError(t, env.Store.UserUpsert(ctx, ann))
	require.NoError(t, env.Store.InTx(ctx, func(q store.Queries) error {
		secret, _, err := auth.CreateToken(ctx, q, ann.ID, "test", time.Time{}, now)
		env.Tokens[ann.ID] = secret
		return err
	}))
	conns := connector.NewRegistry()
	conns.Register(fake.TypeName, env.Backend.Factory())
	svc, err := workflow.New(workflow.Config{Store: env.Store, Clock: env.Clock, Policy: policy.NewCurrent(0), Connectors: conns})
	require.NoError(t, err)
	_, _, err = svc.SeedPolicies(ctx, []policy.Policy{{ID: "default", Default: true, MaxDuration: 72 * time.Hour,
		Steps: []policy.StepRule{{Name: "approval", Approvers: policy.ApproverRule{Users: []string{"bob@example.com", "carol@example.com"}},
			RequesterChooses: true}}}})
	require.NoError(t, err)
	served := *env
	served.Service = svc
	served.Handler = api.New(api.Config{Service: svc, Store: env.Store, Clock: env.Clock, Logger: slog.New(slog.DiscardHandler),
		TwoPersonRule: true})
	served.Server = httptest.NewServer(served.Handler)
	t.Cleanup(served.Server.Close)
	return &testBundle{env: &served}, ann
}

// proposedYAML is the config file's format: durations as text, a
// duration-valued key the YAML reads as a number left out.
const proposedYAML = `# the default, and db reads approved by themselves
- id: default
  default: true
  max_duration: 3d
  steps:
    - name: approval
      approvers:
        users: [bob@example.com, carol@example.com]
      requester_chooses: true
- id: db-read
  description: reads are harmless
  match:
    entitlements: [db:read]
  steps:
    - name: bob
      approvers: {users: [bob@example.com]}
      required: 1
  auto_approve:
    - name: always
      condition: "true"
  reason:
    required: false
`

var changeID = regexp.MustCompile(`pch_[0-9A-Z]{26}`)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestPolicyCommands(t *testing.T) {
	t.Parallel()
	b, ann := setupPolicies(t)
	e := b.env

	out := b.ok(t, e.Dave, "policy", "list")
	require.Equal(t, ""+
		"Version: 1\n"+
		"Source:  config\n"+
		"Updated: 2025-06-02 09:00Z by system\n"+
		"\n"+
		"ID       MATCH    STEPS     AUTO-APPROVE  MAX\n"+
		"default  default  approval  -             3d\n", out)

	out = b.ok(t, e.Carol, "policy", "propose", writeFile(t, "policies.yaml", proposedYAML), "--comment", "db reads")
	id := changeID.FindString(out)
	require.NotEmpty(t, id, out)
	require.Equal(t, "Policy change "+id+" is proposed: another admin must approve it (sesame policy approve "+id+").\n"+
		"  added policy db-read\n", out)

	out = b.ok(t, e.Dave, "policy", "changes", "--state", "proposed")
	require.Equal(t, ""+
		"ID                              STATE     PROPOSED BY        PROPOSED           BASE  CHANGES\n"+
		id+"  proposed  carol@example.com  2025-06-02 09:00Z  1     added policy db-read\n", out)

	out = b.ok(t, e.Dave, "policy", "show", id)
	require.Equal(t, ""+
		"ID:           "+id+"\n"+
		"State:        proposed\n"+
		"Proposed:     2025-06-02 09:00Z by carol@example.com\n"+
		"Comment:      db reads\n"+
		"Base version: 1\n"+
		"\nChanges:\n  added policy db-read\n", out)

	res := b.run(t, e.Carol, "policy", "approve", id)
	require.Equal(t, cli.ExitError, res.code)
	require.Equal(t, "error: Forbidden: you proposed this policy change: another admin must approve it\n", res.stderr)

	out = b.ok(t, ann, "policy", "approve", id, "--comment", "ok")
	require.Equal(t, "Policy change "+id+" is applied: version 2 is in force.\n  added policy db-read\n", out)
	out = b.ok(t, e.Dave, "policy", "show", id)
	require.Contains(t, out, "Decided:      2025-06-02 09:00Z by ann@example.com: ok\n")
	require.Contains(t, out, "Applied:      2025-06-02 09:00Z as version 2\n")

	out = b.ok(t, e.Carol, "policy", "list")
	require.Contains(t, out, "Version: 2\nSource:  api (change "+id+")\n")
	require.Contains(t, out, "db-read  entitlements=db:read  bob       always        -\n")

	// list --json round-trips into propose (a mapping with policies:).
	out = b.ok(t, e.Carol, "policy", "list", "--json")
	var set struct {
		Version  int64             `json:"version"`
		Policies []json.RawMessage `json:"policies"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &set))
	require.Equal(t, int64(2), set.Version)
	res = b.run(t, e.Carol, "policy", "propose", writeFile(t, "same.json", out))
	require.Equal(t, cli.ExitError, res.code)
	require.Contains(t, res.stderr, "policies: are the same as the current ones")

	// Rejecting: the proposer withdraws a new change.
	out = b.ok(t, e.Carol, "policy", "propose", writeFile(t, "config.yaml", "org:\n  max_duration: 12h\npolicies:\n"+
		"  - id: default\n    default: true\n    steps: [{name: approval, approvers: {users: [bob@example.com]}}]\n"))
	second := changeID.FindString(out)
	out = b.ok(t, e.Carol, "policy", "reject", second, "--comment", "wrong file")
	require.Equal(t, "Policy change "+second+" is rejected.\n  changed policy default: steps, max_duration\n  removed policy db-read\n", out)
	res = b.run(t, ann, "policy", "approve", second)
	require.Equal(t, cli.ExitError, res.code)
	require.Contains(t, res.stderr, "error: Conflict:")
}

func TestPolicyCommandErrors(t *testing.T) {
	t.Parallel()
	b, _ := setupPolicies(t)
	e := b.env

	res := b.run(t, e.Carol, "policy", "propose", writeFile(t, "bad.yaml",
		"- id: default\n  default: true\n  steps: [{name: s, approvers: {manager: true}}]\n"+
			"- id: x\n  match: {condition: 'request.nope'}\n  steps: [{name: s, approvers: {manager: true}}]\n"))
	require.Equal(t, cli.ExitError, res.code)
	require.Regexp(t, `^error: Unprocessable Entity: invalid policies\n  policies\[1\]\.match\.condition: `, res.stderr)

	res = b.run(t, e.Carol, "policy", "propose", writeFile(t, "dur.yaml", "- id: default\n  default: true\n  max_duration: 0\n"))
	require.Equal(t, cli.ExitError, res.code)
	require.Contains(t, res.stderr, "policies[0]: ")
	require.Contains(t, res.stderr, "missing unit")

	res = b.run(t, e.Alice, "policy", "list")
	require.Equal(t, cli.ExitError, res.code)
	require.Contains(t, res.stderr, "error: Forbidden:")

	for _, args := range [][]string{
		{"policy"}, {"policy", "bogus"}, {"policy", "test"}, {"policy", "propose"}, {"policy", "show"}, {"policy", "approve", "a", "b"},
		{"policy", "propose", filepath.Join(t.TempDir(), "missing.yaml")},
		{"policy", "propose", writeFile(t, "map.yaml", "org: {}\n")},
		{"policy", "propose", writeFile(t, "scalar.yaml", "policies: 3\n")},
		{"policy", "propose", writeFile(t, "broken.yaml", "- id: [\n")},
	} {
		res := b.run(t, e.Carol, args...)
		require.Equal(t, cli.ExitUsage, res.code, "%v: %s", args, res.stderr)
		require.NotEmpty(t, res.stderr, args)
	}
}
