package postgres

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

	"github.com/sesame-access/sesame/internal/store/sqldb"
)

// TestURLEnv names the environment variable holding the URL of the
// PostgreSQL database tests may create schemas in, such as
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const TestURLEnv = "SESAME_TEST_POSTGRES_URL"

// TestURL creates a fresh schema in the database named by TestURLEnv and
// returns that URL with search_path set to the schema, for Open and for
// River alike. The schema is dropped when the test ends (after cleanups
// registered later, such as closing the store, have run). Without
// TestURLEnv the test is skipped, or fails when CI is set (true, 1, yes):
// in CI the PostgreSQL tests must run.
func TestURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(TestURLEnv)
	if base == "" {
		if inCI() {
			tb.Fatalf("%s is not set; CI must run the PostgreSQL tests", TestURLEnv)
		}
		tb.Skipf("%s is not set; skipping PostgreSQL tests", TestURLEnv)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("%s must be a postgres:// URL: %q", TestURLEnv, base)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatalf("postgres.TestURL: %v", err)
	}
	schema := "sesame_test_" + hex.EncodeToString(b[:])
	ident := pgx.Identifier{schema}.Sanitize()
	if err := adminExec(base, "CREATE SCHEMA "+ident); err != nil {
		tb.Fatalf("postgres.TestURL: %v", err)
	}
	tb.Cleanup(func() {
		if err := adminExec(base, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			tb.Errorf("postgres.TestURL: drop schema: %v", err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenTest opens a migrated store in a fresh schema (see TestURL) and closes
// it when the test ends.
func OpenTest(tb testing.TB) *sqldb.DB {
	tb.Helper()
	st, err := Open(tb.Context(), TestURL(tb))
	if err != nil {
		tb.Fatalf("postgres.OpenTest: %v", err)
	}
	tb.Cleanup(func() {
		if err := st.Close(); err != nil {
			tb.Errorf("postgres.OpenTest: %v", err)
		}
	})
	return st
}

func inCI() bool {
	switch strings.ToLower(os.Getenv("CI")) {
	case "", "0", "false", "no":
		return false
	}
	return true
}

// adminExec runs one statement on its own connection to url. It does not
// use the test's context, which is cancelled before cleanups run.
func adminExec(url, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, sql)
	if cerr := conn.Close(ctx); err == nil {
		err = cerr
	}
	return err
}
