package policy_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/config"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/policy/policytest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden and the simulations in docs/policies.md")

// example is examples/policies.yaml loaded as the server would: users in a
// directory (frank offboarded since), apps and entitlements by ID.
type example struct {
	engine *policy.Engine
	dir    *policytest.Directory
	users  map[string]*access.User // by email
	apps   map[string]*access.App
	ents   map[string]*access.Entitlement
}

func loadExample(t *testing.T) *example {
	t.Helper()
	c, err := config.Load("../../examples/policies.yaml", nil)
	require.NoError(t, err)
	e, err := policy.New(c.Policies, c.Org.MaxDuration, c.PolicyOptions()...)
	require.NoError(t, err)
	ex := &example{engine: e, dir: policytest.NewDirectory(), users: map[string]*access.User{},
		apps: map[string]*access.App{}, ents: map[string]*access.Entitlement{}}
	id := func(email string) string { return "usr_" + strings.Split(email, "@")[0] }
	ids := func(emails []string) []string {
		var out []string
		for _, e := range emails {
			out = append(out, id(e))
		}
		return out
	}
	for _, u := range c.Users {
		au := &access.User{ID: id(u.Email), Email: u.Email, Name: u.Name, Groups: u.Groups, Roles: u.Roles, Status: access.UserActive}
		if u.Manager != "" {
			au.ManagerID = id(u.Manager)
		}
		if u.Email == "frank@example.com" {
			au.Status = access.UserOffboarded
		}
		ex.users[u.Email] = au
		ex.dir.Add(au)
	}
	for _, a := range c.Catalog.Apps {
		ex.apps[a.ID] = &access.App{ID: a.ID, Name: a.Name, Owners: ids(a.Owners)}
		for _, ce := range a.Entitlements {
			ent := &access.Entitlement{ID: access.EntitlementID(a.ID, ce.Key), AppID: a.ID, Key: ce.Key, Name: ce.Name,
				MaxDuration: ce.MaxDuration, Requestable: ce.Requestable, Risk: ce.Risk, Tags: ce.Tags, Owners: ids(ce.Owners)}
			ex.ents[ent.ID] = ent
		}
	}
	return ex
}

// scenario is one `sesame policy test` run.
type scenario struct {
	name, requester, app string
	entitlements         []string // keys
	duration             time.Duration
	reason               string
	at                   time.Time
}

// command is the CLI line the scenario stands for.
func (s scenario) command() string {
	cmd := "$ sesame policy test --requester " + s.requester + " --app " + s.app
	for _, e := range s.entitlements {
		cmd += " --entitlement " + e
	}
	if s.duration > 0 {
		cmd += " --duration " + access.FormatDuration(s.duration)
	}
	if s.reason != "" {
		cmd += " --reason '" + s.reason + "'"
	}
	return cmd + " --at " + s.at.Format(time.RFC3339)
}

func (s scenario) input(t *testing.T, ex *example) policy.Input {
	t.Helper()
	in := policy.Input{Requester: ex.users[s.requester], App: ex.apps[s.app], Duration: s.duration, Reason: s.reason, Now: s.at}
	require.NotNil(t, in.Requester)
	require.NotNil(t, in.App)
	for _, k := range s.entitlements {
		e := ex.ents[access.EntitlementID(s.app, k)]
		require.NotNil(t, e, k)
		in.Entitlements = append(in.Entitlements, e)
	}
	return in
}

var (
	tuesday  = time.Date(2026, 1, 20, 10, 0, 0, 0, time.UTC)
	saturday = time.Date(2026, 1, 24, 21, 0, 0, 0, time.UTC)
)

