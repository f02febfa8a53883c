package baton_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/baton"
	"github.com/sesame-access/sesame/internal/connector/connectortest"
)

// bins holds the test binaries TestMain builds from testdata.
var bins struct{ connector, cli string }

func TestMain(m *testing.M) {
	os.Exit(func() int {
		goBin, err := exec.LookPath("go")
		if err != nil {
			fmt.Fprintln(os.Stderr, "baton tests need the go tool to build their test binaries:", err)
			return 1
		}
		dir, err := os.MkdirTemp("", "baton-test-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		bins.connector, bins.cli = filepath.Join(dir, "baton-fake"), filepath.Join(dir, "baton")
		for out, pkg := range map[string]string{bins.connector: "./testdata/batonfake", bins.cli: "./testdata/batoncli"} {
			cmd := exec.Command(goBin, "build", "-o", out, pkg) //nolint:noctx // TestMain has no context; go build ends on its own
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintln(os.Stderr, "build", pkg, err)
				return 1
			}
		}
		return m.Run()
	}())
}

type user struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

type grant struct {
	Entitlement   string `json:"entitlement"`
	PrincipalType string `json:"principal_type"`
	Principal     string `json:"principal"`
}

type state struct {
	Users        []user           `json:"users"`
	Entitlements []map[string]any `json:"entitlements"`
	Grants       []grant          `json:"grants"`
	Calls        []string         `json:"calls"`
	Env          []string         `json:"env"`
}

type testBundle struct {
	dir, statePath string
	settings       map[string]string
}

func setup(t *testing.T, users ...user) *testBundle {
	t.Helper()
	dir := t.TempDir()
	if len(users) == 0 {
		users = []user{{"user0@example.com", "user0@example.com", "User 0"}, {"user1@example.com", "user1@example.com", "User 1"}}
	}
	b := &testBundle{dir: dir, statePath: filepath.Join(dir, "target.json")}
	b.write(t, state{Users: users, Entitlements: []map[string]any{
		{"id": "group:admins:member", "name": "Admins", "description": "Administrators"},
		{"id": "group:readers:member", "name": "Readers"},
	}})
	b.settings = map[string]string{
		"binary": bins.connector, "baton_path": bins.cli, "c1z_path": filepath.Join(dir, "app.c1z"),
		"args": "--domain example.com", "env.BATON_FAKE_STATE": b.statePath, "env.BATON_FAKE_TOKEN": "good",
	}
	return b
}

func (b *testBundle) read(t *testing.T) state {
	t.Helper()
	data, err := os.ReadFile(b.statePath)
	require.NoError(t, err)
	var s state
	require.NoError(t, json.Unmarshal(data, &s))
	return s
}

func (b *testBundle) write(t *testing.T, s state) {
	t.Helper()
	data, err := json.Marshal(s)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(b.statePath, data, 0o600))
}

func (b *testBundle) has(t *testing.T, principal, ent string) bool {
	t.Helper()
	return slices.Contains(b.read(t).Grants, grant{Entitlement: ent, PrincipalType: "user", Principal: principal})
}

