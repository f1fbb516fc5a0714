-- +goose Up
-- Template variables: values a template body references as ${{ .var.NAME }}.
--
-- template_vars are this server's own variables ("local"). A leaf keeps its
-- cached copy of the origin's variables in cluster_variables, so a sync can
-- replace that copy wholesale without touching the leaf's own.

CREATE TABLE template_vars (
    id           INTEGER  PRIMARY KEY AUTOINCREMENT,
    -- Case-sensitive (BINARY), like the ${{ .var.NAME }} lookup and like
    -- environment variables: HOST and host are two variables.
    name         TEXT     NOT NULL UNIQUE,
    -- The value of an unprotected variable; '' for a protected one, whose
    -- value lives only in value_sealed (AES-GCM under server.encrypt).
    value        TEXT     NOT NULL DEFAULT '',
    value_sealed TEXT     NOT NULL DEFAULT '',
    -- A JSON array of zone names; the zone rule runs in Go (models.ZoneAllows).
    zones        TEXT     NOT NULL DEFAULT '[]' CHECK (json_valid(zones) AND json_type(zones) = 'array'),
    protected    BOOLEAN  NOT NULL DEFAULT 0,
    -- Never sent to leaves.
    restricted   BOOLEAN  NOT NULL DEFAULT 0,
    created_at   DATETIME NOT NULL,
    updated_at   DATETIME NOT NULL,
    CHECK (NOT protected OR value = '')
);

-- On a leaf: the origin's variables as last fetched. Protected values are
-- re-sealed under the leaf's own server.encrypt before they are stored.
CREATE TABLE cluster_variables (
    origin_id    INTEGER  PRIMARY KEY,
    name         TEXT     NOT NULL,
    value        TEXT     NOT NULL DEFAULT '',
    value_sealed TEXT     NOT NULL DEFAULT '',
    zones        TEXT     NOT NULL DEFAULT '[]',
    protected    BOOLEAN  NOT NULL DEFAULT 0,
    updated_at   DATETIME,
    CHECK (NOT protected OR value = '')
);

-- Admin holds every permission in code (models.AllPermissions); the row
-- keeps role_permissions telling the same story.
INSERT OR IGNORE INTO role_permissions (role_id, permission) VALUES (1, 'manage_variables');
