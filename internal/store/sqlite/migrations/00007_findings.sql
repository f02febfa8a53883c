-- +goose Up
-- Accounts seen in apps by discovery; keyset-paged by (app_id, external_id).
CREATE TABLE accounts (
    app_id      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    email       TEXT NOT NULL,
    name        TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    first_seen  TEXT,
    last_seen   TEXT,
    gone_at     TEXT,
    PRIMARY KEY (app_id, external_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX accounts_email ON accounts (email, app_id) WHERE email <> '' AND gone_at IS NULL;

-- When each app's accounts were last synced from its connector (an app
-- with none is at its baseline: its first sync alerts nothing).
CREATE TABLE account_syncs (
    app_id    TEXT PRIMARY KEY,
    synced_at TEXT
) STRICT;

-- Apps seen by discovery sources, deduplicated by normalised name/domain.
CREATE TABLE discovered_apps (
    app_key    TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    domain     TEXT NOT NULL,
    source     TEXT NOT NULL,
    app_id     TEXT NOT NULL,
    first_seen TEXT,
    last_seen  TEXT,
    seen_count INTEGER NOT NULL
) STRICT;

CREATE TABLE alerts (
    id         TEXT PRIMARY KEY,
    type       TEXT NOT NULL,
    dedup_key  TEXT NOT NULL UNIQUE,
    state      TEXT NOT NULL,
    app_key    TEXT NOT NULL,
    app_id     TEXT NOT NULL,
    app_name   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    title      TEXT NOT NULL,
    details    TEXT NOT NULL,
    source     TEXT NOT NULL,
    channel    TEXT NOT NULL,
    ts         TEXT NOT NULL,
    delivery   TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    decided_at TEXT,
    created_at TEXT,
    updated_at TEXT,
    version    INTEGER NOT NULL
) STRICT;
CREATE INDEX alerts_delivery ON alerts (delivery, updated_at);

-- Apps whose alerts someone ignored.
CREATE TABLE alert_mutes (
    app_key  TEXT PRIMARY KEY,
    muted_by TEXT NOT NULL,
    muted_at TEXT
) STRICT;

-- Per alert type: on/off and channel (seeded from the config).
CREATE TABLE alert_settings (
    type       TEXT PRIMARY KEY,
    enabled    INTEGER NOT NULL,
    channel    TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT
) STRICT;

-- +goose Down
DROP TABLE alert_settings;
DROP TABLE alert_mutes;
DROP TABLE alerts;
DROP TABLE discovered_apps;
DROP TABLE account_syncs;
DROP TABLE accounts;
