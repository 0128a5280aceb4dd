/**
 * The ceilings the API is compared with: Deno.serve answering `GET /tasks` with no auth and no
 * logging. With `BARE_PG_USER_ID` set, it answers that user's first page from
 * `listTasks` (src/db/task_list.ts) through a node-postgres pool of the API's size, without its
 * per-query timeout: the driver's ceiling (the gap to the API is the app's own cost, the gap to
 * pgbench the driver's and Deno's). Without it, a Hono route answers a fixed page of ten tasks
 * shaped like the API's: the framework's ceiling.
 *
 * @example
 * ```sh
 * PORT=5601 deno run -A bench/bare_server.ts
 * PORT=5602 BARE_PG_USER_ID=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/db deno run -A bench/bare_server.ts
 * ```
 *
 * @module
 */
import { Hono } from "hono";
import { openPostgres } from "../src/db/postgres.ts";
import { firstPage, listTasks } from "../src/db/task_list.ts";

const userId = Number(Deno.env.get("BARE_PG_USER_ID") ?? NaN);
const db = Number.isInteger(userId)
  ? await openPostgres({ url: Deno.env.get("DATABASE_URL")! })
  : undefined;
const page = Array.from({ length: 10 }, (_, i) => ({
  id: i + 1,
  title: `Task ${i + 1}`,
  description: `Description of task ${i + 1}`,
  status: "pending",
  created_at: "2026-01-01T00:00:00.000Z",
  updated_at: "2026-01-01T00:00:00.000Z",
}));

const app = new Hono();
app.get("/health", (c) => c.json({ status: "ok" }));
app.get("/tasks", (c) => c.json(page));
const handler = db
  ? async (req: Request) => {
    if (req.url.endsWith("/health")) return Response.json({ status: "ok" });
    const { tasks, total } = await listTasks(db, userId, firstPage(10));
    return Response.json(tasks, { headers: { "X-Total-Count": String(total) } });
  }
  : app.fetch;

const hostname = Deno.env.get("HOST") ?? "127.0.0.1";
const server = Deno.serve({
  port: Number(Deno.env.get("PORT") ?? "5601"),
  hostname,
  onListen: () => {},
}, handler);
Deno.addSignalListener("SIGTERM", async () => {
  await server.shutdown();
  await db?.close();
});
await server.finished;
