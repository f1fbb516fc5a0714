-- +goose Up
-- Leaf node mode. On an origin: the leaves that connected (leaf_nodes).
-- On a leaf: users signed in through the origin, the origin's templates as
-- last fetched (cluster_templates), and the sync state (leaf_state).

CREATE TABLE leaf_nodes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id      INTEGER  NOT NULL UNIQUE REFERENCES api_tokens(id) ON DELETE CASCADE,
    user_id       INTEGER  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    leaf_url      TEXT     NOT NULL DEFAULT '',
    version       TEXT     NOT NULL DEFAULT '',
    remote_addr   TEXT     NOT NULL DEFAULT '',
    first_seen_at DATETIME NOT NULL,
    last_seen_at  DATETIME NOT NULL
);
CREATE INDEX leaf_nodes_user_idx ON leaf_nodes(user_id);

-- A user row on a leaf that came from the origin: origin_user_id links it,
-- origin_roles/origin_permissions (JSON arrays) are what the origin said at
-- the last sign-in, and offline_password_hash is the leaf's own bcrypt of the
-- password the origin accepted, used only while the origin is unreachable.
ALTER TABLE users ADD COLUMN origin_user_id INTEGER;
ALTER TABLE users ADD COLUMN origin_roles TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN origin_permissions TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN offline_password_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN origin_login_at DATETIME;
CREATE UNIQUE INDEX users_origin_user_idx ON users(origin_user_id) WHERE origin_user_id IS NOT NULL;

CREATE TABLE cluster_templates (
    origin_id   INTEGER  PRIMARY KEY,
    name        TEXT     NOT NULL,
    description TEXT     NOT NULL DEFAULT '',
    zones       TEXT     NOT NULL DEFAULT '[]',
    active      BOOLEAN  NOT NULL DEFAULT 1,
    body        TEXT     NOT NULL DEFAULT '',
    updated_at  DATETIME
);

CREATE TABLE leaf_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
