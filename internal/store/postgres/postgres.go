package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/sesame-access/sesame/internal/store/sqldb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// dialect is PostgreSQL's: $N placeholders, FOR UPDATE row locks,
// timestamptz times, audit events chained after commit.
func dialect() sqldb.Dialect {
	return sqldb.Dialect{
		Name:              "postgres",
		Goose:             goose.DialectPostgres,
		NumberedParams:    true,
		RowLocks:          true,
		IsUniqueViolation: isUniqueViolation,
		// Transactions run concurrently: chaining audit events as they
		// are appended would queue them all on the head row until commit.
		DeferredAuditChain: true,
	}
}

// uniqueViolation is SQLSTATE unique_violation.
const uniqueViolation = "23505"

func isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == uniqueViolation
}

// OpenPool connects a pgx pool to url (a postgres:// URL or a key=value
// DSN; pool settings such as pool_max_conns go in it too) and checks the
// server answers. The caller closes the pool.
func OpenPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return pool, nil
}

// FromPool returns a store on pool and applies pending migrations. Closing
// the store does not close pool.
func FromPool(ctx context.Context, pool *pgxpool.Pool) (*sqldb.DB, error) {
	return fromPool(ctx, pool, nil)
}

// Open connects to url, applies pending migrations and returns a store that
// owns its pool: Close closes both.
func Open(ctx context.Context, url string) (*sqldb.DB, error) {
	pool, err := OpenPool(ctx, url)
	if err != nil {
		return nil, err
	}
	st, err := fromPool(ctx, pool, pool.Close)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return st, nil
}

func fromPool(ctx context.Context, pool *pgxpool.Pool, onClose func()) (*sqldb.DB, error) {
	db := stdlib.OpenDBFromPool(pool)
	st, err := newStore(ctx, db, onClose)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open postgres: %w", err), db.Close())
	}
	return st, nil
}

func newStore(ctx context.Context, db *sql.DB, onClose func()) (*sqldb.DB, error) {
	var schema sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, err
	}
	if !schema.Valid {
		return nil, errors.New("no schema of the search_path exists: create it first")
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID(schema.String)), lock.WithLockTimeout(1, 600))
	if err != nil {
		return nil, err
	}
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	st, err := sqldb.New(db, sqldb.Config{
		Dialect:      dialect(),
		Migrations:   migrations,
		GooseOptions: []goose.ProviderOption{goose.WithSessionLocker(locker)},
		OnClose:      onClose,
	})
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		return nil, err
	}
	return st, nil
}

// lockID is the advisory lock that serialises the migrations of schema.
func lockID(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("sesame migrations " + schema))
	return int64(h.Sum64()) //nolint:gosec // any 64 bits make a lock id
}
