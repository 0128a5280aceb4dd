/**
 * What operators watch: `GET /health` (200 when the database answers, 503 when it does not) and
 * `GET /metrics` (Prometheus text, unless `METRICS=off`).
 *
 * @module
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { getLogger } from "@logtape/logtape";
import type { Database } from "../db/database.ts";
import type { AppEnv } from "../http.ts";
import { errorFields } from "../log.ts";
import { METRICS_CONTENT_TYPE, type MetricsSource } from "../metrics.ts";

const healthRoute = createRoute({
  method: "get",
  path: "/health",
  tags: ["Operations"],
  summary: "Whether the server and its database answer",
  responses: {
    200: {
      description: "The database answers",
      content: {
        "application/json": {
          schema: z.object({ status: z.literal("ok") }).openapi("Healthy", {
            example: { status: "ok" },
          }),
        },
      },
    },
    503: {
      description: "The database does not answer",
      content: {
        "application/json": {
          schema: z.object({ status: z.literal("unavailable"), message: z.string() }).openapi(
            "Unhealthy",
            { example: { status: "unavailable", message: "Database unavailable" } },
          ),
        },
      },
    },
  },
});

const metricsRoute = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["Operations"],
  summary: "Prometheus metrics (unless METRICS=off)",
  description: "Requests by method, route template and status; a latency histogram; database " +
    "connections in use, idle and waiting; process memory.",
  responses: {
    200: {
      description: "Prometheus text exposition format",
      content: {
        "text/plain": {
          schema: z.string().openapi({
            example: 'http_requests_total{method="GET",route="/tasks",status="200"} 42\n',
          }),
        },
      },
    },
  },
});

/** What {@linkcode serveOperations} needs. */
export interface OperationsDeps {
  db: Database;
  /** Where `GET /metrics` comes from; undefined: no such route. */
  metrics?: MetricsSource;
}

/**
 * Adds `GET /health` and, with `metrics`, `GET /metrics` to `app`.
 *
 * @example
 * ```ts
 * serveOperations(app, { db, metrics });
 * ```
 */
export function serveOperations(app: OpenAPIHono<AppEnv>, { db, metrics }: OperationsDeps): void {
  const log = getLogger(["taskapi", "http"]);
  app.openapi(healthRoute, async (c) => {
    try {
      await db.ping();
    } catch (err) {
      log.warn("Health check: database unavailable: {error}", errorFields(err));
      return c.json({ status: "unavailable" as const, message: "Database unavailable" }, 503);
    }
    return c.json({ status: "ok" as const }, 200);
  });
  if (metrics) {
    app.openapi(metricsRoute, async (c) => {
      return c.text(await metrics.text(), 200, { "Content-Type": METRICS_CONTENT_TYPE });
    });
  }
}
