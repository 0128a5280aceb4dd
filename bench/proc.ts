/**
 * Processes for the bench: run a command, time one and read its peak RSS and CPU time, sample
 * the CPU time of groups of processes from /proc while a load runs, wait for a quiet machine,
 * and undo what the run set up when it is interrupted.
 *
 * @module
 */

/** Runs a command to completion and captures its output; never throws on a non-zero exit. */
export async function run(cmd: string, args: string[], env?: Record<string, string>) {
  const started = performance.now();
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  const seconds = (performance.now() - started) / 1000;
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    seconds,
  };
}

/** Runs a command and throws with its stderr when it fails; returns its stdout. */
export async function runOk(cmd: string, args: string[], env?: Record<string, string>) {
  const r = await run(cmd, args, env);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args[0]} exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

/** The tools the bench runs, and the Debian package each comes in. */
const TOOLS: Record<string, string> = {
  wrk: "wrk",
  pgbench: "postgresql", // Debian 12 ships pgbench with the server (postgresql-15)
  psql: "postgresql-client",
  "/usr/bin/time": "time", // GNU time, for the peak RSS (ru_maxrss)
};

/** The first tool of {@linkcode TOOLS} that is missing, as one line naming its apt command. */
export async function missingTool(): Promise<string | undefined> {
  for (const [tool, pkg] of Object.entries(TOOLS)) {
    const found = await run("sh", ["-c", `command -v ${tool}`]).catch(() => undefined);
    if (found?.code !== 0) return `${tool} is missing: apt-get install -y ${pkg}`;
  }
}

/**
 * Runs `cmd` under GNU time (its own PID, not under `deno task`) and returns its wall clock, its
 * peak RSS in MiB (`ru_maxrss`) and its CPU seconds (user + system), exact, read when it is reaped.
 */
export async function runMeasured(
  cmd: string,
  args: string[],
  outDir: string,
  env?: Record<string, string>,
) {
  const timeFile = `${outDir}/time_${crypto.randomUUID()}.txt`;
  const r = await run("/usr/bin/time", ["-v", "-o", timeFile, cmd, ...args], env);
  const text = await Deno.readTextFile(timeFile).catch(() => "");
  await Deno.remove(timeFile).catch(() => {});
  const num = (what: string) => Number(text.match(new RegExp(`${what}: ([\\d.]+)`))?.[1] ?? NaN);
  const cpuSeconds = num("User time \\(seconds\\)") + num("System time \\(seconds\\)");
  return { ...r, peakRssMiB: num("Maximum resident set size \\(kbytes\\)") / 1024, cpuSeconds };
}

/** Linux USER_HZ on every architecture Deno runs on. */
export const CLK_TCK = 100;

/** utime + stime of a `/proc/PID/stat` line, in ticks. */
export function ticksOf(stat: string): number {
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // f[0] is field 3: utime 14, stime 15
  return Number(f[11]) + Number(f[12]);
}

/** A process: its PID, parent, name and CPU ticks so far. */
export interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  ticks: number;
}

/** Every process, from /proc. */
export function readProcs(): Proc[] {
  const out: Proc[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const ppid = Number(stat.slice(close + 2).split(" ", 3)[1]);
      out.push({ pid: Number(e.name), ppid, comm, ticks: ticksOf(stat) });
    } catch { /* gone */ }
  }
  return out;
}

/** A process's command line, its arguments joined by spaces. */
export const cmdline = (pid: number) => {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
  } catch {
    return "";
  }
};

function readTotalTicks(): { busy: number; total: number } {
  const v = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1)
    .map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - v[3] - (v[4] ?? 0), total };
}

/**
 * A role of processes for the CPU split: root PIDs and their descendants, or processes whose
 * `comm` equals `comm` (e.g. "postgres") and, if given, whose command line contains one of
 * `cmdline` (e.g. the database's name).
 */
export interface CpuRole {
  name: string;
  rootPids?: number[];
  comm?: string;
  cmdline?: string[];
}

/** Cores used per role over a sampled interval (1.0 = one core busy the whole time). */
export interface CpuSplit {
  seconds: number;
  cores: Record<string, number>;
  /** Cores busy machine-wide (from /proc/stat), and how many the machine has. */
  machineBusyCores: number;
  machineCores: number;
}

/**
 * Runs `fn` while sampling /proc every `everyMs` and attributes CPU time (utime + stime) to
 * roles; kernel threads count as `kernel`, anything unmatched as `other`. A process that appears
 * after the start counts from zero; one that exits keeps its last sample.
 */
