-- Rate-limit hits, one row per counted event (an accepted /login or /register request per client
-- address, a failed login per username), kept until its window passes. Living in the database, the
-- counts are shared by every server process and survive restarts. `key` is e.g. "ip:10.0.0.1" or
-- "login:alice".
CREATE TABLE auth_limit_hits (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  key text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX auth_limit_hits_key_expires_at_idx ON auth_limit_hits (key, expires_at);
CREATE INDEX auth_limit_hits_expires_at_idx ON auth_limit_hits (expires_at);
