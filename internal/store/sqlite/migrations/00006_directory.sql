-- The identity directory: SCIM provisioning clients, the SCIM side of
-- users, and groups pushed by an identity provider with their members.
-- Keep in step with ../../postgres/migrations.

-- +goose Up
CREATE TABLE scim_clients (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_by   TEXT NOT NULL,
    created_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT
) STRICT;

-- directory_users.user_id is users.id and the SCIM id; user_name_key is
-- the lowercased userName (unique: SCIM's userName is caseExact false).
CREATE TABLE directory_users (
    user_id       TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    user_name     TEXT NOT NULL,
    user_name_key TEXT NOT NULL UNIQUE,
    external_id   TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    resource      TEXT NOT NULL,
    created_at    TEXT,
    updated_at    TEXT,
    version       INTEGER NOT NULL
) STRICT;
CREATE INDEX directory_users_external_id ON directory_users (external_id) WHERE external_id <> '';

CREATE TABLE directory_groups (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL UNIQUE,
    external_id  TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    created_at   TEXT,
    updated_at   TEXT,
    version      INTEGER NOT NULL
) STRICT;
CREATE INDEX directory_groups_external_id ON directory_groups (external_id) WHERE external_id <> '';

CREATE TABLE directory_members (
    group_id TEXT NOT NULL REFERENCES directory_groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES directory_users (user_id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) STRICT;
CREATE INDEX directory_members_user ON directory_members (user_id);

-- +goose Down
DROP TABLE directory_members;
DROP TABLE directory_groups;
DROP TABLE directory_users;
DROP TABLE scim_clients;
