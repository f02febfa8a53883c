// Command batonfake behaves like a connector built with the baton SDK, for
// the bridge's tests. It accepts the SDK's flags (-f/--file,
// --grant-entitlement, --grant-principal, --grant-principal-type,
// --revoke-grant, --log-format, --log-level) and, like the SDK, reads the
// c1z for grants and revokes: the entitlement, the principal and (for a
// revoke) the grant must be in the last sync, or it fails with "not
// found". Its "target system" is a JSON state file named by
// BATON_FAKE_STATE; its "c1z" is a JSON snapshot (a real c1z is SQLite in
// zstd, which only the baton tools read). BATON_FAKE_TOKEN must be "good"
// (else: PermissionDenied); BATON_FAKE_FAIL=unavailable makes every call
// fail with a transient error; BATON_FAKE_SLEEP (a Go duration) makes it
// slow. It records each call and its environment's variable names in the
// state file.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

type user struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

type entitlement struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

type grant struct {
	Entitlement   string `json:"entitlement"`
	PrincipalType string `json:"principal_type"`
	Principal     string `json:"principal"`
}

func (g grant) id() string { return g.Entitlement + ":" + g.PrincipalType + ":" + g.Principal }

type state struct {
	Format       string        `json:"format,omitempty"`
	Users        []user        `json:"users"`
	Entitlements []entitlement `json:"entitlements"`
	Grants       []grant       `json:"grants"`
	Calls        []string      `json:"calls,omitempty"`
	Env          []string      `json:"env,omitempty"`
}

func load(path string) (state, error) {
	var s state
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

func save(path string, s state) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// logError writes a zap-style JSON log line, as baton connectors do with
// --log-format json.
func logError(msg string, err error) {
	line, _ := json.Marshal(map[string]any{"level": "error", "ts": float64(time.Now().Unix()), "msg": msg, "error": err.Error()})
	fmt.Fprintln(os.Stderr, string(line))
}

func main() {
	fs := flag.NewFlagSet("batonfake", flag.ContinueOnError)
	file := fs.String("file", "sync.c1z", "The path to the c1z file to sync with")
	fs.StringVar(file, "f", "sync.c1z", "The path to the c1z file to sync with")
	ent := fs.String("grant-entitlement", "", "")
	principal := fs.String("grant-principal", "", "")
	ptype := fs.String("grant-principal-type", "", "")
	revoke := fs.String("revoke-grant", "", "")
	fs.String("log-format", "console", "")
	fs.String("log-level", "info", "")
	fs.String("domain", "", "an example connector-specific flag")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if err := run(*file, *ent, *principal, *ptype, *revoke); err != nil {
		logError("error running connector", err)
		os.Exit(1)
	}
}

func run(file, ent, principal, ptype, revoke string) error {
	statePath := os.Getenv("BATON_FAKE_STATE")
	st, err := load(statePath)
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	op := "sync"
	switch {
	case ent != "":
		op = "grant " + ent + " " + ptype + " " + principal
	case revoke != "":
		op = "revoke " + revoke
	}
	st.Calls = append(st.Calls, op)
	st.Env = st.Env[:0]
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		st.Env = append(st.Env, name)
	}
	if err := save(statePath, st); err != nil {
		return err
	}
	if d, err := time.ParseDuration(os.Getenv("BATON_FAKE_SLEEP")); err == nil {
		time.Sleep(d)
	}
	if os.Getenv("BATON_FAKE_FAIL") == "unavailable" {
		return errors.New("rpc error: code = Unavailable desc = upstream API answered 503")
	}
	if os.Getenv("BATON_FAKE_TOKEN") != "good" {
		// Echoes the token, as careless connectors do: the bridge redacts it.
		return fmt.Errorf("rpc error: code = PermissionDenied desc = the API token %s lacks permission to manage groups", os.Getenv("BATON_FAKE_TOKEN"))
	}
	if ent == "" && revoke == "" {
		snap := state{Format: "batonfake-c1z-v1", Users: st.Users, Entitlements: st.Entitlements, Grants: st.Grants}
		return save(file, snap)
	}
	snap, err := load(file)
	if err != nil {
		return fmt.Errorf("c1z: %w", err)
	}
	if ent != "" {
		if !slices.ContainsFunc(snap.Entitlements, func(e entitlement) bool { return e.ID == ent }) {
			return fmt.Errorf("rpc error: code = NotFound desc = entitlement %s not found", ent)
		}
		if ptype != "user" || !slices.ContainsFunc(snap.Users, func(u user) bool { return u.ID == principal }) {
			return fmt.Errorf("rpc error: code = NotFound desc = resource %s/%s not found", ptype, principal)
		}
		g := grant{Entitlement: ent, PrincipalType: ptype, Principal: principal}
		if !slices.Contains(st.Grants, g) {
			st.Grants = append(st.Grants, g)
		}
		return save(statePath, st)
	}
	i := slices.IndexFunc(snap.Grants, func(g grant) bool { return g.id() == revoke })
	if i < 0 {
		return fmt.Errorf("error fetching grant %s: grant not found", revoke)
	}
	st.Grants = slices.DeleteFunc(st.Grants, func(g grant) bool { return g.id() == revoke })
	return save(statePath, st)
}
