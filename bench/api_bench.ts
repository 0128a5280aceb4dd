/**
 * The API against its own database: a live server (`deno run -A main.ts`) on a fresh PostgreSQL
 * database, loaded by wrk with 32 connections, beside pgbench running the same SQL with 16 clients
 * (the database's ceiling) and a bare Deno.serve + Hono route (the framework's ceiling). Every
 * scenario runs once per round, the order rotating each round; figures are medians.
 */
import {
  API_PROTOCOL,
  getTasksScript,
  getTasksSplitScript,
  POST_BODY,
  postTaskScript,
  type Protocol,
} from "./api_sql.ts";
import { type LoadResult, runWrk } from "./load_gen.ts";
import { databaseUrl, pgEnv, POSTGRES_AUX, psql } from "./pg.ts";
import { CpuSampler, type CpuSplit, foreignCores, meanSplit, sleep, waitForQuiet } from "./proc.ts";
import { median, percentileSorted } from "./stats.ts";

export interface ApiBenchOptions {
  db: string;
  outDir: string;
  reps: number;
  durationSec: number;
  loginDurationSec: number;
  connections: number;
  pgbenchClients: number;
  tasks: number;
  /** Which scenarios to run (ids of {@linkcode SCENARIOS}); all when undefined. */
  scenarios?: string[];
  log: (msg: string) => void;
}

/** A scenario's figures over its rounds. */
export interface ScenarioFigures {
  id: string;
  label: string;
  runs: LoadResult[];
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Mean cores per role over the rounds. */
  cpu: CpuSplit | undefined;
}

export interface ApiFigures {
  apiAvailable: boolean;
  unavailableReason?: string;
  scenarios: ScenarioFigures[];
  protocol: Protocol;
  notes: string[];
  /** What one request costs the database, counted from its statistics (see dbWorkPerRequest). */
  dbWork?: string;
}

/** The scenarios, in their first-round order. */
export const SCENARIOS: readonly Scenario[] = [
  { id: "api_get", label: "API `GET /tasks?page=1&per_page=10` (1,000 tasks)", needsApi: true },
  { id: "pgbench_get_extended", label: "pgbench, same SQL, extended" },
  { id: "pgbench_get_simple", label: "pgbench, same SQL, simple protocol" },
  { id: "pgbench_get_prepared", label: "pgbench, same SQL, prepared" },
  {
    id: "pgbench_get_split_extended",
    label: "pgbench, page + separate `count(*)`, two statements (not the API's SQL), extended",
    secondary: true,
  },
  {
    id: "bare_pg_get",
    label: "bare Deno.serve + node-postgres, same SQL (no framework, no auth)",
  },
  { id: "bare_get", label: "bare Deno.serve + Hono route (no auth, no DB)" },
  { id: "api_post", label: "API `POST /tasks`", needsApi: true },
  { id: "pgbench_post_extended", label: "pgbench, same INSERT, extended" },
  { id: "pgbench_post_simple", label: "pgbench, same INSERT, simple protocol" },
  { id: "pgbench_post_prepared", label: "pgbench, same INSERT, prepared" },
  { id: "api_login", label: "API `POST /login` (argon2id-bound)", needsApi: true, secondary: true },
];

/**
 * One load scenario. pgbench runs in the API's protocol for the full duration and in the other
 * two for half of it; `secondary` scenarios run for half the duration too.
 */
export interface Scenario {
  id: string;
  label: string;
  needsApi?: boolean;
  secondary?: boolean;
}

/**
 * The page statement of a pgbench script in node-postgres' form (`$1` for `:uid`, `$2` for `:lim`,
 * `$3` for `:off`), for the bare node-postgres server: one source for both.
 */
export function pageSql(script: string): string {
  const stmt = script.split("\n").find((l) => /^\s*SELECT/i.test(l)) ?? "";
  return stmt.replace(/;\s*$/, "").replaceAll(":uid", "$1").replaceAll(":lim", "$2")
    .replaceAll(":off", "$3");
}

/** A free TCP port on 127.0.0.1. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A server process started for the benchmark. */
export interface Server {
  pid: number;
  base: string;
  stop(): Promise<void>;
}

/**
 * Starts `deno run -A <args>` through `sh -c 'exec ...'`, so that the PID is Deno's own and its
 * output goes to a log file without passing through this process; waits until `/health` answers.
 */
