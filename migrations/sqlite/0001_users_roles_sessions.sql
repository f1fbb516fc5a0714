-- +goose Up
-- Users, roles with their permissions, and the scs session store.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT     NOT NULL COLLATE NOCASE UNIQUE,
    email         TEXT     NOT NULL COLLATE NOCASE UNIQUE,
    password_hash TEXT     NOT NULL DEFAULT '',
    active        BOOLEAN  NOT NULL DEFAULT 1,
    created_at    DATETIME NOT NULL,
    updated_at    DATETIME NOT NULL,
    last_login_at DATETIME
);

CREATE TABLE roles (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT     NOT NULL COLLATE NOCASE UNIQUE,
    builtin    BOOLEAN  NOT NULL DEFAULT 0,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
);

CREATE TABLE role_permissions (
    role_id    INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    permission TEXT    NOT NULL,
    PRIMARY KEY (role_id, permission)
);

CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE RESTRICT,
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role_idx ON user_roles(role_id);

-- A single row, inserted by the initial setup in the same transaction as the
-- first admin: its primary key makes a second setup fail even when two race.
CREATE TABLE system_setup (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    completed_at DATETIME NOT NULL
);

-- The layout github.com/alexedwards/scs/sqlite3store expects.
CREATE TABLE sessions (
    token  TEXT PRIMARY KEY,
    data   BLOB NOT NULL,
    expiry REAL NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions(expiry);

INSERT INTO roles (id, name, builtin, created_at, updated_at) VALUES
    (1, 'Admin', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    (2, 'Developer', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);

INSERT INTO role_permissions (role_id, permission) VALUES
    (1, 'manage_users'),
    (1, 'manage_roles'),
    (1, 'manage_templates'),
    (1, 'use_api_tokens'),
    (1, 'view_leaf_nodes'),
    (2, 'use_api_tokens');
