import assert from "node:assert/strict";
import { createApp } from "../src/app.ts";
import { loadServerConfig } from "../src/config.ts";
import { migrate } from "../src/db/migrate.ts";
import { openDatabase } from "../src/db/open.ts";
import { ConfigError } from "../src/errors.ts";
import { apiSuite, testConfig, wrap } from "./api_helpers.ts";
import { openTestDb, TEST_DATABASE_URL } from "./db_helpers.ts";

const test = apiSuite("api: server behaviour", { maxBodyBytes: 1000 });

test("health: 200 while the database answers", async (api) => {
  const res = await api.call("GET", "/health");
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { status: "ok" });
});

test("every answer: nosniff, a request id, no X-Powered-By, JSON", async (api) => {
  const { token } = await api.newUser();
  const answers = [
    await api.call("GET", "/health"),
    await api.call("GET", "/nowhere"),
    await api.call("GET", "/tasks"),
    await api.call("GET", "/tasks", { token }),
    await api.call("POST", "/tasks", { token, body: "{" }),
    await api.call("POST", "/tasks", { token, body: { title: "x".repeat(2000) } }),
  ];
  assert.deepEqual(answers.map((a) => a.status), [200, 404, 401, 200, 400, 413]);
  for (const a of answers) {
    assert.equal(a.headers.get("X-Content-Type-Options"), "nosniff");
    assert.equal(a.headers.get("X-Powered-By"), null);
    assert.match(a.headers.get("X-Request-Id") ?? "", /^[0-9a-f-]{36}$/);
    assert.match(a.headers.get("Content-Type") ?? "", /^application\/json/);
  }
  // A sane request id from the client is kept, for tracing across services.
  const traced = await api.call("GET", "/health", { headers: { "X-Request-Id": "trace-123" } });
  assert.equal(traced.headers.get("X-Request-Id"), "trace-123");
});

test("unknown routes are a JSON 404", async (api) => {
  const res = await api.call("GET", "/nowhere");
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, { message: "Not found: GET /nowhere" });
});

test(
  "bodies over MAX_BODY_BYTES are a 413, with or without Content-Length",
  async (api) => {
    const { token } = await api.newUser();
    const big = JSON.stringify({ title: "x".repeat(1200) });
    const sized = await api.app.request("/tasks", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Length": String(big.length) },
      body: big,
    });
    assert.equal(sized.status, 413);
    assert.deepEqual(await sized.json(), { message: "Request body is larger than 1000 bytes" });

    const bytes = new TextEncoder().encode(big);
    const streamed = await api.app.request("/tasks", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < bytes.length; i += 100) controller.enqueue(bytes.slice(i, i + 100));
          controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    assert.equal(streamed.status, 413);
    assert.equal(streamed.headers.get("X-Content-Type-Options"), "nosniff");
    assert.match((await streamed.json()).message, /larger than 1000 bytes/);

    // Exactly at the limit is fine.
    const title = "y".repeat(1000 - JSON.stringify({ title: "" }).length);
    const atLimit = await api.call("POST", "/tasks", {
      token,
      body: { title: title.slice(0, 200) },
    });
    assert.equal(atLimit.status, 201);
  },
);

test("unexpected errors: 500 with a request id, no stack, no SQL", async (api) => {
  const app = createApp({ db: api.db, config: testConfig() });
  app.get("/boom", () => {
    throw new Error("SELECT secret FROM somewhere failed");
  });
  const res = await app.request("/boom");
  assert.equal(res.status, 500);
  const body = await res.json();
  assert.deepEqual(Object.keys(body).sort(), ["message", "request_id"]);
  assert.equal(body.message, "Internal Server Error");
  assert.equal(body.request_id, res.headers.get("X-Request-Id"));
  assert.equal(res.headers.get("X-Content-Type-Options"), "nosniff");
});

Deno.test("database gone: 503 with a JSON message, health too", async () => {
  const t = await openTestDb();
  const config = testConfig({ dataDir: t.dataDir });
  const local = wrap(createApp({ db: t.db, config }), t.db, config, () => t.close());
  const { token, username, password } = await local.newUser();
  await t.db.close();
  const started = performance.now();
  const answers = [
    await local.call("GET", "/health"),
    await local.call("GET", "/tasks", { token }),
    await local.call("POST", "/tasks", { token, body: { title: "x" } }),
    await local.call("POST", "/login", { body: { username, password } }),
  ];
  assert.ok(performance.now() - started < 5000);
  for (const a of answers) {
    assert.equal(a.status, 503);
    assert.equal(typeof a.body.message, "string");
    assert.doesNotMatch(a.body.message, /SELECT|pgdata/);
  }
  await Deno.remove(t.dataDir, { recursive: true }).catch(() => {});
});

