package mysql_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"
)

// dsnEnv names the admin DSN of the test server.
const dsnEnv = "SESAME_TEST_MYSQL_DSN"

// personPassword is the password of the accounts the tests create for
// people.
const personPassword = "person-Pa55word"

// testBundle is one test's slice of the shared server: every account,
// role and table it makes starts with prefix and is dropped when the test
// ends.
type testBundle struct {
	dsn    string
	prefix string
	admin  *sql.DB
	// table is `<database of the DSN>`.`<prefix>_t`, created by setup.
	table string
}

// setup skips the test without dsnEnv (fails in CI) and registers the
// cleanup of everything named with the test's prefix.
func setup(t *testing.T) *testBundle {
	t.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		switch strings.ToLower(os.Getenv("CI")) {
		case "", "0", "false", "no":
			t.Skipf("%s is not set; skipping MySQL connector tests", dsnEnv)
		}
		t.Fatalf("%s is not set; CI must run the MySQL connector tests", dsnEnv)
	}
	var r [3]byte
	_, err := rand.Read(r[:])
	require.NoError(t, err)
	admin, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	b := &testBundle{dsn: dsn, prefix: "st" + hex.EncodeToString(r[:]), admin: admin}
	t.Cleanup(func() {
		b.cleanup(t)
		if err := admin.Close(); err != nil {
			t.Errorf("cleanup: close: %v", err)
		}
	})
	var schema string
	require.NoError(t, admin.QueryRowContext(t.Context(), "SELECT DATABASE()").Scan(&schema))
	require.NotEmpty(t, schema, "%s must name a database", dsnEnv)
	b.table = "`" + schema + "`.`" + b.prefix + "_t`"
	b.exec(t, "CREATE TABLE "+b.table+" (v int)", "INSERT INTO "+b.table+" VALUES (42)")
	return b
}

// exec runs statements as the admin.
func (b *testBundle) exec(t *testing.T, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		_, err := b.admin.ExecContext(t.Context(), s)
		require.NoError(t, err, s)
	}
}

// count returns the COUNT(*) of a query run as the admin.
func (b *testBundle) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.admin.QueryRowContext(t.Context(), q, args...).Scan(&n), q)
	return n
}

// person creates the account 'name'@'%' with personPassword.
func (b *testBundle) person(t *testing.T, name string) {
	t.Helper()
	b.exec(t, "CREATE USER '"+name+"'@'%' IDENTIFIED BY '"+personPassword+"'")
}

// dsnAs returns the admin DSN with another user and password, and no
// database (a person may have no access to it).
func (b *testBundle) dsnAs(t *testing.T, user, password string) string {
	t.Helper()
	cfg, err := gomysql.ParseDSN(b.dsn)
	require.NoError(t, err)
	cfg.User, cfg.Passwd, cfg.DBName = user, password, ""
	cfg.Timeout = 5 * time.Second
	return cfg.FormatDSN()
}

// session opens one connection as user and checks it works.
func (b *testBundle) session(t *testing.T, user, password string) (*sql.Conn, error) {
	t.Helper()
	db, err := sql.Open("mysql", b.dsnAs(t, user, password))
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Logf("close session pool: %v", err)
		}
	})
	conn, err := db.Conn(t.Context())
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil {
			t.Logf("close session: %v", err)
		}
	})
	err = conn.PingContext(t.Context())
	return conn, err
}

// granted reports whether an account whose user name is user (or starts
// with it, when !exact) on host % holds role directly.
func (b *testBundle) granted(t *testing.T, user, role string, exact bool) bool {
	t.Helper()
	cond := "User = ?"
	if !exact {
		cond = "LOCATE(?, User) = 1"
	}
	return b.count(t, "SELECT COUNT(*) FROM mysql.roles_mapping WHERE "+cond+" AND Host = '%' AND Role = ?", user, role) > 0
}

// cleanup drops the test's accounts, roles and tables, without the
// cancellation of t.Context(), which ends before cleanups run.
func (b *testBundle) cleanup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
	defer cancel()
	rows, err := b.admin.QueryContext(ctx, "SELECT User, Host, is_role FROM mysql.user WHERE LOCATE(?, User) = 1", b.prefix)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer rows.Close()
	var stmts []string
	for rows.Next() {
		var user, host, isRole string
		if err := rows.Scan(&user, &host, &isRole); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if isRole == "Y" {
			stmts = append(stmts, "DROP ROLE IF EXISTS `"+user+"`")
		} else {
			stmts = append(stmts, "DROP USER IF EXISTS '"+user+"'@'"+host+"'")
		}
	}
	if err := rows.Err(); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	if b.table != "" {
		stmts = append(stmts, "DROP TABLE IF EXISTS "+b.table)
	}
	for _, s := range stmts {
		if _, err := b.admin.ExecContext(ctx, s); err != nil {
			t.Errorf("cleanup: %s: %v", s, err)
		}
	}
}
