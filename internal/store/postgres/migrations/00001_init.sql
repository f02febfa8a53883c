-- Sesame's schema on PostgreSQL. Times are timestamptz (microseconds),
-- NULL for none; durations are BIGINT nanoseconds; lists and maps JSON in
-- TEXT (never jsonb: audit snapshots must read back byte for byte). Keys that
-- lists sort or page by are COLLATE "C", so order is byte order as on SQLite.
-- Keep in step with ../../sqlite/migrations.

-- +goose Up
CREATE TABLE users (
    id            TEXT COLLATE "C" PRIMARY KEY,
    email         TEXT COLLATE "C" NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    manager_id    TEXT COLLATE "C" NOT NULL,
    groups_json   TEXT NOT NULL,
    roles_json    TEXT NOT NULL,
    status        TEXT NOT NULL,
    slack_user_id TEXT COLLATE "C" NOT NULL,
    created_at    TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ
);
CREATE UNIQUE INDEX users_slack_user_id ON users (slack_user_id) WHERE slack_user_id <> '';
CREATE INDEX users_status_email ON users (status, email);

-- user_groups indexes users.groups_json for UserListByGroup.
CREATE TABLE user_groups (
    group_name TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_name, user_id)
);
CREATE INDEX user_groups_user ON user_groups (user_id);

CREATE TABLE apps (
    id                 TEXT COLLATE "C" PRIMARY KEY,
    name               TEXT NOT NULL,
    description        TEXT NOT NULL,
    connector_type     TEXT NOT NULL,
    connector_settings TEXT NOT NULL,
    owners             TEXT NOT NULL,
    aliases            TEXT NOT NULL,
    watchlist          BOOLEAN NOT NULL,
    source             TEXT NOT NULL,
    -- search: lowercased id, name and aliases, one per line, for AppList.
    search             TEXT NOT NULL,
    created_at         TIMESTAMPTZ,
    updated_at         TIMESTAMPTZ
);

CREATE TABLE entitlements (
    id              TEXT COLLATE "C" PRIMARY KEY,
    app_id          TEXT COLLATE "C" NOT NULL,
    entitlement_key TEXT COLLATE "C" NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL,
    max_duration    BIGINT NOT NULL,
    requestable     BOOLEAN NOT NULL,
    risk            TEXT NOT NULL,
    tags            TEXT NOT NULL,
    owners          TEXT NOT NULL,
    created_at      TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ,
    UNIQUE (app_id, entitlement_key)
);

CREATE TABLE requests (
    id                TEXT COLLATE "C" PRIMARY KEY,
    requester_id      TEXT COLLATE "C" NOT NULL,
    app_id            TEXT COLLATE "C" NOT NULL,
    entitlement_ids   TEXT NOT NULL,
    duration          BIGINT NOT NULL,
    max_duration      BIGINT NOT NULL,
    reason            TEXT NOT NULL,
    state             TEXT NOT NULL,
    policy_id         TEXT COLLATE "C" NOT NULL,
    steps             TEXT NOT NULL,
    current_step      BIGINT NOT NULL,
    auto_approve_rule TEXT NOT NULL,
    created_at        TIMESTAMPTZ,
    updated_at        TIMESTAMPTZ,
    pending_until     TIMESTAMPTZ,
    last_reminded_at  TIMESTAMPTZ,
    remind_count      BIGINT NOT NULL,
    version           BIGINT NOT NULL
);
CREATE INDEX requests_state_pending_until ON requests (state, pending_until, id);
CREATE INDEX requests_state_id ON requests (state, id);
CREATE INDEX requests_requester_id ON requests (requester_id, id);
CREATE INDEX requests_app_id ON requests (app_id, id);

-- request_entitlements indexes requests.entitlement_ids.
CREATE TABLE request_entitlements (
    request_id     TEXT COLLATE "C" NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    position       BIGINT NOT NULL,
    entitlement_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (request_id, position)
);
CREATE INDEX request_entitlements_entitlement ON request_entitlements (entitlement_id, request_id);

