package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/postgresql"
	"github.com/sesame-access/sesame/internal/ids"
)

// ProvisionResult is what ProvisionPostgres measured.
type ProvisionResult struct {
	N, Workers int
	// Grant and Revoke are the wall time of all N calls of each.
	Grant, Revoke time.Duration
	// Per-call latency.
	GrantP50, GrantP99, RevokeP50, RevokeP99 time.Duration
}

// GrantsPerSecond is the Grant throughput.
func (r *ProvisionResult) GrantsPerSecond() float64 { return float64(r.N) / r.Grant.Seconds() }

// RevokesPerSecond is the Revoke throughput.
func (r *ProvisionResult) RevokesPerSecond() float64 { return float64(r.N) / r.Revoke.Seconds() }

// ProvisionPostgres measures the real PostgreSQL connector (role mode) on
// the server at adminURL, whose user must be allowed to create roles: it
// creates n LOGIN roles and one NOLOGIN role with a random prefix, grants
// the role to every login with workers concurrent Grant calls, checks
// that every login is a member, revokes them all likewise (each Revoke
// also ends the login's sessions, as the connector does by default),
// checks that none is left, and drops the roles, also on failure.
func ProvisionPostgres(ctx context.Context, adminURL string, n, workers int) (res *ProvisionResult, err error) {
	if n < 1 || workers < 1 {
		return nil, fmt.Errorf("provision: n (%d) and workers (%d) must be positive", n, workers)
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("provision: connect: %w", err)
	}
	prefix := "sesame_bench_" + ids.Token(5) + "_"
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		err = errors.Join(err, dropRoles(cctx, conn, prefix), conn.Close(cctx))
	}()
	role := prefix + "priv"
	logins := make([]string, n)
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" NOLOGIN"); err != nil {
			return err
		}
		for i := range logins {
			logins[i] = fmt.Sprintf("%su%05d", prefix, i)
			if _, err := tx.Exec(ctx, "CREATE ROLE "+pgx.Identifier{logins[i]}.Sanitize()+" LOGIN"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("provision: create roles: %w", err)
	}

	c, err := postgresql.New(map[string]string{"url": adminURL, "mode": postgresql.ModeRole})
	if err != nil {
		return nil, fmt.Errorf("provision: connector: %w", err)
	}
	targets := make([]connector.Target, n)
	for i, login := range logins {
		// The default login_template {local} maps the email back to login.
		targets[i] = connector.Target{GrantID: fmt.Sprintf("grt_bench_%05d", i), UserID: login, Email: login + "@example.com",
			AppID: "bench-postgres", EntitlementKey: role}
	}
	res = &ProvisionResult{N: n, Workers: workers}
	var lat []time.Duration
	if res.Grant, lat, err = runConcurrently(ctx, targets, workers, c.Grant); err != nil {
		return nil, fmt.Errorf("provision: grant: %w", err)
	}
	res.GrantP50, res.GrantP99 = Percentiles(lat)
	if m, err := members(ctx, conn, role, prefix); err != nil || m != n {
		return nil, errors.Join(fmt.Errorf("provision: %d of %d logins are members after Grant", m, n), err)
	}
	if res.Revoke, lat, err = runConcurrently(ctx, targets, workers, c.Revoke); err != nil {
		return nil, fmt.Errorf("provision: revoke: %w", err)
	}
	res.RevokeP50, res.RevokeP99 = Percentiles(lat)
	if m, err := members(ctx, conn, role, prefix); err != nil || m != 0 {
		return nil, errors.Join(fmt.Errorf("provision: %d logins are still members after Revoke", m), err)
	}
	return res, nil
}

// runConcurrently calls op on every target with workers goroutines and
// returns the wall time and each call's latency; it stops at the first
// error.
func runConcurrently(ctx context.Context, targets []connector.Target, workers int,
	op func(context.Context, connector.Target) error) (time.Duration, []time.Duration, error) {
	lat := make([]time.Duration, len(targets))
	start := now()
	err := forEach(len(targets), workers, func(i int) error {
		t0 := now()
		if err := op(ctx, targets[i]); err != nil {
			return err
		}
		lat[i] = now().Sub(t0)
		return nil
	})
	return now().Sub(start), lat, err
}

// members counts the direct members of role whose names start with prefix.
func members(ctx context.Context, conn *pgx.Conn, role, prefix string) (int, error) {
	var n int
	err := conn.QueryRow(ctx, `
		SELECT count(*) FROM pg_auth_members m
		JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
		WHERE r.rolname = $1 AND starts_with(u.rolname, $2)`, role, prefix).Scan(&n)
	return n, err
}

// dropRoles drops every role whose name starts with prefix.
func dropRoles(ctx context.Context, conn *pgx.Conn, prefix string) error {
	rows, err := conn.Query(ctx, `SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)`, prefix)
	if err != nil {
		return fmt.Errorf("provision: list roles to drop: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("provision: list roles to drop: %w", err)
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, name := range names {
			if _, err := tx.Exec(ctx, "DROP ROLE "+pgx.Identifier{name}.Sanitize()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("provision: drop roles: %w", err)
	}
	return nil
}
