-- +goose Up
-- API tokens. The plaintext is never stored: token_hash (SHA-256, hex) finds
-- the row for a bearer request, and token_cipher (AES-256-GCM under
-- server.encrypt, base64) lets the owner copy the token again from the list.
-- prefix holds the first characters only, for the masked display.
--
-- A token expires 14 days after last_used_at, or after created_at while it
-- has never been used; the index on that expression serves the sweep.

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT     NOT NULL CHECK (length(trim(name)) BETWEEN 1 AND 255),
    prefix       TEXT     NOT NULL,
    token_hash   TEXT     NOT NULL CHECK (length(token_hash) = 64),
    token_cipher TEXT     NOT NULL,
    created_at   DATETIME NOT NULL,
    last_used_at DATETIME
);

CREATE UNIQUE INDEX api_tokens_hash_idx ON api_tokens(token_hash);
CREATE INDEX api_tokens_user_idx ON api_tokens(user_id, created_at);
CREATE INDEX api_tokens_active_idx ON api_tokens(COALESCE(last_used_at, created_at));
