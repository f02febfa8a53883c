package sqlite_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store/sqlite"
)

// The prepared-statement cache is invisible: the same SQL run again while
// its rows are still open (a nested query), more distinct statements than
// the cache holds, and errors all behave as without a cache.
func TestStatementCacheIsTransparent(t *testing.T) {
	t.Parallel()
	st := sqlite.OpenTest(t)
	ctx := t.Context()
	for i := range 3 {
		require.NoError(t, st.AppUpsert(ctx, &access.App{ID: fmt.Sprintf("app%d", i), Source: access.SourceConfig}))
	}
	db := st.SQL()
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck // read-only test transaction

	const q = `SELECT id FROM apps ORDER BY id`
	// count runs q to the end and returns how many rows it had.
	count := func() int {
		rows, err := tx.QueryContext(ctx, q)
		require.NoError(t, err)
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
		}
		require.NoError(t, rows.Err())
		return n
	}
	outer, err := tx.QueryContext(ctx, q)
	require.NoError(t, err)
	defer outer.Close()
	var got []string
	for outer.Next() {
		var id string
		require.NoError(t, outer.Scan(&id))
		// The same statement while outer is open runs unprepared.
		require.Equal(t, 3, count())
		got = append(got, id)
	}
	require.NoError(t, outer.Err())
	require.Equal(t, []string{"app0", "app1", "app2"}, got)
	// Once outer is closed the cached statement serves again.
	require.NoError(t, outer.Close())
	require.Equal(t, 3, count())

	// More distinct statements than the cache keeps: the oldest are
	// finalized and prepared again when used.
	for i := range 600 {
		var n int
		require.NoError(t, tx.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) + %d FROM apps`, i%300)).Scan(&n))
		require.Equal(t, 3+i%300, n)
	}
	// Errors come back as they are, and leave the statement usable.
	_, err = tx.ExecContext(ctx, `INSERT INTO apps (id) VALUES (NULL)`)
	require.Error(t, err)
	var n int
	require.NoError(t, tx.QueryRowContext(ctx, `SELECT count(*) FROM apps WHERE id <> ?`, "app0").Scan(&n))
	require.Equal(t, 2, n)
	require.NoError(t, tx.QueryRowContext(ctx, `SELECT count(*) FROM apps WHERE id <> ?`, "app1").Scan(&n))
	require.Equal(t, 2, n)
}
