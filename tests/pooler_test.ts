/**
 * Behind PgBouncer in transaction mode (`DATABASE_POOLER=transaction`): replicas migrating a new
 * database at once, a server under 16 concurrent connections, and the loader. The pooler gets
 * fewer server connections than the clients hold, so statements of one client session really do
 * land on different server connections. Skipped, saying why, without a real PostgreSQL or
 * without a `pgbouncer` binary.
 */
import assert from "node:assert/strict";
import { createApp } from "../src/app.ts";
import type { Database } from "../src/db/database.ts";
import { migrate } from "../src/db/migrate.ts";
import { MIGRATIONS } from "../src/db/migrations.ts";
import { openDatabase } from "../src/db/open.ts";
import { testConfig, wrap } from "./api_helpers.ts";
import { freshDatabase, TEST_DATABASE_URL, uniqueName } from "./db_helpers.ts";
import { writeCsv } from "./etl_gen.ts";
import { parseCsv } from "./etl_helpers.ts";
import { pgbouncerUnavailable, startPgBouncer } from "./pgbouncer.ts";
import { CLI, startServer } from "./server_helpers.ts";

const unavailable = await pgbouncerUnavailable();
if (unavailable) console.log(`pooler tests skipped: ${unavailable}`);
const ignore = unavailable !== undefined;

Deno.test({
  name: "pooler: two replicas migrate a new database at once through PgBouncer",
  ignore,
  async fn() {
    const fresh = await freshDatabase();
    const bouncer = await startPgBouncer({ poolSize: 2 });
    const replicas: Database[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        replicas.push(
          await openDatabase({
            databaseUrl: bouncer.through(fresh.url!),
            dataDir: fresh.dataDir,
            poolSize: 4,
            pooler: "transaction",
          }),
        );
      }
      const runs = await Promise.all([...replicas, ...replicas].map((db) => migrate(db)));
      const all = MIGRATIONS.map((m) => m.version);
      assert.deepEqual(runs.flat().sort(), all, `applied: ${JSON.stringify(runs)}`);
      const rows = await replicas[0].query<{ version: string }>(
        "SELECT version FROM schema_migrations ORDER BY version",
      );
      assert.deepEqual(rows.map((r) => r.version), all);
    } finally {
      for (const db of replicas) await db.close();
      await bouncer.stop();
      await fresh.drop();
    }
  },
});

/** `n` concurrent loops of `perLoop` calls each; returns every status seen, with its count. */
async function hammer(
  n: number,
  perLoop: number,
  call: (loop: number, i: number) => Promise<number | number[]>,
): Promise<Map<number, number>> {
  const seen = new Map<number, number>();
  await Promise.all(Array.from({ length: n }, async (_, loop) => {
    for (let i = 0; i < perLoop; i++) {
      for (const status of [await call(loop, i)].flat()) {
        seen.set(status, (seen.get(status) ?? 0) + 1);
      }
    }
  }));
  return seen;
}

Deno.test({
  name: "pooler: the control: without DATABASE_POOLER named statements fail through PgBouncer",
  ignore,
  async fn() {
    // What the next test guards against, shown here so that it cannot pass for nothing. One server
    // connection: every client connection after the first finds "tasks_page" already prepared
    // there (with two, the first two clients could land on one each and never collide).
    const bouncer = await startPgBouncer({ poolSize: 1 });
    const db = await openDatabase({
      databaseUrl: bouncer.through(TEST_DATABASE_URL!),
      dataDir: "./data",
      poolSize: 8,
    });
    try {
      const config = testConfig();
      const api = wrap(createApp({ db, config }), db, config, () => db.close());
      const { token } = await api.newUser();
      const seen = await hammer(
        16,
        10,
        async () => (await api.call("GET", "/tasks", { token })).status,
      );
      assert.ok((seen.get(500) ?? 0) > 0, `expected 500s, saw ${JSON.stringify([...seen])}`);
    } finally {
      await db.close();
      await bouncer.stop();
    }
  },
});