export async function startServer(
  name: string,
  denoArgs: string[],
  env: Record<string, string>,
  outDir: string,
): Promise<Server> {
  const port = freePort();
  const logPath = `${outDir}/${name}.log`;
  const quoted = denoArgs.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const child = new Deno.Command("sh", {
    args: ["-c", `exec deno run ${quoted} >>'${logPath}' 2>&1`],
    env: { ...env, HOST: "127.0.0.1", PORT: String(port), NO_COLOR: "1" },
    stdin: "null",
  }).spawn();
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  let exited = false;
  child.status.then(() => exited = true);
  while (true) {
    if (exited) {
      const tail = (await Deno.readTextFile(logPath).catch(() => "")).slice(-2000);
      throw new Error(`${name} exited at start; its log ends:\n${tail}`);
    }
    try {
      const r = await fetch(`${base}/health`);
      await r.body?.cancel();
      if (r.status === 200) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`${name} did not answer /health within 60 s`);
    await sleep(200);
  }
  const server: Server = {
    pid: child.pid,
    base,
    async stop() {
      live.delete(server);
      if (exited) return;
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 15_000);
      await child.status;
      clearTimeout(timer);
    },
  };
  live.add(server);
  return server;
}

const live = new Set<Server>();

/** Stops every server still running (on SIGINT, so that none outlives the benchmark). */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...live].map((s) => s.stop()));
}

async function postJson(
  url: string,
  body: unknown,
  token?: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: r.status, json };
}

/** Registers and logs in a user; returns its id and access token. */
async function userWithToken(
  base: string,
  db: string,
  username: string,
  password: string,
): Promise<{ id: number; token: string }> {
  const reg = await postJson(`${base}/register`, { username, password });
  if (reg.status !== 201) {
    throw new Error(`POST /register answered ${reg.status}: ${JSON.stringify(reg.json)}`);
  }
  const login = await postJson(`${base}/login`, { username, password });
  const token = login.json.access_token;
  if (login.status !== 200 || typeof token !== "string") {
    throw new Error(`POST /login answered ${login.status}: ${JSON.stringify(login.json)}`);
  }
  const id = Number(
    (await psql(db, `SELECT id FROM users WHERE lower(username) = lower('${username}')`)).trim(),
  );
  return { id, token };
}

/**
 * Counts what one `GET /tasks` and one `POST /tasks` cost the database, from pg_stat_database and
 * pg_stat_user_tables around 200 sequential requests of each, to check that the pgbench scripts
 * run the same statements. Idle backends flush their statistics within 10 s, hence the wait.
 */
async function dbWorkPerRequest(
  db: string,
  base: string,
  getUrl: string,
  getToken: string,
  postToken: string,
): Promise<string> {
  const snap = async () => {
    const row = (await psql(
      db,
      `SELECT d.xact_commit + d.xact_rollback, t.idx_scan, t.seq_scan, t.n_tup_ins, ` +
        `u.idx_scan + u.seq_scan, t.idx_tup_fetch ` +
        `FROM pg_stat_database d, pg_stat_user_tables t, pg_stat_user_tables u ` +
        `WHERE d.datname = current_database() AND t.relname = 'tasks' AND u.relname = 'users'`,
    )).trim().split("|").map(Number);
    return row;
  };
  const n = 200;
  const before = await snap();
  for (let i = 0; i < n; i++) {
    const r = await fetch(base + getUrl, { headers: { Authorization: `Bearer ${getToken}` } });
    await r.body?.cancel();
  }
  for (let i = 0; i < n; i++) {
    const r = await fetch(base + "/tasks", {
      method: "POST",
      headers: { Authorization: `Bearer ${postToken}`, "Content-Type": "application/json" },
      body: JSON.stringify(POST_BODY),
    });
    await r.body?.cancel();
  }
  await sleep(11_000);
  const after = await snap();
  const d = after.map((v, i) => (v - before[i]) / (2 * n));
  return `per request, mean of ${n} GET + ${n} POST: ${d[0].toFixed(2)} transactions, ` +
    `${d[1].toFixed(2)} index scans and ${d[2].toFixed(2)} seq scans of tasks, ${
      d[4].toFixed(2)
    } ` +
    `scans of users, ${d[3].toFixed(2)} rows inserted (the pgbench scripts run one statement per ` +
    `request, so 1.00 transactions; the INSERT's foreign-key check is the scan of users)`;
}

/**
 * pgbench takes every `:name` in a statement for a variable, even inside a string literal (a
 * `to_char` format such as `'HH24:MI:SS'`), and has no escape for it. Inside literals, a colon
 * becomes `' || chr(58) || '`: the same text, folded into a constant when the statement is planned.
 */
