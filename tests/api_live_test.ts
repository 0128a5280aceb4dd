/**
 * The real server process (`cli.ts serve`) over real sockets: graceful shutdown with a request body
 * still arriving, the body limit on a chunked upload, and start-up failures.
 */
import assert from "node:assert/strict";
import { TEST_DATABASE_URL, uniqueName } from "./db_helpers.ts";
import { baseEnv, CLI, SERVE_FLAGS, startServer } from "./server_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A chunked HTTP/1.1 request over a raw socket, so the test decides when each piece arrives. */
class ChunkedRequest {
  private constructor(readonly conn: Deno.Conn) {}

  static async open(port: number, method: string, path: string): Promise<ChunkedRequest> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const head = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    await writeAll(conn, encoder.encode(head));
    return new ChunkedRequest(conn);
  }

  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    await writeAll(conn(this), encoder.encode(`${bytes.length.toString(16)}\r\n`));
    await writeAll(conn(this), bytes);
    await writeAll(conn(this), encoder.encode("\r\n"));
  }

  async end(): Promise<void> {
    await writeAll(this.conn, encoder.encode("0\r\n\r\n"));
  }

  /** Reads the answer: up to its Content-Length, or to the end of the connection. */
  async response(): Promise<{ status: number; headers: string; body: string }> {
    let data: Uint8Array = new Uint8Array(0);
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const text = decoder.decode(data);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        const length = /content-length: *(\d+)/i.exec(text.slice(0, end));
        // The server may keep the connection open while it waits for the rest of an upload.
        if (length && encoder.encode(text.slice(end + 4)).length >= Number(length[1])) break;
      }
      let n: number | null;
      try {
        n = await this.conn.read(buf);
      } catch {
        break;
      }
      if (n === null) break;
      data = concat([data, buf.slice(0, n)]);
    }
    try {
      this.conn.close();
    } catch { /* closed */ }
    const text = decoder.decode(data);
    const [head, ...rest] = text.split("\r\n\r\n");
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
    let body = rest.join("\r\n\r\n");
    if (/transfer-encoding: chunked/i.test(head)) body = dechunk(body);
    return { status, headers: head, body };
  }
}

const conn = (r: ChunkedRequest) => r.conn;

