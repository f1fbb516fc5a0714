-- +goose Up
-- Facts about the database itself, shared by every server that uses it.
-- key_check is a value sealed under server.encrypt when the database was
-- first opened: a server whose key cannot open it refuses to start, so a
-- cluster can never hold secrets sealed under two different keys.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Sign-in throttling: one token bucket per key ("ip:…", "email:…"). The
-- buckets live in the database so that every server of a cluster draws on
-- the same ones; spreading attempts over servers gains an attacker nothing.
CREATE TABLE login_throttle (
    key        TEXT     PRIMARY KEY,
    tokens     DOUBLE PRECISION NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_throttle_updated_idx ON login_throttle(updated_at);
