-- Approval policies and their reviewed changes. Conventions as in
-- 00001_init.sql. Keep in step with ../../postgres/migrations.

-- +goose Up

-- policies keeps every version of the policy set; the highest is in use.
-- policies_json is the exact JSON given (the API format of
-- []policy.Policy); digest is its sha256.
CREATE TABLE policies (
    version       INTEGER PRIMARY KEY,
    policies_json TEXT NOT NULL,
    digest        TEXT NOT NULL,
    config_digest TEXT NOT NULL,
    source        TEXT NOT NULL,
    change_id     TEXT NOT NULL,
    updated_by    TEXT NOT NULL,
    updated_at    TEXT
) STRICT;

CREATE TABLE policy_changes (
    id               TEXT PRIMARY KEY,
    state            TEXT NOT NULL,
    proposed_by      TEXT NOT NULL,
    proposed_at      TEXT,
    comment          TEXT NOT NULL,
    base_version     INTEGER NOT NULL,
    before_json      TEXT,
    after_json       TEXT,
    decided_by       TEXT NOT NULL,
    decided_at       TEXT,
    decision_comment TEXT NOT NULL,
    self_approved    INTEGER NOT NULL,
    applied_at       TEXT,
    applied_version  INTEGER NOT NULL,
    version          INTEGER NOT NULL
) STRICT;
CREATE INDEX policy_changes_state_id ON policy_changes (state, id);

-- +goose Down
DROP TABLE policy_changes;
DROP TABLE policies;
