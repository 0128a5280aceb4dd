-- Logins and their revocation. A login is the chain of tokens one POST /login starts, through
-- every refresh; each token carries its login's id (the JWT's `sid`).
--
-- Refresh tokens name their login, so that logging out (or replaying a rotated refresh token)
-- can end all of them. Rows from before this migration have no login: their tokens carry no `sid`
-- and are refused, so those users log in again once.
ALTER TABLE refresh_tokens ADD COLUMN login_id uuid;
DELETE FROM refresh_tokens WHERE login_id IS NULL;
ALTER TABLE refresh_tokens ALTER COLUMN login_id SET NOT NULL;
CREATE INDEX refresh_tokens_login_id_idx ON refresh_tokens (login_id);

-- Access tokens are not stored: a revoked login (or a deleted user) is listed here until its last
-- access token would have expired anyway. Every server process keeps the list in memory and
-- refreshes it at most a second after it was last read, so a revocation holds on every process
-- within about a second, at the cost of one query per second instead of one per request.
CREATE TABLE token_revocations (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  login_id uuid,
  user_id integer,
  reason text NOT NULL,
  revoked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  expires_at timestamptz NOT NULL,
  CHECK (login_id IS NOT NULL OR user_id IS NOT NULL)
);
CREATE INDEX token_revocations_revoked_at_idx ON token_revocations (revoked_at);
CREATE INDEX token_revocations_expires_at_idx ON token_revocations (expires_at);

-- A user deleted by any means (the API has no route for it; an administrator's DELETE does) takes
-- their tokens along: their refresh tokens go by cascade, their access tokens by this entry. 31
-- days is the longest access-token lifetime the server accepts (ACCESS_TOKEN_TTL_SECONDS).
CREATE FUNCTION revoke_deleted_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO token_revocations (user_id, reason, expires_at)
  VALUES (OLD.id, 'user_deleted', clock_timestamp() + interval '31 days');
  RETURN OLD;
END
$$;
CREATE TRIGGER users_revoke_tokens AFTER DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION revoke_deleted_user();
