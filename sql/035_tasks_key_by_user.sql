-- Every statement reaches a task through its owner (`user_id = $1 AND id = $2`, and the lists),
-- so the primary key is (user_id, id), which also takes the place of the (user_id, id) index.
-- With a primary key on id alone, the planner walked it for the plain page of a user who holds
-- most of the table (their tasks match nearly every id, so the walk looked as cheap), reading
-- every earlier task of other users on the way: 611 rows for a page of 10 behind 600 tasks of
-- another user (tests/db_list_walk_test.ts). One index fewer for every insert, too.
-- Ids stay unique: they come from the identity column, and GENERATED ALWAYS refuses an insert that
-- gives its own id unless it says OVERRIDING SYSTEM VALUE, which nothing here does.
ALTER TABLE tasks DROP CONSTRAINT tasks_pkey;
DROP INDEX tasks_user_id_id_idx;
ALTER TABLE tasks ADD CONSTRAINT tasks_pkey PRIMARY KEY (user_id, id);
