-- A version per task, bumped by every update: the task's ETag, and what If-Match compares in the
-- same UPDATE or DELETE statement that writes (no read-then-write race).
ALTER TABLE tasks ADD COLUMN version integer NOT NULL DEFAULT 1;

-- GET /tasks sorts by any of these, ties broken by id in the same direction, and pages with
-- keyset cursors: (key, id) > (cursor) walks one of these indexes from the cursor on, forwards or
-- backwards, and stops after a page. (user_id, id) from 001 serves sort=id.
CREATE INDEX tasks_user_created_idx ON tasks (user_id, created_at, id);
CREATE INDEX tasks_user_updated_idx ON tasks (user_id, updated_at, id);
CREATE INDEX tasks_user_title_idx ON tasks (user_id, title, id);
CREATE INDEX tasks_user_status_idx ON tasks (user_id, status, id);
