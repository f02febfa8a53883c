-- Sesame's schema on SQLite. Times are TEXT "YYYY-MM-DDTHH:MM:SS.ffffffZ"
-- (UTC, fixed width, so text order is time order), NULL for none;
-- durations are INTEGER nanoseconds; booleans 0/1; lists and maps JSON TEXT.
-- Keep in step with ../../postgres/migrations.

-- +goose Up
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    manager_id    TEXT NOT NULL,
    groups_json   TEXT NOT NULL,
    roles_json    TEXT NOT NULL,
    status        TEXT NOT NULL,
    slack_user_id TEXT NOT NULL,
    created_at    TEXT,
    updated_at    TEXT
) STRICT;
CREATE UNIQUE INDEX users_slack_user_id ON users (slack_user_id) WHERE slack_user_id <> '';
CREATE INDEX users_status_email ON users (status, email);

-- user_groups indexes users.groups_json for UserListByGroup.
CREATE TABLE user_groups (
    group_name TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_name, user_id)
) STRICT;
CREATE INDEX user_groups_user ON user_groups (user_id);

CREATE TABLE apps (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    description        TEXT NOT NULL,
    connector_type     TEXT NOT NULL,
    connector_settings TEXT NOT NULL,
    owners             TEXT NOT NULL,
    aliases            TEXT NOT NULL,
    watchlist          INTEGER NOT NULL,
    source             TEXT NOT NULL,
    -- search: lowercased id, name and aliases, one per line, for AppList.
    search             TEXT NOT NULL,
    created_at         TEXT,
    updated_at         TEXT
) STRICT;

CREATE TABLE entitlements (
    id              TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL,
    entitlement_key TEXT NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL,
    max_duration    INTEGER NOT NULL,
    requestable     INTEGER NOT NULL,
    risk            TEXT NOT NULL,
    tags            TEXT NOT NULL,
    owners          TEXT NOT NULL,
    created_at      TEXT,
    updated_at      TEXT,
    UNIQUE (app_id, entitlement_key)
) STRICT;

CREATE TABLE requests (
    id                TEXT PRIMARY KEY,
    requester_id      TEXT NOT NULL,
    app_id            TEXT NOT NULL,
    entitlement_ids   TEXT NOT NULL,
    duration          INTEGER NOT NULL,
    max_duration      INTEGER NOT NULL,
    reason            TEXT NOT NULL,
    state             TEXT NOT NULL,
    policy_id         TEXT NOT NULL,
    steps             TEXT NOT NULL,
    current_step      INTEGER NOT NULL,
    auto_approve_rule TEXT NOT NULL,
    created_at        TEXT,
    updated_at        TEXT,
    pending_until     TEXT,
    last_reminded_at  TEXT,
    remind_count      INTEGER NOT NULL,
    version           INTEGER NOT NULL
) STRICT;
CREATE INDEX requests_state_pending_until ON requests (state, pending_until, id);
CREATE INDEX requests_state_id ON requests (state, id);
CREATE INDEX requests_requester_id ON requests (requester_id, id);
CREATE INDEX requests_app_id ON requests (app_id, id);

-- request_entitlements indexes requests.entitlement_ids.
CREATE TABLE request_entitlements (
    request_id     TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,
    entitlement_id TEXT NOT NULL,
    PRIMARY KEY (request_id, position)
) STRICT;
CREATE INDEX request_entitlements_entitlement ON request_entitlements (entitlement_id, request_id);

-- request_approvers indexes the Notified users of requests.steps.
CREATE TABLE request_approvers (
    request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    step       INTEGER NOT NULL,
    user_id    TEXT NOT NULL,
    PRIMARY KEY (request_id, step, user_id)
) STRICT;
CREATE INDEX request_approvers_user ON request_approvers (user_id, request_id);

CREATE TABLE decisions (
    id          TEXT PRIMARY KEY,
    request_id  TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    step        INTEGER NOT NULL,
    approver_id TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    comment     TEXT NOT NULL,
    duration    INTEGER NOT NULL,
    created_at  TEXT,
    UNIQUE (request_id, approver_id)
) STRICT;

CREATE TABLE grants (
    id             TEXT PRIMARY KEY,
    request_id     TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    app_id         TEXT NOT NULL,
    entitlement_id TEXT NOT NULL,
    state          TEXT NOT NULL,
    duration       INTEGER NOT NULL,
    max_duration   INTEGER NOT NULL,
    activated_at   TEXT,
    expires_at     TEXT,
    revoked_at     TEXT,
    attempts       INTEGER NOT NULL,
    last_error     TEXT NOT NULL,
    revoke_reason  TEXT NOT NULL,
    manual_task    TEXT NOT NULL,
    created_at     TEXT,
    updated_at     TEXT,
    version        INTEGER NOT NULL
) STRICT;
CREATE INDEX grants_state_expires_at ON grants (state, expires_at, id);
CREATE INDEX grants_state_updated_at ON grants (state, updated_at, id);
CREATE INDEX grants_request_id ON grants (request_id, id);
CREATE INDEX grants_user_id ON grants (user_id, id);
CREATE INDEX grants_app_id ON grants (app_id, id);

CREATE TABLE notifications (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    recipient_id TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    grant_id     TEXT NOT NULL,
    data         TEXT NOT NULL,
    dedup_key    TEXT NOT NULL UNIQUE,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    last_error   TEXT NOT NULL,
    created_at   TEXT,
    sent_at      TEXT
) STRICT;
CREATE INDEX notifications_state_created_at ON notifications (state, created_at, id);
CREATE INDEX notifications_request_id ON notifications (request_id, created_at, id);

-- audit_events is append-only; Before/After/Data are the exact bytes hashed.
CREATE TABLE audit_events (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL,
    occurred_at  TEXT,
    actor_id     TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    before_json  TEXT,
    after_json   TEXT,
    data_json    TEXT,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX audit_events_id ON audit_events (id) WHERE id <> '';
CREATE INDEX audit_events_actor_id ON audit_events (actor_id, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_subject ON audit_events (subject_type, subject_id, seq);
CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at);

-- audit_head holds the last event's seq and hash; appends lock it.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
) STRICT;
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_at   TEXT,
    expires_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT
) STRICT;
CREATE INDEX api_tokens_user_id ON api_tokens (user_id, id);

-- +goose Down
DROP TABLE api_tokens;
DROP TABLE audit_head;
DROP TABLE audit_events;
DROP TABLE notifications;
DROP TABLE grants;
DROP TABLE decisions;
DROP TABLE request_approvers;
DROP TABLE request_entitlements;
DROP TABLE requests;
DROP TABLE entitlements;
DROP TABLE apps;
DROP TABLE user_groups;
DROP TABLE users;