Deno.test({
  name: "database down and back: 503 within 5 s, then the same process recovers",
  ignore: TEST_DATABASE_URL === undefined,
  async fn() {
    const target = new URL(TEST_DATABASE_URL!);
    const proxy = await TcpProxy.start({
      hostname: target.hostname,
      port: Number(target.port || 5432),
    });
    const url = new URL(TEST_DATABASE_URL!);
    url.hostname = "127.0.0.1";
    url.port = String(proxy.port);
    const db = await openDatabase({
      databaseUrl: url.href,
      dataDir: "./data",
      poolSize: 4,
      queryTimeoutMs: 4000,
    });
    try {
      await migrate(db);
      const config = testConfig();
      const local = wrap(createApp({ db, config }), db, config, () => db.close());
      const { token, username, password } = await local.newUser();
      assert.equal((await local.call("GET", "/tasks", { token })).status, 200);

      const timed = async (method: string, path: string) => {
        const t0 = performance.now();
        const res = await local.call(method, path, { token });
        return { ...res, ms: performance.now() - t0 };
      };
      const check503 = (res: { status: number; ms: number; body: { message: string } }) => {
        assert.equal(res.status, 503);
        assert.ok(res.ms < 5000, `answered in ${res.ms} ms`);
        assert.equal(typeof res.body.message, "string");
      };

      // The server answers nothing: queries on open connections hang until the query timeout.
      proxy.freeze();
      check503(await timed("GET", "/tasks"));
      check503(await timed("GET", "/health"));
      // A transaction (the rate limiter's) must not wait out a second timeout to roll back.
      const t0 = performance.now();
      const login = await local.call("POST", "/login", { body: { username, password } });
      check503({ ...login, ms: performance.now() - t0 });
      // The server is gone: connections drop and new ones are refused.
      await proxy.stop();
      check503(await timed("GET", "/tasks"));
      check503(await timed("GET", "/health"));
      // Back again: the same pool reconnects.
      await proxy.restart();
      assert.equal((await local.call("GET", "/health")).status, 200);
      assert.equal((await local.call("GET", "/tasks", { token })).status, 200);
    } finally {
      await db.close().catch(() => {});
      await proxy.stop();
    }
  },
});

Deno.test("config: the documented defaults", async () => {
  const config = await loadServerConfig({ JWT_SECRET: "x".repeat(32) });
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.port, 5000);
  assert.equal(config.dataDir, "./data");
  assert.equal(config.databaseUrl, undefined);
  assert.equal(config.bodyTimeoutSeconds, 10);
  assert.equal(config.maxTasksPerUser, 10_000);
  assert.equal(config.loginMaxFailures, 10);
  assert.equal(config.loginMaxFailuresPerUser, 100);
  assert.equal(config.authRequestsPerMinute, 60);
  assert.equal(config.workers, 1);
});

Deno.test("config: clear errors for bad values", async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ JWT_SECRET: "too-short" }, /JWT_SECRET must be at least 32 bytes, got 9/],
    [{ DATABASE_URL: "postgres://u@127.0.0.1:5432/db" }, /JWT_SECRET is required/],
    [{ PORT: "abc", JWT_SECRET: "x".repeat(32) }, /PORT must be a whole number, got "abc"/],
    [{ PORT: "70000", JWT_SECRET: "x".repeat(32) }, /PORT must be between 0 and 65535/],
    [{ DATABASE_URL: "mysql://x", JWT_SECRET: "x".repeat(32) }, /postgres:\/\//],
    [{ LOGIN_MAX_FAILURES: "-1", JWT_SECRET: "x".repeat(32) }, /LOGIN_MAX_FAILURES/],
  ];
  for (const [env, message] of cases) {
    await assert.rejects(loadServerConfig(env), (err: Error) => {
      assert.ok(err instanceof ConfigError, err.message);
      assert.match(err.message, message);
      assert.doesNotMatch(err.message, /too-short/, "never quote the secret");
      return true;
    });
  }
});

Deno.test("config: without JWT_SECRET a random secret is kept in DATA_DIR with mode 0600", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await loadServerConfig({ DATA_DIR: dir });
    assert.equal(first.jwtSecretSource, "generated");
    assert.ok(first.jwtSecret.length >= 32);
    assert.equal((await Deno.stat(`${dir}/jwt_secret`)).mode! & 0o777, 0o600);
    const second = await loadServerConfig({ DATA_DIR: dir });
    assert.equal(second.jwtSecretSource, "data_dir");
    assert.equal(second.jwtSecret, first.jwtSecret);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A TCP proxy in front of PostgreSQL that can play dead: `freeze()` swallows traffic on open
 * connections, `stop()` drops them and refuses new ones, `restart()` brings it back on its port.
 */
class TcpProxy {
  #listener?: Deno.Listener;
  #conns = new Set<Deno.Conn>();
  #frozen = false;
  #loop?: Promise<void>;

  private constructor(readonly target: { hostname: string; port: number }, public port: number) {}

  static async start(target: { hostname: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target, 0);
    await proxy.restart();
    return proxy;
  }

  restart(): Promise<void> {
    this.#frozen = false;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: this.port });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#loop = this.#accept(this.#listener);
    return Promise.resolve();
  }

  freeze(): void {
    this.#frozen = true;
  }

  async stop(): Promise<void> {
    try {
      this.#listener?.close();
    } catch { /* already closed */ }
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
    this.#conns.clear();
    await this.#loop;
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    try {
      for await (const client of listener) {
        this.#conns.add(client);
        Deno.connect(this.target).then((server) => {
          this.#conns.add(server);
          void this.#pump(client, server);
          void this.#pump(server, client);
        }, () => client.close());
      }
    } catch { /* listener closed */ }
  }

  async #pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(16 * 1024);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        if (this.#frozen) continue;
        let off = 0;
        while (off < n) off += await to.write(buf.subarray(off, n));
      }
    } catch { /* closed */ }
    for (const c of [from, to]) {
      try {
        c.close();
      } catch { /* already closed */ }
      this.#conns.delete(c);
    }
  }
}
