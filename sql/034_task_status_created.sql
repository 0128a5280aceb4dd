-- GET /tasks?status=...&sort=-created_at (one status, newest first: the usual view of a to-do
-- list) walks this index from the cursor on and stops after a page, however few of the user's
-- tasks have that status. With only (user_id, created_at, id) it read every task of other
-- statuses on the way: for a status that 1% of 10,000 tasks have, ~1,000 rows for a page of 10.
-- One status is an equality in the page's statement (src/db/task_list.ts), so the walk keeps the
-- sort's order. Other sorts with a status filter walk their own index and skip other statuses;
-- sort=id has (user_id, status, id) from sql/031.
CREATE INDEX tasks_user_status_created_idx ON tasks (user_id, status, created_at, id);
