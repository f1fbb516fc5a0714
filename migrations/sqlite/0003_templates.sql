-- +goose Up
-- Templates: the environment definitions users see, filtered by zone.
--
-- These are the templates that belong to this server ("local" in the API).
-- A leaf keeps its cached copy of the origin's templates in a table of its
-- own, so a sync can replace that copy wholesale without touching these.

CREATE TABLE templates (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT     NOT NULL COLLATE NOCASE UNIQUE,
    description TEXT     NOT NULL DEFAULT '',
    -- A JSON array of zone names ("eu", "!<leaf-node>"). The zone rule runs
    -- in Go (models.ZoneAllows), never in SQL, so there is one copy of it.
    zones       TEXT     NOT NULL DEFAULT '[]' CHECK (json_valid(zones) AND json_type(zones) = 'array'),
    active      BOOLEAN  NOT NULL DEFAULT 1,
    body        TEXT     NOT NULL DEFAULT '',
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL
);
