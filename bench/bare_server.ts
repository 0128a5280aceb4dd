/**
 * The framework's ceiling: a tiny Deno.serve + Hono app with no auth and no database, answering
 * `GET /tasks` with a fixed JSON page shaped like the API's (ten task objects). What the real API
 * does on top of this (JWT check, two queries, headers, logging) is its own cost.
 *
 * @example
 * ```sh
 * PORT=5901 deno run -A bench/bare_server.ts
 * ```
 */
import { Hono } from "hono";

const page = Array.from({ length: 10 }, (_, i) => ({
  id: i + 1,
  title: `Task ${i + 1}`,
  description: `Description of task ${i + 1}`,
  status: "pending",
  created_at: "2026-01-01T00:00:00.000Z",
  updated_at: "2026-01-01T00:00:00.000Z",
}));

const app = new Hono();
app.get("/tasks", (c) => c.json(page));
app.get("/health", (c) => c.json({ status: "ok" }));

const port = Number(Deno.env.get("PORT") ?? "5901");
const hostname = Deno.env.get("HOST") ?? "127.0.0.1";
const server = Deno.serve({ port, hostname, onListen: () => {} }, app.fetch);
Deno.addSignalListener("SIGTERM", () => server.shutdown());
await server.finished;
