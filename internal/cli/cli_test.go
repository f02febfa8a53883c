package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/cli"
	"github.com/sesame-access/sesame/internal/web/api/apitest"
)

type testBundle struct {
	env *apitest.Env
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return &testBundle{env: apitest.New(t)}
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs the CLI as u against the test server.
func (b *testBundle) run(t *testing.T, u *access.User, args ...string) result {
	t.Helper()
	vars := map[string]string{"SESAME_SERVER": b.env.Server.URL}
	if u != nil {
		vars["SESAME_TOKEN"] = b.env.Token(u)
	}
	var out, errb bytes.Buffer
	code := cli.Run(t.Context(), args, &out, &errb, func(k string) string { return vars[k] })
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func (b *testBundle) ok(t *testing.T, u *access.User, args ...string) string {
	t.Helper()
	r := b.run(t, u, args...)
	require.Equal(t, cli.ExitOK, r.code, "stderr: %s", r.stderr)
	return r.stdout
}

func TestRequestFlow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := b.env

	out := b.ok(t, e.Alice, "request", "create", "--entitlement", "github:write", "--duration", "2h",
		"--reason", "fix prod incident", "--approver", "bob@example.com", "--json")
	var created struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &created))
	require.Equal(t, "pending", created.State)

	out = b.ok(t, e.Alice, "request", "list")
	require.Equal(t, ""+
		"ID                              STATE    REQUESTER          ENTITLEMENTS  DURATION  CREATED\n"+
		created.ID+"  pending  alice@example.com  github:write  2h        2025-06-02 09:00Z\n", out)

	out = b.ok(t, e.Bob, "request", "approve", created.ID, "--comment", "ok", "--duration", "1h")
	require.Contains(t, out, "Request "+created.ID+" is approved (duration 1h).\n")

	var grants []struct {
		ID string `json:"id"`
	}
	out = b.ok(t, e.Alice, "grant", "list", "--json")
	var pg struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &pg))
	require.Len(t, pg.Items, 1)
	grants = pg.Items
	require.NoError(t, e.Service.Provision(context.WithoutCancel(t.Context()), grants[0].ID))

	out = b.ok(t, e.Alice, "grant", "list", "--active")
	require.Equal(t, ""+
		"ID                              STATE   USER               ENTITLEMENT   EXPIRES            REQUEST\n"+
		grants[0].ID+"  active  alice@example.com  github:write  2025-06-02 10:00Z  "+created.ID+"\n", out)

	out = b.ok(t, e.Alice, "request", "show", created.ID)
	require.Contains(t, out, "State:         active\n")
	require.Contains(t, out, "Duration:      1h (max 1d)\n")
	require.Contains(t, out, "request.approved")

	// The holder asks for more time: an extension request of the same grant.
	out = b.ok(t, e.Alice, "grant", "extend", grants[0].ID, "--duration", "3h", "--reason", "the migration runs late")
	require.Regexp(t, `^Extension request req_\S+ of grant `+grants[0].ID+` is pending; you will be told when it is decided.\n$`, out)
	ext := strings.Fields(out)[2]
	_, err := e.Service.Cancel(context.WithoutCancel(t.Context()), e.Alice.ID, ext)
	require.NoError(t, err)
	// A new request for what alice holds is the same thing, and says so.
	out = b.ok(t, e.Alice, "request", "create", "--entitlement", "github:write", "--duration", "3h", "--reason", "the migration runs late")
	require.Contains(t, out, "You already hold this access: the request asks to extend grant "+grants[0].ID)
	ext = strings.Fields(out)[2]
	out = b.ok(t, e.Bob, "request", "approve", ext)
	require.Contains(t, out, "Request "+ext+" is extended")
	out = b.ok(t, e.Alice, "grant", "list", "--active")
	require.Contains(t, out, grants[0].ID+"  active  alice@example.com  github:write  2025-06-02 12:00Z")

	out = b.ok(t, e.Alice, "grant", "revoke", grants[0].ID, "--reason", "done")
	require.Equal(t, "Grant "+grants[0].ID+" is revoking.\n", out)
}

func TestErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := b.env
	r := e.Submit(t, e.Alice, time.Hour, "db:read")

	res := b.run(t, e.Alice, "request", "approve", r.ID)
	require.Equal(t, cli.ExitError, res.code)
	require.Equal(t, "error: Forbidden: you cannot approve or reject your own request\n", res.stderr)

	res = b.run(t, e.Alice, "request", "create", "--entitlement", "github:read", "--duration", "1 fortnight")
	require.Equal(t, cli.ExitError, res.code)
	require.True(t, strings.HasPrefix(res.stderr, "error: Unprocessable Entity: invalid request\n  duration: "), res.stderr)

	res = b.run(t, e.Alice, "request", "remind", r.ID)
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	res = b.run(t, e.Alice, "request", "remind", r.ID)
	require.Equal(t, cli.ExitError, res.code)
	require.Contains(t, res.stderr, "error: Too Many Requests: a reminder was sent at")

	res = b.run(t, e.Carol, "grant", "show", "grt_nope")
	require.Equal(t, cli.ExitError, res.code)
	require.Equal(t, "error: Not Found: grant grt_nope not found\n", res.stderr)

	res = b.run(t, e.Alice, "audit", "list")
	require.Equal(t, cli.ExitError, res.code)
	require.Contains(t, res.stderr, "error: Forbidden:")

	// Usage errors exit 2.
	for _, args := range [][]string{
		{}, {"bogus"}, {"request"}, {"request", "bogus"}, {"request", "approve"}, {"request", "show", "a", "b"},
		{"request", "list", "--bogus"}, {"request", "create"}, {"grant", "extend", "grt_1"},
		{"request", "list", "--server", "ftp://x"}, {"audit", "export", "--format", "xml"},
	} {
		res := b.run(t, e.Alice, args...)
		require.Equal(t, cli.ExitUsage, res.code, "%v: %s", args, res.stderr)
		require.NotEmpty(t, res.stderr, args)
	}
	res = b.run(t, nil, "me")
	require.Equal(t, cli.ExitUsage, res.code)
	require.Contains(t, res.stderr, "SESAME_TOKEN")

	// A bad token is the server's refusal.
	var out, errb bytes.Buffer
	code := cli.Run(t.Context(), []string{"me", "--server", e.Server.URL, "--token", "ses_wrong"}, &out, &errb,
		func(string) string { return "" })
	require.Equal(t, cli.ExitError, code)
	require.Equal(t, "error: Unauthorized: invalid, expired or revoked API token\n", errb.String())

	// A server that is not there.
	res = b.run(t, e.Alice, "me", "--server", "http://127.0.0.1:1")
	require.Equal(t, cli.ExitError, res.code)
	require.True(t, strings.HasPrefix(res.stderr, "error: GET http://127.0.0.1:1:"), res.stderr)
}

func TestHelp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.run(t, b.env.Alice, "request", "create", "-h")
	require.Equal(t, cli.ExitOK, res.code)
	require.Contains(t, res.stderr, "Usage: sesame request create")
	require.Contains(t, res.stderr, "Examples:\n  sesame request create --entitlement github:write --duration 2h")
	require.Contains(t, res.stderr, "-server string")
	res = b.run(t, b.env.Alice, "grant", "--help")
	require.Equal(t, cli.ExitOK, res.code)
	require.Contains(t, res.stderr, "extend")
	require.ElementsMatch(t, []string{"request", "grant", "audit", "me"}, cli.Commands())
}

func TestMeAndPreview(t *testing.T) {
	t.Parallel()
	b := setup(t)
	out := b.ok(t, b.env.Alice, "me")
	require.Contains(t, out, "User:    Alice <alice@example.com>\n")
	require.Contains(t, out, "Manager: bob@example.com\n")
	require.Contains(t, out, "Roles:   -\n")

	out = b.ok(t, b.env.Alice, "request", "preview", "--entitlement", "github:read")
	require.Contains(t, out, "Max duration:     8h\n")
	require.Contains(t, out, "Step 1: approval (1 approval(s); choose at least 1 with --approver)\n")
	require.Contains(t, out, "bob@example.com    Bob    named in the policy\n")
}

func TestAudit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := b.env
	r := e.Submit(t, e.Alice, time.Hour, "db:read")
	b.ok(t, e.Bob, "request", "reject", r.ID, "--comment", "no")

	out := b.ok(t, e.Dave, "audit", "verify")
	require.Regexp(t, `^ok: \d+ events verified\n$`, out)

	all, err := e.Store.EventListAfter(t.Context(), 0, 10000)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	b.ok(t, e.Dave, "audit", "export", "--format", "jsonl", "--output", path)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev access.Event
		require.NoError(t, json.Unmarshal(sc.Bytes(), &ev))
		n++
	}
	require.NoError(t, sc.Err())
	require.Len(t, all, n)

	out = b.ok(t, e.Dave, "audit", "export", "--action", "request.")
	require.Equal(t, 3, strings.Count(out, "\n"), out) // header, submitted, rejected

	out = b.ok(t, e.Dave, "audit", "list", "--actor", "bob@example.com", "--action", "request.")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	require.Regexp(t, `^SEQ\s+TIME\s+ACTOR\s+ACTION\s+SUBJECT$`, lines[0])
	require.Regexp(t, `^\d+\s+2025-06-02 09:00Z\s+bob@example.com\s+request.rejected\s+request `+r.ID+`$`, lines[1])
}
