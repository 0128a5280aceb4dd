/**
 * The embedded DATA_DIR: one process at a time (server or loader, whichever came first; the other
 * stops at once with one line and touches nothing), no stale lock after kill -9, and nothing in it
 * readable by other users. Embedded only: with DATABASE_URL set there is no DATA_DIR to share, so
 * these run in the embedded pass of the suite.
 */
import assert from "node:assert/strict";
import { DataDirInUseError, lockDataDir } from "../src/db/data_dir.ts";
import { openDatabase } from "../src/db/open.ts";
import { TEST_DATABASE_URL } from "./db_helpers.ts";
import { baseEnv, CLI, startServer } from "./server_helpers.ts";

const ignore = TEST_DATABASE_URL !== undefined;
const decoder = new TextDecoder();
const IN_USE =
  /^taskapi: DATA_DIR "(.+)" is in use by another process .*stop it first, or set DATABASE_URL/;

/** Runs `cli.ts` in a scratch folder with an embedded DATA_DIR. */
async function cli(dataDir: string, ...args: string[]) {
  const cwd = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, ...args],
      env: { ...baseEnv(), DATA_DIR: dataDir, PORT: "0" },
      clearEnv: true,
      cwd,
      // A server that should have stopped at once but did not must not hang the suite.
      signal: AbortSignal.timeout(60_000),
    }).output();
    return { code: out.code, stderr: decoder.decode(out.stderr).trim() };
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
}

