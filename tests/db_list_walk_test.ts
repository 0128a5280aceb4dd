/**
 * How much of a user's tasks a list page reads, on the test database (PGlite, or PostgreSQL with
 * DATABASE_URL): the page's own statement, as `listTasks` sends it, under `EXPLAIN ANALYZE`.
 * A page of one status, newest first, must read about a page of rows however rare the status.
 */
import assert from "node:assert/strict";
import type { Queryable, QueryOptions } from "../src/db/database.ts";
import { listTasks, type TaskListRequest } from "../src/db/task_list.ts";
import { migrate } from "../src/db/migrate.ts";
import { freshDatabase, newUser, openTestDb } from "./db_helpers.ts";

type PlanNode = {
  "Node Type": string;
  "Relation Name"?: string;
  "Actual Rows": number;
  "Actual Loops": number;
  "Rows Removed by Filter"?: number;
  Plans?: PlanNode[];
};

/** Rows the scans of `tasks` in a plan read: those they returned and those their filter dropped. */
function tasksRead(node: PlanNode): number {
  const own = node["Relation Name"] === "tasks"
    ? (node["Actual Rows"] + (node["Rows Removed by Filter"] ?? 0)) * node["Actual Loops"]
    : 0;
  return own + (node.Plans ?? []).reduce((n, p) => n + tasksRead(p), 0);
}

/** Runs `listTasks` and explains the page statement it sent, with its parameters. */
async function pageReads(db: Queryable, userId: number, request: TaskListRequest) {
  const sent: { text: string; params: unknown[] }[] = [];
  const recorder: Queryable = {
    query<T>(text: string, params?: unknown[], options?: QueryOptions) {
      sent.push({ text, params: params ?? [] });
      return db.query<T>(text, params, options);
    },
    exec: (text) => db.exec(text),
  };
  const page = await listTasks(recorder, userId, request);
  const { text, params } = sent.find((s) => s.text.startsWith("SELECT id,"))!;
  const [row] = await db.query<{ "QUERY PLAN": unknown }>(
    `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
    params,
  );
  const plan = row["QUERY PLAN"];
  const json = (typeof plan === "string" ? JSON.parse(plan) : plan) as { Plan: PlanNode }[];
  return { items: page.tasks.length, read: tasksRead(json[0].Plan) };
}

Deno.test("list: a page of one status, newest first, reads about a page of rows", async () => {
  const tdb = await openTestDb();
  const db = tdb.db;
  try {
    const id = await newUser(db, "walk");
    // 4,000 tasks, one in twenty in progress, created a millisecond apart.
    await db.query(
      `INSERT INTO tasks (user_id, title, status, created_at)
       SELECT $1, 'Task ' || g, CASE WHEN g % 20 = 0 THEN 'in_progress' ELSE 'pending' END,
              now() + g * interval '1 millisecond'
       FROM generate_series(1, 4000) g`,
      [id],
    );
    await db.exec("ANALYZE tasks");
    const request: TaskListRequest = {
      filter: { statuses: ["in_progress"] },
      sort: { field: "created_at", descending: true },
      limit: 10,
      position: { kind: "offset", offset: 0 },
    };
    const newest = await pageReads(db, id, request);
    assert.equal(newest.items, 10);
    // 11 rows (a page and one more). Without (user_id, status, created_at, id) the 200 tasks in
    // progress were all read and sorted, or ~220 tasks walked by (user_id, created_at, id).
    assert.ok(newest.read <= 40, `read ${newest.read} rows for a page of 10`);
    // Several statuses cannot walk in order: they are read and sorted, still correct.
    const several = await listTasks(db, id, {
      ...request,
      filter: { statuses: ["in_progress", "completed"] },
    });
    const one = await listTasks(db, id, request);
    assert.deepEqual(several.tasks.map((t) => t.id), one.tasks.map((t) => t.id));
  } finally {
    await tdb.close();
  }
});

Deno.test("list: the plain page of a user who holds most of the tasks reads about a page", async () => {
  // A database of its own: the shares of the table are the point.
  const fresh = await freshDatabase();
  const db = await fresh.open({ poolSize: 1 });
  try {
    await migrate(db);
    const user = async (prefix: string, tasks: number) => {
      const id = await newUser(db, prefix);
      await db.query(
        "INSERT INTO tasks (user_id, title) SELECT $1, 'Task ' || g FROM generate_series(1, $2) g",
        [id, tasks],
      );
      return id;
    };
    // Another user's tasks come first in id order; this one's are nearly all of the table.
    await user("early", 600);
    const big = await user("big", 8000);
    await db.exec("ANALYZE tasks");
    const request: TaskListRequest = {
      filter: {},
      sort: { field: "id", descending: false },
      limit: 10,
      position: { kind: "offset", offset: 0 },
    };
    const first = await pageReads(db, big, request);
    assert.equal(first.items, 10);
    // 11 rows through (user_id, id). Walking the primary key on id alone, which the planner
    // chose when the user held most of the table, read the other user's 600 tasks first.
    assert.ok(first.read <= 40, `read ${first.read} rows for a page of 10`);
  } finally {
    await db.close();
    await fresh.drop();
  }
});
