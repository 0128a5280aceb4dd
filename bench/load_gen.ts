/**
 * HTTP load generators: wrk (apt, C, one event loop per thread) is the default; autocannon (npm,
 * Node.js) is kept for the comparison of how much CPU each takes from the server on 2 cores.
 * Both are installed on demand.
 */
import { CpuSampler, type CpuSplit, run, runOk, type RunResult, which } from "./proc.ts";

/** One load run's figures. Latencies are in milliseconds. */
export interface LoadResult {
  tool: string;
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  /** Non-2xx/3xx answers plus socket errors and timeouts. */
  errors: number;
  cpu?: CpuSplit;
}

export interface LoadOptions {
  url: string;
  connections: number;
  durationSec: number;
  threads?: number;
  method?: "GET" | "POST";
  body?: string;
  headers?: Record<string, string>;
  /** Request timeout in seconds (wrk's default of 2 s is too short for argon2 logins). */
  timeoutSec?: number;
  /** Process roles for the CPU split besides the load generator itself (named `loadgen`). */
  cpuRoles?: { name: string; rootPids?: number[]; comm?: string }[];
  outDir: string;
}

/** Installs wrk with apt-get when it is missing; returns its path. */
export async function ensureWrk(): Promise<string> {
  const found = await which("wrk");
  if (found) return found;
  console.error("installing wrk (apt-get update && apt-get install -y wrk)");
  const asRoot = Deno.uid() === 0 ? [] : ["sudo", "-n"];
  const cmd = (args: string[]) =>
    asRoot.length ? run(asRoot[0], [...asRoot.slice(1), ...args]) : run(args[0], args.slice(1));
  await cmd(["apt-get", "update", "-qq"]);
  const r = await cmd(["apt-get", "install", "-y", "-qq", "wrk"]);
  const path = await which("wrk");
  if (!path) throw new Error(`could not install wrk: ${r.stderr.trim()}`);
  return path;
}

function luaString(s: string): string {
  return JSON.stringify(s); // a JSON string literal is a valid Lua string literal for ASCII text
}

/** Runs a load generator while sampling the CPU of it and of the other roles. */
async function runSampled(
  cmd: string,
  args: string[],
  roles: LoadOptions["cpuRoles"] = [],
): Promise<RunResult & { cpu: CpuSplit }> {
  let cpu: CpuSplit | undefined;
  const r = await run(cmd, args, {
    watch: (pid) => {
      const sampler = new CpuSampler([{ name: "loadgen", rootPids: [pid] }, ...roles]);
      sampler.start();
      return () => {
        cpu = sampler.stop();
      };
    },
  });
  return { ...r, cpu: cpu! };
}

/** Runs wrk once and returns its figures, with the CPU split sampled while it ran. */
export async function runWrk(options: LoadOptions): Promise<LoadResult> {
  const wrk = await ensureWrk();
  const lua = [
    `wrk.method = ${luaString(options.method ?? "GET")}`,
    options.body !== undefined ? `wrk.body = ${luaString(options.body)}` : "",
    ...Object.entries(options.headers ?? {}).map(
      ([k, v]) => `wrk.headers[${luaString(k)}] = ${luaString(v)}`,
    ),
    `done = function(summary, latency, requests)`,
    `  local e = summary.errors`,
    `  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,` +
    `"write":%d,"status":%d,"timeout":%d,"p50":%d,"p99":%d}\\n', summary.requests, ` +
    `summary.duration, e.connect, e.read, e.write, e.status, e.timeout, ` +
    `latency:percentile(50), latency:percentile(99)))`,
    `end`,
  ].join("\n");
  const script = `${options.outDir}/wrk_${crypto.randomUUID()}.lua`;
  await Deno.writeTextFile(script, lua);
  const args = [
    "-t",
    String(options.threads ?? 2),
    "-c",
    String(options.connections),
    "-d",
    `${options.durationSec}s`,
    "--timeout",
    `${options.timeoutSec ?? 10}s`,
    "-s",
    script,
    options.url,
  ];
  const { code, stdout: text, stderr, cpu } = await runSampled(wrk, args, options.cpuRoles);
  await Deno.remove(script).catch(() => {});
  const m = text.match(/WRKJSON (\{.*\})/);
  if (code !== 0 || !m) throw new Error(`wrk failed (${code}): ${stderr}${text}`);
  const j = JSON.parse(m[1]);
  const seconds = j.duration_us / 1e6;
  return {
    tool: "wrk",
    requests: j.requests,
    seconds,
    rps: j.requests / seconds,
    p50: j.p50 / 1000,
    p99: j.p99 / 1000,
    errors: j.connect + j.read + j.write + j.status + j.timeout,
    cpu,
  };
}

const AUTOCANNON_VERSION = "9.0.0";

/** Installs autocannon under `dir` with npm when missing; returns the path of its entry script. */
export async function ensureAutocannon(dir: string): Promise<string> {
  const entry = `${dir}/node_modules/autocannon/autocannon.js`;
  if (await Deno.stat(entry).then(() => true, () => false)) return entry;
  await Deno.mkdir(dir, { recursive: true });
  await runOk("npm", [
    "install",
    "--prefix",
    dir,
    "--no-audit",
    "--no-fund",
    `autocannon@${AUTOCANNON_VERSION}`,
  ]);
  return entry;
}

/** Runs autocannon once (for the load-generator comparison) with the same CPU sampling. */
export async function runAutocannon(options: LoadOptions): Promise<LoadResult> {
  const entry = await ensureAutocannon(`${options.outDir}/autocannon`);
  const args = [
    entry,
    "-c",
    String(options.connections),
    "-d",
    String(options.durationSec),
    "-j",
    "-m",
    options.method ?? "GET",
  ];
  for (const [k, v] of Object.entries(options.headers ?? {})) args.push("-H", `${k}=${v}`);
  if (options.body !== undefined) args.push("-b", options.body);
  args.push(options.url);
  const { code, stdout, stderr, cpu } = await runSampled("node", args, options.cpuRoles);
  if (code !== 0) throw new Error(`autocannon failed: ${stderr}`);
  const j = JSON.parse(stdout);
  const seconds = j.duration;
  return {
    tool: "autocannon",
    requests: j.requests.total,
    seconds,
    rps: j.requests.total / seconds,
    p50: j.latency.p50,
    p99: j.latency.p99,
    errors: (j.non2xx ?? 0) + (j.errors ?? 0) + (j.timeouts ?? 0),
    cpu,
  };
}
