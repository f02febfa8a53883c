package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

const requestCols = `id, requester_id, app_id, entitlement_ids, duration, max_duration, reason, state, policy_id,
	steps, current_step, auto_approve_rule, created_at, updated_at, pending_until, last_reminded_at,
	remind_count, extends_grant_id, version`

func scanRequest(s scanner) (*access.Request, error) {
	r := new(access.Request)
	err := s.Scan(&r.ID, &r.RequesterID, &r.AppID, jsonCol{&r.EntitlementIDs}, &r.Duration, &r.MaxDuration,
		&r.Reason, &r.State, &r.PolicyID, jsonCol{&r.Steps}, &r.CurrentStep, &r.AutoApproveRule,
		timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt}, timeCol{&r.PendingUntil}, timeCol{&r.LastRemindedAt},
		&r.RemindCount, &r.ExtendsGrantID, &r.Version)
	return r, err
}

// requestArgs returns the values of requestCols for r, less the ID and
// Version, in column order.
func (q *queries) requestArgs(r *access.Request) ([]any, error) {
	ents, err := jsonArg(r.EntitlementIDs)
	if err != nil {
		return nil, err
	}
	steps, err := jsonArg(r.Steps)
	if err != nil {
		return nil, err
	}
	return []any{r.RequesterID, r.AppID, ents, int64(r.Duration), int64(r.MaxDuration), r.Reason,
		string(r.State), r.PolicyID, steps, int64(r.CurrentStep), r.AutoApproveRule, q.tm(r.CreatedAt),
		q.tm(r.UpdatedAt), q.tm(r.PendingUntil), q.tm(r.LastRemindedAt), int64(r.RemindCount), r.ExtendsGrantID}, nil
}

// RequestCreate stores r, its decisions, and the index rows of its
// entitlements and notified approvers. A second request with r.ID is
// ErrConflict.
func (q *queries) RequestCreate(ctx context.Context, r *access.Request) error {
	args, err := q.requestArgs(r)
	if err != nil {
		return fmt.Errorf("create request %s: %w", r.ID, err)
	}
	err = q.atomic(ctx, func(q *queries) error {
		all := append(append([]any{r.ID}, args...), int64(r.Version))
		if _, err := q.exec(ctx, `INSERT INTO requests (`+requestCols+`) VALUES (`+marks(len(all))+`)`, all...); err != nil {
			return err
		}
		if err := q.writeRequestIndex(ctx, r, false); err != nil {
			return err
		}
		return q.insertDecisions(ctx, r)
	})
	if err != nil {
		return q.classify(err, "create request %s", r.ID)
	}
	return nil
}

// writeRequestIndex (re)writes request_entitlements and request_approvers.
func (q *queries) writeRequestIndex(ctx context.Context, r *access.Request, replace bool) error {
	if replace {
		if _, err := q.exec(ctx, `DELETE FROM request_entitlements WHERE request_id = ?`, r.ID); err != nil {
			return err
		}
		if _, err := q.exec(ctx, `DELETE FROM request_approvers WHERE request_id = ?`, r.ID); err != nil {
			return err
		}
	}
	if n := len(r.EntitlementIDs); n > 0 {
		args := make([]any, 0, 3*n)
		for i, id := range r.EntitlementIDs {
			args = append(args, r.ID, int64(i), id)
		}
		if _, err := q.exec(ctx, `INSERT INTO request_entitlements (request_id, position, entitlement_id)
			VALUES `+rowsOf(n, 3), args...); err != nil {
			return err
		}
	}
	var args []any
	for i, s := range r.Steps {
		seen := map[string]bool{}
		for _, id := range s.Notified {
			if !seen[id] {
				seen[id] = true
				args = append(args, r.ID, int64(i), id)
			}
		}
	}
	if len(args) > 0 {
		if _, err := q.exec(ctx, `INSERT INTO request_approvers (request_id, step, user_id)
			VALUES `+rowsOf(len(args)/3, 3), args...); err != nil {
			return err
		}
	}
	return nil
}

// sameRequestIndex reports whether the stored entitlement_ids and steps
// JSON index the same rows as r: the same entitlements in order and the
// same notified approvers per step. Unreadable JSON is not the same.
func sameRequestIndex(entsJSON, stepsJSON string, r *access.Request) bool {
	var ents []string
	var steps []access.Step
	if json.Unmarshal([]byte(entsJSON), &ents) != nil || json.Unmarshal([]byte(stepsJSON), &steps) != nil {
		return false
	}
	if !slices.Equal(ents, r.EntitlementIDs) || len(steps) != len(r.Steps) {
		return false
	}
	for i := range steps {
		if !slices.Equal(steps[i].Notified, r.Steps[i].Notified) {
			return false
		}
	}
	return true
}

