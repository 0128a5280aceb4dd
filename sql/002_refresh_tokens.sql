-- Refresh tokens that are still valid, by their `jti`. Refreshing deletes the row it used (rotation)
-- and logging out deletes it (revocation); a token whose row is gone is refused.
CREATE TABLE refresh_tokens (
  jti uuid PRIMARY KEY,
  user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);
