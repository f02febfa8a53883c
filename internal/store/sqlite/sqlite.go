package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sesame-access/sesame/internal/store/sqldb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// writerHandles is how many database/sql connections share the single
// SQLite writer connection (see serialConnector).
const writerHandles = 256

// DriverName is the database/sql driver DSN is for.
const DriverName = "sqlite"

// DSN returns the modernc.org/sqlite data source name for the database file
// at path, with the settings the store relies on: WAL journal, 10 s busy
// timeout, foreign keys, synchronous NORMAL and BEGIN IMMEDIATE
// transactions. Within one process, prefer the store's SQL() (its single
// writer connection) over a second *sql.DB: writers on separate
// connections wait for each other in SQLite's busy handler.
func DSN(path string) string {
	u := url.URL{Path: path}
	return "file:" + u.EscapedPath() + "?" +
		"_pragma=busy_timeout(10000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(NORMAL)" +
		"&_txlock=immediate"
}

// dialect is SQLite's: ? placeholders, no row locks (a transaction holds
// the write lock from BEGIN IMMEDIATE), times as TEXT.
func dialect() sqldb.Dialect {
	return sqldb.Dialect{
		Name:              "sqlite",
		Goose:             goose.DialectSQLite3,
		TextTimes:         true,
		IsUniqueViolation: isUniqueViolation,
	}
}

func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// Open opens (creating it and its directory if needed) the database file at
// path and applies pending migrations. Close the store when done.
func Open(ctx context.Context, path string) (*sqldb.DB, error) {
	if path == "" {
		return nil, errors.New("open sqlite: empty path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	// Every write of the process goes through one connection, taken in
	// turns in arrival order (serialConnector), so writers queue instead of
	// sleeping in SQLite's busy handler; reads use a pool of their own and
	// run in parallel (WAL). Share SQL() with River so that its writes
	// queue on the same connection. Both pools keep each connection's
	// prepared statements (cachingConnector): modernc would otherwise parse
	// every statement again on every call.
	writer := newSerialConnector(&cachingConnector{dsn: DSN(path) + writerPragmas, drv: &sqlite.Driver{}})
	db := sql.OpenDB(writer)
	// Handles on the one connection: enough that goroutines wait in the
	// connector's FIFO rather than in database/sql's pool.
	db.SetMaxOpenConns(writerHandles)
	db.SetMaxIdleConns(writerHandles)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	readDB := sql.OpenDB(&cachingConnector{dsn: DSN(path), drv: &sqlite.Driver{}})
	// As many idle as open: readers reuse connections instead of opening
	// and closing them under load.
	readDB.SetMaxOpenConns(8)
	readDB.SetMaxIdleConns(8)
	ckpt := startCheckpointer(path, checkpointEvery)
	st, err := open(ctx, db, readDB, writer.stats, func() {
		if err := ckpt.close(); err != nil {
			slog.Default().WarnContext(context.Background(), "sqlite: last WAL checkpoint failed", "err", err)
		}
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open sqlite %s: %w", path, err), db.Close(), readDB.Close(), ckpt.close())
	}
	return st, nil
}

func open(ctx context.Context, db, readDB *sql.DB, writerStats func() (time.Duration, uint64), onClose func()) (*sqldb.DB, error) {
	if err := db.PingContext(ctx); err != nil {
		return nil, err
	}
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	st, err := sqldb.New(db, sqldb.Config{Dialect: dialect(), Migrations: migrations, ReadDB: readDB, GroupCommit: true, WriterStats: writerStats, OnClose: onClose})
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		// Close stops the store's group committer too; the caller's
		// closes that follow find everything closed already.
		return nil, errors.Join(err, st.Close())
	}
	return st, nil
}

// OpenTest opens a migrated store in a new file under t.TempDir() and
// closes it when the test ends. For tests of packages that need a store.
func OpenTest(tb testing.TB) *sqldb.DB {
	tb.Helper()
	st, err := Open(tb.Context(), filepath.Join(tb.TempDir(), "sesame.db"))
	if err != nil {
		tb.Fatalf("sqlite.OpenTest: %v", err)
	}
	tb.Cleanup(func() {
		if err := st.Close(); err != nil {
			tb.Errorf("sqlite.OpenTest: %v", err)
		}
	})
	return st
}
