-- How many tasks each user has in each status, kept by a trigger in the same transaction as every
-- insert, delete and status change: GET /tasks reads X-Total-Count from one row instead of
-- counting the user's tasks on every request.
--
-- One row per user, a column per status: a status change is then a single-row update, so two
-- transactions changing one user's tasks in opposite directions (pending -> completed and
-- completed -> pending) wait for each other on that row instead of deadlocking over two rows.
--
-- The triggers are deferred to commit: a transaction takes every task row lock it needs before it
-- touches its user's totals row, and holds that row only while it commits. Immediate triggers
-- would hold it from the first change on, so a transaction changing two tasks could wait for a
-- task row held by another that waits for the totals row: a deadlock. Concurrent writers of one
-- user serialise only on their commits; other users never meet.
CREATE TABLE task_totals (
  user_id integer PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  pending integer NOT NULL DEFAULT 0 CHECK (pending >= 0),
  in_progress integer NOT NULL DEFAULT 0 CHECK (in_progress >= 0),
  completed integer NOT NULL DEFAULT 0 CHECK (completed >= 0)
);

CREATE FUNCTION task_totals_add(uid integer, st text, delta integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF delta > 0 THEN
    -- ON CONFLICT: two first tasks of one user inserted at once both land.
    INSERT INTO task_totals AS t (user_id, pending, in_progress, completed)
    VALUES (uid, (st = 'pending')::int, (st = 'in_progress')::int, (st = 'completed')::int)
    ON CONFLICT (user_id) DO UPDATE SET
      pending = t.pending + excluded.pending,
      in_progress = t.in_progress + excluded.in_progress,
      completed = t.completed + excluded.completed;
  ELSE
    -- No row to update when the user is being deleted (the cascade removed it first): nothing
    -- left to count.
    UPDATE task_totals SET
      pending = pending - (st = 'pending')::int,
      in_progress = in_progress - (st = 'in_progress')::int,
      completed = completed - (st = 'completed')::int
    WHERE user_id = uid;
  END IF;
END $$;

CREATE FUNCTION task_totals_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.user_id = NEW.user_id THEN
    UPDATE task_totals SET
      pending = pending - (OLD.status = 'pending')::int + (NEW.status = 'pending')::int,
      in_progress = in_progress - (OLD.status = 'in_progress')::int
        + (NEW.status = 'in_progress')::int,
      completed = completed - (OLD.status = 'completed')::int + (NEW.status = 'completed')::int
    WHERE user_id = NEW.user_id;
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM task_totals_add(OLD.user_id, OLD.status, -1);
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    PERFORM task_totals_add(NEW.user_id, NEW.status, 1);
  END IF;
  RETURN NULL;
END $$;

-- Creating the triggers locks tasks against writes until this migration commits, so the backfill
-- below counts exactly the rows that exist when the triggers take over.
CREATE CONSTRAINT TRIGGER tasks_totals_insert_delete AFTER INSERT OR DELETE ON tasks
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION task_totals_track();
CREATE CONSTRAINT TRIGGER tasks_totals_update AFTER UPDATE OF status, user_id ON tasks
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.user_id IS DISTINCT FROM NEW.user_id)
  EXECUTE FUNCTION task_totals_track();

INSERT INTO task_totals (user_id, pending, in_progress, completed)
SELECT user_id,
  count(*) FILTER (WHERE status = 'pending'),
  count(*) FILTER (WHERE status = 'in_progress'),
  count(*) FILTER (WHERE status = 'completed')
FROM tasks GROUP BY user_id;
