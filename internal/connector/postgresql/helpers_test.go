package postgresql_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// urlEnv names the admin URL of the test server.
const urlEnv = "SESAME_TEST_POSTGRES_URL"

// testBundle is one test's slice of the shared server: every role, schema
// and database it makes starts with prefix and is dropped when the test
// ends.
type testBundle struct {
	url    string
	prefix string
}

// setup skips the test without urlEnv (fails in CI) and registers the
// cleanup of everything named with the test's prefix.
func setup(t *testing.T) *testBundle {
	t.Helper()
	u := os.Getenv(urlEnv)
	if u == "" {
		switch strings.ToLower(os.Getenv("CI")) {
		case "", "0", "false", "no":
			t.Skipf("%s is not set; skipping PostgreSQL connector tests", urlEnv)
		}
		t.Fatalf("%s is not set; CI must run the PostgreSQL connector tests", urlEnv)
	}
	var r [4]byte
	_, err := rand.Read(r[:])
	require.NoError(t, err)
	b := &testBundle{url: u, prefix: "st_" + hex.EncodeToString(r[:])}
	t.Cleanup(func() { b.cleanup(t) })
	return b
}

// conn opens a connection as the admin (or as user, with password, when
// user is set) to db (the URL's database when "").
func (b *testBundle) conn(t *testing.T, user, password, db string) (*pgx.Conn, error) {
	t.Helper()
	cfg, err := pgx.ParseConfig(b.url)
	require.NoError(t, err)
	if user != "" {
		cfg.User, cfg.Password = user, password
	}
	if db != "" {
		cfg.Database = db
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 5*time.Second)
			defer cancel()
			if err := c.Close(ctx); err != nil {
				t.Logf("close test connection: %v", err)
			}
		})
	}
	return c, err
}

// exec runs statements as the admin in db ("" for the URL's database).
func (b *testBundle) exec(t *testing.T, db string, stmts ...string) {
	t.Helper()
	c, err := b.conn(t, "", "", db)
	require.NoError(t, err)
	for _, s := range stmts {
		_, err := c.Exec(t.Context(), s)
		require.NoError(t, err, s)
	}
}

// query returns one value of a one-row query run as the admin.
func query[T any](t *testing.T, b *testBundle, sql string, args ...any) T {
	t.Helper()
	c, err := b.conn(t, "", "", "")
	require.NoError(t, err)
	var v T
	require.NoError(t, c.QueryRow(t.Context(), sql, args...).Scan(&v), sql)
	return v
}

// urlAs returns the admin URL with another user (no password: the test
// server trusts local connections).
func (b *testBundle) urlAs(t *testing.T, user string) string {
	t.Helper()
	u, err := url.Parse(b.url)
	require.NoError(t, err)
	u.User = url.User(user)
	return u.String()
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

// isMember reports whether a role whose name starts with loginPrefix is a
// direct member of role.
func (b *testBundle) isMember(t *testing.T, loginPrefix, role string, exact bool) bool {
	t.Helper()
	cond := "u.rolname = $2"
	if !exact {
		cond = "starts_with(u.rolname, $2)"
	}
	return query[bool](t, b, `
		SELECT EXISTS (SELECT 1 FROM pg_auth_members m
		JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
		WHERE r.rolname = $1 AND `+cond+`)`, role, loginPrefix)
}

// cleanup drops the test's databases, schemas and roles, without the
// cancellation of t.Context(), which ends before cleanups run.
func (b *testBundle) cleanup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, b.url)
	if err != nil {
		t.Errorf("cleanup: connect: %v", err)
		return
	}
	defer func() {
		if err := c.Close(ctx); err != nil {
			t.Errorf("cleanup: close: %v", err)
		}
	}()
	names := func(sql string) []string {
		rows, err := c.Query(ctx, sql, b.prefix)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return nil
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		return out
	}
	run := func(sql string) {
		if _, err := c.Exec(ctx, sql); err != nil {
			t.Errorf("cleanup: %s: %v", sql, err)
		}
	}
	for _, db := range names(`SELECT datname FROM pg_database WHERE starts_with(datname, $1)`) {
		run("DROP DATABASE IF EXISTS " + ident(db) + " WITH (FORCE)")
	}
	for _, s := range names(`SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)`) {
		run("DROP SCHEMA IF EXISTS " + ident(s) + " CASCADE")
	}
	roles := names(`SELECT rolname::text FROM pg_roles WHERE starts_with(rolname, $1)`)
	if _, err := c.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE starts_with(usename, $1)`, b.prefix); err != nil {
		t.Errorf("cleanup: terminate: %v", err)
	}
	for _, r := range roles {
		run("REASSIGN OWNED BY " + ident(r) + " TO CURRENT_USER")
		run("DROP OWNED BY " + ident(r))
	}
	for _, r := range roles {
		run("DROP ROLE IF EXISTS " + ident(r))
	}
}
