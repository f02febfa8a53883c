package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/sesame-access/sesame/internal/store"
)

const policySetCols = `version, policies_json, digest, config_digest, source, change_id, updated_by, updated_at`

func scanPolicySet(s scanner) (*store.PolicySet, error) {
	p := new(store.PolicySet)
	err := s.Scan(&p.Version, rawCol{&p.Policies}, &p.Digest, &p.ConfigDigest, &p.Source, &p.ChangeID, &p.UpdatedBy,
		timeCol{&p.UpdatedAt})
	return p, err
}

// PolicySetGet returns the latest stored policy set, or ErrNotFound.
func (q *queries) PolicySetGet(ctx context.Context) (*store.PolicySet, error) {
	p, err := scanPolicySet(q.queryRow(ctx, `SELECT `+policySetCols+` FROM policies ORDER BY version DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("policy set: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get policy set: %w", err)
	}
	return p, nil
}

// PolicySetPut stores s as version s.Version+1 if the latest stored version
// is s.Version, else ErrConflict. Two writers that both read the same
// latest version collide on the primary key: one gets ErrConflict.
func (q *queries) PolicySetPut(ctx context.Context, s *store.PolicySet) error {
	next := s.Version + 1
	err := q.atomic(ctx, func(q *queries) error {
		var latest int64
		if err := q.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM policies`).Scan(&latest); err != nil {
			return err
		}
		if latest != s.Version {
			return fmt.Errorf("put policy set on version %d, latest is %d: %w", s.Version, latest, store.ErrConflict)
		}
		_, err := q.exec(ctx, `INSERT INTO policies (`+policySetCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			next, rawArg(s.Policies), s.Digest, s.ConfigDigest, s.Source, s.ChangeID, s.UpdatedBy, q.tm(s.UpdatedAt))
		return err
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return err
		}
		return q.classify(err, "put policy set version %d", next)
	}
	s.Version = next
	return nil
}

const policyChangeCols = `id, state, proposed_by, proposed_at, comment, base_version, before_json, after_json,
	decided_by, decided_at, decision_comment, self_approved, applied_at, applied_version, version`

func scanPolicyChange(s scanner) (*store.PolicyChange, error) {
	c := new(store.PolicyChange)
	err := s.Scan(&c.ID, &c.State, &c.ProposedBy, timeCol{&c.ProposedAt}, &c.Comment, &c.BaseVersion, rawCol{&c.Before},
		rawCol{&c.After}, &c.DecidedBy, timeCol{&c.DecidedAt}, &c.DecisionComment, &c.SelfApproved,
		timeCol{&c.AppliedAt}, &c.AppliedVersion, &c.Version)
	return c, err
}

// PolicyChangeCreate stores c; a second change with c.ID is ErrConflict.
func (q *queries) PolicyChangeCreate(ctx context.Context, c *store.PolicyChange) error {
	_, err := q.exec(ctx, `INSERT INTO policy_changes (`+policyChangeCols+`) VALUES (`+marks(15)+`)`,
		c.ID, c.State, c.ProposedBy, q.tm(c.ProposedAt), c.Comment, c.BaseVersion, rawArg(c.Before), rawArg(c.After),
		c.DecidedBy, q.tm(c.DecidedAt), c.DecisionComment, c.SelfApproved, q.tm(c.AppliedAt), c.AppliedVersion, int64(c.Version))
	if err != nil {
		return q.classify(err, "create policy change %s", c.ID)
	}
	return nil
}

// PolicyChangeGetByID returns the change or ErrNotFound.
func (q *queries) PolicyChangeGetByID(ctx context.Context, id string) (*store.PolicyChange, error) {
	c, err := scanPolicyChange(q.queryRow(ctx, `SELECT `+policyChangeCols+` FROM policy_changes WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("policy change %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get policy change %s: %w", id, err)
	}
	return c, nil
}

// PolicyChangeUpdate saves the review fields of c if the stored version is
// c.Version, then increments c.Version; the proposal itself (proposer,
// base version, before and after) never changes.
func (q *queries) PolicyChangeUpdate(ctx context.Context, c *store.PolicyChange) error {
	n, err := q.execN(ctx, `UPDATE policy_changes SET state = ?, comment = ?, decided_by = ?, decided_at = ?,
		decision_comment = ?, self_approved = ?, applied_at = ?, applied_version = ?, version = version + 1
		WHERE id = ? AND version = ?`,
		c.State, c.Comment, c.DecidedBy, q.tm(c.DecidedAt), c.DecisionComment, c.SelfApproved, q.tm(c.AppliedAt),
		c.AppliedVersion, c.ID, int64(c.Version))
	if err != nil {
		return fmt.Errorf("update policy change %s: %w", c.ID, err)
	}
	if n == 0 {
		return q.versionErr(ctx, "policy_changes", "policy change", c.ID, c.Version)
	}
	c.Version++
	return nil
}

// PolicyChangeList returns changes newest first (by ID), filtered by
// state.
func (q *queries) PolicyChangeList(ctx context.Context, p store.PolicyChangeListParams) ([]*store.PolicyChange, string, error) {
	before, err := decodeCursor(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := store.ClampLimit(p.Limit)
	var w where
	if len(p.States) > 0 {
		in(&w, "state", p.States)
	}
	if before != "" {
		w.add("id < ?", before)
	}
	rows, err := q.query(ctx, `SELECT `+policyChangeCols+` FROM policy_changes`+w.String()+` ORDER BY id DESC LIMIT ?`,
		append(w.args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list policy changes: %w", err)
	}
	changes, err := collect(rows, scanPolicyChange)
	if err != nil {
		return nil, "", fmt.Errorf("list policy changes: %w", err)
	}
	changes, next := page(changes, limit, func(c *store.PolicyChange) string { return c.ID })
	return changes, next, nil
}
