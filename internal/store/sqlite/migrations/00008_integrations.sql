-- Notification integrations (Slack incoming webhooks and channels) and
-- their durable deliveries. Keep in step with ../../postgres/migrations.

-- +goose Up
CREATE TABLE integrations (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    source         TEXT NOT NULL,
    kind           TEXT NOT NULL,
    channel        TEXT NOT NULL,
    webhook_sealed TEXT NOT NULL,
    webhook_mask   TEXT NOT NULL,
    covers         TEXT NOT NULL,
    categories     TEXT NOT NULL,
    health         TEXT NOT NULL,
    last_error     TEXT NOT NULL,
    failing_since  TEXT,
    last_ok_at     TEXT,
    version        INTEGER NOT NULL,
    created_at     TEXT,
    updated_at     TEXT
);

-- A delivery is one rendered message to one integration (or a DM to an
-- admin about it); (integration_id, dedup_key) makes routing idempotent.
CREATE TABLE integration_deliveries (
    id             TEXT PRIMARY KEY,
    integration_id TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    recipient_id   TEXT NOT NULL,
    dedup_key      TEXT NOT NULL,
    category       TEXT NOT NULL,
    app_id         TEXT NOT NULL,
    payload        TEXT NOT NULL,
    state          TEXT NOT NULL,
    attempts       INTEGER NOT NULL,
    last_error     TEXT NOT NULL,
    created_at     TEXT,
    next_at        TEXT,
    sent_at        TEXT,
    UNIQUE (integration_id, dedup_key)
);
CREATE INDEX integration_deliveries_state_next_at ON integration_deliveries (state, next_at, id);
CREATE INDEX integration_deliveries_integration ON integration_deliveries (integration_id, state, id);

-- +goose Down
DROP TABLE integration_deliveries;
DROP TABLE integrations;
