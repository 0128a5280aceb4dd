/**
 * The API against its own database: live servers (`deno run -A cli.ts serve` and the bare ones) on a
 * fresh PostgreSQL database, loaded by wrk, beside pgbench running the statements the API's own
 * query functions send. What is measured is declared in bench/scenarios.ts.
 *
 * @module
 */
import type { Database, Queryable, QueryOptions } from "../src/db/database.ts";
import { openPostgres } from "../src/db/postgres.ts";
import { findPgBouncer, type PgBouncer, startPgBouncer } from "../tests/pgbouncer.ts";
import {
  type HttpLoad,
  type LoadResult,
  pgbenchScript,
  type Protocol,
  runPgbench,
  runWrk,
  type Statement,
} from "./load_gen.ts";
import { databaseUrl, pgEnv, postgresRoles, psql } from "./pg.ts";
import { type CpuRole, meanSplit, registerUndo, sleep } from "./proc.ts";
import { measureRounds } from "./rounds.ts";
import { median, type Ratio, ratio } from "./stats.ts";

/**
 * What a scenario can refer to once the stage is set: the seeded users, and `sqlOf(fn)`, the
 * statements `fn` sends through the query functions of src/db as a pgbench script (they run for
 * real on the bench's database, so a script is exactly what the API sends).
 */
export interface ApiContext {
  users: Record<string, { id: number; token: string }>;
  sqlOf(fn: (q: Queryable) => Promise<unknown>): Promise<string>;
}

/**
 * A server the scenarios load: `deno run -A <args>` with DATABASE_URL, JWT_SECRET, HOST, PORT and
 * `env`, in `cwd` (another worktree, to compare with an earlier commit; default here); `pooler`:
 * through a PgBouncer in transaction mode started for the run, with `DATABASE_POOLER=transaction`.
 */
export interface ServerSpec {
  args: string[];
  env?: (c: ApiContext) => Record<string, string>;
  cwd?: string;
  pooler?: boolean;
}

/** An HTTP load on one of the servers; `user` sends that user's bearer token; `body` is JSON. */
export type HttpTarget = Pick<HttpLoad, "method" | "body" | "timeoutSec"> & {
  server: string;
  path: string;
  user?: string;
};

/** One line of the API table: wrk on a server, or pgbench on a script; `secondary`: half as long. */
export type ApiScenario =
  & { id: string; label: string; secondary?: boolean }
  & (
    | { http: HttpTarget }
    | { pgbench: { protocol: Protocol; script(c: ApiContext): string | Promise<string> } }
  );

/**
 * Everything the API section measures: servers (`api` first: the users are registered through
 * it), users (each given this many tasks), scenarios and ratios of medians.
 */
export interface ApiPlan {
  servers: Record<string, ServerSpec>;
  users: Record<string, { tasks: number }>;
  scenarios: ApiScenario[];
  ratios: Ratio[];
}

/** Options for {@linkcode apiBench}; `only`: the scenario ids to run (all when undefined). */
export interface ApiBenchOptions {
  db: string;
  outDir: string;
  reps: number;
  durationSec: number;
  only?: string[];
  log(msg: string): void;
}

/** What {@linkcode apiBench} measured: each scenario's rounds, medians and mean CPU split. */
export type ApiFigures = Awaited<ReturnType<typeof apiBench>>;
export type ScenarioFigures = ReturnType<typeof scenarioFigures>;

/** The password of every seeded user. */
export const PASSWORD = "bench-password-123";
/** A seeded user's login name. */
export const usernameOf = (user: string) => `bench${user}`;
/** The API's pool size (src/db/postgres.ts), and so the pooler's server connections. */
const API_POOL = 10;

type Server = { pid: number; base: string; stop(): Promise<void> };

/**
 * Starts `deno run -A <args>` on a free port through `sh -c 'exec ...'`, so that the PID is
 * Deno's own and its output goes to a log file, not through this process; waits for `/health`.
 */
