-- +goose Up
-- The Leaf Nodes page keeps a leaf whose token was deleted, marked "token
-- deleted" with its last-seen time (token_id becomes NULL instead of the
-- row going with the token), and knows whether a leaf's live feed is open:
-- feed_conn names the open feed connection, '' when none is.
--
-- SQLite cannot change a foreign key in place, so the table is rebuilt.
CREATE TABLE leaf_nodes_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id      INTEGER  UNIQUE REFERENCES api_tokens(id) ON DELETE SET NULL,
    user_id       INTEGER  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    leaf_url      TEXT     NOT NULL DEFAULT '',
    version       TEXT     NOT NULL DEFAULT '',
    remote_addr   TEXT     NOT NULL DEFAULT '',
    first_seen_at DATETIME NOT NULL,
    last_seen_at  DATETIME NOT NULL,
    feed_conn     TEXT     NOT NULL DEFAULT ''
);
INSERT INTO leaf_nodes_new (id, token_id, user_id, leaf_url, version, remote_addr, first_seen_at, last_seen_at)
    SELECT id, token_id, user_id, leaf_url, version, remote_addr, first_seen_at, last_seen_at FROM leaf_nodes;
DROP TABLE leaf_nodes;
ALTER TABLE leaf_nodes_new RENAME TO leaf_nodes;
CREATE INDEX leaf_nodes_user_idx ON leaf_nodes(user_id);