func scenarios() []scenario {
	return []scenario{
		{name: "oncall-auto-approve", requester: "alice@example.com", app: "aws-prod", entitlements: []string{"read"},
			duration: time.Hour, reason: "OPS-12 check the load balancer logs", at: tuesday},
		{name: "production-peer", requester: "erin@example.com", app: "aws-prod", entitlements: []string{"read"},
			duration: 3 * time.Hour, reason: "OPS-13 investigate the latency spike", at: tuesday},
		{name: "production-high-risk", requester: "erin@example.com", app: "aws-prod", entitlements: []string{"admin"},
			duration: 2 * time.Hour, reason: "SEC-7: rotate the leaked access key", at: tuesday},
		{name: "requester-on-call", requester: "alice@example.com", app: "aws-prod", entitlements: []string{"admin"},
			duration: time.Hour, reason: "SEC-8: rotate the KMS key", at: tuesday},
		{name: "github-admin", requester: "erin@example.com", app: "github", entitlements: []string{"admin"},
			duration: 30 * time.Minute, reason: "add the new deploy key to the org", at: tuesday},
		{name: "default-policy", requester: "zoe@example.com", app: "grafana", entitlements: []string{"editor"},
			reason: "graphs", at: tuesday},
		{name: "after-hours-database", requester: "erin@example.com", app: "postgres-prod", entitlements: []string{"rw"},
			duration: time.Hour, reason: "OPS-20 failover drill", at: saturday},
		{name: "mixed-policies", requester: "erin@example.com", app: "aws-prod", entitlements: []string{"read", "admin"},
			duration: time.Hour, reason: "SEC-9: audit the account", at: tuesday},
	}
}

// golden compares got with testdata/name, or writes it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o750))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o600))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./internal/policy -run TestSimulateGolden -update")
	require.Equal(t, string(want), got)
}

// TestSimulateGolden renders the scenarios against examples/policies.yaml
// (testdata/<name>.golden), the JSON of one of them, and checks that
// Simulate agrees with Evaluate.
func TestSimulateGolden(t *testing.T) {
	t.Parallel()
	ex := loadExample(t)
	if *update {
		t.Cleanup(func() { updateDocs(t) }) // once every subtest wrote its file
	}
	for _, s := range scenarios() {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			in := s.input(t, ex)
			sim, err := ex.engine.Simulate(t.Context(), ex.dir, in)
			require.NoError(t, err)
			golden(t, s.name+".golden", s.command()+"\n"+sim.Text())

			plan, err := ex.engine.Evaluate(t.Context(), ex.dir, in)
			if sim.Outcome == policy.OutcomeRefused {
				require.EqualError(t, err, sim.Refused)
				return
			}
			require.NoError(t, err)
			require.Equal(t, plan, sim.Plan)
			require.Equal(t, plan.PolicyID, sim.PolicyID)
			_, why := plan.Unapprovable()
			require.Equal(t, why, sim.Unapprovable)
			if s.name == "production-high-risk" {
				var js strings.Builder
				enc := json.NewEncoder(&js)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				require.NoError(t, enc.Encode(sim))
				golden(t, s.name+".json.golden", js.String())
			}
		})
	}
}

var simBlock = regexp.MustCompile("(?s)<!-- simulation: ([a-z0-9.-]+) -->\n```(?:text|json)\n(.*?)```\n<!-- /simulation -->")

const doc = "../../docs/policies.md"

// docsFromGolden returns docs/policies.md with every simulation block
// replaced by its golden file, and the files shown.
func docsFromGolden(t *testing.T) (current, want string, shown map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(doc)
	require.NoError(t, err)
	shown = map[string]bool{}
	want = simBlock.ReplaceAllStringFunc(string(data), func(block string) string {
		m := simBlock.FindStringSubmatch(block)
		golden, err := os.ReadFile(filepath.Join("testdata", m[1]))
		require.NoError(t, err, m[1])
		shown[m[1]] = true
		lang := "text"
		if strings.HasSuffix(m[1], ".json.golden") {
			lang = "json"
		}
		return fmt.Sprintf("<!-- simulation: %s -->\n```%s\n%s```\n<!-- /simulation -->", m[1], lang, golden)
	})
	return string(data), want, shown
}

func updateDocs(t *testing.T) {
	_, want, _ := docsFromGolden(t)
	require.NoError(t, os.WriteFile(doc, []byte(want), 0o600))
}

// TestDocsShowGoldenFiles checks that docs/policies.md shows every
// scenario, each as its golden file (-update rewrites them).
func TestDocsShowGoldenFiles(t *testing.T) {
	t.Parallel()
	if *update {
		t.Skip("TestSimulateGolden rewrites docs/policies.md with -update")
	}
	current, want, shown := docsFromGolden(t)
	for _, s := range scenarios() {
		require.True(t, shown[s.name+".golden"], "docs/policies.md shows %s.golden", s.name)
	}
	require.Equal(t, want, current, "docs/policies.md is out of date: go test ./internal/policy -run TestSimulateGolden -update")
}
