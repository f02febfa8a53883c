package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sesame-access/sesame/internal/config"
	"github.com/sesame-access/sesame/internal/jobs"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/postgres"
	"github.com/sesame-access/sesame/internal/store/sqlite"
)

// database is the opened store plus what River needs on the same database.
type database struct {
	dialect  string
	location string // a path or a URL without its password
	store    store.Store
	riverDB  *sql.DB       // SQLite: River's own one-connection pool
	pool     *pgxpool.Pool // PostgreSQL: shared by store and River
}

// openDatabase opens and migrates the configured database (ours and
// River's tables).
func openDatabase(ctx context.Context, cfg *config.Config) (*database, error) {
	switch cfg.DatabaseDialect() {
	case "sqlite":
		path := cfg.SQLitePath()
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, err
		}
		// River shares the store's single writer connection (riversqlite
		// wants one connection; sharing it means no lock contention).
		d := &database{dialect: "sqlite", location: path, store: st, riverDB: st.SQL()}
		if err := jobs.MigrateSQLite(ctx, d.riverDB); err != nil {
			return nil, errors.Join(err, d.Close())
		}
		return d, nil
	case "postgres":
		pool, err := postgres.OpenPool(ctx, cfg.Database)
		if err != nil {
			return nil, err
		}
		st, err := postgres.FromPool(ctx, pool)
		if err != nil {
			pool.Close()
			return nil, err
		}
		d := &database{dialect: "postgres", location: redactURL(cfg.Database), store: st, pool: pool}
		if err := migrateRiverPostgres(ctx, pool); err != nil {
			return nil, errors.Join(err, d.Close())
		}
		return d, nil
	}
	return nil, fmt.Errorf("unsupported database %q", cfg.DatabaseDialect())
}

// migrateRiverPostgres runs River's migrations under an advisory lock, so
// replicas starting together do not race.
func migrateRiverPostgres(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("river migrate: %w", err)
	}
	defer conn.Release()
	const lockKey = 0x5e5a3e0001 // "sesame river migrations"
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("river migrate lock: %w", err)
	}
	migErr := jobs.MigratePostgres(ctx, pool)
	_, unlockErr := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockKey)
	return errors.Join(migErr, unlockErr)
}

// newQueue builds the job queue on the database.
func (d *database) newQueue(cfg jobs.Config) (*jobs.Queue, error) {
	if d.pool != nil {
		return jobs.NewPostgres(d.pool, cfg)
	}
	return jobs.NewSQLite(d.riverDB, cfg)
}

// Close closes the store and River's connections.
func (d *database) Close() error {
	var errs []error
	if d.store != nil {
		errs = append(errs, d.store.Close())
	}
	if d.pool != nil {
		d.pool.Close()
	}
	return errors.Join(errs...)
}
