/**
 * The API against its own database: live servers (`deno run -A cli.ts serve` and the bare ones) on a
 * fresh PostgreSQL database, loaded by wrk, beside pgbench running the statements the API's own
 * query functions send. What is measured is declared in bench/scenarios.ts.
 *
 * @module
 */
import type { Database, Queryable, QueryOptions } from "../src/db/database.ts";
import { openPostgres } from "../src/db/postgres.ts";
import {
  type HttpLoad,
  type LoadResult,
  pgbenchScript,
  type Protocol,
  runPgbench,
  runWrk,
  type Statement,
} from "./load_gen.ts";
import { databaseUrl, pgEnv, POSTGRES_AUX, psql } from "./pg.ts";
import { type CpuRole, type CpuSplit, meanSplit, registerUndo, sleep } from "./proc.ts";
import { measureRounds } from "./rounds.ts";
import { median, type Ratio, ratio, type RatioFigure } from "./stats.ts";

/** What a scenario can refer to once the stage is set. */
export interface ApiContext {
  /** The seeded users by name (see {@linkcode ApiPlan.users}). */
  users: Record<string, { id: number; token: string }>;
  /**
   * The statements `fn` sends through the query functions of src/db, as a pgbench script. They
   * run for real on the bench's database, so a script is exactly what the API sends.
   */
  sqlOf(fn: (q: Queryable) => Promise<unknown>): Promise<string>;
}

/** A server the scenarios load: `deno run -A <args>`, with DATABASE_URL, JWT_SECRET, HOST, PORT. */
export interface ServerSpec {
  args: string[];
  /** More environment (it may use the seeded users). */
  env?: (c: ApiContext) => Record<string, string>;
  /** Where it runs (another worktree, to compare with an earlier commit); default here. */
  cwd?: string;
}

/** An HTTP load on one of the servers; `user` sends that user's bearer token. */
export interface HttpTarget {
  server: string;
  path: string;
  user?: string;
  method?: "GET" | "POST";
  /** JSON text. */
  body?: string;
  timeoutSec?: number;
}

/** One line of the API table: wrk on a server, or pgbench on a script. */
export type ApiScenario =
  & {
    id: string;
    label: string;
    /** Half the duration (at least 3 s), for figures that are not a headline. */
    secondary?: boolean;
  }
  & (
    | { http: HttpTarget }
    | { pgbench: { protocol: Protocol; script(c: ApiContext): Promise<string> } }
  );

/** Everything the API section measures. */
export interface ApiPlan {
  /** Started once per run, on fresh ports; `api` first: the users are registered through it. */
  servers: Record<string, ServerSpec>;
  /** Registered and logged in through the API, each given this many tasks. */
  users: Record<string, { tasks: number }>;
  scenarios: ApiScenario[];
  /** Ratios of medians between scenarios. */
  ratios: Ratio[];
}

/** Options for {@linkcode apiBench}. */
export interface ApiBenchOptions {
  db: string;
  outDir: string;
  reps: number;
  durationSec: number;
  /** Scenario ids to run; all when undefined. */
  only?: string[];
  log(msg: string): void;
}

/** A scenario's figures over its rounds: medians, and the mean CPU split. */
export interface ScenarioFigures {
  id: string;
  label: string;
  runs: (LoadResult & { rep: number })[];
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  cpu: CpuSplit | undefined;
}

/** What {@linkcode apiBench} measured. */
export interface ApiFigures {
  scenarios: ScenarioFigures[];
  ratios: RatioFigure[];
  notes: string[];
}

/** The password of every seeded user. */
export const PASSWORD = "bench-password-123";
/** A seeded user's login name. */
export const usernameOf = (user: string) => `bench${user}`;
/** The connections wrk opens and the clients pgbench runs. */
export const WRK_CONNECTIONS = 32;
export const PGBENCH_CLIENTS = 16;

