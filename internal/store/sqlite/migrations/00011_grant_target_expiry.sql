-- +goose Up
-- The expiry last applied in a grant's target (a login's VALID UNTIL).
-- NULL for grants from before it was recorded (taken as in sync); on an
-- active grant it differs from expires_at while an extension has still to
-- move the target. The sweeper reads those grants from a partial index
-- that holds only them (the query repeats its predicate, literals
-- included), so its cost grows with the extensions in flight, not with
-- the grants held. state leads the key although it is constant there:
-- keyed (updated_at, id), SQLite's planner preferred grants_state_updated_at
-- (every active grant); keyed like it, the partial index wins, with or
-- without ANALYZE. PostgreSQL uses it either way; both dialects keep the
-- same index.
ALTER TABLE grants ADD COLUMN target_expires_at TEXT;
CREATE INDEX grants_target_behind ON grants (state, updated_at, id)
    WHERE state = 'active' AND target_expires_at IS NOT NULL AND target_expires_at <> expires_at;

-- +goose Down
DROP INDEX grants_target_behind;
ALTER TABLE grants DROP COLUMN target_expires_at;
