package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/config"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/workflow"
)

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// policyCmd is "sesame policy test": explain what the configured policies
// do with a hypothetical request, on the database's people.
func policyCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	const use = `Usage: sesame policy test --requester EMAIL --app APP --entitlement KEY [--entitlement KEY...]
                          [--duration 2h] [--reason TEXT] [--at RFC3339] [--config FILE] [--json]

Explains which policy matches and why the others do not, the steps and the
eligible approvers of each (with reasons), whether the request would be
auto-approved, the max duration and how many people would be notified.

Example:
  sesame policy test --requester alice@example.com --app aws-prod --entitlement admin --duration 2h
`
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprint(stderr, use)
		return 2
	}
	fs := flag.NewFlagSet("policy test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, use) }
	configPath := fs.String("config", getenv("SESAME_CONFIG"), "configuration file (env SESAME_CONFIG)")
	requester := fs.String("requester", "", "the requester's email")
	app := fs.String("app", "", "the app's id")
	var ents stringList
	fs.Var(&ents, "entitlement", "an entitlement key of the app (repeatable), or a full id app:key")
	duration := fs.String("duration", "", "how long, like 2h (default: the policy's default)")
	reason := fs.String("reason", "", "the reason given")
	at := fs.String("at", "", "simulate at this time (RFC 3339; default now)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *requester == "" || *app == "" || len(ents) == 0 {
		fmt.Fprint(stderr, "sesame policy test: --requester, --app and --entitlement are required\n\n"+use)
		return 2
	}
	p := workflow.SimulateParams{Reason: *reason}
	for _, e := range ents {
		if !strings.Contains(e, ":") {
			e = access.EntitlementID(*app, e)
		}
		p.Entitlements = append(p.Entitlements, e)
	}
	if *duration != "" {
		d, err := access.ParseDuration(*duration)
		if err != nil {
			fmt.Fprintf(stderr, "sesame policy test: --duration: %v\n", err)
			return 2
		}
		p.Duration = d
	}
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			fmt.Fprintf(stderr, "sesame policy test: --at: %v\n", err)
			return 2
		}
		p.At = t.UTC()
	}
	sim, err := simulate(ctx, *configPath, *requester, p, stderr, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "sesame policy test: %v\n", err)
		return 1
	}
	if *asJSON {
		b, err := json.MarshalIndent(sim, "", "  ")
		if err != nil {
			return 1
		}
		fmt.Fprintln(stdout, string(b))
		return 0
	}
	fmt.Fprint(stdout, sim.Text())
	return 0
}

func simulate(ctx context.Context, configPath, requester string, p workflow.SimulateParams, stderr io.Writer, getenv func(string) string) (*policy.Simulation, error) {
	m := NewMain(io.Discard, stderr, getenv)
	cfg, err := loadOptions(m.registry()).Load(configPath, getenv)
	if err != nil {
		return nil, err
	}
	db, err := openForOps(ctx, configPath, stderr, getenv)
	if err != nil {
		return nil, err
	}
	defer db.Close() //nolint:errcheck // read-only use
	return simulateOn(ctx, cfg, db.store, requester, p, m)
}

func simulateOn(ctx context.Context, cfg *config.Config, st store.Store, requester string, p workflow.SimulateParams, m *Main) (*policy.Simulation, error) {
	// The policies in force are the stored set (the file seeds it, and
	// approved changes made through the API update it), as in serve.
	policies := policy.NewCurrent(cfg.Org.MaxDuration, cfg.PolicyOptions()...)
	svc, err := workflow.New(workflow.Config{Store: st, Clock: clock.Real{}, Policy: policies, Connectors: m.registry()})
	if err != nil {
		return nil, err
	}
	if _, _, err := svc.SeedPolicies(ctx, cfg.Policies); err != nil {
		return nil, err
	}
	u, err := st.UserGetByEmail(ctx, strings.ToLower(requester))
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no user with email %s", requester)
	}
	if err != nil {
		return nil, err
	}
	return svc.SimulateFor(ctx, u, p)
}
