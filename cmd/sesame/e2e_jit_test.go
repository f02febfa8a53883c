package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/store/postgres"
)

// TestJITPostgresAccess walks examples/postgres-jit.yaml end to end
// against the real PostgreSQL server: request, approve, fetch the
// credentials once, log in with the granted role, expiry, login refused.
func TestJITPostgresAccess(t *testing.T) {
	t.Parallel()
	adminURL := postgres.TestURL(t) // fails in CI when the server is missing
	ctx := t.Context()
	admin, err := pgx.Connect(ctx, adminURL)
	require.NoError(t, err)
	defer admin.Close(context.WithoutCancel(ctx)) //nolint:errcheck // test teardown
	role := "jit_reader_" + ids.Token(5)
	table := "jit_orders_" + ids.Token(5)
	for _, q := range []string{
		"CREATE ROLE " + role + " NOLOGIN",
		"CREATE TABLE public." + table + " (id int)",
		"INSERT INTO public." + table + " VALUES (42)",
		"GRANT USAGE ON SCHEMA public TO " + role,
		"GRANT SELECT ON public." + table + " TO " + role,
	} {
		_, err := admin.Exec(ctx, q)
		require.NoError(t, err, q)
	}
	t.Cleanup(func() {
		cctx := context.WithoutCancel(ctx)
		c, err := pgx.Connect(cctx, adminURL)
		if err != nil {
			return
		}
		defer c.Close(cctx) //nolint:errcheck // teardown
		for _, q := range []string{"DROP TABLE IF EXISTS public." + table, "DROP ROLE IF EXISTS " + role} {
			_, _ = c.Exec(cctx, q) //nolint:errcheck // best-effort teardown
		}
	})

	dir := t.TempDir()
	cfg := fmt.Sprintf(`
users:
  - {email: alice@example.com, name: Alice Anders, manager: bob@example.com}
  - {email: bob@example.com, name: Bob Brown}
catalog:
  apps:
    - id: orders-db
      name: Orders database
      owners: [bob@example.com]
      connector:
        type: postgresql
        settings: {url: '%s', mode: ephemeral, roles: %s, host_hint: 127.0.0.1}
      entitlements:
        - {key: %s, name: Read only, max_duration: 8h}
policies:
  - id: default
    default: true
    steps: [{name: Owner approval, approvers: {app_owners: true}}]
`, adminURL, role, role)
	cfgPath := writeFile(t, dir, "sesame.yaml", cfg)
	env := []string{"SESAME_CONFIG=" + cfgPath, "SESAME_DATA_DIR=" + dir + "/data",
		"SESAME_SECRET_KEY=" + base64.StdEncoding.EncodeToString(make([]byte, 32))}
	p := startServe(t, env)
	alice := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "alice@example.com"))}
	bob := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "bob@example.com"))}

	var r idState
	require.Equal(t, http.StatusCreated, alice.do("POST", "/requests", map[string]any{
		"entitlements": []string{"orders-db:" + role}, "duration": "8s", "reason": "INC-7 read the orders"}, &r))
	require.Equal(t, http.StatusOK, bob.do("POST", "/requests/"+r.ID+"/approve", map[string]any{}, &r))
	var got idState
	waitUntil(t, 30*time.Second, "grant active", func() bool {
		require.Equal(t, http.StatusOK, alice.do("GET", "/requests/"+r.ID, nil, &got))
		return len(got.Grants) == 1 && got.Grants[0].State == "active"
	})
	grantID := got.Grants[0].ID

	var creds struct {
		Username string `json:"username"`
		Secret   string `json:"secret"`
	}
	require.Equal(t, http.StatusOK, alice.do("POST", "/grants/"+grantID+"/credentials", map[string]any{}, &creds))
	require.NotEmpty(t, creds.Secret)
	require.Equal(t, http.StatusConflict, alice.do("POST", "/grants/"+grantID+"/credentials", map[string]any{}, nil), "handed over once")

	login := func() (int, error) {
		u, err := url.Parse(adminURL)
		require.NoError(t, err)
		u.User = url.UserPassword(creds.Username, creds.Secret)
		q := u.Query()
		q.Del("search_path")
		u.RawQuery = q.Encode()
		c, err := pgx.Connect(ctx, u.String())
		if err != nil {
			return 0, err
		}
		defer c.Close(context.WithoutCancel(ctx)) //nolint:errcheck // test
		var n int
		err = c.QueryRow(ctx, "SELECT id FROM public."+table).Scan(&n)
		return n, err
	}
	n, err := login()
	require.NoError(t, err, "the granted login reads the table")
	require.Equal(t, 42, n)

	waitUntil(t, 30*time.Second, "grant revoked at expiry", func() bool {
		require.Equal(t, http.StatusOK, alice.do("GET", "/requests/"+r.ID, nil, &got))
		return got.Grants[0].State == "revoked"
	})
	_, err = login()
	require.Error(t, err, "after expiry the login is refused")
	require.Contains(t, err.Error(), "does not exist")
}
