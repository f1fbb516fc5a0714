-- +goose Up
-- Which browser session belongs to whom; see the SQLite migration of the
-- same number for the design.
CREATE TABLE user_sessions (
    id           TEXT        PRIMARY KEY,
    user_id      BIGINT      NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    client_ip    TEXT        NOT NULL DEFAULT '',
    user_agent   TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX user_sessions_user_idx ON user_sessions(user_id, created_at);
