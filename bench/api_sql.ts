/**
 * pgbench scripts running exactly the SQL the API runs per request, copied from `src/db/tasks.ts`
 * (update them together; `COLUMNS` there is the column list below). Access tokens are verified without the database (`src/auth/tokens.ts`),
 * so a request is one statement:
 *
 * - `GET /tasks?page=1&per_page=10` → `listTasks`: the page and its total in one round trip, the
 *   total as a scalar subquery (an InitPlan, run once).
 * - `POST /tasks` → `insertTask`: one `INSERT ... RETURNING`.
 *
 * node-postgres sends a parameterised query with the extended protocol and an unnamed statement
 * (Parse/Bind/Execute every time) unless the query is named; the API names its task statements
 * (`{ name }` in src/db/tasks.ts), so each connection parses them once and then only binds and
 * executes: `pgbench -M prepared` is the same protocol. `-M simple` and `-M extended` are measured
 * beside it.
 */

/** The pgbench protocols: `extended` is what node-postgres does for unnamed parameterised queries. */
export const PROTOCOLS = ["extended", "simple", "prepared"] as const;
export type Protocol = typeof PROTOCOLS[number];

/** The protocol the API's driver uses, for the headline ratio. */
export const API_PROTOCOL: Protocol = "prepared";

/** `COLUMNS` in src/db/tasks.ts: the timestamps formatted as ISO 8601 text by the database. */
const iso = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":"MI":"SS.MS"Z"') AS ${column}`;
const COLUMNS = `id, title, description, status, ${iso("created_at")}, ${iso("updated_at")}`;

/** `listTasks(db, uid, { limit: 10, offset: 0 })`. */
export function getTasksScript(userId: number): string {
  return [
    `\\set uid ${userId}`,
    `\\set lim 10`,
    `\\set off 0`,
    `SELECT ${COLUMNS}, (SELECT count(*) FROM tasks WHERE user_id = :uid)::int AS total ` +
    `FROM tasks WHERE user_id = :uid ORDER BY id LIMIT :lim OFFSET :off;`,
    "",
  ].join("\n");
}

/**
 * Not what the API runs: the same page without the window, and the total from a separate
 * `count(*)` (an index-only scan), for comparison with the single statement's cost in the database.
 */
export function getTasksSplitScript(userId: number): string {
  return [
    `\\set uid ${userId}`,
    `\\set lim 10`,
    `\\set off 0`,
    `SELECT id, title, description, status, created_at, updated_at ` +
    `FROM tasks WHERE user_id = :uid ORDER BY id LIMIT :lim OFFSET :off;`,
    `SELECT count(*)::int AS total FROM tasks WHERE user_id = :uid;`,
    "",
  ].join("\n");
}

/** The JSON body the load generator posts, and the same values as SQL literals below. */
export const POST_BODY = { title: "Benchmark task", description: "Created by the benchmark" };

/** `insertTask(db, uid, POST_BODY)`. pgbench variables are numbers only, so text is literal. */
export function postTaskScript(userId: number): string {
  return [
    `\\set uid ${userId}`,
    `INSERT INTO tasks (user_id, title, description, status) ` +
    `VALUES (:uid, '${POST_BODY.title}', coalesce('${POST_BODY.description}', ''), ` +
    `coalesce(NULL, 'pending')) ` +
    `RETURNING ${COLUMNS};`,
    "",
  ].join("\n");
}
