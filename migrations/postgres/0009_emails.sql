-- +goose Up
-- See the SQLite migration of the same number: stored emails are trimmed
-- and their ASCII letters lower-cased, except a row whose normalised
-- address would be another row's, which stays as it was (and so does the
-- other row).
--
-- translate() changes ASCII letters only, whatever the database's locale,
-- so the result is the one models.NormalizeEmail gives. The clash check
-- compares as citext, like the unique index does.
UPDATE users
SET email = translate(btrim(email::text, E' \t\n\x0B\f\r'),
                      'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
WHERE email::text <> translate(btrim(email::text, E' \t\n\x0B\f\r'),
                               'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
  AND NOT EXISTS (
    SELECT 1 FROM users AS other
    WHERE other.id <> users.id
      AND translate(btrim(other.email::text, E' \t\n\x0B\f\r'),
                    'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')::citext
          = translate(btrim(users.email::text, E' \t\n\x0B\f\r'),
                      'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')::citext
  );