/** A server process started for the bench. */
interface Server {
  pid: number;
  base: string;
  stop(): Promise<void>;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Starts `deno run -A <args>` through `sh -c 'exec ...'`, so that the PID is Deno's own and its
 * output goes to a log file without passing through this process; waits until `/health` answers.
 */
async function startServer(
  name: string,
  spec: ServerSpec,
  env: Record<string, string>,
  outDir: string,
): Promise<Server> {
  const port = freePort();
  const logPath = `${Deno.cwd()}/${outDir}/${name}.log`;
  const quoted = ["-A", ...spec.args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const child = new Deno.Command("sh", {
    args: ["-c", `exec deno run ${quoted} >>'${logPath}' 2>&1`],
    env: { ...env, HOST: "127.0.0.1", PORT: String(port), NO_COLOR: "1" },
    cwd: spec.cwd,
    stdin: "null",
  }).spawn();
  let exited = false;
  child.status.then(() => exited = true);
  const stop = async () => {
    undo.release();
    if (exited) return;
    const kill = (signal: Deno.Signal) => {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    };
    kill("SIGTERM");
    const timer = setTimeout(() => kill("SIGKILL"), 15_000);
    await child.status;
    clearTimeout(timer);
  };
  const undo = registerUndo(stop);
  const base = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(200)) {
    if (exited) {
      const tail = (await Deno.readTextFile(logPath).catch(() => "")).slice(-2000);
      throw new Error(`${name} exited at start; its log ends:\n${tail}`);
    }
    const ok = await fetch(`${base}/health`).then(
      async (r) => (await r.body?.cancel(), r.ok),
      () => false,
    );
    if (ok) return { pid: child.pid, base, stop };
  }
  await stop();
  throw new Error(`${name} did not answer /health within 60 s`);
}

async function postJson(
  url: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: r.status, json: await r.json().catch(() => ({})) };
}

/**
 * The servers, the seeded users and the statement recorder of one API section; disposing it
 * stops the servers.
 */
export class ApiStage implements AsyncDisposable {
  readonly servers = new Map<string, Server>();
  readonly ctx: ApiContext;
  #db?: Database;
  #seededMaxId = 0;

  private constructor(readonly db: string, readonly outDir: string) {
    this.ctx = { users: {}, sqlOf: (fn) => this.#sqlOf(fn) };
  }

  /** Starts `serverNames` of `plan.servers` (`api` first), registers and seeds the users. */
  static async open(
    db: string,
    outDir: string,
    plan: Pick<ApiPlan, "servers" | "users">,
    serverNames: string[],
  ) {
    const stage = new ApiStage(db, outDir);
    try {
      const secret = Array.from(
        crypto.getRandomValues(new Uint8Array(32)),
        (b) => b.toString(16).padStart(2, "0"),
      ).join("");
      const env = { DATABASE_URL: databaseUrl(db), JWT_SECRET: secret };
      await stage.#start("api", plan.servers.api, env);
      await stage.#seed(plan.users);
      for (const name of serverNames.filter((n) => n !== "api")) {
        await stage.#start(name, plan.servers[name], env);
      }
      return stage;
    } catch (err) {
      await stage[Symbol.asyncDispose]();
      throw err;
    }
  }

  async #start(name: string, spec: ServerSpec | undefined, env: Record<string, string>) {
    if (!spec) throw new Error(`no server "${name}" in the plan's servers`);
    this.servers.set(
      name,
      await startServer(name, spec, { ...env, ...spec.env?.(this.ctx) }, this.outDir),
    );
  }

  async #seed(users: ApiPlan["users"]) {
    const base = this.servers.get("api")!.base;
    for (const [name, { tasks }] of Object.entries(users)) {
      const creds = { username: usernameOf(name), password: PASSWORD };
      const reg = await postJson(`${base}/register`, creds);
      const login = await postJson(`${base}/login`, creds);
      if (reg.status !== 201 || typeof login.json.access_token !== "string") {
        throw new Error(
          `seeding ${creds.username}: /register ${reg.status}, /login ${login.status} ${
            JSON.stringify(login.json)
          }`,
        );
      }
      const id = Number(
        (await psql(this.db, `SELECT id FROM users WHERE username = '${creds.username}'`)).trim(),
      );
      this.ctx.users[name] = { id, token: login.json.access_token };
      await psql(
        this.db,
        `INSERT INTO tasks (user_id, title, description, status) SELECT ${id}, 'Task ' || g,
         'Description of task ' || g, (ARRAY['pending','in_progress','completed'])[1 + g % 3]
         FROM generate_series(1, ${tasks}) g`,
      );
    }
    await psql(this.db, "VACUUM ANALYZE");
    this.#seededMaxId = Number(
      (await psql(this.db, "SELECT coalesce(max(id), 0) FROM tasks")).trim(),
    );
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

  /** The wrk load of `t` for `durationSec`. */
  httpLoad(t: HttpTarget, durationSec: number): HttpLoad {
    const headers: Record<string, string> = {};
    if (t.user) headers.Authorization = `Bearer ${this.ctx.users[t.user].token}`;
    if (t.body !== undefined) headers["Content-Type"] = "application/json";
    const base = this.servers.get(t.server)!.base;
    return { ...t, url: base + t.path, headers, connections: WRK_CONNECTIONS, durationSec };
  }

  /** The CPU roles of a load: each server, this database's PostgreSQL, the others', this script. */
  roles(): CpuRole[] {
    return [
      ...[...this.servers].map(([name, s]) => ({ name, rootPids: [s.pid] })),
      // This database's backends and the shared background processes; other databases' backends
      // (someone else's tests on a shared machine) count as "postgres (other dbs)".
      { name: "postgres", comm: "postgres", cmdline: [` ${this.db} `, ...POSTGRES_AUX] },
      { name: "postgres (other dbs)", comm: "postgres" },
      { name: "harness", rootPids: [Deno.pid] },
    ];
  }

  /** Deletes the tasks a run added, so that every run sees the seeded data and nothing else. */
  async restore(): Promise<void> {
    const deleted = await psql(
      this.db,
      `WITH d AS (DELETE FROM tasks WHERE id > ${this.#seededMaxId} RETURNING 1) SELECT count(*) FROM d`,
    );
    if (Number(deleted.trim()) > 0) await psql(this.db, "VACUUM ANALYZE tasks");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#db?.close();
    for (const s of this.servers.values()) await s.stop();
  }
}

