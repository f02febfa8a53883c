-- The identity directory: SCIM provisioning clients, the SCIM side of
-- users, and groups pushed by an identity provider with their members.
-- Keep in step with ../../sqlite/migrations.

-- +goose Up
CREATE TABLE scim_clients (
    id           TEXT COLLATE "C" PRIMARY KEY,
    name         TEXT NOT NULL,
    hash         TEXT COLLATE "C" NOT NULL UNIQUE,
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);

-- directory_users.user_id is users.id and the SCIM id; user_name_key is
-- the lowercased userName (unique: SCIM's userName is caseExact false).
CREATE TABLE directory_users (
    user_id       TEXT COLLATE "C" PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    user_name     TEXT NOT NULL,
    user_name_key TEXT COLLATE "C" NOT NULL UNIQUE,
    external_id   TEXT COLLATE "C" NOT NULL,
    client_id     TEXT COLLATE "C" NOT NULL,
    resource      TEXT NOT NULL,
    created_at    TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ,
    version       BIGINT NOT NULL
);
CREATE INDEX directory_users_external_id ON directory_users (external_id) WHERE external_id <> '';

CREATE TABLE directory_groups (
    id           TEXT COLLATE "C" PRIMARY KEY,
    display_name TEXT COLLATE "C" NOT NULL UNIQUE,
    external_id  TEXT COLLATE "C" NOT NULL,
    client_id    TEXT COLLATE "C" NOT NULL,
    created_at   TIMESTAMPTZ,
    updated_at   TIMESTAMPTZ,
    version      BIGINT NOT NULL
);
CREATE INDEX directory_groups_external_id ON directory_groups (external_id) WHERE external_id <> '';

CREATE TABLE directory_members (
    group_id TEXT COLLATE "C" NOT NULL REFERENCES directory_groups (id) ON DELETE CASCADE,
    user_id  TEXT COLLATE "C" NOT NULL REFERENCES directory_users (user_id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX directory_members_user ON directory_members (user_id);

-- +goose Down
DROP TABLE directory_members;
DROP TABLE directory_groups;
DROP TABLE directory_users;
DROP TABLE scim_clients;
