/**
 * `task_totals` (sql/030, sharded by sql/032): the per-user, per-status counts that GET /tasks reads instead of
 * counting. They must equal the real counts after any mix of writes, concurrent ones included,
 * and after the migration that introduces them on a database that already has tasks.
 */
import assert from "node:assert/strict";
import type { Database } from "../src/db/database.ts";
import { migrate } from "../src/db/migrate.ts";
import { MIGRATIONS } from "../src/db/migrations.ts";
import { listTasks, type TaskListRequest } from "../src/db/task_list.ts";
import {
  deleteTask,
  insertTask,
  TASK_STATUSES,
  type TaskStatus,
  updateTask,
} from "../src/db/tasks.ts";
import { freshDatabase, newUser, openTestDb, TEST_DATABASE_URL } from "./db_helpers.ts";

type Counts = Record<TaskStatus, number>;

/** What the triggers kept. */
async function kept(db: Database, userId: number): Promise<Counts> {
  const [row] = await db.query<Counts>(
    `SELECT sum(pending)::int AS pending, sum(in_progress)::int AS in_progress,
       sum(completed)::int AS completed FROM task_totals WHERE user_id = $1 HAVING count(*) > 0`,
    [userId],
  );
  return row ?? { pending: 0, in_progress: 0, completed: 0 };
}

/** What is really there. */
async function counted(db: Database, userId: number): Promise<Counts> {
  const counts: Counts = { pending: 0, in_progress: 0, completed: 0 };
  const rows = await db.query<{ status: TaskStatus; n: number }>(
    "SELECT status, count(*)::int AS n FROM tasks WHERE user_id = $1 GROUP BY status",
    [userId],
  );
  for (const r of rows) counts[r.status] = r.n;
  return counts;
}

Deno.test("task_totals follow inserts, status changes, deletes and a deleted user", async () => {
  const t = await openTestDb();
  try {
    const { db } = t;
    const [alice, bob] = [await newUser(db), await newUser(db)];
    assert.deepEqual(await kept(db, alice), { pending: 0, in_progress: 0, completed: 0 });
    const ids: number[] = [];
    for (let i = 0; i < 9; i++) {
      const status = TASK_STATUSES[i % 3];
      ids.push((await insertTask(db, alice, { title: `t${i}`, status })).id);
    }
    await insertTask(db, bob, { title: "b" });
    assert.deepEqual(await kept(db, alice), { pending: 3, in_progress: 3, completed: 3 });
    await updateTask(db, alice, ids[0], { status: "completed" });
    await updateTask(db, alice, ids[1], { title: "only the title" });
    await db.query("UPDATE tasks SET status = 'pending' WHERE user_id = $1 AND status = $2", [
      alice,
      "completed",
    ]);
    await db.query("DELETE FROM tasks WHERE id = ANY($1::int[])", [[ids[2], ids[4]]]);
    // Moving a task to another user moves its count too.
    await db.query("UPDATE tasks SET user_id = $1 WHERE id = $2", [bob, ids[3]]);
    assert.deepEqual(await kept(db, alice), await counted(db, alice));
    assert.deepEqual(await kept(db, bob), await counted(db, bob));
    assert.deepEqual(await kept(db, bob), { pending: 2, in_progress: 0, completed: 0 });
    // Deleting a user deletes their tasks and their totals without tripping over each other.
    await db.query("DELETE FROM users WHERE id = $1", [alice]);
    assert.deepEqual(await kept(db, alice), { pending: 0, in_progress: 0, completed: 0 });
    assert.deepEqual(await kept(db, bob), await counted(db, bob));
  } finally {
    await t.close();
  }
});

