-- task_totals without a hot row: each user's counts are spread over up to 16 rows (shards), and a
-- transaction writes only the shard of the database connection it runs on
-- (pg_backend_pid() % 16). With one row per user (sql/030) every insert of one user waited at
-- commit for the previous one to commit, fsync included, on that row: pgbench of the insert with
-- 16 clients fell from ~4,400 to ~500 tps. Now concurrent transactions of one user meet only when
-- their connections share a shard.
--
-- A user's counts are the SUM over their shards, read in the same statement as anything else, so
-- they stay exact and transactional. A shard alone may go negative (a task counted in on one
-- connection and out on another), so the CHECKs move to the sum, which no write can make negative.
-- One transaction writes one shard of a user (its connection is fixed for the transaction, through
-- PgBouncer's transaction mode too), so a status change is still a single-row update and the
-- reasoning of sql/030 about deadlocks holds.
--
-- `changes` counts every committed change to a user's tasks that can change which tasks a list
-- holds (insert, delete, a new status, title, description or owner): its sum over the shards only
-- grows, so it is a version of the user's list. The API keeps the totals of searches (`q`), which
-- are counted by scanning, under that version and counts again only when it has moved.
ALTER TABLE task_totals
  ADD COLUMN shard smallint NOT NULL DEFAULT 0,
  ADD COLUMN changes bigint NOT NULL DEFAULT 0,
  DROP CONSTRAINT task_totals_pkey,
  DROP CONSTRAINT task_totals_pending_check,
  DROP CONSTRAINT task_totals_in_progress_check,
  DROP CONSTRAINT task_totals_completed_check,
  ADD PRIMARY KEY (user_id, shard);

DROP TRIGGER tasks_totals_update ON tasks;
DROP FUNCTION task_totals_add(integer, text, integer);

-- Adds to the counts of this connection's shard of a user's totals, and counts one change. A
-- user deleted in this transaction (ON DELETE CASCADE removed their totals first) or already gone
-- gets no new row: the INSERT reads the user, and an absent one inserts nothing.
CREATE FUNCTION task_totals_bump(uid integer, dp integer, di integer, dc integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  s smallint := pg_backend_pid() % 16;
BEGIN
  UPDATE task_totals SET
    pending = pending + dp, in_progress = in_progress + di, completed = completed + dc,
    changes = changes + 1
  WHERE user_id = uid AND shard = s;
  IF NOT FOUND THEN
    -- ON CONFLICT: two first writes of one user on one shard at once both land.
    INSERT INTO task_totals AS t (user_id, shard, pending, in_progress, completed, changes)
    SELECT uid, s, dp, di, dc, 1 FROM users WHERE id = uid
    ON CONFLICT (user_id, shard) DO UPDATE SET
      pending = t.pending + excluded.pending,
      in_progress = t.in_progress + excluded.in_progress,
      completed = t.completed + excluded.completed,
      changes = t.changes + 1;
  END IF;
END $$;

CREATE OR REPLACE FUNCTION task_totals_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.user_id = NEW.user_id THEN
    PERFORM task_totals_bump(NEW.user_id,
      (NEW.status = 'pending')::int - (OLD.status = 'pending')::int,
      (NEW.status = 'in_progress')::int - (OLD.status = 'in_progress')::int,
      (NEW.status = 'completed')::int - (OLD.status = 'completed')::int);
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM task_totals_bump(OLD.user_id, -(OLD.status = 'pending')::int,
      -(OLD.status = 'in_progress')::int, -(OLD.status = 'completed')::int);
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    PERFORM task_totals_bump(NEW.user_id, (NEW.status = 'pending')::int,
      (NEW.status = 'in_progress')::int, (NEW.status = 'completed')::int);
  END IF;
  RETURN NULL;
END $$;

-- Deferred like the others (sql/030); now also on title and description, which a search reads.
CREATE CONSTRAINT TRIGGER tasks_totals_update
  AFTER UPDATE OF status, user_id, title, description ON tasks
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.user_id IS DISTINCT FROM NEW.user_id
    OR OLD.title IS DISTINCT FROM NEW.title OR OLD.description IS DISTINCT FROM NEW.description)
  EXECUTE FUNCTION task_totals_track();
