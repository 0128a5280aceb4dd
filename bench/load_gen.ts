/**
 * The load generators: wrk for HTTP (C, one event loop per thread: it took less CPU per request
 * than autocannon on these 2 cores, see bench/findings.md), pgbench for SQL. Each run samples the
 * CPU of the generator (role `loadgen`) and of the roles given.
 *
 * @module
 */
import { type CpuRole, type CpuSplit, run, sampled } from "./proc.ts";
import { percentileSorted } from "./stats.ts";

/**
 * One load run's figures; latencies in milliseconds; errors are non-2xx/3xx answers, socket
 * errors and timeouts (failed transactions for pgbench).
 */
export type LoadResult = {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  cpu?: CpuSplit;
};

/** An HTTP load for wrk; `timeoutSec` per request (wrk's default of 2 s is short for argon2). */
export interface HttpLoad {
  url: string;
  connections: number;
  durationSec: number;
  method?: "GET" | "POST";
  body?: string;
  headers?: Record<string, string>;
  timeoutSec?: number;
}

/** Runs `cmd` in a fresh directory while sampling the CPU of it (as `loadgen`) and of `roles`. */
async function runSampled(
  cmd: string,
  args: (dir: string) => string[],
  o: { roles: CpuRole[]; outDir: string; env?: Record<string, string> },
) {
  const dir = await Deno.makeTempDir({ dir: o.outDir, prefix: `${cmd}_` });
  const roles = [{ name: "loadgen", comm: cmd }, ...o.roles];
  const r = await sampled(roles, () => run(cmd, args(dir), o.env));
  if (r.code !== 0) {
    throw new Error(`${cmd} failed (${r.code}): ${(r.stderr + r.stdout).slice(-2000)}`);
  }
  return { ...r, dir, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
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
  await using r = await runSampled("wrk", (dir) => {
    Deno.writeTextFileSync(`${dir}/load.lua`, lua);
    const t = `--timeout=${load.timeoutSec ?? 10}s`;
    return [
      "-t2",
      `-c${load.connections}`,
      `-d${load.durationSec}s`,
      t,
      `-s${dir}/load.lua`,
      load.url,
    ];
  }, { roles, outDir });
  const j = JSON.parse(r.stdout.match(/WRKJSON (\{.*\})/)![1]);
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

/** One statement and its parameters, as a driver sends it (`$1`, `$2`, ...). */
export type Statement = { sql: string; params: unknown[] };

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
    const sets = new Set<string>();
    const text = sql.replace(/\$(\d+)/g, (_, n) => {
      const v = params[Number(n) - 1];
      if (v === null || v === undefined) return "NULL";
      if (typeof v !== "number") return `'${String(v).replaceAll("'", "''")}'`;
      sets.add(`\\set p${s + 1}_${n} ${v}`);
      return `:p${s + 1}_${n}`;
    });
    return [...sets, text.trim().replace(/;?$/, ";\n")].join("\n");
  }).join("");
}

/**
 * Runs pgbench once: `script` (see {@linkcode pgbenchScript}) by `clients` for `durationSec`;
 * latency percentiles come from its per-transaction log (`-l`).
 */
export async function runPgbench(
  load: { db: string; script: string; protocol: Protocol; clients: number; durationSec: number },
  roles: CpuRole[],
  outDir: string,
  env: Record<string, string>,
): Promise<LoadResult> {
  await using r = await runSampled("pgbench", (dir) => {
    Deno.writeTextFileSync(`${dir}/script.sql`, load.script);
    const opts = `-n -c${load.clients} -j2 -T${load.durationSec} -M${load.protocol} -l`.split(" ");
    return [...opts, `--log-prefix=${dir}/tx`, `-f${dir}/script.sql`, load.db];
  }, { roles, outDir, env });
  const count = (re: RegExp) => Number((r.stdout + r.stderr).match(re)?.[1] ?? 0);
  // Log lines: client_id transaction_no time_us script_no epoch_s epoch_us
  const us: number[] = [];
  for (const e of Deno.readDirSync(r.dir)) {
    if (!e.name.startsWith("tx")) continue;
    for (const line of Deno.readTextFileSync(`${r.dir}/${e.name}`).split("\n")) {
      if (line) us.push(Number(line.split(" ", 3)[2]));
    }
  }
  const sorted = Float64Array.from(us).sort();
  return {
    requests: count(/number of transactions actually processed: (\d+)/),
    seconds: load.durationSec,
    rps: count(/tps = ([\d.]+) \(without initial connection time\)/),
    p50: percentileSorted(sorted, 50) / 1000,
    p99: percentileSorted(sorted, 99) / 1000,
    errors: count(/number of failed transactions: (\d+)/),
    cpu: r.cpu,
  };
}
