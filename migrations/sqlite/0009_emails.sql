-- +goose Up
-- Emails are stored normalised from now on: trimmed, with the ASCII letters
-- in lower case (models.NormalizeEmail says why only ASCII). This brings the
-- rows written before that into line.
--
-- A row whose normalised address would be another row's (say " Ann@x.org"
-- beside "ann@x.org") is left exactly as it was, and so is that other row:
-- the unique index would refuse the change, and merging two accounts or
-- failing the upgrade would both be worse. Such a row cannot be signed in
-- to with its odd address; knot names it in a warning at start-up so that
-- an administrator can give it an address of its own.
--
-- trim() drops ASCII spaces, tabs and line breaks; lower() without the ICU
-- extension (knot's SQLite has none) changes only ASCII letters. The clash
-- check compares like the unique index does (NOCASE).
UPDATE users
SET email = lower(trim(email, ' ' || char(9, 10, 11, 12, 13)))
WHERE email COLLATE BINARY <> lower(trim(email, ' ' || char(9, 10, 11, 12, 13)))
  AND NOT EXISTS (
    SELECT 1 FROM users AS other
    WHERE other.id <> users.id
      AND lower(trim(other.email, ' ' || char(9, 10, 11, 12, 13)))
          = lower(trim(users.email, ' ' || char(9, 10, 11, 12, 13))) COLLATE NOCASE
  );