async function writeAll(c: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await c.write(bytes.subarray(off));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function dechunk(body: string): string {
  let out = "";
  let rest = body;
  for (;;) {
    const nl = rest.indexOf("\r\n");
    const size = parseInt(rest.slice(0, nl), 16);
    if (!size) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
}

/**
 * Resolves once the server has `n` requests in flight besides the scrape that asks, as its
 * `/metrics` say: the event a test waits for, instead of a guess at how long it takes.
 */
async function untilInFlight(port: number, n: number): Promise<void> {
  for (let tries = 0;; tries++) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const inFlight = Number(/^http_requests_in_flight (\d+)$/m.exec(text)?.[1]);
    if (inFlight - 1 >= n) return;
    if (tries > 500) throw new Error(`never ${n} request(s) in flight:\n${text}`);
  }
}

Deno.test("live: SIGTERM lets a request whose body is still arriving finish, then exits 0", async () => {
  const server = await startServer();
  try {
    const health = await fetch(`http://127.0.0.1:${server.port}/health`);
    assert.equal(health.status, 200);
    assert.equal(health.headers.get("X-Content-Type-Options"), "nosniff");
    await health.body?.cancel();

    const username = uniqueName("live");
    const req = await ChunkedRequest.open(server.port, "POST", "/register");
    await req.send(`{"username":"${username}",`);
    await untilInFlight(server.port, 1);
    const signalled = Date.now();
    server.child.kill("SIGTERM");
    // Draining from here: the server says so, and counts the upload still arriving.
    const draining = await server.waitFor(/SIGTERM: finishing (\d+) request/);
    assert.equal(draining[1], "1", "the upload under way counts as in flight");

    // A new request while draining is answered 503, never served.
    const late = await fetch(`http://127.0.0.1:${server.port}/tasks`);
    assert.equal(late.status, 503);
    assert.equal(late.headers.get("X-Content-Type-Options"), "nosniff");
    assert.deepEqual(await late.json(), { message: "Server is shutting down" });

    await req.send(`"password":"securepassword"}`);
    await req.end();
    const res = await req.response();
    assert.equal(res.status, 201, server.output());
    assert.deepEqual(JSON.parse(res.body), { message: "User created successfully" });

    const status = await server.child.status;
    assert.equal(status.code, 0, server.output());
    assert.ok(Date.now() - signalled < 10_000);
    assert.match(server.output(), /SIGTERM/);
    // One line per request, with its id; never the password.
    assert.match(server.output(), /POST \/register 201 [\d.]+ ms request_id=[\w-]+ user_id=-/);
    assert.doesNotMatch(server.output(), /securepassword/);
  } finally {
    await server.stop();
  }
});

Deno.test("live: a chunked body over 1 MiB is a 413, without Content-Length", async () => {
  const server = await startServer();
  try {
    const req = await ChunkedRequest.open(server.port, "POST", "/register");
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    try {
      for (let sent = 0; sent <= 1024 * 1024; sent += chunk.length) await req.send(chunk);
      await req.end();
    } catch {
      // The server may answer and close before the upload ends.
    }
    const res = await req.response();
    assert.equal(res.status, 413, res.headers);
    assert.match(res.headers, /x-content-type-options: nosniff/i);
    assert.match(JSON.parse(res.body).message, /larger than 1048576 bytes/);

    // SIGINT works like SIGTERM.
    server.child.kill("SIGINT");
    assert.equal((await server.child.status).code, 0);
  } finally {
    await server.stop();
  }
});

Deno.test("live: configuration errors are one line on stderr and exit 1", async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: "abc" }, /PORT must be a whole number, got "abc"/],
    [{ JWT_SECRET: "short" }, /JWT_SECRET must be at least 32 bytes/],
    [{ DATABASE_URL: "postgres://u@127.0.0.1:1/db" }, /JWT_SECRET is required/],
    [
      { DATABASE_URL: "localhost:5432/db", JWT_SECRET: "x".repeat(32) },
      /DATABASE_URL must start with postgres:\/\/ or postgresql:\/\/, got "localhost:5432\/db"/,
    ],
    [
      { DATABASE_URL: "postgres://u:p#ss@h:5432/db", JWT_SECRET: "x".repeat(32) },
      /DATABASE_URL is not a valid URL: "postgres:\/\/u:\*\*\*@/,
    ],
    [
      {
        DATABASE_URL: "postgres://u@127.0.0.1:1/db",
        DATABASE_POOLER: "yes",
        JWT_SECRET: "x".repeat(32),
      },
      /DATABASE_POOLER must be one of none, transaction, got "yes"/,
    ],
  ];
  await Promise.all(cases.map(async ([vars, message]) => {
    const dataDir = await Deno.makeTempDir({ prefix: "taskapi-cfg-" });
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", ...SERVE_FLAGS, CLI, "serve"],
        env: { ...baseEnv(), DATA_DIR: dataDir, ...vars },
        clearEnv: true,
      }).output();
      const stderr = decoder.decode(out.stderr).trim();
      assert.equal(out.code, 1, stderr);
      assert.match(stderr, message);
      assert.equal(stderr.split("\n").length, 1, stderr);
      assert.doesNotMatch(stderr, /short"|p#ss|at \S+:\d+:\d+/, "no secret, no stack");
    } finally {
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  }));
});

Deno.test("live: a port in use is one line naming it, and exit 1", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  const dataDir = await Deno.makeTempDir({ prefix: "taskapi-port-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...SERVE_FLAGS, CLI, "serve"],
      env: { ...baseEnv(), DATA_DIR: dataDir, PORT: String(port) },
      clearEnv: true,
    }).output();
    const stderr = decoder.decode(out.stderr).trim();
    assert.equal(out.code, 1, stderr);
    assert.match(
      stderr,
      new RegExp(
        `^taskapi: cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use`,
      ),
    );
    assert.equal(stderr.split("\n").length, 1, stderr);
  } finally {
    taken.close();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});