func with(m map[string]string, kv ...string) map[string]string {
	out := maps.Clone(m)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func target(i int, ent string) connector.Target {
	return connector.Target{GrantID: fmt.Sprint("grt_", i), UserID: fmt.Sprint("usr_", i), Email: fmt.Sprintf("user%d@example.com", i), AppID: "app", EntitlementKey: ent}
}

func open(t *testing.T, settings map[string]string) connector.Connector {
	t.Helper()
	c, err := baton.New(settings)
	require.NoError(t, err)
	return c
}

func TestConformance(t *testing.T) {
	t.Parallel()
	b := setup(t)
	notExec := filepath.Join(b.dir, "not-executable")
	require.NoError(t, os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o600))
	connectortest.Run(t, connectortest.Harness{
		Factory:  baton.New,
		Settings: b.settings,
		Target:   func(_ *testing.T, i int) connector.Target { return target(i, "group:admins:member") },
		Has:      func(t *testing.T, tg connector.Target) bool { return b.has(t, tg.Email, tg.EntitlementKey) },
		BadSettings: []connectortest.BadSettings{
			{Name: "unknown key", Settings: with(b.settings, "token", "x"), WantInError: "token"},
			{Name: "bad env name", Settings: with(b.settings, "env.BAD-NAME", "x"), WantInError: "env.BAD-NAME"},
			{Name: "env HOME", Settings: with(b.settings, "env.HOME", "/root"), WantInError: "env.HOME"},
			{Name: "no binary", Settings: with(b.settings, "binary", ""), WantInError: "binary"},
			{Name: "relative binary", Settings: with(b.settings, "binary", "baton-okta"), WantInError: "binary"},
			{Name: "missing binary", Settings: with(b.settings, "binary", "/nonexistent/baton-okta"), WantInError: "binary"},
			{Name: "not executable", Settings: with(b.settings, "binary", notExec), WantInError: "binary"},
			{Name: "missing baton_path", Settings: with(b.settings, "baton_path", "/nonexistent/baton"), WantInError: "baton_path"},
			{Name: "no c1z_path", Settings: with(b.settings, "c1z_path", ""), WantInError: "c1z_path"},
			{Name: "c1z dir missing", Settings: with(b.settings, "c1z_path", "/nonexistent/dir/app.c1z"), WantInError: "c1z_path"},
			{Name: "reserved arg", Settings: with(b.settings, "args", "--grant-entitlement x"), WantInError: "args"},
			{Name: "reserved file arg", Settings: with(b.settings, "args", "-f other.c1z"), WantInError: "args"},
			{Name: "bad principal_from", Settings: with(b.settings, "principal_from", "name"), WantInError: "principal_from"},
			{Name: "lookup without cli", Settings: with(b.settings, "principal_from", "lookup", "baton_path", ""), WantInError: "baton_path"},
			{Name: "bad principal_type", Settings: with(b.settings, "principal_type", "User Type"), WantInError: "principal_type"},
			{Name: "bad timeout", Settings: with(b.settings, "timeout", "0s"), WantInError: "timeout"},
			{Name: "bad sync_max_age", Settings: with(b.settings, "sync_max_age", "-1m"), WantInError: "sync_max_age"},
		},
		// "Down" for a subprocess: the connector cannot reach its API and
		// says so with a transient error.
		DownSettings:      with(b.settings, "env.BATON_FAKE_FAIL", "unavailable"),
		ForbiddenSettings: with(b.settings, "env.BATON_FAKE_TOKEN", "read-only-token"),
	})
}

func TestInvocations(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := open(t, b.settings)
	_, isSync := c.(*baton.SyncConnector)
	require.True(t, isSync, "baton_path gives the listing connector")
	require.NoError(t, c.Grant(t.Context(), target(0, "group:readers:member")))
	require.NoError(t, c.Grant(t.Context(), target(0, "group:readers:member")))
	require.NoError(t, c.Revoke(t.Context(), target(0, "group:readers:member")))
	require.Equal(t, []string{
		"sync",
		"grant group:readers:member user user0@example.com",
		"grant group:readers:member user user0@example.com", // the c1z is fresh: no second sync
		"sync", // a revoke always syncs: the SDK revokes a grant it finds in the c1z
		"revoke group:readers:member:user:user0@example.com",
	}, b.read(t).Calls)
	require.ElementsMatch(t, []string{"HOME", "TMPDIR", "BATON_FAKE_STATE", "BATON_FAKE_TOKEN"}, b.read(t).Env,
		"the connector gets its settings' environment and nothing of Sesame's")

	plain := open(t, with(b.settings, "baton_path", "", "sync_max_age", "0s"))
	_, isSync = plain.(*baton.SyncConnector)
	require.False(t, isSync, "without baton_path there is no sync capability")
	require.NoError(t, plain.Grant(t.Context(), target(1, "group:admins:member")))
	require.True(t, b.has(t, "user1@example.com", "group:admins:member"))
	calls := b.read(t).Calls
	require.Equal(t, []string{"sync", "grant group:admins:member user user1@example.com"}, calls[len(calls)-2:], "sync_max_age 0 syncs before every grant")
}

