/**
 * `GET /metrics` in Prometheus' text format, from `prom-client`: requests by method, route template
 * and status (`http_requests_total`), their latency (`http_request_duration_seconds`, a histogram),
 * requests in flight, the database connections in use, idle and waiting, and the process's memory.
 *
 * With `WORKERS` > 1 every isolate keeps its own registry and `/metrics` answers the sum over all
 * of them (see `server/workers.ts`): a scrape reaches one isolate at random, and a per-isolate
 * answer would make counters jump between scrapes.
 *
 * @example
 * ```ts
 * const metrics = new Metrics({ db });
 * app.use(metrics.middleware);
 * app.get("/metrics", async (c) => c.text(await metrics.text()));
 * ```
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import {
  AggregatorRegistry,
  Counter,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from "prom-client";
import type { Database } from "./db/database.ts";

/** The content type of Prometheus' text format. */
export const METRICS_CONTENT_TYPE: string = Registry.PROMETHEUS_CONTENT_TYPE;

/** One registry's metrics as JSON, as isolates exchange them. */
export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

/** Hono middleware (any app's environment). */
export type MetricsMiddleware = MiddlewareHandler;

/** What the app needs for `/metrics`: the counting middleware and the text to answer. */
export interface MetricsSource {
  /** Counts every request and times it; put it before every other middleware. */
  readonly middleware: MetricsMiddleware;
  /** The metrics in Prometheus' text format. */
  text(): Promise<string>;
}

/** Options for {@linkcode Metrics}. */
export interface MetricsOptions {
  /** Whose connections `taskapi_db_connections` counts. */
  db: Database;
}

/** The server's metrics: one registry, the middleware that counts requests, and the gauges. */
export class Metrics implements MetricsSource {
  readonly #registry: Registry = new Registry();
  /** Counts every request and times it; put it before every other middleware. */
  readonly middleware: MetricsMiddleware;

  /** Registers this server's metrics in a registry of its own (not prom-client's global one). */
  constructor(options: MetricsOptions) {
    this.middleware = requestMetrics(this.#registry);
    registerGauges(this.#registry, options.db);
  }

  /** This registry's metrics in Prometheus' text format. */
  text(): Promise<string> {
    return this.#registry.metrics();
  }

  /** This registry's metrics as JSON, to be summed with other isolates'. */
  snapshot(): Promise<MetricsSnapshot> {
    return this.#registry.getMetricsAsJSON() as Promise<MetricsSnapshot>;
  }
}

/** Requests by method, status and route (count and latency) and those in flight, in `registry`. */
function requestMetrics(registry: Registry): MetricsMiddleware {
  // The metrics of @hono/prometheus (same names, labels and buckets), counted here: its
  // middleware built three label objects and read node's process.hrtime() per request.
  const labelNames = ["method", "status", "ok", "route"];
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "Duration of HTTP requests in seconds",
    labelNames,
    buckets: [.005, .01, .025, .05, .075, .1, .25, .5, .75, 1, 2.5, 5, 7.5, 10],
    registers: [registry],
  });
  const total = new Counter({
    name: "http_requests_total",
    help: "Total number of HTTP requests",
    labelNames,
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: "http_requests_in_flight",
    help: "Requests being received or handled",
    registers: [registry],
  });
  // One label object per method, route and status, made once.
  const labelSets = new Map<string, Record<string, string>>();
  return async function metrics(c, next) {
    const started = performance.now();
    inFlight.inc();
    try {
      await next();
    } finally {
      inFlight.dec();
      const { method } = c.req;
      const route = c.req.routePath;
      const { status } = c.res;
      const key = `${method} ${status} ${route}`;
      let labels = labelSets.get(key);
      if (!labels) {
        labels = { method, route, status: String(status), ok: String(c.res.ok) };
        labelSets.set(key, labels);
      }
      duration.observe(labels, (performance.now() - started) / 1000);
      total.inc(labels);
    }
  };
}

/** The pool's connections by state, the isolate count and the process's memory, in `registry`. */
function registerGauges(registry: Registry, db: Database): void {
  new Gauge({
    name: "taskapi_db_connections",
    help: "Database connections by state: in_use, idle, and waiting (requests queued for one)",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      const s = db.poolStats();
      this.set({ state: "in_use" }, s.total - s.idle);
      this.set({ state: "idle" }, s.idle);
      this.set({ state: "waiting" }, s.waiting);
    },
  });
  new Gauge({
    name: "taskapi_workers",
    help: "Isolates whose registries this answer sums (WORKERS; 1 for a single isolate)",
    registers: [registry],
    collect() {
      this.set(1);
    },
  });
  const memory = (name: string, help: string, read: (m: Deno.MemoryUsage) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      // One process: with several isolates every one reports the same resident size.
      aggregator: name === "process_resident_memory_bytes" ? "max" : "sum",
      collect() {
        this.set(read(Deno.memoryUsage()));
      },
    });
  memory("process_resident_memory_bytes", "Resident memory size in bytes", (m) => m.rss);
  memory("deno_heap_used_bytes", "V8 heap in use, bytes", (m) => m.heapUsed);
  memory("deno_heap_total_bytes", "V8 heap reserved, bytes", (m) => m.heapTotal);
  memory(
    "deno_external_memory_bytes",
    "Memory outside the V8 heap held by JS objects, bytes",
    (m) => m.external,
  );
}

/**
 * Several isolates' snapshots as one text: counters and histograms summed, gauges by their
 * aggregator (sums, and the largest resident size).
 *
 * @example
 * ```ts
 * const text = await aggregate([await a.snapshot(), await b.snapshot()]);
 * ```
 */
export function aggregate(snapshots: MetricsSnapshot[]): Promise<string> {
  return AggregatorRegistry.aggregate(snapshots).metrics();
}