Deno.test("live: a database that cannot be reached at start is one line and exit 1", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...SERVE_FLAGS, CLI, "serve"],
    env: {
      ...baseEnv(),
      DATABASE_URL: "postgres://postgres@127.0.0.1:1/none",
      JWT_SECRET: "x".repeat(40),
    },
    clearEnv: true,
  }).output();
  const stderr = decoder.decode(out.stderr).trim();
  assert.equal(out.code, 1, stderr);
  assert.match(stderr, /Database unavailable at 127\.0\.0\.1:1\/none/);
});

Deno.test("live: serve --database-url wins over DATABASE_URL; a bad one is exit 2", async () => {
  const serve = async (flag: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...SERVE_FLAGS, CLI, "serve", "--database-url", flag],
      env: {
        ...baseEnv(),
        DATABASE_URL: "postgres://postgres@127.0.0.1:1/from_env",
        JWT_SECRET: "x".repeat(40),
      },
      clearEnv: true,
    }).output();
    return { code: out.code, stderr: decoder.decode(out.stderr).trim() };
  };
  // Nothing listens on port 2 either: the line names the database the flag gave.
  const unreachable = await serve("postgres://postgres@127.0.0.1:2/from_flag");
  assert.equal(unreachable.code, 1, unreachable.stderr);
  assert.match(unreachable.stderr, /Database unavailable at 127\.0\.0\.1:2\/from_flag/);
  const bad = await serve("mysql://x");
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(
    bad.stderr,
    /--database-url must start with postgres:\/\/ or postgresql:\/\/, got "mysql:\/\/x"/,
  );
});

Deno.test("live: WORKERS=2 with the embedded database stops the start with one clear line", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "taskapi-workers-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...SERVE_FLAGS, CLI, "serve"],
      env: { ...baseEnv(), DATA_DIR: dataDir, WORKERS: "2" },
      clearEnv: true,
    }).output();
    const stderr = decoder.decode(out.stderr).trim();
    assert.equal(out.code, 1, stderr);
    assert.match(stderr, /^taskapi: WORKERS=2 needs PostgreSQL \(DATABASE_URL\)/);
    assert.equal(stderr.split("\n").length, 1, stderr);
    // Stopped before touching anything.
    assert.deepEqual([...Deno.readDirSync(dataDir)], []);
  } finally {
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});

Deno.test({
  name: "live: WORKERS=2: one port, /metrics sums both isolates, JSON logs, SIGTERM drains",
  ignore: TEST_DATABASE_URL === undefined,
  async fn() {
    const server = await startServer({ env: { WORKERS: "2", LOG_FORMAT: "json" } });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      // New connections each time (Connection: close), which the kernel spreads over the sockets.
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${base}/health`, { headers: { Connection: "close" } });
        assert.equal(res.status, 200);
        await res.body?.cancel();
      }
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(metrics, /^taskapi_workers 2$/m);
      const health = /^http_requests_total\{[^}]*route="\/health"[^}]*\} (\d+)$/m.exec(metrics);
      assert.equal(health?.[1], "20", metrics);

      const req = await ChunkedRequest.open(server.port, "POST", "/register");
      await req.send(`{"username":"${uniqueName("workers")}",`);
      await untilInFlight(server.port, 1);
      const signalled = Date.now();
      server.child.kill("SIGTERM");
      await server.waitFor(/SIGTERM: finishing 1 request/);
      await req.send(`"password":"securepassword"}`);
      await req.end();
      assert.equal((await req.response()).status, 201, server.output());
      assert.equal((await server.child.status).code, 0, server.output());
      assert.ok(Date.now() - signalled < 10_000);

      // Every line on stdout is one JSON object, from the main isolate and both workers alike.
      const lines = server.output().trimEnd().split("\n");
      const records = lines.map((line) => JSON.parse(line));
      assert.equal(records.filter((r) => /SIGTERM: finishing/.test(r.message)).length, 2);
      assert.ok(records.some((r) => r.path === "/register" && r.status === 201));
    } finally {
      await server.stop();
    }
  },
});
