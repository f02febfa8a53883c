package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/sqldb"
	"github.com/sesame-access/sesame/internal/store/sqlite"
	"github.com/sesame-access/sesame/internal/store/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		t.Helper()
		return sqlite.OpenTest(t)
	})
}

func TestOpenCreatesDirectoryAndReopens(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a dir?", "nested", "sesame.db")
	app := &access.App{ID: "github", Source: access.SourceConfig}
	st, err := sqlite.Open(t.Context(), path)
	require.NoError(t, err)
	require.NoError(t, st.AppUpsert(t.Context(), app))
	require.NoError(t, st.Close())

	// Reopening migrates nothing and keeps the data.
	st, err = sqlite.Open(t.Context(), path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	require.NoError(t, st.Ping(t.Context()))
	_, err = st.AppGetByID(t.Context(), app.ID)
	require.NoError(t, err)
}

func TestDSNSettings(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sesame.db")
	db, err := sql.Open(sqlite.DriverName, sqlite.DSN(path))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"busy_timeout": "10000",
		"foreign_keys": "1",
		"synchronous":  "1",
	} {
		var got string
		require.NoError(t, db.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got))
		require.Equal(t, want, strings.ToLower(got), pragma)
	}
}

// TestGrantListDueUsesIndex checks that GrantListDue's cost grows with the
// grants due, not the grants held: SQLite reads the (state, expires_at, id)
// index in order and sorts nothing.
func TestGrantListDueUsesIndex(t *testing.T) {
	t.Parallel()
	st := sqlite.OpenTest(t)
	rows, err := st.SQL().QueryContext(t.Context(), `EXPLAIN QUERY PLAN SELECT id FROM grants
		WHERE state = ? AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`, "active", "2025-01-01T00:00:00.000000Z", 10)
	require.NoError(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	joined := strings.Join(plan, "\n")
	require.Contains(t, joined, "grants_state_expires_at")
	require.NotContains(t, joined, "TEMP B-TREE")
}

// TestSQLTx checks that sqldb.SQLTx hands out the store's own transaction,
// for writing River jobs atomically with store changes.
func TestSQLTx(t *testing.T) {
	t.Parallel()
	st := sqlite.OpenTest(t)
	_, ok := sqldb.SQLTx(st)
	require.False(t, ok, "no transaction outside InTx")
	err := st.InTx(t.Context(), func(q store.Queries) error {
		require.NoError(t, q.AppUpsert(t.Context(), &access.App{ID: "github", Source: access.SourceConfig}))
		tx, ok := sqldb.SQLTx(q)
		require.True(t, ok)
		var n int
		require.NoError(t, tx.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM apps`).Scan(&n))
		require.Equal(t, 1, n, "the tx sees the store's uncommitted write")
		return nil
	})
	require.NoError(t, err)
}
