package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/sesame-access/sesame/internal/store"
)

// Dialect describes what differs between the databases DB runs on.
type Dialect struct {
	// Name is what Store.Dialect returns: "sqlite" or "postgres".
	Name string
	// Goose is the goose dialect of the migrations.
	Goose goose.Dialect
	// NumberedParams rewrites the ? placeholders of every query to $1, $2,
	// ... (PostgreSQL). Queries never contain a literal question mark.
	NumberedParams bool
	// RowLocks appends FOR UPDATE to reads that lock. Without row locks the
	// transaction itself must hold the write lock from BEGIN (SQLite's
	// BEGIN IMMEDIATE).
	RowLocks bool
	// TextTimes stores times as fixed-width TEXT instead of handing
	// time.Time values to the driver (for timestamptz columns).
	TextTimes bool
	// IsUniqueViolation reports whether err is a unique or primary key
	// violation. It must not be nil.
	IsUniqueViolation func(error) bool
	// DeferredAuditChain stores the events appended inside InTx unchained
	// (a negative seq from the audit_pending_seq sequence) and chains them
	// after commit, in batches, under the audit head's row lock. Without
	// it (SQLite, whose transactions already run one at a time) events are
	// chained as they are appended. With it, concurrent transactions that
	// append events no longer wait for each other's commits on the head
	// row (PostgreSQL).
	DeferredAuditChain bool
}

// Config configures New.
type Config struct {
	Dialect Dialect
	// Migrations holds the dialect's goose migrations (*.sql at its root).
	Migrations fs.FS
	// GooseOptions are extra goose provider options (a session locker on
	// PostgreSQL). Goose logs nothing unless an option sets a logger.
	GooseOptions []goose.ProviderOption
	// OnClose, if set, runs after the *sql.DB is closed (to close a pool
	// the adapter owns).
	OnClose func()
	// ReadDB, when set, serves the queries made outside a transaction;
	// the *sql.DB given to New then serves transactions and writes only.
	// SQLite uses this to funnel every write of the process through one
	// connection (no lock contention, no busy waits) while reads run in
	// parallel under WAL.
	ReadDB *sql.DB
	// GroupCommit runs InTx calls that wait for the writer as one
	// transaction, each in a savepoint (see groupCommitter). For a
	// database with one writer connection (SQLite), where transactions
	// run one at a time anyway.
	GroupCommit bool
	// WriterStats, when set, reports how long the single writer
	// connection has been held in all and how many turns it was taken
	// (SQLite); DB.WriterStats returns it.
	WriterStats func() (busy time.Duration, turns uint64)
}

// DB is a store.Store on a *sql.DB. Its Queries methods run outside a
// transaction; InTx gives fn the same methods on a *sql.Tx. A DB is safe for
// concurrent use.
type DB struct {
	queries
	sqlDB   *sql.DB
	readDB  *sql.DB
	dialect Dialect
	goose   *goose.Provider
	onClose func()
	// statements counts the statements the store ran (for benchmarks).
	statements atomic.Uint64
	// folder chains deferred audit events in the background.
	folder auditFolder
	// group, when set, runs InTx as group commits.
	group       *groupCommitter
	writerStats func() (time.Duration, uint64)
	// groups and grouped count group commits and the InTx calls they
	// committed.
	groups, grouped atomic.Uint64
}

// GroupQueued returns how many InTx calls wait for a group commit (0
// without GroupCommit).
func (db *DB) GroupQueued() int {
	if db.group == nil {
		return 0
	}
	return db.group.queued()
}

// WriterStats returns how long the single writer connection has been held
// and how many turns it was taken, and how many group commits committed
// how many InTx calls; ok is false for a database without one writer.
func (db *DB) WriterStats() (busy time.Duration, turns, groups, grouped uint64, ok bool) {
	if db.writerStats == nil {
		return 0, 0, 0, 0, false
	}
	busy, turns = db.writerStats()
	return busy, turns, db.groups.Load(), db.grouped.Load(), true
}

// auditFolder runs at most one background fold at a time; a fold asked
// for while one runs makes it run once more.
type auditFolder struct {
	mu      sync.Mutex
	running bool
	again   bool
	closed  bool
	wg      sync.WaitGroup
}

var _ store.Store = (*DB)(nil)