Deno.test("task_totals stay exact under concurrent writes to one user, without deadlocks", async () => {
  const fresh = await freshDatabase();
  const db = await fresh.open({ poolSize: 8 });
  try {
    await migrate(db);
    const user = await newUser(db);
    const ids: number[] = [];
    for (let i = 0; i < 40; i++) {
      ids.push((await insertTask(db, user, { title: `t${i}`, status: TASK_STATUSES[i % 3] })).id);
    }
    // Opposite status changes at once (pending <-> completed), inserts and deletes. Each
    // transaction changes two tasks, in id order (so the task rows alone cannot deadlock): with
    // immediate triggers one would hold the totals row while waiting for the other's task row.
    // Round by round: ~40 transactions queue for 8 connections at a time. All 200 at once made
    // the last ones wait longer than the pool's connect timeout on a busy machine (503, not a bug).
    for (let round = 0; round < 5; round++) {
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < 40; i++) {
        const [a, b] = [ids[i], ids[(i + 7) % 40]].sort((x, y) => x - y);
        work.push(db.transaction(async (tx) => {
          await tx.query("UPDATE tasks SET status = $1 WHERE id = $2", [
            TASK_STATUSES[(i + round) % 3],
            a,
          ]);
          await tx.query("UPDATE tasks SET status = $1 WHERE id = $2", [
            TASK_STATUSES[(i + round + 1) % 3],
            b,
          ]);
        }));
      }
      work.push(insertTask(db, user, { title: `new ${round}`, status: "completed" }));
      work.push(db.query("DELETE FROM tasks WHERE id = $1", [ids[round]]));
      await Promise.all(work);
    }
    assert.deepEqual(await kept(db, user), await counted(db, user));
    // Eight connections wrote: their transactions used several shards, not one hot row (the
    // embedded database has one connection, so one shard).
    const [{ shards }] = await db.query<{ shards: number }>(
      "SELECT count(*)::int AS shards FROM task_totals WHERE user_id = $1",
      [user],
    );
    if (TEST_DATABASE_URL) assert.ok(shards > 1, `${shards} shard rows`);
  } finally {
    await db.close();
    await fresh.drop();
  }
});

Deno.test("migration 030 counts the tasks that were there before it", async () => {
  const fresh = await freshDatabase();
  const db = await fresh.open();
  try {
    await migrate(db, MIGRATIONS.filter((m) => m.version < "030"));
    const user = await newUser(db);
    for (const status of ["pending", "completed", "completed", "in_progress", "completed"]) {
      await db.query("INSERT INTO tasks (user_id, title, status) VALUES ($1, 't', $2)", [
        user,
        status,
      ]);
    }
    await migrate(db);
    assert.deepEqual(await kept(db, user), { pending: 1, in_progress: 1, completed: 3 });
    await insertTask(db, user, { title: "after" });
    assert.deepEqual(await kept(db, user), { pending: 2, in_progress: 1, completed: 3 });
  } finally {
    await db.close();
    await fresh.drop();
  }
});

const search = (q: string, statuses?: TaskStatus[]): TaskListRequest => ({
  filter: { search: q, statuses },
  sort: { field: "id", descending: false },
  limit: 2,
  position: { kind: "offset", offset: 0 },
});

Deno.test("a search's remembered total follows every change, made by any connection or process", async () => {
  const fresh = await freshDatabase();
  const db = await fresh.open({ poolSize: 4 });
  // Another process on the same database (a replica): its writes must reach this one's totals.
  // The embedded database has one process, so there the other writer is the same handle.
  const other = TEST_DATABASE_URL ? await fresh.open({ poolSize: 2 }) : db;
  try {
    await migrate(db);
    const user = await newUser(db);
    const total = async (q: string, statuses?: TaskStatus[]) =>
      (await listTasks(db, user, search(q, statuses))).total;
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push((await insertTask(db, user, { title: `report ${i}`, status: "completed" })).id);
    }
    assert.equal(await total("report"), 6);
    assert.equal(await total("report"), 6); // remembered
    assert.equal(await total("report", ["completed"]), 6);
    await insertTask(other, user, { title: "another report" });
    assert.equal(await total("report"), 7);
    assert.equal(await total("report", ["completed"]), 6);
    await updateTask(other, user, ids[0], { title: "renamed" });
    assert.equal(await total("report"), 6);
    await updateTask(other, user, ids[1], { description: "report" });
    await updateTask(other, user, ids[1], { title: "no longer" });
    assert.equal(await total("report"), 6, "the description still matches");
    await updateTask(other, user, ids[2], { status: "pending" });
    assert.equal(await total("report", ["completed"]), 4);
    await deleteTask(other, user, ids[3]);
    assert.equal(await total("report"), 5);
    await other.query("UPDATE tasks SET description = 'x', title = 'x' WHERE user_id = $1", [user]);
    assert.equal(await total("report"), 0);
    // An empty page (past the end) answers the remembered total too.
    const past = await listTasks(db, user, {
      ...search("x"),
      position: { kind: "offset", offset: 100 },
    });
    assert.deepEqual([past.tasks.length, past.total], [0, 6]);
    assert.equal((await listTasks(db, user, search("x"))).total, 6);
  } finally {
    if (other !== db) await other.close();
    await db.close();
    await fresh.drop();
  }
});
