-- GET /tasks?status=...&sort=-created_at (one status, newest first: the usual view of a to-do
-- list) walks this index from the cursor on and stops after a page, however few of the user's
-- tasks have that status. Before it, a page either walked (user_id, created_at, id) past the tasks
-- of other statuses or read every task of that status through (user_id, status, id) and sorted
-- them: for a status that 5% of 4,000 tasks have, 201 rows for a page of 10
-- (tests/db_list_walk_test.ts).
-- One status is an equality in the page's statement (src/db/task_list.ts), so the walk keeps the
-- sort's order. Other sorts with a status filter walk their own index and skip other statuses;
-- sort=id has (user_id, status, id) from sql/031.
CREATE INDEX tasks_user_status_created_idx ON tasks (user_id, status, created_at, id);
