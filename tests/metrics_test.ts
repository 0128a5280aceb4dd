/**
 * `GET /metrics`: Prometheus' text format with requests by method, route template and status, a
 * latency histogram, the database connections and the process's memory; `METRICS=off`; the sum
 * over isolates that `WORKERS` > 1 answers.
 */
import assert from "node:assert/strict";
import { loadServerConfig } from "../src/config.ts";
import { aggregate, Metrics } from "../src/metrics.ts";
import { openTestApi } from "./api_helpers.ts";
import { openTestDb } from "./db_helpers.ts";

/** The value of the sample `name` whose labels are exactly `labels` (in any order). */
function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort().join(",");
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = (m[2] ?? "").split(/,(?=[a-zA-Z_]\w*=")/).filter(Boolean).sort().join(",");
    if (got === want) return Number(m[3]);
  }
  return undefined;
}

Deno.test("metrics: requests by method, route template and status; latency; pool; memory", async () => {
  await using api = await openTestApi();
  const { token } = await api.newUser();
  for (let i = 0; i < 3; i++) {
    assert.equal((await api.call("GET", "/tasks", { token })).status, 200);
  }
  assert.equal((await api.call("GET", "/tasks/987654", { token })).status, 404);
  assert.equal((await api.call("GET", "/tasks/987655", { token })).status, 404);
  assert.equal((await api.call("GET", "/no/such/path")).status, 404);

  const res = await api.app.request("/metrics");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("Content-Type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const labels = (method: string, status: number, route: string) => ({
    method,
    status: String(status),
    ok: String(status < 400),
    route,
  });
  // Route templates, never the ids themselves: one series for every task.
  assert.equal(sample(text, "http_requests_total", labels("GET", 200, "/tasks")), 3);
  assert.equal(sample(text, "http_requests_total", labels("GET", 404, "/tasks/:id")), 2);
  assert.doesNotMatch(text, /987654|no\/such/);
  assert.equal(sample(text, "http_requests_total", labels("POST", 201, "/register")), 1);
  const latency = { le: "+Inf", ...labels("GET", 200, "/tasks") };
  assert.equal(sample(text, "http_request_duration_seconds_bucket", latency), 3);
  assert.match(text, /^# TYPE http_request_duration_seconds histogram$/m);
  for (const state of ["in_use", "idle", "waiting"]) {
    assert.ok(sample(text, "taskapi_db_connections", { state })! >= 0, state);
  }
  // The scrape itself is in flight while it is answered.
  assert.equal(sample(text, "http_requests_in_flight"), 1);
  assert.ok(sample(text, "process_resident_memory_bytes")! > 10_000_000);
  assert.ok(sample(text, "deno_heap_used_bytes")! > 0);
});

Deno.test("metrics: METRICS=off: no /metrics, nothing counted", async () => {
  await using api = await openTestApi({ metrics: false });
  const res = await api.call("GET", "/metrics");
  assert.equal(res.status, 404);
  assert.equal(
    (await loadServerConfig({ METRICS: "off", JWT_SECRET: "x".repeat(32) })).metrics,
    false,
  );
  assert.equal((await loadServerConfig({ JWT_SECRET: "x".repeat(32) })).metrics, true);
  await assert.rejects(
    loadServerConfig({ METRICS: "maybe", JWT_SECRET: "x".repeat(32) }),
    /METRICS must be on or off, got "maybe"/,
  );
});

Deno.test("metrics: several isolates' registries sum into one answer", async () => {
  const t = await openTestDb();
  try {
    const isolates = [new Metrics({ db: t.db }), new Metrics({ db: t.db })];
    const { Hono } = await import("hono");
    for (const [i, m] of isolates.entries()) {
      const app = new Hono();
      app.use(m.middleware);
      app.get("/tasks", (c) => c.json([]));
      for (let n = 0; n <= i; n++) await app.request("/tasks");
    }
    const text = await aggregate(await Promise.all(isolates.map((m) => m.snapshot())));
    const total = { method: "GET", status: "200", ok: "true", route: "/tasks" };
    assert.equal(sample(text, "http_requests_total", total), 3);
    // One process: the resident size is not counted twice.
    const rss = sample(text, "process_resident_memory_bytes")!;
    assert.ok(rss > 0 && rss < 2 * Deno.memoryUsage().rss, String(rss));
  } finally {
    await t.close();
  }
});
