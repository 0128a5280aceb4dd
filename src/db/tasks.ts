/**
 * Queries on single tasks. Every statement filters by the owner (`user_id = $1`), so another user's
 * task is indistinguishable from a missing one. Pages of tasks are in `task_list.ts`.
 *
 * Each task has a `version`, bumped by every update: its ETag. A conditional update or delete
 * compares it in the same statement that writes, so no other writer can slip in between.
 *
 * Every statement is named (`{ name }`): on a PostgreSQL server each pooled connection parses it
 * once and then only binds and executes it, and after five executions PostgreSQL may keep a
 * generic plan (the index on `(user_id, id)` serves every user alike). GET /tasks measured 6.4k ->
 * 7.5k req/s with it. A name goes with exactly one SQL text.
 *
 * @module
 */
import type { Queryable } from "./database.ts";

/** The states a task can be in; `pending` is the default. */
export const TASK_STATUSES = ["pending", "in_progress", "completed"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/**
 * A task as the API shows it. The timestamps are ISO 8601 text in UTC with milliseconds
 * (`2024-05-01T12:00:00.000Z`, what `Date.prototype.toJSON` gives), formatted by the database.
 */
export interface Task {
  id: number;
  title: string;
  description: string;
  status: TaskStatus;
  created_at: string;
  updated_at: string;
}

/** A task and its version (what its ETag is made of). */
export type VersionedTask = Task & { version: number };

/**
 * A precondition on a write: the versions the client knows (from `If-Match`), or `"*"` (any).
 * Undefined means no precondition.
 */
export type IfVersion = readonly number[] | "*" | undefined;

/** What a conditional write found. */
export type WriteResult =
  | { kind: "done"; task: VersionedTask }
  | { kind: "missing" }
  /** The task exists with another version than required: nothing was written. */
  | { kind: "stale"; version: number };

/** Fields a client may set; absent ones keep their value (or default, on insert). */
export interface TaskFields {
  title?: string;
  description?: string;
  status?: TaskStatus;
}

/**
 * A timestamptz as `Date.prototype.toJSON` writes it: UTC, milliseconds truncated as node-postgres
 * and PGlite truncate them into a Date. Formatting in SQL saves the server the text → Date → text
 * round trip on every row (postgres-date parsing and `toJSON` were ~15% of its CPU under load).
 * The colons are quoted literals (`":"`): pgbench reads `:MI` as a variable, and the bench runs
 * the statements these functions send under pgbench (recorded, in bench/api_bench.ts).
 */
export const iso = (column: string): string =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":"MI":"SS.MS"Z"') AS ${column}`;

/** The task columns, in the API's order. */
export const COLUMNS = `id, title, description, status, ${iso("created_at")}, ${iso("updated_at")}`;

/**
 * Creates a task for `userId`, unless the user already has `maxTasks` tasks (0: no limit); then
 * nothing is inserted and the answer is undefined. Concurrent inserts of one user may pass the
 * limit by the few that are in flight at once (the totals are counted at each commit).
 *
 * @example
 * ```ts
 * const task = await insertTask(db, userId, { title: "Write tests" }, 10_000);
 * if (!task) throw AppError.http(403, "Task limit reached");
 * ```
 */
export function insertTask(
  db: Queryable,
  userId: number,
  fields: TaskFields & { title: string },
): Promise<VersionedTask>;
export function insertTask(
  db: Queryable,
  userId: number,
  fields: TaskFields & { title: string },
  maxTasks: number,
): Promise<VersionedTask | undefined>;
export async function insertTask(
  db: Queryable,
  userId: number,
  fields: TaskFields & { title: string },
  maxTasks = 0,
): Promise<VersionedTask | undefined> {
  // The quota sums the user's rows of task_totals (a primary-key range of at most 16 shards, see
  // sql/032), in the same statement.
  const rows = await db.query<VersionedTask>(
    `INSERT INTO tasks (user_id, title, description, status)
     SELECT $1, $2, coalesce($3, ''), coalesce($4, 'pending')
     WHERE $5::int = 0 OR coalesce(
       (SELECT sum(pending + in_progress + completed) FROM task_totals WHERE user_id = $1), 0) < $5
     RETURNING ${COLUMNS}, version`,
    [userId, fields.title, fields.description ?? null, fields.status ?? null, maxTasks],
    { name: "tasks_insert" },
  );
  return rows[0];
}

/**
 * One of the user's tasks, or undefined when it is missing or someone else's.
 *
 * @example
 * ```ts
 * const task = await findTask(db, userId, 7);
 * ```
 */
export async function findTask(
  db: Queryable,
  userId: number,
  id: number,
): Promise<VersionedTask | undefined> {
  const rows = await db.query<VersionedTask>(
    `SELECT ${COLUMNS}, version FROM tasks WHERE user_id = $1 AND id = $2`,
    [userId, id],
    { name: "tasks_find" },
  );
  return rows[0];
}

/**
 * Changes the fields given (others keep their value), bumps `updated_at` and the version: only
 * if the task's version is one of `ifVersion` (when given), checked by the UPDATE itself.
 *
 * @example
 * ```ts
 * const result = await updateTask(db, userId, 7, { status: "completed" }, [2]);
 * if (result.kind === "stale") console.log(`now at version ${result.version}`);
 * ```
 */
export async function updateTask(
  db: Queryable,
  userId: number,
  id: number,
  fields: TaskFields,
  ifVersion?: IfVersion,
): Promise<WriteResult> {
  // One fixed statement (a null parameter keeps the column, or skips the version check) rather
  // than SQL built per request.
  const rows = await db.query<VersionedTask>(
    `UPDATE tasks SET
       title = coalesce($3, title),
       description = coalesce($4, description),
       status = coalesce($5, status),
       updated_at = now(),
       version = version + 1
     WHERE user_id = $1 AND id = $2 AND ($6::int[] IS NULL OR version = ANY($6::int[]))
     RETURNING ${COLUMNS}, version`,
    [
      userId,
      id,
      fields.title ?? null,
      fields.description ?? null,
      fields.status ?? null,
      versions(ifVersion),
    ],
    { name: "tasks_update" },
  );
  return rows[0] ? { kind: "done", task: rows[0] } : await whyNot(db, userId, id, ifVersion);
}

/**
 * Deletes one of the user's tasks: only if its version is one of `ifVersion` (when given),
 * checked by the DELETE itself.
 *
 * @example
 * ```ts
 * const result = await deleteTask(db, userId, 7);
 * if (result.kind === "missing") throw AppError.notFound("Task not found");
 * ```
 */
export async function deleteTask(
  db: Queryable,
  userId: number,
  id: number,
  ifVersion?: IfVersion,
): Promise<WriteResult> {
  const rows = await db.query<VersionedTask>(
    `DELETE FROM tasks
     WHERE user_id = $1 AND id = $2 AND ($3::int[] IS NULL OR version = ANY($3::int[]))
     RETURNING ${COLUMNS}, version`,
    [userId, id, versions(ifVersion)],
    { name: "tasks_delete" },
  );
  return rows[0] ? { kind: "done", task: rows[0] } : await whyNot(db, userId, id, ifVersion);
}

/** `null` skips the check (no precondition, or `*`: the row's existence is enough). */
function versions(ifVersion: IfVersion): number[] | null {
  return ifVersion === undefined || ifVersion === "*" ? null : [...ifVersion];
}

/**
 * After a write that touched nothing: was the task missing, or at another version? Only the
 * answer depends on this read; the write itself was already refused by its own statement.
 */
async function whyNot(
  db: Queryable,
  userId: number,
  id: number,
  ifVersion: IfVersion,
): Promise<WriteResult> {
  if (ifVersion === undefined || ifVersion === "*") return { kind: "missing" };
  const rows = await db.query<{ version: number }>(
    "SELECT version FROM tasks WHERE user_id = $1 AND id = $2",
    [userId, id],
    { name: "tasks_version" },
  );
  return rows[0] ? { kind: "stale", version: rows[0].version } : { kind: "missing" };
}