/** Waits until process `pid` holds a flock (the kernel lists it in /proc/locks). */
async function waitForFlock(pid: number): Promise<void> {
  const held = new RegExp(`FLOCK\\s+ADVISORY\\s+WRITE\\s+${pid}\\s`);
  const deadline = Date.now() + 60_000;
  while (!held.test(await Deno.readTextFile("/proc/locks"))) {
    if (Date.now() > deadline) throw new Error(`process ${pid} never took its lock`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function writeCsv(dir: string, rows: number): Promise<string> {
  const path = `${dir}/people.csv`;
  const lines = ["id,name,score"];
  for (let i = 1; i <= rows; i++) lines.push(`${i},name ${i},${i % 100}`);
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  return path;
}

const entries = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

/** Paths under `dir` (itself included) that give group or others any permission. */
function openToOthers(dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    const info = Deno.lstatSync(path);
    if ((info.mode! & 0o077) !== 0) out.push(`${path} ${(info.mode! & 0o777).toString(8)}`);
    if (info.isDirectory) { for (const e of Deno.readDirSync(path)) walk(`${path}/${e.name}`); }
  };
  walk(dir);
  return out;
}

Deno.test({
  name: "data dir: server first; a loader and a second server stop at once, touching nothing",
  ignore,
  async fn() {
    const server = await startServer({ env: { DATABASE_URL: "" } });
    try {
      const before = entries(server.dataDir);
      const input = await writeCsv(await Deno.makeTempDir(), 10);
      const load = await cli(server.dataDir, "ingest", input);
      assert.equal(load.code, 2, load.stderr);
      assert.equal(load.stderr.split("\n").length, 1, load.stderr);
      assert.match(load.stderr, /^error: DATA_DIR ".+" is in use by another process/);
      assert.ok(load.stderr.includes(server.dataDir));
      const second = await cli(server.dataDir, "serve");
      assert.equal(second.code, 2, second.stderr);
      assert.match(second.stderr, IN_USE);
      assert.equal(second.stderr.split("\n").length, 1, second.stderr);
      assert.deepEqual(entries(server.dataDir), before, "nothing created or removed");
      // The first server never noticed.
      const health = await fetch(`http://127.0.0.1:${server.port}/health`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
      await Deno.remove(input.replace(/\/[^/]+$/, ""), { recursive: true });
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "data dir: a loader first; the server stops at once, and the load is whole after",
  ignore,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "taskapi-lock-" });
    const work = await Deno.makeTempDir();
    try {
      const input = await writeCsv(work, 200_000);
      const loader = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", CLI, "ingest", input, "--table", "people", "--quiet"],
        env: { ...baseEnv(), DATA_DIR: dataDir },
        clearEnv: true,
        cwd: work,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const loaded = loader.output();
      await waitForFlock(loader.pid);
      const server = await cli(dataDir, "serve");
      assert.equal(server.code, 2, server.stderr);
      assert.match(server.stderr, IN_USE);
      assert.ok(!entries(dataDir).includes("jwt_secret"), "the server created nothing");
      const done = await loaded;
      assert.equal(done.code, 0, decoder.decode(done.stderr));
      // Every row is there, and the load is recorded as complete.
      const db = await openDatabase({ dataDir });
      try {
        const [{ n }] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM people");
        assert.equal(n, 200_000);
        const [load] = await db.query<{ status: string }>("SELECT status FROM ingest_loads");
        assert.equal(load.status, "complete");
      } finally {
        await db.close();
      }
    } finally {
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "data dir: a server killed with SIGKILL leaves no stale lock",
  ignore,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "taskapi-lock-" });
    try {
      const first = await startServer({ env: { DATABASE_URL: "" }, dataDir });
      await first.stop(); // SIGKILL
      const lock = await lockDataDir(dataDir);
      lock.release();
      const second = await startServer({ env: { DATABASE_URL: "" }, dataDir });
      await second.stop();
    } finally {
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "data dir: the lock is shared within a process, exclusive between processes",
  ignore,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "taskapi-lock-" });
    const probe = `
      import { lockDataDir } from ${
      JSON.stringify(new URL("../src/db/data_dir.ts", import.meta.url).href)
    };
      try { (await lockDataDir(Deno.args[0])).release(); console.log("free"); }
      catch (err) { console.log(err.name); }`;
    const other = async () =>
      decoder.decode(
        (await new Deno.Command(Deno.execPath(), {
          args: ["eval", "--ext=ts", probe, dataDir],
          stdout: "piped",
        }).output()).stdout,
      ).trim();
    try {
      const a = await lockDataDir(dataDir);
      const b = await lockDataDir(dataDir);
      assert.equal(await other(), "DataDirInUseError");
      a.release();
      assert.equal(await other(), "DataDirInUseError", "still held by the second holder");
      b.release();
      assert.equal(await other(), "free");
      // Two PGlite instances in one process are refused as well.
      const db = await openDatabase({ dataDir });
      try {
        await assert.rejects(openDatabase({ dataDir }), DataDirInUseError);
      } finally {
        await db.close();
      }
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});

Deno.test({
  name: "data dir: created 0700, nothing in it open to others, older folders tightened",
  ignore,
  async fn() {
    const parent = await Deno.makeTempDir();
    const dataDir = `${parent}/data`;
    try {
      const server = await startServer({ env: { DATABASE_URL: "" }, dataDir });
      const base = `http://127.0.0.1:${server.port}`;
      const body = JSON.stringify({ username: "perm_user", password: "securepassword" });
      assert.equal((await fetch(`${base}/register`, { method: "POST", body })).status, 201);
      await server.stop();
      assert.equal(Deno.statSync(dataDir).mode! & 0o777, 0o700);
      assert.deepEqual(openToOthers(dataDir), []);
      // A folder from before: opened up again, then started on.
      for (const e of Deno.readDirSync(dataDir)) {
        if (e.isFile) Deno.chmodSync(`${dataDir}/${e.name}`, 0o644);
      }
      Deno.chmodSync(dataDir, 0o755);
      Deno.chmodSync(`${dataDir}/jwt_secret`, 0o600);
      const again = await startServer({ env: { DATABASE_URL: "" }, dataDir });
      await again.stop();
      assert.deepEqual(openToOthers(dataDir), []);
    } finally {
      await Deno.remove(parent, { recursive: true });
    }
  },
});

Deno.test({
  name: "data dir: a jwt_secret readable by others stops the start with one line",
  ignore,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "taskapi-secret-" });
    try {
      await Deno.writeTextFile(`${dataDir}/jwt_secret`, "s".repeat(64) + "\n", { mode: 0o600 });
      Deno.chmodSync(`${dataDir}/jwt_secret`, 0o644);
      const out = await cli(dataDir, "serve");
      assert.equal(out.code, 1, out.stderr);
      assert.equal(out.stderr.split("\n").length, 1, out.stderr);
      assert.match(out.stderr, /jwt_secret is readable or writable by other users \(mode 644\)/);
      assert.match(out.stderr, /chmod 600/);
      assert.doesNotMatch(out.stderr, /ssssssss/);
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
