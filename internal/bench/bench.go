// Package bench measures Sesame end to end on a real database: request
// lifecycle throughput against the raw-commit ceiling of the same
// database, and REST API latency under concurrent clients. `sesame bench`
// runs it and prints the tables the README's performance section quotes.
package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/fake"
	"github.com/sesame-access/sesame/internal/jobs"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/postgres"
	"github.com/sesame-access/sesame/internal/store/sqlite"
	"github.com/sesame-access/sesame/internal/workflow"
)

// Stack is a running Sesame core on one database.
type Stack struct {
	Dialect string
	Store   store.Store
	Service *workflow.Service
	Queue   *jobs.Queue
	Backend *fake.Backend
	// LastDecided is how long the last Lifecycles run took to submit and
	// approve its requests (the rest of its time is provisioning).
	LastDecided time.Duration
	// ceiling runs one bare single-row insert transaction.
	ceiling func(ctx context.Context, i int) error
	closers []func() error
}

// Statements returns how many statements the store has run (0 when the
// store does not count them).
func (s *Stack) Statements() uint64 {
	if c, ok := s.Store.(interface{ Statements() uint64 }); ok {
		return c.Statements()
	}
	return 0
}

// WriterStats is the store's single-writer statistics, when it has one
// writer (SQLite): see sqldb.DB.WriterStats.
func (s *Stack) WriterStats() (busy time.Duration, turns, groups, grouped uint64, ok bool) {
	if w, isW := s.Store.(interface {
		WriterStats() (time.Duration, uint64, uint64, uint64, bool)
	}); isW {
		return w.WriterStats()
	}
	return 0, 0, 0, 0, false
}

// Close stops the queue and closes the database.
func (s *Stack) Close() error {
	var errs []error
	if s.Queue != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		errs = append(errs, s.Queue.Stop(ctx))
		cancel()
	}
	for _, c := range slices.Backward(s.closers) {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// OpenSQLite builds a stack on a new SQLite file in dir.
func OpenSQLite(ctx context.Context, dir string) (*Stack, error) {
	path := filepath.Join(dir, "bench.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	s := &Stack{Dialect: "sqlite", Store: st, closers: []func() error{st.Close}}
	rdb := st.SQL()
	if err := jobs.MigrateSQLite(ctx, rdb); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	raw, err := sql.Open(sqlite.DriverName, sqlite.DSN(path))
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	s.closers = append(s.closers, raw.Close)
	if _, err := raw.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS bench_ceiling (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	s.ceiling = func(ctx context.Context, i int) error { return insertSQL(ctx, raw, i) }
	if err := s.start(ctx, func(cfg jobs.Config) (*jobs.Queue, error) { return jobs.NewSQLite(rdb, cfg) }); err != nil {
		return nil, err // start closed the stack
	}
	return s, nil
}

// OpenPostgres builds a stack on url (use a fresh schema).
func OpenPostgres(ctx context.Context, url string) (*Stack, error) {
	pool, err := postgres.OpenPool(ctx, url)
	if err != nil {
		return nil, err
	}
	s := &Stack{Dialect: "postgres", closers: []func() error{func() error { pool.Close(); return nil }}}
	st, err := postgres.FromPool(ctx, pool)
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	s.Store = st
	s.closers = append(s.closers, st.Close)
	if err := jobs.MigratePostgres(ctx, pool); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_ceiling (id BIGINT PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	s.ceiling = func(ctx context.Context, i int) error { return insertPgx(ctx, pool, i) }
	if err := s.start(ctx, func(cfg jobs.Config) (*jobs.Queue, error) { return jobs.NewPostgres(pool, cfg) }); err != nil {
		return nil, err // start closed the stack
	}
	return s, nil
}

func insertSQL(ctx context.Context, db *sql.DB, i int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO bench_ceiling (id, v) VALUES (?, 'x')", i); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

func insertPgx(ctx context.Context, pool *pgxpool.Pool, i int) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "INSERT INTO bench_ceiling (id, v) VALUES ($1, 'x')", i); err != nil {
		return errors.Join(err, tx.Rollback(ctx))
	}
	return tx.Commit(ctx)
}

// Catalog size of the benchmark: Users requesters, each may ask for any of
// Entitlements entitlements of one app owned by two approvers.
const (
	Users        = 2000
	Entitlements = 60
)

func (s *Stack) start(ctx context.Context, newQueue func(jobs.Config) (*jobs.Queue, error)) error {
	s.Backend = fake.NewBackend()
	reg := connector.NewRegistry()
	reg.Register(fake.TypeName, s.Backend.Factory())
	engine, err := policy.New([]policy.Policy{{ID: "default", Default: true, MaxDuration: 8 * time.Hour,
		Steps: []policy.StepRule{{Name: "Owner", Approvers: policy.ApproverRule{AppOwners: true}}}}}, 0)
	if err != nil {
		return errors.Join(err, s.Close())
	}
	s.Service, err = workflow.New(workflow.Config{Store: s.Store, Clock: clock.Real{}, Policy: engine, Connectors: reg,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return errors.Join(err, s.Close())
	}
	s.Queue, err = newQueue(jobs.Config{Service: s.Service, Clock: clock.Real{}, Logger: slog.New(slog.DiscardHandler), Workers: 20})
	if err != nil {
		return errors.Join(err, s.Close())
	}
	s.Service.SetEnqueuer(s.Queue)
	if err := s.seedCatalog(ctx); err != nil {
		return errors.Join(err, s.Close())
	}
	if err := s.Queue.Start(ctx); err != nil {
		return errors.Join(err, s.Close())
	}
	return nil
}

// UserID names benchmark user i; "owner0" and "owner1" approve.
func UserID(i int) string { return fmt.Sprintf("u%05d", i) }

// EntitlementID names benchmark entitlement j.
func EntitlementID(j int) string { return fmt.Sprintf("bench:e%03d", j) }

func (s *Stack) seedCatalog(ctx context.Context) error {
	now := clock.Real{}.Now()
	return s.Store.InTx(ctx, func(q store.Queries) error {
		for _, id := range []string{"owner0", "owner1"} {
			if err := q.UserUpsert(ctx, &access.User{ID: id, Email: id + "@example.com", Name: id, Status: access.UserActive,
				Roles: []access.Role{access.RoleAdmin}, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
		}
		for i := range Users {
			if err := q.UserUpsert(ctx, &access.User{ID: UserID(i), Email: UserID(i) + "@example.com", Name: UserID(i),
				Status: access.UserActive, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
		}
		if err := q.AppUpsert(ctx, &access.App{ID: "bench", Name: "Bench", ConnectorType: fake.TypeName,
			Owners: []string{"owner0", "owner1"}, Source: access.SourceConfig, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		for j := range Entitlements {
			id := EntitlementID(j)
			_, key, _ := access.SplitEntitlementID(id)
			if err := q.EntitlementUpsert(ctx, &access.Entitlement{ID: id, AppID: "bench", Key: key, Name: key,
				Requestable: true, Risk: access.RiskLow, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
}