// insertDecisions stores r's decisions whose ID is not stored yet. A second
// decision by one approver violates a unique index (ErrConflict).
func (q *queries) insertDecisions(ctx context.Context, r *access.Request) error {
	if len(r.Decisions) == 0 {
		return nil
	}
	args := make([]any, 0, 8*len(r.Decisions))
	for _, d := range r.Decisions {
		if d.ID == "" {
			return fmt.Errorf("decision by %s has no id", d.ApproverID)
		}
		args = append(args, d.ID, r.ID, int64(d.Step), d.ApproverID, string(d.Outcome), d.Comment,
			int64(d.Duration), q.tm(d.CreatedAt))
	}
	_, err := q.exec(ctx, `INSERT INTO decisions (id, request_id, step, approver_id, outcome, comment, duration, created_at)
		VALUES `+rowsOf(len(r.Decisions), 8)+` ON CONFLICT (id) DO NOTHING`, args...)
	return err
}

const decisionCols = `id, request_id, step, approver_id, outcome, comment, duration, created_at`

func scanDecision(s scanner) (access.Decision, error) {
	var d access.Decision
	err := s.Scan(&d.ID, &d.RequestID, &d.Step, &d.ApproverID, &d.Outcome, &d.Comment, &d.Duration, timeCol{&d.CreatedAt})
	return d, err
}

// loadDecisions fills the Decisions of reqs, each ordered by creation time
// then ID, with one query per idsPerQuery requests (one for a page).
func (q *queries) loadDecisions(ctx context.Context, reqs []*access.Request) error {
	byID := make(map[string]*access.Request, len(reqs))
	ids := make([]string, 0, len(reqs))
	for _, r := range reqs {
		byID[r.ID] = r
		ids = append(ids, r.ID)
	}
	for chunk := range slices.Chunk(ids, idsPerQuery) {
		var w where
		inPadded(&w, "request_id", chunk)
		rows, err := q.query(ctx, `SELECT `+decisionCols+` FROM decisions`+w.String()+` ORDER BY created_at, id`, w.args...)
		if err != nil {
			return fmt.Errorf("load decisions: %w", err)
		}
		ds, err := collect(rows, scanDecision)
		if err != nil {
			return fmt.Errorf("load decisions: %w", err)
		}
		for _, d := range ds {
			r := byID[d.RequestID]
			r.Decisions = append(r.Decisions, d)
		}
	}
	return nil
}

