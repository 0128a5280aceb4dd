-- One canonical form of a username for uniqueness, lookup and the login limits: the application
-- computes it (NFKC, then lower case; see canonicalUsername in src/http.ts) and stores it here, so
-- no collation or locale decides which names are one (PostgreSQL's lower() folds 'I' to a dotless
-- 'ı' under a Turkish locale, and lower() and JavaScript disagree on other letters).
ALTER TABLE users ADD COLUMN username_key text;

-- Registered names are ASCII, whose canonical form is their ASCII lower case; translate() is
-- that in every locale. Two rows whose keys would now collide can only come from a database whose
-- lower() folded differently: the older keeps the name, a later one gets a key no login can give
-- ('#' is not allowed in names) until an administrator renames it.
UPDATE users u
SET username_key = CASE WHEN d.n = 1 THEN d.k ELSE d.k || '#' || u.id END
FROM (
  SELECT id, k, row_number() OVER (PARTITION BY k ORDER BY id) AS n
  FROM (
    SELECT id, translate(username, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') AS k
    FROM users
  ) keyed
) d
WHERE d.id = u.id;

ALTER TABLE users ALTER COLUMN username_key SET NOT NULL;
DROP INDEX IF EXISTS users_username_lower_key;
CREATE UNIQUE INDEX users_username_key_key ON users (username_key);
