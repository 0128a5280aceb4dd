/**
 * Process helpers for the benchmarks: run a command and capture its output, time a process and
 * read its peak RSS, and sample the CPU time of groups of processes from /proc while a load runs.
 */

/** What {@linkcode run} returns. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Text written to the command's standard input. */
  stdin?: string;
  /**
   * Called with the PID once the command has started (to sample its CPU or memory); the function
   * it returns is called once the command has exited.
   */
  watch?: (pid: number) => () => void;
}

/** Runs a command to completion and captures its output. Never throws on a non-zero exit. */
export async function run(
  cmd: string,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const started = performance.now();
  const child = new Deno.Command(cmd, {
    args,
    env: options.env,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const unwatch = options.watch?.(child.pid);
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  unwatch?.();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    seconds: (performance.now() - started) / 1000,
  };
}

/** Runs a command and throws with its stderr when it fails. */
export async function runOk(
  cmd: string,
  args: string[],
  options: RunOptions = {},
): Promise<string> {
  const r = await run(cmd, args, options);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

/** Whether an executable is on the PATH (or is an existing path). */
export async function which(cmd: string): Promise<string | undefined> {
  const r = await run("sh", ["-c", `command -v ${cmd}`]).catch(() => undefined);
  const path = r?.stdout.trim();
  return r && r.code === 0 && path ? path : undefined;
}

/** What {@linkcode runMeasured} returns: wall clock and peak resident memory of the process. */
export interface MeasuredRun extends RunResult {
  /** Peak RSS in MiB (VmHWM / ru_maxrss), NaN when it could not be read. */
  peakRssMiB: number;
  /** How the peak was read: `/usr/bin/time` or polling `/proc/PID/status`. */
  rssSource: string;
}

const GNU_TIME = "/usr/bin/time";

/**
 * Runs `cmd` directly (its own PID, not under `deno task`) and returns its wall-clock time and peak
 * RSS. Uses GNU time's `ru_maxrss` when `/usr/bin/time` exists (exact, read when the process is
 * reaped), otherwise polls `VmHWM` in `/proc/PID/status` every 50 ms until it exits.
 */
export async function runMeasured(
  cmd: string,
  args: string[],
  options: RunOptions & { outDir: string },
): Promise<MeasuredRun> {
  const hasTime = await Deno.stat(GNU_TIME).then(() => true, () => false);
  if (hasTime) {
    const timeFile = `${options.outDir}/time_${crypto.randomUUID()}.txt`;
    const r = await run(GNU_TIME, ["-v", "-o", timeFile, cmd, ...args], options);
    let peakKb = NaN;
    try {
      const text = await Deno.readTextFile(timeFile);
      const m = text.match(/Maximum resident set size \(kbytes\): (\d+)/);
      if (m) peakKb = Number(m[1]);
      await Deno.remove(timeFile);
    } catch { /* keep NaN */ }
    return { ...r, peakRssMiB: peakKb / 1024, rssSource: "/usr/bin/time -v (ru_maxrss)" };
  }
  let peakKb = 0;
  const r = await run(cmd, args, {
    ...options,
    watch: (pid) => {
      const poll = setInterval(() => {
        try {
          const status = Deno.readTextFileSync(`/proc/${pid}/status`);
          const m = status.match(/VmHWM:\s+(\d+) kB/);
          if (m) peakKb = Math.max(peakKb, Number(m[1]));
        } catch { /* exited */ }
      }, 50);
      return () => clearInterval(poll);
    },
  });
  return {
    ...r,
    peakRssMiB: peakKb ? peakKb / 1024 : NaN,
    rssSource: "VmHWM polled every 50 ms",
  };
}

const CLK_TCK = 100; // Linux USER_HZ on every architecture Deno runs on.

interface ProcSample {
  pid: number;
  ppid: number;
  comm: string;
  ticks: number; // utime + stime
}

function readProcs(): ProcSample[] {
  const out: ProcSample[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const f = stat.slice(close + 2).split(" ");
      // f[0] = state (field 3); ppid is field 4, utime 14, stime 15.
      out.push({
        pid: Number(e.name),
        ppid: Number(f[1]),
        comm,
        ticks: Number(f[11]) + Number(f[12]),
      });
    } catch { /* gone */ }
  }
  return out;
}

function readTotalTicks(): { busy: number; total: number } {
  const line = Deno.readTextFileSync("/proc/stat").split("\n")[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** A role of processes for the CPU split: a root PID and its descendants, or a name match. */
export interface CpuRole {
  name: string;
  /** Processes whose PID or any ancestor's PID is in here. */
  rootPids?: number[];
  /** Or processes whose `comm` equals this (e.g. "postgres")... */
  comm?: string;
  /** ...and, if given, whose command line contains one of these (e.g. the database's name). */
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
 * Samples /proc every `intervalMs` while a load runs and attributes CPU time (utime + stime) to
 * roles. Processes that appear after the start count from zero; one that exits keeps its last
 * sample, so at most one interval per short-lived process is lost.
 */
export class CpuSampler {
  #roles: CpuRole[];
  #first = new Map<number, number>();
  #last = new Map<number, ProcSample>();
  #timer?: ReturnType<typeof setInterval>;
  #t0 = 0;
  #t1 = 0;
  #tot0 = { busy: 0, total: 0 };
  #tot1 = { busy: 0, total: 0 };
  #pidRole = new Map<number, string>();

  constructor(roles: CpuRole[], readonly intervalMs = 250) {
    this.#roles = roles;
  }

  #sample(initial: boolean) {
    const procs = readProcs();
    const byPid = new Map(procs.map((p) => [p.pid, p]));
    for (const p of procs) {
      if (initial) this.#first.set(p.pid, p.ticks);
      else if (!this.#first.has(p.pid)) this.#first.set(p.pid, 0);
      this.#last.set(p.pid, p);
      if (!this.#pidRole.has(p.pid)) this.#pidRole.set(p.pid, this.#classify(p, byPid));
    }
  }

  #classify(p: ProcSample, byPid: Map<number, ProcSample>): string {
    // Kernel threads (children of kthreadd) mostly do this run's own I/O: WAL and data writes.
    if (p.pid === 2 || p.ppid === 2) return "kernel";
    for (const role of this.#roles) {
      if (role.comm && p.comm === role.comm) {
        if (!role.cmdline) return role.name;
        let cmd = "";
        try {
          cmd = Deno.readTextFileSync(`/proc/${p.pid}/cmdline`).replaceAll("\0", " ");
        } catch { /* gone */ }
        if (role.cmdline.some((c) => cmd.includes(c))) return role.name;
        continue;
      }
      if (role.rootPids) {
        let cur: ProcSample | undefined = p;
        for (let depth = 0; cur && depth < 20; depth++) {
          if (role.rootPids.includes(cur.pid)) return role.name;
          const parentRole = this.#pidRole.get(cur.ppid);
          if (parentRole === role.name) return role.name;
          cur = byPid.get(cur.ppid);
        }
      }
    }
    return "other";
  }

  start(): void {
    this.#t0 = performance.now();
    this.#tot0 = readTotalTicks();
    this.#sample(true);
    this.#timer = setInterval(() => this.#sample(false), this.intervalMs);
  }

  stop(): CpuSplit {
    clearInterval(this.#timer);
    this.#sample(false);
    this.#t1 = performance.now();
    this.#tot1 = readTotalTicks();
    const seconds = (this.#t1 - this.#t0) / 1000;
    const cores: Record<string, number> = {};
    for (const r of this.#roles) cores[r.name] = 0;
    cores.kernel = 0;
    cores.other = 0;
    for (const [pid, p] of this.#last) {
      const delta = p.ticks - (this.#first.get(pid) ?? 0);
      if (delta <= 0) continue;
      const role = this.#pidRole.get(pid) ?? "other";
      cores[role] = (cores[role] ?? 0) + delta / CLK_TCK / seconds;
    }
    const machineCores = navigator.hardwareConcurrency || 1;
    const busy = this.#tot1.busy - this.#tot0.busy;
    const total = this.#tot1.total - this.#tot0.total;
    return {
      seconds,
      cores,
      machineBusyCores: total > 0 ? (busy / total) * machineCores : NaN,
      machineCores,
    };
  }
}

/** The mean of several CPU splits, role by role. */
export function meanSplit(splits: (CpuSplit | undefined)[]): CpuSplit | undefined {
  const s = splits.filter((x): x is CpuSplit => x !== undefined);
  if (s.length === 0) return undefined;
  const cores: Record<string, number> = {};
  for (const x of s) {
    for (const [k, v] of Object.entries(x.cores)) cores[k] = (cores[k] ?? 0) + v / s.length;
  }
  return {
    seconds: s.reduce((a, x) => a + x.seconds, 0) / s.length,
    cores,
    machineBusyCores: s.reduce((a, x) => a + x.machineBusyCores, 0) / s.length,
    machineCores: s[0].machineCores,
  };
}

/** Formats a CPU split as "server 1.10, postgres 0.70, wrk 0.15, other 0.02 (of 2 cores)". */
export function fmtCpuSplit(split: CpuSplit | undefined): string {
  if (!split) return "n/a";
  const parts = Object.entries(split.cores)
    .filter(([_, v]) => v >= 0.005)
    .map(([name, v]) => `${name} ${v.toFixed(2)}`);
  return `${parts.join(", ")} (busy ${split.machineBusyCores.toFixed(2)} of ${split.machineCores})`;
}

/**
 * Waits until the machine is quiet: the busy cores over one second, machine-wide, at most
 * `maxBusyCores` (the benchmark's own servers idle between runs). On a shared machine someone
 * else's tests would otherwise land in the middle of a measurement. Gives up after `timeoutMs`
 * and returns what it saw, so the run goes on and is flagged.
 */
export async function waitForQuiet(
  maxBusyCores = 0.3,
  timeoutMs = 60_000,
): Promise<{ busyCores: number; waitedMs: number }> {
  const t0 = performance.now();
  const cores = navigator.hardwareConcurrency || 1;
  let busyCores = NaN;
  while (true) {
    const a = readTotalTicks();
    await sleep(1000);
    const b = readTotalTicks();
    busyCores = b.total > a.total ? ((b.busy - a.busy) / (b.total - a.total)) * cores : 0;
    const waitedMs = performance.now() - t0;
    if (busyCores <= maxBusyCores || waitedMs >= timeoutMs) return { busyCores, waitedMs };
  }
}

/** Cores used by processes that are not the benchmark's (other databases, other programs). */
export function foreignCores(split: CpuSplit | undefined): number {
  if (!split) return NaN;
  return (split.cores["other"] ?? 0) + (split.cores["postgres (other dbs)"] ?? 0);
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