func TestNewPrincipalTriggersAResync(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := open(t, b.settings)
	require.NoError(t, c.Grant(t.Context(), target(0, "group:admins:member")))
	s := b.read(t)
	s.Users = append(s.Users, user{"user2@example.com", "user2@example.com", "User 2"})
	b.write(t, s)
	require.NoError(t, c.Grant(t.Context(), target(2, "group:admins:member")))
	require.True(t, b.has(t, "user2@example.com", "group:admins:member"))

	err := c.Grant(t.Context(), target(0, "group:nope:member"))
	require.True(t, connector.IsPermanent(err), "%v", err)
	require.ErrorContains(t, err, "not found")
}

func TestLookupPrincipalByEmail(t *testing.T) {
	t.Parallel()
	b := setup(t, user{"00u1", "ada@example.com", "Ada"}, user{"00u2", "grace@example.com", "Grace"})
	c := open(t, with(b.settings, "principal_from", "lookup"))
	tg := connector.Target{GrantID: "g", Email: "Grace@example.com", EntitlementKey: "group:admins:member"}
	require.NoError(t, c.Grant(t.Context(), tg))
	require.True(t, b.has(t, "00u2", "group:admins:member"))

	gl, ok := c.(connector.GrantLister)
	require.True(t, ok)
	gs, err := gl.ListGrants(t.Context())
	require.NoError(t, err)
	require.Equal(t, []connector.GrantRecord{{Account: "00u2", AccountEmail: "grace@example.com", EntitlementKey: "group:admins:member"}}, gs)

	al, ok := c.(connector.AccountLister)
	require.True(t, ok)
	accts, err := al.ListAccounts(t.Context())
	require.NoError(t, err)
	require.Equal(t, []connector.Account{{ExternalID: "00u1", Email: "ada@example.com", Name: "Ada"}, {ExternalID: "00u2", Email: "grace@example.com", Name: "Grace"}}, accts)

	el, ok := c.(connector.EntitlementLister)
	require.True(t, ok)
	ents, err := el.ListEntitlements(t.Context())
	require.NoError(t, err)
	require.Equal(t, connector.Entitlement{Key: "group:admins:member", Name: "Admins", Description: "Administrators"}, ents[0])

	require.NoError(t, c.Revoke(t.Context(), tg))
	require.False(t, b.has(t, "00u2", "group:admins:member"))
	err = c.Grant(t.Context(), connector.Target{Email: "nobody@example.com", EntitlementKey: "group:admins:member"})
	require.True(t, connector.IsPermanent(err), "%v", err)
	require.NoError(t, c.Revoke(t.Context(), connector.Target{Email: "nobody@example.com", EntitlementKey: "group:admins:member"}))
}

func TestTimeoutIsRetryable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := open(t, with(b.settings, "env.BATON_FAKE_SLEEP", "30s", "timeout", "300ms"))
	start := time.Now() //nolint:forbidigo // measuring the test itself, not product time
	err := c.Grant(t.Context(), target(0, "group:admins:member"))
	require.Error(t, err)
	require.False(t, connector.IsPermanent(err), "%v", err)
	require.ErrorContains(t, err, "timeout")
	require.Less(t, time.Since(start), 10*time.Second, "the process group is killed, not waited for") //nolint:forbidigo // as above
}

func TestErrorsAreSummarizedAndRedacted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	err := open(t, with(b.settings, "env.BATON_FAKE_TOKEN", "sup3r-s3cret")).Grant(t.Context(), target(0, "group:admins:member"))
	require.True(t, connector.IsPermanent(err))
	require.ErrorContains(t, err, "error running connector: rpc error: code = PermissionDenied desc = the API token [REDACTED] lacks permission")
	require.NotContains(t, err.Error(), "sup3r-s3cret")
}