export function protectColons(script: string): string {
  return script.split("\n").map((line) => {
    if (/^\s*\\/.test(line)) return line; // a meta-command such as \set
    let out = "";
    let quoted = false;
    for (const ch of line) {
      if (ch === "'") quoted = !quoted; // '' inside a literal toggles twice: still quoted
      out += quoted && ch === ":" ? "' || chr(58) || '" : ch;
    }
    return out;
  }).join("\n");
}

/** Runs pgbench once with a script and returns its figures with latency percentiles from its log. */
export async function runPgbench(options: {
  db: string;
  script: string;
  protocol: Protocol;
  clients: number;
  durationSec: number;
  outDir: string;
  cpuRoles: { name: string; rootPids?: number[]; comm?: string }[];
}): Promise<LoadResult> {
  const id = crypto.randomUUID().slice(0, 8);
  const scriptPath = `${options.outDir}/pgbench_${id}.sql`;
  const logDir = `${options.outDir}/pgbench_${id}`;
  await Deno.mkdir(logDir, { recursive: true });
  await Deno.writeTextFile(scriptPath, protectColons(options.script));
  const args = [
    "-n",
    "-c",
    String(options.clients),
    "-j",
    "2",
    "-T",
    String(options.durationSec),
    "-M",
    options.protocol,
    "-f",
    scriptPath,
    "-l",
    `--log-prefix=${logDir}/tx`,
    options.db,
  ];
  const child = new Deno.Command("pgbench", {
    args,
    env: pgEnv(),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const sampler = new CpuSampler([{ name: "loadgen", rootPids: [child.pid] }, ...options.cpuRoles]);
  sampler.start();
  const out = await child.output();
  const cpu = sampler.stop();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const tps = Number(text.match(/tps = ([\d.]+) \(without initial connection time\)/)?.[1]);
  const txs = Number(text.match(/number of transactions actually processed: (\d+)/)?.[1]);
  const failed = Number(text.match(/number of failed transactions: (\d+)/)?.[1] ?? 0);
  if (out.code !== 0 || !Number.isFinite(tps)) {
    throw new Error(`pgbench failed (${out.code}): ${text.slice(-2000)}`);
  }
  // Per-transaction log lines: client_id transaction_no time_us script_no epoch_s epoch_us.
  const lat: number[] = [];
  for (const e of Deno.readDirSync(logDir)) {
    const body = await Deno.readTextFile(`${logDir}/${e.name}`);
    let start = 0;
    while (start < body.length) {
      let end = body.indexOf("\n", start);
      if (end < 0) end = body.length;
      const s1 = body.indexOf(" ", start);
      const s2 = body.indexOf(" ", s1 + 1);
      const s3 = body.indexOf(" ", s2 + 1);
      if (s1 > 0 && s3 > 0 && s3 < end) lat.push(Number(body.slice(s2 + 1, s3)));
      start = end + 1;
    }
  }
  await Deno.remove(logDir, { recursive: true }).catch(() => {});
  await Deno.remove(scriptPath).catch(() => {});
  const sorted = Float64Array.from(lat).sort();
  return {
    tool: `pgbench -M ${options.protocol}`,
    requests: txs,
    seconds: options.durationSec,
    rps: tps,
    p50: percentileSorted(sorted, 50) / 1000,
    p99: percentileSorted(sorted, 99) / 1000,
    errors: failed,
    cpu,
  };
}

/** Runs the API section. */
export async function apiBench(o: ApiBenchOptions): Promise<ApiFigures> {
  const notes: string[] = [];
  const servers: Server[] = [];
  const apiAvailable = await Deno.stat("main.ts").then(() => true, () => false);
  let unavailableReason = apiAvailable ? undefined : "main.ts does not exist yet";
  const secret = Array.from(crypto.getRandomValues(new Uint8Array(32)))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  let api: Server | undefined;
  let dbWork: string | undefined;
  let getUser = { id: 0, token: "" };
  let postUser = { id: 0, token: "" };
  const loginUser = { username: "benchlogin", password: "bench-password-123" };
  try {
    const bare = await startServer("bare_server", ["-A", "bench/bare_server.ts"], {}, o.outDir);
    servers.push(bare);
    if (apiAvailable) {
      try {
        o.log("  starting the API (deno run -A main.ts) on a fresh database");
        api = await startServer("api_server", ["-A", "main.ts"], {
          DATABASE_URL: databaseUrl(o.db),
          JWT_SECRET: secret,
          LOGIN_MAX_FAILURES: "0",
          AUTH_REQUESTS_PER_MINUTE: "0",
        }, o.outDir);
        servers.push(api);
        getUser = await userWithToken(api.base, o.db, "benchget", "bench-password-123");
        postUser = await userWithToken(api.base, o.db, "benchpost", "bench-password-123");
        await userWithToken(api.base, o.db, loginUser.username, loginUser.password);
      } catch (err) {
        unavailableReason = `the API did not start or seed: ${(err as Error).message}`;
        await api?.stop();
        api = undefined;
      }
    }
    if (!api) {
      // Without the API, still measure pgbench and the bare route: apply the migrations by hand.
      o.log(`  API not measured: ${unavailableReason}`);
      for (
        const f of [...Deno.readDirSync("sql")].map((e) => e.name).filter((n) => n.endsWith(".sql"))
          .sort()
      ) {
        await psql(o.db, await Deno.readTextFile(`sql/${f}`));
      }
      await psql(
        o.db,
        "INSERT INTO users (username, password_hash) VALUES ('benchget', 'x'), ('benchpost', 'x')",
      );
      getUser.id = Number(
        (await psql(o.db, "SELECT id FROM users WHERE username = 'benchget'")).trim(),
      );
      postUser.id = Number(
        (await psql(o.db, "SELECT id FROM users WHERE username = 'benchpost'")).trim(),
      );
    }
    await psql(
      o.db,
      `INSERT INTO tasks (user_id, title, description, status)
       SELECT ${getUser.id}, 'Task ' || g, 'Description of task ' || g,
              (ARRAY['pending','in_progress','completed'])[1 + g % 3]
       FROM generate_series(1, ${o.tasks}) g`,
    );
    await psql(o.db, "VACUUM ANALYZE");
    const getUrl = `/tasks?page=1&per_page=10`;
    if (api) {
      const r = await fetch(api.base + getUrl, {
        headers: { Authorization: `Bearer ${getUser.token}` },
      });
      const body = await r.json();
      const total = r.headers.get("X-Total-Count");
      if (
        r.status !== 200 || !Array.isArray(body) || body.length !== 10 || total !== String(o.tasks)
      ) {
        notes.push(
          `check of GET ${getUrl}: status ${r.status}, ${
            Array.isArray(body) ? body.length : "no"
          } items, ` +
            `X-Total-Count ${total} (expected 200, 10, ${o.tasks})`,
        );
      }
      dbWork = await dbWorkPerRequest(o.db, api.base, getUrl, getUser.token, postUser.token);
      o.log(`  database work per request: ${dbWork}`);
    }

    const barePg = await startServer("bare_pg_server", ["-A", "bench/bare_pg_server.ts"], {
      DATABASE_URL: databaseUrl(o.db),
      BENCH_USER_ID: String(getUser.id),
      BENCH_PAGE_SQL: pageSql(getTasksScript(getUser.id)),
      BENCH_NAMED: API_PROTOCOL === "prepared" ? "1" : "",
    }, o.outDir);
    servers.push(barePg);
    const roles = [
      ...(api ? [{ name: "server", rootPids: [api.pid] }] : []),
      { name: "bare", rootPids: [bare.pid, barePg.pid] },
      // This database's backends and the shared background processes; other databases' backends
      // (someone else's tests on a shared machine) count as "postgres (other dbs)".
      { name: "postgres", comm: "postgres", cmdline: [` ${o.db} `, ...POSTGRES_AUX] },
      { name: "postgres (other dbs)", comm: "postgres" },
      { name: "harness", rootPids: [Deno.pid] },
    ];
    const wrkBase = { connections: o.connections, durationSec: o.durationSec, outDir: o.outDir };
    const secondarySec = Math.max(3, Math.round(o.durationSec / 2));
    const pgb = (
      script: string,
      protocol: Protocol,
      durationSec = protocol === API_PROTOCOL ? o.durationSec : secondarySec,
    ) =>
    () =>
      runPgbench({
        db: o.db,
        script,
        protocol,
        clients: o.pgbenchClients,
        durationSec,
        outDir: o.outDir,
        cpuRoles: roles,
      });
    const runners: Record<string, () => Promise<LoadResult>> = {
      api_get: () =>
        runWrk({
          ...wrkBase,
          url: api!.base + getUrl,
          headers: { Authorization: `Bearer ${getUser.token}` },
          cpuRoles: roles,
        }),
      pgbench_get_extended: pgb(getTasksScript(getUser.id), "extended"),
      pgbench_get_simple: pgb(getTasksScript(getUser.id), "simple"),
      pgbench_get_prepared: pgb(getTasksScript(getUser.id), "prepared"),
      pgbench_get_split_extended: pgb(getTasksSplitScript(getUser.id), "extended", secondarySec),
      bare_get: () => runWrk({ ...wrkBase, url: bare.base + "/tasks", cpuRoles: roles }),
      bare_pg_get: () => runWrk({ ...wrkBase, url: barePg.base + "/tasks", cpuRoles: roles }),
      api_post: () =>
        runWrk({
          ...wrkBase,
          url: api!.base + "/tasks",
          method: "POST",
          body: JSON.stringify(POST_BODY),
          headers: {
            Authorization: `Bearer ${postUser.token}`,
            "Content-Type": "application/json",
          },
          cpuRoles: roles,
        }),
      pgbench_post_extended: pgb(postTaskScript(postUser.id), "extended"),
      pgbench_post_simple: pgb(postTaskScript(postUser.id), "simple"),
      pgbench_post_prepared: pgb(postTaskScript(postUser.id), "prepared"),
      api_login: () =>
        runWrk({
          ...wrkBase,
          durationSec: Math.min(o.loginDurationSec, secondarySec),
          url: api!.base + "/login",
          method: "POST",
          body: JSON.stringify(loginUser),
          headers: { "Content-Type": "application/json" },
          timeoutSec: 30,
          cpuRoles: roles,
        }),
    };
    const chosen = SCENARIOS.filter((s) =>
      (api || !s.needsApi) && (!o.scenarios || o.scenarios.includes(s.id))
    );
    const results = new Map<string, LoadResult[]>(chosen.map((s) => [s.id, []]));
    const contendedRuns: string[] = [];
    for (let rep = 1; rep <= o.reps; rep++) {
      const order = chosen.map((_, i) => chosen[(i + (rep - 1) * 3) % chosen.length]);
      for (const s of order) {
        for (let attempt = 1; attempt <= 2; attempt++) {
          await psql(o.db, "CHECKPOINT");
          const quiet = await waitForQuiet(0.3, 10_000);
          if (quiet.waitedMs > 2500) {
            o.log(
              `  (waited ${(quiet.waitedMs / 1000).toFixed(0)} s for the machine to be quiet: ` +
                `${quiet.busyCores.toFixed(2)} cores busy)`,
            );
          }
          let r: LoadResult;
          try {
            r = await runners[s.id]();
          } catch (err) {
            notes.push(`${s.id} round ${rep} failed: ${(err as Error).message.slice(0, 300)}`);
            o.log(`  round ${rep} ${s.id} failed: ${(err as Error).message.slice(0, 300)}`);
            break;
          } finally {
            if (s.id.includes("post")) {
              // Keep every round's data alike: the GET user's 1,000 tasks, and nothing else.
              await psql(o.db, `DELETE FROM tasks WHERE user_id = ${postUser.id}`);
              await psql(o.db, "VACUUM ANALYZE tasks");
            }
          }
          const foreign = foreignCores(r.cpu);
          const contended = foreign > 0.4;
          o.log(
            `  round ${rep} ${s.id.padEnd(22)} ${
              Math.round(r.rps).toLocaleString().padStart(7)
            } req/s` +
              `  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms` +
              (r.errors ? `  errors ${r.errors}` : "") +
              (contended ? `  (other programs took ${foreign.toFixed(2)} cores)` : ""),
          );
          if (contended && attempt === 1) {
            o.log("    measuring it again");
            continue;
          }
          if (contended) contendedRuns.push(`${s.id} round ${rep} (${foreign.toFixed(2)} cores)`);
          results.get(s.id)!.push(r);
          break;
        }
      }
    }
    if (contendedRuns.length) {
      notes.push(
        `runs during which other programs on this shared machine took more than 0.4 cores, even ` +
          `after one retry: ${contendedRuns.join(", ")}`,
      );
    }
    const scenarios = chosen.map((s): ScenarioFigures => {
      const runs = results.get(s.id)!;
      const errors = runs.reduce((a, r) => a + r.errors, 0);
      const total = runs.reduce((a, r) => a + r.requests, 0);
      if (errors > 0) {
        notes.push(`${s.id}: ${errors} errors or non-2xx answers in ${total} requests`);
      }
      return {
        id: s.id,
        label: s.label,
        runs,
        rps: median(runs.map((r) => r.rps)),
        p50: median(runs.map((r) => r.p50)),
        p99: median(runs.map((r) => r.p99)),
        errors,
        cpu: meanSplit(runs.map((r) => r.cpu)),
      };
    });
    return {
      apiAvailable: api !== undefined,
      unavailableReason,
      scenarios,
      protocol: API_PROTOCOL,
      notes,
    };
  } finally {
    for (const s of servers) await s.stop();
  }
}
