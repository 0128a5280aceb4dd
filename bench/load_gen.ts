/**
 * The load generators: wrk for HTTP (C, one event loop per thread: it took less CPU per request
 * than autocannon on these 2 cores, see bench/findings.md), pgbench for SQL. Each run samples the
 * CPU of the generator (role `loadgen`) and of the roles given.
 *
 * @module
 */
import { type CpuRole, type CpuSplit, run, sampled } from "./proc.ts";
import { percentileSorted } from "./stats.ts";

/** One load run's figures. Latencies are in milliseconds. */
export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  /** Non-2xx/3xx answers, socket errors and timeouts; failed transactions for pgbench. */
  errors: number;
  cpu?: CpuSplit;
}

/** An HTTP load for wrk. */
export interface HttpLoad {
  url: string;
  connections: number;
  durationSec: number;
  method?: "GET" | "POST";
  body?: string;
  headers?: Record<string, string>;
  /** Request timeout in seconds (wrk's default of 2 s is too short for argon2 logins). */
  timeoutSec?: number;
}

/** Runs `cmd` while sampling the CPU of it (as `loadgen`, by its name) and of `roles`. */
function runSampled(cmd: string, args: string[], roles: CpuRole[], env?: Record<string, string>) {
  return sampled([{ name: "loadgen", comm: cmd }, ...roles], () => run(cmd, args, env));
}

/** Runs wrk once; its latency percentiles come from its own histogram (`done()` in Lua). */
export async function runWrk(
  load: HttpLoad,
  roles: CpuRole[],
  outDir: string,
): Promise<LoadResult> {
  const str = JSON.stringify; // a JSON string literal is a Lua string literal for ASCII text
  const lua = [
    `wrk.method = ${str(load.method ?? "GET")}`,
    load.body !== undefined ? `wrk.body = ${str(load.body)}` : "",
    ...Object.entries(load.headers ?? {}).map(([k, v]) => `wrk.headers[${str(k)}] = ${str(v)}`),
    `done = function(s, latency, requests)`,
    `  local e = s.errors`,
    `  io.write(string.format('WRKJSON {"requests":%d,"us":%d,"errors":%d,"p50":%d,"p99":%d}\\n',`,
    `    s.requests, s.duration, e.connect + e.read + e.write + e.status + e.timeout,`,
    `    latency:percentile(50), latency:percentile(99)))`,
    `end`,
  ].join("\n");
  const script = `${outDir}/wrk_${crypto.randomUUID()}.lua`;
  await Deno.writeTextFile(script, lua);
  const args = [
    "-t",
    "2",
    "-c",
    String(load.connections),
    "-d",
    `${load.durationSec}s`,
    "--timeout",
    `${load.timeoutSec ?? 10}s`,
    "-s",
    script,
    load.url,
  ];
  const r = await runSampled("wrk", args, roles);
  await Deno.remove(script).catch(() => {});
  const m = r.stdout.match(/WRKJSON (\{.*\})/);
  if (r.code !== 0 || !m) throw new Error(`wrk failed (${r.code}): ${r.stderr}${r.stdout}`);
  const j = JSON.parse(m[1]);
  const seconds = j.us / 1e6;
  return {
    requests: j.requests,
    seconds,
    rps: j.requests / seconds,
    p50: j.p50 / 1000,
    p99: j.p99 / 1000,
    errors: j.errors,
    cpu: r.cpu,
  };
}

/** pgbench's protocols: `prepared` is what node-postgres does for named statements. */
export type Protocol = "extended" | "simple" | "prepared";

/** A pgbench load: a script (see {@linkcode pgbenchScript}) run by `clients` for `durationSec`. */
export interface SqlLoad {
  db: string;
  script: string;
  protocol: Protocol;
  clients: number;
  durationSec: number;
}

/** One statement and its parameters, as a driver sends it (`$1`, `$2`, ...). */
export interface Statement {
  sql: string;
  params: unknown[];
}

/**
 * A pgbench script running `statements`: a number parameter becomes a pgbench variable (sent as
 * a parameter in the extended and prepared protocols, as the driver does), text a quoted literal
 * (pgbench variables are numbers only), null `NULL`.
 *
 * @example
 * ```ts
 * pgbenchScript([{ sql: "SELECT * FROM tasks WHERE user_id = $1", params: [7] }]);
 * // "\\set p1_1 7\nSELECT * FROM tasks WHERE user_id = :p1_1;\n"
 * ```
 */
export function pgbenchScript(statements: readonly Statement[]): string {
  return statements.map(({ sql, params }, s) => {
    const sets: string[] = [];
    const text = sql.replace(/\$(\d+)/g, (_, n) => {
      const v = params[Number(n) - 1];
      if (v === null || v === undefined) return "NULL";
      if (typeof v === "number") {
        const name = `p${s + 1}_${n}`;
        if (!sets.some((x) => x.startsWith(`\\set ${name} `))) sets.push(`\\set ${name} ${v}`);
        return `:${name}`;
      }
      return `'${String(v).replaceAll("'", "''")}'`;
    });
    return [...sets, text.trim().replace(/;?$/, ";")].join("\n");
  }).join("\n") + "\n";
}

/** Runs pgbench once; latency percentiles come from its per-transaction log (`-l`). */
export async function runPgbench(
  load: SqlLoad,
  roles: CpuRole[],
  outDir: string,
  env: Record<string, string>,
): Promise<LoadResult> {
  const id = crypto.randomUUID().slice(0, 8);
  const script = `${outDir}/pgbench_${id}.sql`;
  const logDir = `${outDir}/pgbench_${id}`;
  await Deno.mkdir(logDir, { recursive: true });
  await Deno.writeTextFile(script, load.script);
  const args = [
    "-n",
    "-c",
    String(load.clients),
    "-j",
    "2",
    "-T",
    String(load.durationSec),
    "-M",
    load.protocol,
    "-f",
    script,
    "-l",
    `--log-prefix=${logDir}/tx`,
    load.db,
  ];
  const r = await runSampled("pgbench", args, roles, env);
  const text = r.stdout + r.stderr;
  const tps = Number(text.match(/tps = ([\d.]+) \(without initial connection time\)/)?.[1]);
  if (r.code !== 0 || !Number.isFinite(tps)) {
    throw new Error(`pgbench failed (${r.code}): ${text.slice(-2000)}`);
  }
  // Log lines: client_id transaction_no time_us script_no epoch_s epoch_us
  const lat: number[] = [];
  for (const e of Deno.readDirSync(logDir)) {
    for (const line of (await Deno.readTextFile(`${logDir}/${e.name}`)).split("\n")) {
      const us = line.split(" ", 3)[2];
      if (us) lat.push(Number(us));
    }
  }
  await Deno.remove(logDir, { recursive: true });
  await Deno.remove(script);
  const sorted = Float64Array.from(lat).sort();
  return {
    requests: Number(text.match(/number of transactions actually processed: (\d+)/)?.[1]),
    seconds: load.durationSec,
    rps: tps,
    p50: percentileSorted(sorted, 50) / 1000,
    p99: percentileSorted(sorted, 99) / 1000,
    errors: Number(text.match(/number of failed transactions: (\d+)/)?.[1] ?? 0),
    cpu: r.cpu,
  };
}