/** A note when a user's first page is not what the seed says it should be. */
async function checkPages(stage: ApiStage, users: ApiPlan["users"]): Promise<string[]> {
  const notes: string[] = [];
  for (const [name, { tasks }] of Object.entries(users)) {
    const r = await fetch(`${stage.servers.get("api")!.base}/tasks?page=1&per_page=10`, {
      headers: { Authorization: `Bearer ${stage.ctx.users[name].token}` },
    });
    const body = await r.json();
    const total = r.headers.get("X-Total-Count");
    const items = Array.isArray(body) ? body.length : -1;
    if (r.status !== 200 || items !== Math.min(10, tasks) || total !== String(tasks)) {
      notes.push(
        `check of ${
          usernameOf(name)
        }'s first page: status ${r.status}, ${items} items, X-Total-Count ${total} (expected 200, ${
          Math.min(10, tasks)
        }, ${tasks})`,
      );
    }
  }
  return notes;
}

/**
 * Runs the API section: every scenario once per round, the order rotating by three each round.
 *
 * @example
 * ```ts
 * const figures = await apiBench({ db, outDir, reps: 3, durationSec: 10, log }, API_PLAN);
 * ```
 */
export async function apiBench(o: ApiBenchOptions, plan: ApiPlan): Promise<ApiFigures> {
  const chosen = plan.scenarios.filter((s) => !o.only || o.only.includes(s.id));
  const serverNames = [...new Set(chosen.flatMap((s) => "http" in s ? [s.http.server] : []))];
  o.log(
    `  starting ${["api", ...serverNames.filter((n) => n !== "api")].join(", ")}; seeding ${
      Object.keys(plan.users).join(", ")
    }`,
  );
  await using stage = await ApiStage.open(o.db, o.outDir, plan, serverNames);
  const notes = await checkPages(stage, plan.users);
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
        clients: PGBENCH_CLIENTS,
        durationSec,
      };
      return runPgbench(load, stage.roles(), o.outDir, pgEnv());
    },
    describe: (r) =>
      `${Math.round(r.rps).toLocaleString().padStart(7)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${
        r.p99.toFixed(2)
      } ms` +
      (r.errors ? `  errors ${r.errors}` : ""),
    log: o.log,
    notes,
  });
  const scenarios = chosen.map((s): ScenarioFigures => {
    const rs = runs.get(s.id)!;
    const errors = rs.reduce((a, r) => a + r.errors, 0);
    if (errors > 0) {
      notes.push(
        `${s.id}: ${errors} errors or non-2xx answers in ${
          rs.reduce((a, r) => a + r.requests, 0)
        } requests`,
      );
    }
    const med = (f: (r: LoadResult) => number) => median(rs.map(f));
    return {
      id: s.id,
      label: s.label,
      runs: rs,
      rps: med((r) => r.rps),
      p50: med((r) => r.p50),
      p99: med((r) => r.p99),
      errors,
      cpu: meanSplit(rs.map((r) => r.cpu)),
    };
  });
  const rps = (id: string) => scenarios.find((s) => s.id === id)?.rps ?? NaN;
  return {
    scenarios,
    ratios: plan.ratios.map((x) => ({ ...x, value: ratio(rps(x.of), rps(x.to)) })),
    notes,
  };
}
