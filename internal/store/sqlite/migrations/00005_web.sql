-- +goose Up
-- Dashboard sessions: only a hash of the session id is stored.
CREATE TABLE web_sessions (
    hash        TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    csrf_secret TEXT NOT NULL,
    method      TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX web_sessions_expires_at ON web_sessions (expires_at);
-- One-time login links (sesame admin bootstrap): single use is enforced by
-- the UPDATE that sets used_at.
CREATE TABLE login_links (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);

-- +goose Down
DROP TABLE login_links;
DROP TABLE web_sessions;