export async function sampled<T extends object>(
  roles: CpuRole[],
  fn: () => Promise<T>,
  everyMs = 250,
): Promise<T & { cpu: CpuSplit }> {
  const first = new Map<number, number>();
  const last = new Map<number, Proc>();
  const roleOf = new Map<number, string>();
  const classify = (p: Proc, byPid: Map<number, Proc>) => {
    // Kernel threads (children of kthreadd) mostly do this run's own I/O: WAL and data writes.
    if (p.pid === 2 || p.ppid === 2) return "kernel";
    const role = roles.find((r) => {
      if (r.comm) {
        return p.comm === r.comm &&
          (!r.cmdline || r.cmdline.some((c) => cmdline(p.pid).includes(c)));
      }
      for (let cur: Proc | undefined = p, d = 0; cur && d < 20; cur = byPid.get(cur.ppid), d++) {
        if (r.rootPids?.includes(cur.pid) || roleOf.get(cur.ppid) === r.name) return true;
      }
    });
    return role?.name ?? "other";
  };
  const sample = (initial: boolean) => {
    const procs = readProcs();
    const byPid = new Map(procs.map((p) => [p.pid, p]));
    for (const p of procs) {
      if (!first.has(p.pid)) first.set(p.pid, initial ? p.ticks : 0);
      last.set(p.pid, p);
      if (!roleOf.has(p.pid)) roleOf.set(p.pid, classify(p, byPid));
    }
  };
  const [t0, tot0] = [performance.now(), readTotalTicks()];
  sample(true);
  const timer = setInterval(() => sample(false), everyMs);
  let r: T;
  try {
    r = await fn();
  } finally {
    clearInterval(timer);
  }
  sample(false);
  const seconds = (performance.now() - t0) / 1000;
  const cores: Record<string, number> = {};
  for (const name of [...roles.map((r) => r.name), "kernel", "other"]) cores[name] = 0;
  for (const [pid, p] of last) {
    const delta = p.ticks - (first.get(pid) ?? 0);
    if (delta > 0) cores[roleOf.get(pid) ?? "other"] += delta / CLK_TCK / seconds;
  }
  const machineCores = navigator.hardwareConcurrency || 1;
  const tot = readTotalTicks();
  const total = tot.total - tot0.total;
  const machineBusyCores = total > 0 ? ((tot.busy - tot0.busy) / total) * machineCores : NaN;
  return { ...r, cpu: { seconds, cores, machineBusyCores, machineCores } };
}

/** The mean of several CPU splits, role by role. */
export function meanSplit(splits: (CpuSplit | undefined)[]): CpuSplit | undefined {
  const s = splits.filter((x): x is CpuSplit => x !== undefined);
  if (s.length === 0) return undefined;
  const mean = (f: (x: CpuSplit) => number) => s.reduce((a, x) => a + f(x), 0) / s.length;
  const cores: Record<string, number> = {};
  for (const x of s) for (const k of Object.keys(x.cores)) cores[k] = mean((y) => y.cores[k] ?? 0);
  const [seconds, machineBusyCores] = [mean((x) => x.seconds), mean((x) => x.machineBusyCores)];
  return { seconds, cores, machineBusyCores, machineCores: s[0].machineCores };
}

/** Formats a CPU split: "server 1.10, postgres 0.70, loadgen 0.15, other 0.02 (busy 1.97 of 2)". */
export function fmtCpuSplit(split: CpuSplit | undefined): string {
  if (!split) return "n/a";
  const parts = Object.entries(split.cores).filter(([_, v]) => v >= 0.005);
  return `${parts.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")} (busy ${
    split.machineBusyCores.toFixed(2)
  } of ${split.machineCores})`;
}

/** Cores used by processes that are not the bench's (other databases, other programs). */
export const foreignCores = (split: CpuSplit | undefined) =>
  split ? (split.cores["other"] ?? 0) + (split.cores["postgres (other dbs)"] ?? 0) : NaN;

/**
 * Waits until the machine is quiet: at most 0.3 cores busy over one second, machine-wide (the
 * bench's own servers idle between runs). Gives up after 10 s and returns what it saw, so the run
 * goes on and is flagged by its CPU split.
 */
export async function waitForQuiet(): Promise<{ busyCores: number; waitedMs: number }> {
  const t0 = performance.now();
  while (true) {
    const a = readTotalTicks();
    await sleep(1000);
    const b = readTotalTicks();
    const busyCores = b.total > a.total
      ? ((b.busy - a.busy) / (b.total - a.total)) * (navigator.hardwareConcurrency || 1)
      : 0;
    const waitedMs = performance.now() - t0;
    if (busyCores <= 0.3 || waitedMs >= 10_000) return { busyCores, waitedMs };
  }
}

/** Sleeps `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const undo = new Set<() => Promise<void>>();

/**
 * Registers what undoes a setup (stop a server, drop a database) until `release` is called, so
 * that an interrupted run leaves nothing behind ({@linkcode undoAll}).
 */
export function registerUndo(fn: () => Promise<void>): { release(): void } {
  undo.add(fn);
  return { release: () => undo.delete(fn) };
}

/** Runs every registered undo (on SIGINT, or when the bench fails). */
export async function undoAll(): Promise<void> {
  const fns = [...undo].reverse();
  undo.clear();
  for (const fn of fns) await fn().catch(() => {});
}
