package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

const grantCols = `id, request_id, user_id, app_id, entitlement_id, state, duration, max_duration, activated_at,
	expires_at, revoked_at, attempts, last_error, revoke_reason, manual_task, credentials, created_at, updated_at,
	target_expires_at, version`

func scanGrant(s scanner) (*access.Grant, error) {
	g := new(access.Grant)
	err := s.Scan(&g.ID, &g.RequestID, &g.UserID, &g.AppID, &g.EntitlementID, &g.State, &g.Duration,
		&g.MaxDuration, timeCol{&g.ActivatedAt}, timeCol{&g.ExpiresAt}, timeCol{&g.RevokedAt}, &g.Attempts,
		&g.LastError, &g.RevokeReason, &g.ManualTask, &g.Credentials, timeCol{&g.CreatedAt}, timeCol{&g.UpdatedAt},
		timeCol{&g.TargetExpiresAt}, &g.Version)
	return g, err
}

// grantArgs returns the values of grantCols for g, less the ID and
// Version, in column order.
func (q *queries) grantArgs(g *access.Grant) []any {
	return []any{g.RequestID, g.UserID, g.AppID, g.EntitlementID, string(g.State), int64(g.Duration),
		int64(g.MaxDuration), q.tm(g.ActivatedAt), q.tm(g.ExpiresAt), q.tm(g.RevokedAt), int64(g.Attempts),
		g.LastError, g.RevokeReason, g.ManualTask, g.Credentials, q.tm(g.CreatedAt), q.tm(g.UpdatedAt),
		q.tm(g.TargetExpiresAt)}
}

// GrantCreate stores g; a second grant with g.ID is ErrConflict.
func (q *queries) GrantCreate(ctx context.Context, g *access.Grant) error {
	args := append(append([]any{g.ID}, q.grantArgs(g)...), int64(g.Version))
	if _, err := q.exec(ctx, `INSERT INTO grants (`+grantCols+`) VALUES (`+marks(len(args))+`)`, args...); err != nil {
		return q.classify(err, "create grant %s", g.ID)
	}
	return nil
}

