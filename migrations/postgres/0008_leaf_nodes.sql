-- +goose Up
-- See the SQLite migration of the same number.
ALTER TABLE leaf_nodes ALTER COLUMN token_id DROP NOT NULL;
ALTER TABLE leaf_nodes DROP CONSTRAINT leaf_nodes_token_id_fkey;
ALTER TABLE leaf_nodes ADD CONSTRAINT leaf_nodes_token_id_fkey
    FOREIGN KEY (token_id) REFERENCES api_tokens(id) ON DELETE SET NULL;
ALTER TABLE leaf_nodes ADD COLUMN feed_conn TEXT NOT NULL DEFAULT '';