// RequestGetByID returns the request with its decisions, or ErrNotFound.
// With lock inside InTx on PostgreSQL the request row stays locked (FOR
// UPDATE) until the transaction ends; on SQLite the transaction already
// holds the database's write lock.
func (q *queries) RequestGetByID(ctx context.Context, id string, lock bool) (*access.Request, error) {
	r, err := scanRequest(q.queryRow(ctx, `SELECT `+requestCols+` FROM requests WHERE id = ?`+q.forUpdate(lock), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("request %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get request %s: %w", id, err)
	}
	if err := q.loadDecisions(ctx, []*access.Request{r}); err != nil {
		return nil, fmt.Errorf("get request %s: %w", id, err)
	}
	return r, nil
}

// RequestUpdate saves every field of r and its new decisions if the stored
// version is r.Version, then increments r.Version. A stale r is
// ErrConflict, a missing one ErrNotFound, a second decision by one approver
// ErrConflict (and nothing is saved).
func (q *queries) RequestUpdate(ctx context.Context, r *access.Request) error {
	args, err := q.requestArgs(r)
	if err != nil {
		return fmt.Errorf("update request %s: %w", r.ID, err)
	}
	err = q.atomic(ctx, func(q *queries) error {
		// The index rows are rewritten only when what they index changed
		// (rarely: an escalation widens the notified approvers), which
		// saves four statements on most updates for this one.
		var oldEnts, oldSteps sql.NullString
		err := q.queryRow(ctx, `SELECT entitlement_ids, steps FROM requests WHERE id = ? AND version = ?`,
			r.ID, int64(r.Version)).Scan(&oldEnts, &oldSteps)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		reindex := err != nil || !sameRequestIndex(oldEnts.String, oldSteps.String, r)
		// requester_id, app_id and created_at are fixed at creation and
		// left out: SQLite rewrites the index entries of every indexed
		// column an UPDATE sets, even to the value it had.
		set := append(append([]any{}, args[2:11]...), args[12:]...)
		n, err := q.execN(ctx, `UPDATE requests SET entitlement_ids = ?,
			duration = ?, max_duration = ?, reason = ?, state = ?, policy_id = ?, steps = ?,
			current_step = ?, auto_approve_rule = ?, updated_at = ?, pending_until = ?,
			last_reminded_at = ?, remind_count = ?, extends_grant_id = ?, version = version + 1
			WHERE id = ? AND version = ?`, append(set, r.ID, int64(r.Version))...)
		if err != nil {
			return err
		}
		if n == 0 {
			return q.versionErr(ctx, "requests", "request", r.ID, r.Version)
		}
		if reindex {
			if err := q.writeRequestIndex(ctx, r, true); err != nil {
				return err
			}
		}
		return q.insertDecisions(ctx, r)
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
			return err
		}
		return q.classify(err, "update request %s", r.ID)
	}
	r.Version++
	return nil
}

// RequestList returns requests newest first (by ID) with their decisions.
func (q *queries) RequestList(ctx context.Context, p store.RequestListParams) ([]*access.Request, string, error) {
	before, err := decodeCursor(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := store.ClampLimit(p.Limit)
	var w where
	if len(p.States) > 0 {
		in(&w, "state", p.States)
	}
	if p.RequesterID != "" {
		w.add("requester_id = ?", p.RequesterID)
	}
	if p.ApproverID != "" {
		w.add("id IN (SELECT request_id FROM request_approvers WHERE user_id = ?)", p.ApproverID)
	}
	if p.AppID != "" {
		w.add("app_id = ?", p.AppID)
	}
	if before != "" {
		w.add("id < ?", before)
	}
	reqs, err := q.requests(ctx, w.String()+` ORDER BY id DESC LIMIT ?`, append(w.args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list requests: %w", err)
	}
	reqs, next := page(reqs, limit, func(r *access.Request) string { return r.ID })
	if err := q.loadDecisions(ctx, reqs); err != nil {
		return nil, "", fmt.Errorf("list requests: %w", err)
	}
	return reqs, next, nil
}

// RequestListOpen returns the requester's open requests for the app. The
// states are literals so that the partial index of open requests
// (requests_requester_app_open) matches the query.
func (q *queries) RequestListOpen(ctx context.Context, requesterID, appID string) ([]*access.Request, error) {
	reqs, err := q.requests(ctx, ` WHERE requester_id = ? AND app_id = ? AND state IN ('pending', 'approved', 'active')
		ORDER BY id DESC`, requesterID, appID)
	if err != nil {
		return nil, fmt.Errorf("list open requests: %w", err)
	}
	if err := q.loadDecisions(ctx, reqs); err != nil {
		return nil, fmt.Errorf("list open requests: %w", err)
	}
	return reqs, nil
}

// requests selects requests with the clauses in rest (without decisions).
func (q *queries) requests(ctx context.Context, rest string, args ...any) ([]*access.Request, error) {
	rows, err := q.query(ctx, `SELECT `+requestCols+` FROM requests`+rest, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanRequest)
}

// RequestListTimedOut returns pending requests whose PendingUntil is at or
// before now, oldest deadline first, at most limit (50 if limit <= 0), with
// their decisions.
func (q *queries) RequestListTimedOut(ctx context.Context, now time.Time, limit int) ([]*access.Request, error) {
	reqs, err := q.requests(ctx, ` WHERE state = ? AND pending_until <= ? ORDER BY pending_until, id LIMIT ?`,
		string(access.RequestPending), q.tm(now), limitOr(limit))
	if err != nil {
		return nil, fmt.Errorf("list timed out requests: %w", err)
	}
	if err := q.loadDecisions(ctx, reqs); err != nil {
		return nil, fmt.Errorf("list timed out requests: %w", err)
	}
	return reqs, nil
}

// RequestCountByState returns the number of requests in each state that
// has any.
func (q *queries) RequestCountByState(ctx context.Context) (map[access.RequestState]int, error) {
	rows, err := q.query(ctx, `SELECT state, COUNT(*) FROM requests GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("count requests: %w", err)
	}
	counts, err := collectCounts[access.RequestState](rows)
	if err != nil {
		return nil, fmt.Errorf("count requests: %w", err)
	}
	return counts, nil
}

// collectCounts reads (state, count) rows into a map.
func collectCounts[S ~string](rows *sql.Rows) (map[S]int, error) {
	defer rows.Close()
	out := map[S]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[S(s)] = n
	}
	return out, rows.Err()
}