// New wraps db. It does no I/O: call Migrate before use. Close closes db.
func New(db *sql.DB, cfg Config) (*DB, error) {
	if cfg.Dialect.Name == "" || cfg.Dialect.IsUniqueViolation == nil {
		return nil, errors.New("sqldb: dialect needs a Name and IsUniqueViolation")
	}
	opts := append([]goose.ProviderOption{goose.WithLogger(goose.NopLogger())}, cfg.GooseOptions...)
	p, err := goose.NewProvider(cfg.Dialect.Goose, db, cfg.Migrations, opts...)
	if err != nil {
		return nil, fmt.Errorf("sqldb: migrations: %w", err)
	}
	d := &DB{sqlDB: db, readDB: cfg.ReadDB, dialect: cfg.Dialect, goose: p, onClose: cfg.OnClose, writerStats: cfg.WriterStats}
	d.queries = queries{db: d, ex: db}
	if cfg.ReadDB != nil {
		d.ex = splitExecer{read: cfg.ReadDB, write: db}
	}
	if cfg.GroupCommit {
		d.group = newGroupCommitter(d)
	}
	return d, nil
}

// Migrate applies every pending migration. Concurrent callers on one
// database are safe only with a goose locker (PostgreSQL adapters pass one).
func (db *DB) Migrate(ctx context.Context) error {
	if _, err := db.goose.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", db.dialect.Name, err)
	}
	// Chain what a process that died between commit and chaining left.
	if err := db.foldAudit(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", db.dialect.Name, err)
	}
	return nil
}

// Statements returns how many statements the store has run through its
// methods since it was opened (not counting a job queue sharing the
// database). Benchmarks divide it by the work done.
func (db *DB) Statements() uint64 { return db.statements.Load() }

// InTx runs fn in one transaction: it commits if fn returns nil and rolls
// back if fn returns an error or panics (the panic continues). The Queries
// given to fn must not be used after fn returns. Nested InTx is not
// supported. With Config.GroupCommit, calls waiting for the writer share
// one commit (groupCommitter), which changes nothing a caller can see.
func (db *DB) InTx(ctx context.Context, fn func(q store.Queries) error) error {
	return db.inTx(ctx, func(q *queries) error { return fn(q) })
}

func (db *DB) inTx(ctx context.Context, fn func(q *queries) error) error {
	if db.group != nil {
		return db.group.run(ctx, fn)
	}
	tx, err := db.sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			// The panic is what matters; the rollback only frees the
			// connection, and its error could not be reported anyway.
			_ = tx.Rollback() //nolint:errcheck // see above
			panic(p)
		}
	}()
	q := &queries{db: db, ex: tx, tx: tx, audit: &txAudit{}, pre: &preCommits{}}
	err = fn(q)
	if err == nil {
		err = q.pre.run(ctx, tx)
	}
	if err == nil {
		err = q.flushAuditHead(ctx)
	}
	if err != nil {
		// ErrTxDone: a cancelled ctx already rolled the transaction back.
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if q.audit.deferred {
		db.kickFold()
	}
	return nil
}

// Ping checks the database answers and has no pending migration.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", db.dialect.Name, err)
	}
	pending, err := db.goose.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("ping %s: migrations: %w", db.dialect.Name, err)
	}
	if pending {
		return fmt.Errorf("ping %s: migrations are pending", db.dialect.Name)
	}
	return nil
}

// Dialect returns the dialect name, "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect.Name }

// SQL returns the underlying *sql.DB, for code that shares the connection
// pool (a job queue on the same database). Store data is only written
// through the Store methods.
func (db *DB) SQL() *sql.DB { return db.sqlDB }

// Close waits for a background audit fold, closes the database, then runs
// Config.OnClose.
func (db *DB) Close() error {
	db.folder.mu.Lock()
	db.folder.closed = true
	db.folder.mu.Unlock()
	db.folder.wg.Wait()
	if db.group != nil {
		db.group.close()
	}
	err := db.sqlDB.Close()
	if db.readDB != nil {
		err = errors.Join(err, db.readDB.Close())
	}
	if db.onClose != nil {
		db.onClose()
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", db.dialect.Name, err)
	}
	return nil
}

// splitExecer sends reads to one pool and writes to another.
type splitExecer struct {
	read, write *sql.DB
}

func (s splitExecer) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return s.write.ExecContext(ctx, query, args...)
}

func (s splitExecer) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.read.QueryContext(ctx, query, args...)
}

func (s splitExecer) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return s.read.QueryRowContext(ctx, query, args...)
}