-- request_approvers indexes the Notified users of requests.steps.
CREATE TABLE request_approvers (
    request_id TEXT COLLATE "C" NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    step       BIGINT NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (request_id, step, user_id)
);
CREATE INDEX request_approvers_user ON request_approvers (user_id, request_id);

CREATE TABLE decisions (
    id          TEXT COLLATE "C" PRIMARY KEY,
    request_id  TEXT COLLATE "C" NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    step        BIGINT NOT NULL,
    approver_id TEXT COLLATE "C" NOT NULL,
    outcome     TEXT NOT NULL,
    comment     TEXT NOT NULL,
    duration    BIGINT NOT NULL,
    created_at  TIMESTAMPTZ,
    UNIQUE (request_id, approver_id)
);

CREATE TABLE grants (
    id             TEXT COLLATE "C" PRIMARY KEY,
    request_id     TEXT COLLATE "C" NOT NULL,
    user_id        TEXT COLLATE "C" NOT NULL,
    app_id         TEXT COLLATE "C" NOT NULL,
    entitlement_id TEXT COLLATE "C" NOT NULL,
    state          TEXT NOT NULL,
    duration       BIGINT NOT NULL,
    max_duration   BIGINT NOT NULL,
    activated_at   TIMESTAMPTZ,
    expires_at     TIMESTAMPTZ,
    revoked_at     TIMESTAMPTZ,
    attempts       BIGINT NOT NULL,
    last_error     TEXT NOT NULL,
    revoke_reason  TEXT NOT NULL,
    manual_task    TEXT NOT NULL,
    created_at     TIMESTAMPTZ,
    updated_at     TIMESTAMPTZ,
    version        BIGINT NOT NULL
);
CREATE INDEX grants_state_expires_at ON grants (state, expires_at, id);
CREATE INDEX grants_state_updated_at ON grants (state, updated_at, id);
CREATE INDEX grants_request_id ON grants (request_id, id);
CREATE INDEX grants_user_id ON grants (user_id, id);
CREATE INDEX grants_app_id ON grants (app_id, id);

CREATE TABLE notifications (
    id           TEXT COLLATE "C" PRIMARY KEY,
    kind         TEXT NOT NULL,
    recipient_id TEXT COLLATE "C" NOT NULL,
    request_id   TEXT COLLATE "C" NOT NULL,
    grant_id     TEXT COLLATE "C" NOT NULL,
    data         TEXT NOT NULL,
    dedup_key    TEXT COLLATE "C" NOT NULL UNIQUE,
    state        TEXT NOT NULL,
    attempts     BIGINT NOT NULL,
    last_error   TEXT NOT NULL,
    created_at   TIMESTAMPTZ,
    sent_at      TIMESTAMPTZ
);
CREATE INDEX notifications_state_created_at ON notifications (state, created_at, id);
CREATE INDEX notifications_request_id ON notifications (request_id, created_at, id);

-- audit_events is append-only; Before/After/Data are the exact bytes hashed.
CREATE TABLE audit_events (
    seq          BIGINT PRIMARY KEY,
    id           TEXT COLLATE "C" NOT NULL,
    occurred_at  TIMESTAMPTZ,
    actor_id     TEXT COLLATE "C" NOT NULL,
    action       TEXT COLLATE "C" NOT NULL,
    subject_type TEXT COLLATE "C" NOT NULL,
    subject_id   TEXT COLLATE "C" NOT NULL,
    before_json  TEXT,
    after_json   TEXT,
    data_json    TEXT,
    prev_hash    TEXT NOT NULL,
    hash         TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX audit_events_id ON audit_events (id) WHERE id <> '';
CREATE INDEX audit_events_actor_id ON audit_events (actor_id, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_subject ON audit_events (subject_type, subject_id, seq);
CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at);

-- audit_head holds the last event's seq and hash; appends lock it.
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT COLLATE "C" NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

CREATE TABLE api_tokens (
    id           TEXT COLLATE "C" PRIMARY KEY,
    user_id      TEXT COLLATE "C" NOT NULL,
    name         TEXT NOT NULL,
    hash         TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ,
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
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
