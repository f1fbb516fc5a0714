-- +goose Up
-- Which browser session belongs to whom, so that a user can see their own
-- sessions and end them, and a password change or a deactivation can end
-- someone's sessions without reading every session in the store (scs keeps
-- its data opaque).
--
-- id is a random value knot puts into the session's own data at sign-in
-- ("sid"), not the scs token: the token changes whenever it is renewed and
-- is a credential, while the id is neither. Deleting a row ends that
-- session: every request checks that its id still has a row, so this works
-- on every server of a cluster at once. Sessions made before this version
-- have no id and are signed out once.
--
-- A row outlives its session when the browser just goes away; last_seen_at
-- (written at most once a minute, like the session's own) and expires_at
-- (the session's absolute deadline) tell the live ones, and the sweep
-- deletes the others.
CREATE TABLE user_sessions (
    id           TEXT     PRIMARY KEY,
    user_id      INTEGER  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   DATETIME NOT NULL,
    last_seen_at DATETIME NOT NULL,
    expires_at   DATETIME NOT NULL,
    client_ip    TEXT     NOT NULL DEFAULT '',
    user_agent   TEXT     NOT NULL DEFAULT ''
);
CREATE INDEX user_sessions_user_idx ON user_sessions(user_id, created_at);
