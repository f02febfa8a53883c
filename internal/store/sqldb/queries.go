package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sesame-access/sesame/internal/store"
)

// execer is what *sql.DB and *sql.Tx have in common.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queries implements store.Queries on a *sql.DB (tx nil) or a *sql.Tx.
type queries struct {
	db *DB
	ex execer
	tx *sql.Tx
	// audit is the transaction's audit chain state (nil outside InTx).
	audit *txAudit
	// detached: statements run without their context's cancellation (in
	// a group commit, where interrupting one would abort the group).
	detached bool
	// pre is what the transaction writes just before it commits (nil
	// outside InTx).
	pre *preCommits
}

// stmtCtx is the context a statement runs with.
func (q *queries) stmtCtx(ctx context.Context) context.Context {
	if q.detached {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

var _ store.Queries = (*queries)(nil)

// SQLTx returns the transaction the Queries run in, or nil outside InTx.
func (q *queries) SQLTx() *sql.Tx { return q.tx }

// SQLTx returns the *sql.Tx under q when q is the store.Queries that a DB's
// InTx gives its fn, so that code sharing the database (a job queue) can
// write in the same transaction. ok is false for any other Queries.
func SQLTx(q store.Queries) (tx *sql.Tx, ok bool) {
	sq, isSQL := q.(interface{ SQLTx() *sql.Tx })
	if !isSQL {
		return nil, false
	}
	tx = sq.SQLTx()
	return tx, tx != nil
}

// atomic runs fn in the current transaction, or in a new one outside InTx.
func (q *queries) atomic(ctx context.Context, fn func(q *queries) error) error {
	if q.tx != nil {
		return fn(q)
	}
	return q.db.inTx(ctx, fn)
}

func (q *queries) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	q.db.statements.Add(1)
	return q.ex.ExecContext(q.stmtCtx(ctx), q.rebind(query), args...)
}

func (q *queries) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q.db.statements.Add(1)
	return q.ex.QueryContext(q.stmtCtx(ctx), q.rebind(query), args...)
}

func (q *queries) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	q.db.statements.Add(1)
	return q.ex.QueryRowContext(q.stmtCtx(ctx), q.rebind(query), args...)
}

// execN runs an UPDATE and returns the number of rows it changed.
func (q *queries) execN(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// rebind rewrites ? placeholders to $N when the dialect numbers them.
func (q *queries) rebind(query string) string {
	if !q.db.dialect.NumberedParams {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := range len(query) {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// forUpdate is the locking clause of a read with lock set.
func (q *queries) forUpdate(lock bool) string {
	if lock && q.db.dialect.RowLocks {
		return " FOR UPDATE"
	}
	return ""
}

// classify turns a unique violation into store.ErrConflict and wraps every
// error with what was being done.
func (q *queries) classify(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if q.db.dialect.IsUniqueViolation(err) {
		return fmt.Errorf("%s: %w: %w", what, store.ErrConflict, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// exists reports whether table has a row with id.
func (q *queries) exists(ctx context.Context, table, id string) (bool, error) {
	var one int
	err := q.queryRow(ctx, "SELECT 1 FROM "+table+" WHERE id = ?", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// versionErr explains why a versioned UPDATE of table changed no row:
// ErrNotFound if the row is gone, ErrConflict if its version moved on.
func (q *queries) versionErr(ctx context.Context, table, noun, id string, version int) error {
	ok, err := q.exists(ctx, table, id)
	switch {
	case err != nil:
		return fmt.Errorf("update %s %s: %w", noun, id, err)
	case !ok:
		return fmt.Errorf("%s %s: %w", noun, id, store.ErrNotFound)
	}
	return fmt.Errorf("update %s %s at version %d: %w", noun, id, version, store.ErrConflict)
}

// where collects AND-ed conditions and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// in adds "col IN (...)" for vals; call it only with a non-empty vals.
func in[T ~string](w *where, col string, vals []T) {
	w.conds = append(w.conds, col+" IN ("+marks(len(vals))+")")
	for _, v := range vals {
		w.args = append(w.args, string(v))
	}
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// marks returns n comma-separated placeholders.
func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// rowsOf returns n value tuples of cols placeholders each, for a
// multi-row INSERT.
func rowsOf(n, cols int) string {
	one := "(" + marks(cols) + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", n), ", ")
}

// limitOr returns limit, or store.ClampLimit's default when limit <= 0.
// Methods with a plain limit (sweeps, exports) take any positive limit.
func limitOr(limit int) int {
	if limit <= 0 {
		return store.ClampLimit(0)
	}
	return limit
}