async function startServer(
  name: string,
  spec: ServerSpec,
  env: Record<string, string>,
  outDir: string,
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const log = `${Deno.cwd()}/${outDir}/${name}.log`;
  const quoted = ["-A", ...spec.args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const child = new Deno.Command("sh", {
    args: ["-c", `exec deno run ${quoted} >>'${log}' 2>&1`],
    env: { ...env, HOST: "127.0.0.1", PORT: String(port), NO_COLOR: "1" },
    cwd: spec.cwd,
    stdin: "null",
  }).spawn();
  let exited = false;
  child.status.then(() => exited = true);
  const kill = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch { /* already gone */ }
  };
  const stop = async () => {
    undo.release();
    kill("SIGTERM");
    const timer = setTimeout(() => kill("SIGKILL"), 15_000);
    await child.status;
    clearTimeout(timer);
  };
  const undo = registerUndo(stop);
  const base = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 60_000; Date.now() < deadline && !exited; await sleep(200)) {
    const up = await fetch(`${base}/health`).then((r) => (r.body?.cancel(), r.ok), () => false);
    if (up) return { pid: child.pid, base, stop };
  }
  await stop();
  const tail = (await Deno.readTextFile(log).catch(() => "")).slice(-2000);
  const why = exited ? "exited at start" : "did not answer /health within 60 s";
  throw new Error(`${name} ${why}; its log ends:\n${tail}`);
}

/**
 * The servers, the seeded users and the statement recorder of one API section; disposing it
 * stops the servers.
 */
