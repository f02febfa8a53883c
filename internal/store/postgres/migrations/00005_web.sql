-- +goose Up
-- Dashboard sessions: only a hash of the session id is stored.
CREATE TABLE web_sessions (
    hash        TEXT COLLATE "C" PRIMARY KEY,
    user_id     TEXT COLLATE "C" NOT NULL,
    csrf_secret TEXT NOT NULL,
    method      TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX web_sessions_expires_at ON web_sessions (expires_at);
-- One-time login links (sesame admin bootstrap): single use is enforced by
-- the UPDATE that sets used_at.
CREATE TABLE login_links (
    hash       TEXT COLLATE "C" PRIMARY KEY,
    user_id    TEXT COLLATE "C" NOT NULL,
    purpose    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

-- +goose Down
DROP TABLE login_links;
DROP TABLE web_sessions;