Deno.test({
  name: "pooler: a server with DATABASE_POOLER=transaction serves 16 connections, no 500",
  ignore,
  async fn() {
    const bouncer = await startPgBouncer({ poolSize: 3 });
    const server = await startServer({
      env: {
        DATABASE_URL: bouncer.through(TEST_DATABASE_URL!),
        DATABASE_POOLER: "transaction",
        AUTH_REQUESTS_PER_MINUTE: "0",
        // 16 connections log in at once: queue them all rather than answer a capacity 503,
        // which is not what this test is about.
        HASH_QUEUE: "64",
      },
    });
    const base = `http://127.0.0.1:${server.port}`;
    const call = async (method: string, path: string, body?: unknown, token?: string) => {
      const res = await fetch(base + path, {
        method,
        headers: token ? { Authorization: `Bearer ${token}` } : {},
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    };
    try {
      const users = await Promise.all(Array.from({ length: 4 }, async () => {
        const credentials = { username: uniqueName("pool"), password: "securepassword" };
        assert.equal((await call("POST", "/register", credentials)).status, 201);
        const login = await call("POST", "/login", credentials);
        assert.equal(login.status, 200);
        return { ...credentials, token: login.body.access_token as string };
      }));
      const seen = await hammer(16, 25, async (loop, i) => {
        const user = users[loop % users.length];
        switch (i % 5) {
          case 0:
            return (await call("POST", "/tasks", { title: `t${loop}.${i}` }, user.token)).status;
          case 1:
            return (await call("GET", "/tasks?per_page=5", undefined, user.token)).status;
          case 2: {
            const created = await call("POST", "/tasks", { title: "edit me" }, user.token);
            const id = created.body.id;
            const put = await call("PUT", `/tasks/${id}`, { status: "completed" }, user.token);
            const get = await call("GET", `/tasks/${id}`, undefined, user.token);
            const del = await call("DELETE", `/tasks/${id}`, undefined, user.token);
            return [created.status, put.status, get.status, del.status];
          }
          case 3:
            // Logins hash a password (slow on purpose): one per loop is enough.
            if (i > 3) return (await call("GET", "/health")).status;
            return (await call("POST", "/login", {
              username: user.username,
              password: user.password,
            })).status;
          default:
            return (await call("GET", "/health")).status;
        }
      });
      const unexpected = [...seen.keys()].filter((status) => status !== 200 && status !== 201);
      assert.deepEqual(
        unexpected,
        [],
        [
          `statuses: ${JSON.stringify([...seen])}`,
          ...server.output().split("\n").filter((l) => /ERR| 5\d\d /.test(l)).slice(0, 5),
        ].join("\n"),
      );
      assert.equal(seen.get(201), 16 * 10, "every POST /tasks created one");
    } finally {
      await server.stop();
      await bouncer.stop();
    }
  },
});

Deno.test({
  name: "pooler: the loader through PgBouncer, two loads at once, then a resume",
  ignore,
  async fn() {
    const bouncer = await startPgBouncer({ poolSize: 2 });
    const dir = await Deno.makeTempDir({ prefix: "taskapi-pool-etl-" });
    const direct = await openDatabase({ databaseUrl: TEST_DATABASE_URL, dataDir: dir });
    const tables = [uniqueName("pooled"), uniqueName("pooled")];
    try {
      const file = `${dir}/people.csv`;
      await writeCsv({ path: file, rows: 3000, defectRate: 0.02 });
      const env = {
        DATABASE_URL: bouncer.through(TEST_DATABASE_URL!),
        DATABASE_POOLER: "transaction",
        DATA_DIR: dir,
        NO_COLOR: "1",
      };
      const ingest = (table: string, extra: string[] = []) =>
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            CLI,
            "ingest",
            file,
            "--table",
            table,
            "--batch-size",
            "500",
            "--rejects",
            `${dir}/${table}.rejects.csv`,
            "--log-file",
            `${dir}/${table}.log`,
            ...extra,
          ],
          env,
        }).output();
      const outs = await Promise.all(tables.map((t) => ingest(t)));
      const decoder = new TextDecoder();
      for (const out of outs) assert.equal(out.code, 0, decoder.decode(out.stderr));
      const count = async (table: string) =>
        (await direct.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}"`))[0].n;
      const loaded = await count(tables[0]);
      assert.ok(loaded > 2800 && loaded < 3000, `loaded ${loaded}`);
      assert.equal(await count(tables[1]), loaded);
      // Recorded as complete: a second run without --resume is refused; with it, nothing doubles.
      assert.equal((await ingest(tables[0])).code, 2);
      const resumed = await ingest(tables[0], ["--resume"]);
      assert.equal(resumed.code, 0, decoder.decode(resumed.stderr));
      assert.equal(await count(tables[0]), loaded);
    } finally {
      for (const t of tables) await direct.exec(`DROP TABLE IF EXISTS "${t}"`).catch(() => {});
      await direct.close();
      await bouncer.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "pooler: keyed loads (--on-conflict update) through PgBouncer, two at once",
  ignore,
  async fn() {
    // Each batch's staging table lives in its transaction (ON COMMIT DROP): with two clients on
    // two server connections, one left behind would meet the other client's next transaction.
    const bouncer = await startPgBouncer({ poolSize: 2 });
    const dir = await Deno.makeTempDir({ prefix: "taskapi-pool-key-" });
    const direct = await openDatabase({ databaseUrl: TEST_DATABASE_URL, dataDir: dir });
    const tables = [uniqueName("pooled_key"), uniqueName("pooled_key")];
    try {
      const files = [`${dir}/a.csv`, `${dir}/b.csv`];
      await writeCsv({ path: files[0], rows: 3000, seed: 1 });
      await writeCsv({ path: files[1], rows: 3000, seed: 2 });
      const env = {
        DATABASE_URL: bouncer.through(TEST_DATABASE_URL!),
        DATABASE_POOLER: "transaction",
        DATA_DIR: dir,
        NO_COLOR: "1",
      };
      const decoder = new TextDecoder();
      const ingest = async (file: string, table: string) => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", CLI, "ingest", file, "--table", table, "--batch-size", "500"]
            .concat(["--key", "id", "--on-conflict", "update", "--log-file", `${dir}/i.log`])
            .concat(["--rejects", `${dir}/${table}.rejects.csv`, "--quiet"]),
          env,
        }).output();
        assert.equal(out.code, 0, decoder.decode(out.stderr));
        return decoder.decode(out.stdout);
      };
      // Table 0 loads a then b, table 1 b then a, side by side: a stage that outlived its
      // transaction would carry one table's rows into the other's merge.
      for (const round of [0, 1]) {
        const outs = await Promise.all(tables.map((t, i) => ingest(files[(i + round) % 2], t)));
        if (round === 1) { for (const o of outs) assert.match(o, /3,000 over existing keys/); }
      }
      const names = async (file: string) =>
        parseCsv(await Deno.readTextFile(file)).slice(1).map((r) => r[1]);
      for (const [i, t] of tables.entries()) {
        const [{ n, all }] = await direct.query<{ n: number; all: string }>(
          `SELECT count(*)::int AS n, string_agg(first_name, ',' ORDER BY id) AS all FROM "${t}"`,
        );
        assert.equal(n, 3000);
        assert.equal(all, (await names(files[(i + 1) % 2])).join(","), `table ${i}`);
      }
    } finally {
      for (const t of tables) await direct.exec(`DROP TABLE IF EXISTS "${t}"`).catch(() => {});
      await direct.close();
      await bouncer.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