export class ApiStage implements AsyncDisposable {
  readonly servers = new Map<string, Server>();
  readonly ctx: ApiContext = { users: {}, sqlOf: (fn) => this.#sqlOf(fn) };
  /** What the checks of the seeded users' first pages found wrong. */
  readonly notes: string[] = [];
  #db?: Database;
  #bouncer?: PgBouncer;
  #seededMaxId = 0;

  private constructor(readonly db: string) {}

  /** Starts `names` of `plan.servers` (`api` first), registers and seeds the users. */
  static async open(
    db: string,
    outDir: string,
    plan: Pick<ApiPlan, "servers" | "users">,
    names: string[],
  ) {
    const stage = new ApiStage(db);
    try {
      const env = {
        DATABASE_URL: databaseUrl(db),
        JWT_SECRET: crypto.randomUUID() + crypto.randomUUID(),
      };
      for (const name of new Set(["api", ...names])) {
        const spec = plan.servers[name];
        if (!spec) throw new Error(`no server "${name}" in the plan's servers`);
        const serverEnv = { ...await stage.#via(spec, env), ...spec.env?.(stage.ctx) };
        stage.servers.set(name, await startServer(name, spec, serverEnv, outDir));
        if (name === "api") await stage.#seed(plan.users);
      }
      return stage;
    } catch (err) {
      await stage[Symbol.asyncDispose]();
      throw err;
    }
  }

  /** `env` as a server reaches the database: directly, or through the run's PgBouncer. */
  async #via(spec: ServerSpec, env: Record<string, string>): Promise<Record<string, string>> {
    if (!spec.pooler) return env;
    this.#bouncer ??= await startPgBouncer({ target: env.DATABASE_URL, poolSize: API_POOL });
    return {
      ...env,
      DATABASE_URL: this.#bouncer.through(env.DATABASE_URL),
      DATABASE_POOLER: "transaction",
    };
  }

  /** Registers and logs in each user through the API, gives it its tasks, checks its first page. */
  async #seed(users: ApiPlan["users"]) {
    const base = this.servers.get("api")!.base;
    const post = (path: string, body: unknown) =>
      fetch(base + path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    for (const [name, { tasks }] of Object.entries(users)) {
      const creds = { username: usernameOf(name), password: PASSWORD };
      const reg = await post("/register", creds).then((r) =>
        r.text().then((t) => `${r.status} ${t}`)
      );
      const token = (await post("/login", creds).then((r) => r.json())).access_token;
      if (typeof token !== "string") {
        throw new Error(`seeding ${creds.username}: /register answered ${reg}`);
      }
      const id = Number(
        await psql(this.db, `SELECT id FROM users WHERE username = '${creds.username}'`),
      );
      this.ctx.users[name] = { id, token };
      await psql(
        this.db,
        `INSERT INTO tasks (user_id, title, description, status) SELECT ${id}, 'Task ' || g,
         'Description of task ' || g, (ARRAY['pending','in_progress','completed'])[1 + g % 3]
         FROM generate_series(1, ${tasks}) g`,
      );
      const page = await fetch(`${base}/tasks?page=1&per_page=10`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      const got = `${page.status}, ${(await page.json()).length} items, X-Total-Count ${
        page.headers.get("X-Total-Count")
      }`;
      const want = `200, ${Math.min(10, tasks)} items, X-Total-Count ${tasks}`;
      if (got !== want) {
        this.notes.push(`${creds.username}'s first page: ${got} (expected ${want})`);
      }
    }
    await psql(this.db, "VACUUM ANALYZE");
    this.#seededMaxId = Number(await psql(this.db, "SELECT coalesce(max(id), 0) FROM tasks"));
  }

  async #sqlOf(fn: (q: Queryable) => Promise<unknown>): Promise<string> {
    const db = this.#db ??= await openPostgres({ url: databaseUrl(this.db), max: 1 });
    const seen: Statement[] = [];
    await fn({
      query<T>(sql: string, params: unknown[] = [], options?: QueryOptions) {
        seen.push({ sql, params });
        return db.query<T>(sql, params, options);
      },
      exec: (sql) => db.exec(sql),
    });
    return pgbenchScript(seen);
  }

  /** The wrk load of `t` for `durationSec`, at 32 connections. */
  httpLoad(t: HttpTarget, durationSec: number): HttpLoad {
    const headers: Record<string, string> = {};
    if (t.user) headers.Authorization = `Bearer ${this.ctx.users[t.user].token}`;
    if (t.body !== undefined) headers["Content-Type"] = "application/json";
    return {
      ...t,
      url: this.servers.get(t.server)!.base + t.path,
      headers,
      connections: 32,
      durationSec,
    };
  }

  /** The CPU roles of a load: each server, this database's PostgreSQL, the others', this script. */
  roles(): CpuRole[] {
    return [
      ...[...this.servers].map(([name, s]) => ({ name, rootPids: [s.pid] })),
      ...(this.#bouncer ? [{ name: "pgbouncer", rootPids: [this.#bouncer.pid] }] : []),
      ...postgresRoles(this.db),
      { name: "harness", rootPids: [Deno.pid] },
    ];
  }

  /**
   * Deletes the tasks a run added, so that every run sees the seeded data and nothing else. The
   * whole database is vacuumed after: the delete moved the totals triggers once per row, tens of
   * thousands of versions of one `task_totals` row in one transaction, which the next run's
   * inserts and pages would read through (autovacuum is off on the machines this runs on; with it
   * on, it would clear them within its next minute).
   */
  async restore(): Promise<void> {
    const sql =
      `WITH d AS (DELETE FROM tasks WHERE id > ${this.#seededMaxId} RETURNING 1) SELECT count(*) FROM d`;
    if (Number(await psql(this.db, sql)) > 0) await psql(this.db, "VACUUM ANALYZE");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#db?.close();
    for (const s of this.servers.values()) await s.stop();
    await this.#bouncer?.stop();
  }
}

/** The scenarios `o.only` names (all by default), less those that need a PgBouncer when none is here. */
async function choose(o: ApiBenchOptions, plan: ApiPlan, skipped: string[]) {
  const unknown = o.only?.filter((id) => !plan.scenarios.some((s) => s.id === id)) ?? [];
  if (unknown.length) throw new Error(`no API scenario "${unknown.join('", "')}" (see --help)`);
  const noBouncer = await findPgBouncer() ? undefined : "no pgbouncer (apt-get install pgbouncer)";
  return plan.scenarios.filter((s) => {
    if (o.only && !o.only.includes(s.id)) return false;
    if (noBouncer && "http" in s && plan.servers[s.http.server]?.pooler) {
      skipped.push(`${s.id} skipped: ${noBouncer}`);
      return false;
    }
    return true;
  });
}

/** A load's figures in a log line. */
export const describeLoad = (r: LoadResult) =>
  `${Math.round(r.rps).toLocaleString().padStart(7)} req/s  p50 ${r.p50.toFixed(2)} ms  ` +
  `p99 ${r.p99.toFixed(2)} ms${r.errors ? `  errors ${r.errors}` : ""}`;

/** A scenario's figures over its rounds `rs`: medians, errors (noted) and the mean CPU split. */
export function scenarioFigures(
  id: string,
  label: string,
  rs: (LoadResult & { rep: number })[],
  notes: string[],
) {
  const sum = (f: (r: LoadResult) => number) => rs.reduce((a, r) => a + f(r), 0);
  const med = (f: (r: LoadResult) => number) => median(rs.map(f));
  const errors = sum((r) => r.errors);
  if (errors) {
    notes.push(`${id}: ${errors} errors or non-2xx answers in ${sum((r) => r.requests)} requests`);
  }
  const [rps, p50, p99] = [med((r) => r.rps), med((r) => r.p50), med((r) => r.p99)];
  return { id, label, runs: rs, rps, p50, p99, errors, cpu: meanSplit(rs.map((r) => r.cpu)) };
}

/**
 * Runs the API section: every scenario once per round, the order rotating by three each round;
 * pgbench with 16 clients.
 *
 * @example
 * ```ts
 * const figures = await apiBench({ db, outDir, reps: 3, durationSec: 10, log }, API_PLAN);
 * ```
 */
export async function apiBench(o: ApiBenchOptions, plan: ApiPlan) {
  const skipped: string[] = [];
  const chosen = await choose(o, plan, skipped);
  const names = [...new Set(["api", ...chosen.flatMap((s) => "http" in s ? [s.http.server] : [])])];
  o.log(`  starting ${names.join(", ")}; seeding ${Object.keys(plan.users).join(", ")}`);
  await using stage = await ApiStage.open(o.db, o.outDir, plan, names);
  stage.notes.push(...skipped);
  const scripts = new Map<string, string>();
  for (const s of chosen) if ("pgbench" in s) scripts.set(s.id, await s.pgbench.script(stage.ctx));
  await stage.restore();
  const byId = new Map(chosen.map((s) => [s.id, s]));
  const runs = await measureRounds<LoadResult>({
    ids: chosen.map((s) => s.id),
    reps: o.reps,
    step: 3,
    before: () => psql(o.db, "CHECKPOINT").then(() => {}),
    after: () => stage.restore(),
    run(id) {
      const s = byId.get(id)!;
      const durationSec = s.secondary ? Math.max(3, Math.round(o.durationSec / 2)) : o.durationSec;
      if ("http" in s) return runWrk(stage.httpLoad(s.http, durationSec), stage.roles(), o.outDir);
      const load = {
        db: o.db,
        script: scripts.get(id)!,
        protocol: s.pgbench.protocol,
        clients: 16,
        durationSec,
      };
      return runPgbench(load, stage.roles(), o.outDir, pgEnv());
    },
    describe: describeLoad,
    log: o.log,
    notes: stage.notes,
  });
  const scenarios = chosen.map((s) => scenarioFigures(s.id, s.label, runs.get(s.id)!, stage.notes));
  const rps = (id: string) => scenarios.find((s) => s.id === id)?.rps ?? NaN;
  const ratios = plan.ratios.map((x) => ({ ...x, value: ratio(rps(x.of), rps(x.to)) }));
  return { scenarios, ratios, notes: stage.notes };
}
