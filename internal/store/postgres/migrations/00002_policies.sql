-- Approval policies and their reviewed changes. Conventions as in
-- 00001_init.sql. Keep in step with ../../sqlite/migrations.

-- +goose Up

-- policies keeps every version of the policy set; the highest is in use.
-- policies_json is the exact JSON given (TEXT, never jsonb: it is
-- digested); digest is its sha256.
CREATE TABLE policies (
    version       BIGINT PRIMARY KEY,
    policies_json TEXT NOT NULL,
    digest        TEXT NOT NULL,
    config_digest TEXT NOT NULL,
    source        TEXT NOT NULL,
    change_id     TEXT COLLATE "C" NOT NULL,
    updated_by    TEXT COLLATE "C" NOT NULL,
    updated_at    TIMESTAMPTZ
);

CREATE TABLE policy_changes (
    id               TEXT COLLATE "C" PRIMARY KEY,
    state            TEXT NOT NULL,
    proposed_by      TEXT COLLATE "C" NOT NULL,
    proposed_at      TIMESTAMPTZ,
    comment          TEXT NOT NULL,
    base_version     BIGINT NOT NULL,
    before_json      TEXT,
    after_json       TEXT,
    decided_by       TEXT COLLATE "C" NOT NULL,
    decided_at       TIMESTAMPTZ,
    decision_comment TEXT NOT NULL,
    self_approved    BOOLEAN NOT NULL,
    applied_at       TIMESTAMPTZ,
    applied_version  BIGINT NOT NULL,
    version          BIGINT NOT NULL
);
CREATE INDEX policy_changes_state_id ON policy_changes (state, id);

-- +goose Down
DROP TABLE policy_changes;
DROP TABLE policies;
