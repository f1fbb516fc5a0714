-- +goose Up
-- The change feed: one row for every change a leaf must hear about, with an
-- id that only grows. A leaf holds its cursor (the last id it applied) and
-- asks for what came after; the rows say what kind of thing changed, and
-- the leaf then re-fetches that kind through the ETag endpoints.
--
-- Triggers write the rows inside the transaction that made the change, so
-- no code path (the API, the pages, the token sweep, `knot db copy`) can
-- change something without the feed knowing. SQLite runs one writer at a
-- time, so ids are committed in order.
CREATE TABLE changes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    -- templates | variables | roles | user | token
    kind       TEXT    NOT NULL,
    -- The user's or token's id for kind user and token, else 0.
    subject_id INTEGER NOT NULL DEFAULT 0
);

-- +goose StatementBegin
CREATE TRIGGER changes_templates_ins AFTER INSERT ON templates BEGIN INSERT INTO changes (kind) VALUES ('templates'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER changes_templates_upd AFTER UPDATE ON templates BEGIN INSERT INTO changes (kind) VALUES ('templates'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER changes_templates_del AFTER DELETE ON templates BEGIN INSERT INTO changes (kind) VALUES ('templates'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER changes_vars_ins AFTER INSERT ON template_vars BEGIN INSERT INTO changes (kind) VALUES ('variables'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER changes_vars_upd AFTER UPDATE ON template_vars BEGIN INSERT INTO changes (kind) VALUES ('variables'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER changes_vars_del AFTER DELETE ON template_vars BEGIN INSERT INTO changes (kind) VALUES ('variables'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER changes_roles_ins AFTER INSERT ON roles BEGIN INSERT INTO changes (kind) VALUES ('roles'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER changes_roles_upd AFTER UPDATE ON roles BEGIN INSERT INTO changes (kind) VALUES ('roles'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER changes_roles_del AFTER DELETE ON roles BEGIN INSERT INTO changes (kind) VALUES ('roles'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER changes_role_perms_ins AFTER INSERT ON role_permissions BEGIN INSERT INTO changes (kind) VALUES ('roles'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER changes_role_perms_del AFTER DELETE ON role_permissions BEGIN INSERT INTO changes (kind) VALUES ('roles'); END;
-- +goose StatementEnd
-- Last sign-in times and password changes are nothing a leaf mirrors.
-- +goose StatementBegin
CREATE TRIGGER changes_users_upd AFTER UPDATE OF username, email, active ON users BEGIN INSERT INTO changes (kind, subject_id) VALUES ('user', NEW.id); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER changes_users_del AFTER DELETE ON users BEGIN INSERT INTO changes (kind, subject_id) VALUES ('user', OLD.id); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER changes_user_roles_ins AFTER INSERT ON user_roles BEGIN INSERT INTO changes (kind, subject_id) VALUES ('user', NEW.user_id); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER changes_user_roles_del AFTER DELETE ON user_roles BEGIN INSERT INTO changes (kind, subject_id) VALUES ('user', OLD.user_id); END;
-- +goose StatementEnd
-- Uses of a token (last_used_at) are not changes; its deletion is.
-- +goose StatementBegin
CREATE TRIGGER changes_tokens_del AFTER DELETE ON api_tokens BEGIN INSERT INTO changes (kind, subject_id) VALUES ('token', OLD.id); END;
-- +goose StatementEnd
