/**
 * The driver's ceiling: Deno.serve with no framework, no auth and no logging, running the API's
 * own page query (`listTasks` in src/db/tasks.ts) through a node-postgres pool of the API's size
 * and answering the rows as JSON. The gap between this and the API is the app's own cost (JWT,
 * Hono, validation, headers, logging); the gap between this and pgbench is the driver's and
 * Deno's.
 *
 * @example
 * ```sh
 * PORT=5902 DATABASE_URL=postgres://postgres@127.0.0.1:5432/db BENCH_USER_ID=1 \
 *   deno run -A bench/bare_pg_server.ts
 * ```
 */
// @ts-types="@types/pg"
import pg from "pg";

const pool = new pg.Pool({
  connectionString: Deno.env.get("DATABASE_URL"),
  max: Number(Deno.env.get("POOL_SIZE") ?? "10"),
});
const userId = Number(Deno.env.get("BENCH_USER_ID") ?? "1");
// The API's page statement, as bench/api_sql.ts has it (the harness passes it in), named like the
// API's when the API names its statements (then node-postgres parses it once per connection).
const SQL = Deno.env.get("BENCH_PAGE_SQL") ??
  "SELECT id, title, description, status, created_at, updated_at, " +
    "(SELECT count(*) FROM tasks WHERE user_id = $1)::int AS total " +
    "FROM tasks WHERE user_id = $1 ORDER BY id LIMIT $2 OFFSET $3";
const NAME = Deno.env.get("BENCH_NAMED") ? "bench_tasks_page" : undefined;

const port = Number(Deno.env.get("PORT") ?? "5902");
const hostname = Deno.env.get("HOST") ?? "127.0.0.1";
const server = Deno.serve({ port, hostname, onListen: () => {} }, async (req) => {
  const path = req.url.slice(req.url.indexOf("/", 8));
  if (path.startsWith("/health")) return Response.json({ status: "ok" });
  const { rows } = await pool.query({ text: SQL, values: [userId, 10, 0], name: NAME });
  const total = rows.length ? rows[0].total : 0;
  const tasks = rows.map((r) => ({
    id: r.id,
    title: r.title,
    description: r.description,
    status: r.status,
    created_at: r.created_at,
    updated_at: r.updated_at,
  }));
  return Response.json(tasks, { headers: { "X-Total-Count": String(total) } });
});
Deno.addSignalListener("SIGTERM", async () => {
  await server.shutdown();
  await pool.end();
});
await server.finished;