// GrantGetByID returns the grant or ErrNotFound. lock is as for
// RequestGetByID.
func (q *queries) GrantGetByID(ctx context.Context, id string, lock bool) (*access.Grant, error) {
	g, err := scanGrant(q.queryRow(ctx, `SELECT `+grantCols+` FROM grants WHERE id = ?`+q.forUpdate(lock), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("grant %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get grant %s: %w", id, err)
	}
	return g, nil
}

// GrantUpdate saves every field of g if the stored version is g.Version,
// then increments g.Version. A stale g is ErrConflict, a missing one
// ErrNotFound.
func (q *queries) GrantUpdate(ctx context.Context, g *access.Grant) error {
	// request_id, user_id, app_id, entitlement_id and created_at are
	// fixed at creation and left out: SQLite rewrites the index entries of
	// every indexed column an UPDATE sets, even to the value it had.
	args := q.grantArgs(g)
	set := append(append([]any{}, args[4:15]...), args[16:]...)
	n, err := q.execN(ctx, `UPDATE grants SET
		state = ?, duration = ?, max_duration = ?, activated_at = ?, expires_at = ?, revoked_at = ?,
		attempts = ?, last_error = ?, revoke_reason = ?, manual_task = ?, credentials = ?, updated_at = ?,
		target_expires_at = ?, version = version + 1
		WHERE id = ? AND version = ?`, append(set, g.ID, int64(g.Version))...)
	if err != nil {
		return q.classify(err, "update grant %s", g.ID)
	}
	if n == 0 {
		return q.versionErr(ctx, "grants", "grant", g.ID, g.Version)
	}
	g.Version++
	return nil
}

// grants selects grants with the clauses in rest.
func (q *queries) grants(ctx context.Context, rest string, args ...any) ([]*access.Grant, error) {
	rows, err := q.query(ctx, `SELECT `+grantCols+` FROM grants`+rest, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanGrant)
}

// GrantList returns grants newest first (by ID). ExpiringBefore matches
// grants whose ExpiresAt is set and strictly before it.
func (q *queries) GrantList(ctx context.Context, p store.GrantListParams) ([]*access.Grant, string, error) {
	before, err := decodeCursor(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := store.ClampLimit(p.Limit)
	var w where
	if len(p.States) > 0 {
		in(&w, "state", p.States)
	}
	if p.UserID != "" {
		w.add("user_id = ?", p.UserID)
	}
	if p.AppID != "" {
		w.add("app_id = ?", p.AppID)
	}
	if p.RequestID != "" {
		w.add("request_id = ?", p.RequestID)
	}
	if !p.ExpiringBefore.IsZero() {
		w.add("expires_at < ?", q.tm(p.ExpiringBefore))
	}
	if before != "" {
		w.add("id < ?", before)
	}
	gs, err := q.grants(ctx, w.String()+` ORDER BY id DESC LIMIT ?`, append(w.args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list grants: %w", err)
	}
	gs, next := page(gs, limit, func(g *access.Grant) string { return g.ID })
	return gs, next, nil
}

// GrantListByRequest returns the request's grants ordered by ID.
func (q *queries) GrantListByRequest(ctx context.Context, requestID string) ([]*access.Grant, error) {
	gs, err := q.grants(ctx, ` WHERE request_id = ? ORDER BY id`, requestID)
	if err != nil {
		return nil, fmt.Errorf("list grants of request %s: %w", requestID, err)
	}
	return gs, nil
}

// GrantListDue returns active grants with ExpiresAt at or before now,
// oldest expiry first (then ID), at most limit (50 if limit <= 0). It
// reads the (state, expires_at, id) index in order.
func (q *queries) GrantListDue(ctx context.Context, now time.Time, limit int) ([]*access.Grant, error) {
	gs, err := q.grants(ctx, ` WHERE state = ? AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`,
		string(access.GrantActive), q.tm(now), limitOr(limit))
	if err != nil {
		return nil, fmt.Errorf("list due grants: %w", err)
	}
	return gs, nil
}

// GrantListStalled returns grants in states with UpdatedAt at or before
// before, oldest update first (then ID), at most limit (50 if limit <= 0).
// No states returns none.
func (q *queries) GrantListStalled(ctx context.Context, states []access.GrantState, before time.Time, limit int) ([]*access.Grant, error) {
	if len(states) == 0 {
		return nil, nil
	}
	var w where
	in(&w, "state", states)
	w.add("updated_at <= ?", q.tm(before))
	gs, err := q.grants(ctx, w.String()+` ORDER BY updated_at, id LIMIT ?`, append(w.args, limitOr(limit))...)
	if err != nil {
		return nil, fmt.Errorf("list stalled grants: %w", err)
	}
	return gs, nil
}

// GrantListTargetBehind returns active grants whose TargetExpiresAt is
// set and differs from ExpiresAt (the target's own expiry has still to be
// moved), with UpdatedAt at or before before, oldest update first (then
// ID), at most limit (50 if limit <= 0). The predicate is spelt as the
// partial index grants_target_behind's, literals included, so that both
// planners read that index in order (state, updated_at, id) and never the
// active grants in sync (migration 00011).
func (q *queries) GrantListTargetBehind(ctx context.Context, before time.Time, limit int) ([]*access.Grant, error) {
	gs, err := q.grants(ctx, ` WHERE state = 'active' AND target_expires_at IS NOT NULL AND target_expires_at <> expires_at
		AND updated_at <= ? ORDER BY updated_at, id LIMIT ?`, q.tm(before), limitOr(limit))
	if err != nil {
		return nil, fmt.Errorf("list grants whose target is behind: %w", err)
	}
	return gs, nil
}

// GrantCountByState returns the number of grants in each state that has
// any.
func (q *queries) GrantCountByState(ctx context.Context) (map[access.GrantState]int, error) {
	rows, err := q.query(ctx, `SELECT state, COUNT(*) FROM grants GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("count grants: %w", err)
	}
	counts, err := collectCounts[access.GrantState](rows)
	if err != nil {
		return nil, fmt.Errorf("count grants: %w", err)
	}
	return counts, nil
}
