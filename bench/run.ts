/**
 * `deno task bench`: the project's benchmarks (issue 4). Installs what it needs (wrk from apt),
 * creates fresh PostgreSQL databases and drops them after, runs the loader against `psql \copy`
 * and the API against pgbench and a bare route, prints the figures and writes BENCHMARKS.md.
 *
 * ```sh
 * deno task bench                      # the full run (~9 minutes on 2 cores)
 * deno task bench --quick              # 2 rounds, 5 s loads, 300k rows (~3 minutes)
 * deno task bench --only loader        # or --only api
 * deno task bench --rows 500000 --reps 5 --duration 10 --profile
 * ```
 */
import { apiBench, type ApiFigures, SCENARIOS, startServer, stopAllServers } from "./api_bench.ts";
import { loaderBench, type LoaderFigures } from "./loader_bench.ts";
import { machineInfo } from "./machine.ts";
import { createDatabase, databaseUrl, dropDatabase, ensurePostgres, psql } from "./pg.ts";
import { ensureWrk, runAutocannon, runWrk } from "./load_gen.ts";
import { fmtCpuSplit, run, runMeasured, sleep } from "./proc.ts";
import { profileMarkdown, summarizeDir } from "./profile.ts";
import { markdown, printable, type Report } from "./report.ts";
import { generateCsv, schemaFor } from "./generate_csv.ts";

const OUT = "bench/.out";

const USAGE = `usage: deno task bench [options]
  --quick             2 rounds, 5 s per load, 300k rows, memory at 100k and 1M rows
  --only loader|api   run one section
  --rows N            rows of the loader comparison (default 1,000,000)
  --mem-rows A,B      sizes for the loader's peak RSS (default 200000,2000000)
  --reps N            rounds of every comparison (default 3)
  --duration S        seconds per HTTP / pgbench load (default 10)
  --batch-size N      passed to the loader (default: the loader's own)
  --scenarios a,b     API scenarios to run (${SCENARIOS.map((s) => s.id).join(", ")})
  --profile           also profile the loader and the server (deno --cpu-prof) and summarise
  --compare-loadgen   also measure wrk against autocannon on the bare route (CPU per request)
  --no-write          do not rewrite BENCHMARKS.md
  --render-only       rewrite BENCHMARKS.md from the last run's figures (bench/.out/last_report.json)
                      with the current bench/findings.md, measuring nothing`;

interface Options {
  rows: number;
  memRows: [number, number];
  reps: number;
  duration: number;
  loginDuration: number;
  only?: "loader" | "api";
  batchSize?: number;
  scenarios?: string[];
  profile: boolean;
  compareLoadgen: boolean;
  write: boolean;
  quick: boolean;
  renderOnly: boolean;
}

function parseArgs(args: string[]): Options {
  const o: Options = {
    rows: 1_000_000,
    memRows: [200_000, 2_000_000],
    reps: 3,
    duration: 10,
    loginDuration: 5,
    profile: false,
    compareLoadgen: false,
    write: true,
    quick: false,
    renderOnly: false,
  };
  const num = (v: string | undefined, name: string) => {
    const n = Number(v);
    if (!v || !Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number`);
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    switch (a) {
      case "--quick":
        o.quick = true;
        o.rows = 300_000;
        o.memRows = [100_000, 1_000_000];
        o.reps = 2;
        o.duration = 5;
        o.loginDuration = 3;
        break;
      case "--only": {
        const v = args[++i];
        if (v !== "loader" && v !== "api") throw new Error("--only takes loader or api");
        o.only = v;
        break;
      }
      case "--rows":
        o.rows = num(args[++i], a);
        break;
      case "--mem-rows": {
        const v = (args[++i] ?? "").split(",").map((x) => num(x, a));
        if (v.length !== 2) throw new Error("--mem-rows takes two sizes, e.g. 200000,2000000");
        o.memRows = [v[0], v[1]];
        break;
      }
      case "--reps":
        o.reps = num(args[++i], a);
        break;
      case "--duration":
        o.duration = num(args[++i], a);
        o.loginDuration = Math.min(o.loginDuration, o.duration);
        break;
      case "--batch-size":
        o.batchSize = num(args[++i], a);
        break;
      case "--scenarios":
        o.scenarios = (args[++i] ?? "").split(",");
        break;
      case "--profile":
        o.profile = true;
        break;
      case "--compare-loadgen":
        o.compareLoadgen = true;
        break;
      case "--render-only":
        o.renderOnly = true;
        break;
      case "--no-write":
        o.write = false;
        break;
      case "--help":
      case "-h":
        console.log(USAGE);
        Deno.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a}\n${USAGE}`);
    }
  }
  return o;
}

const started = performance.now();
const log = (msg: string) => {
  const t = ((performance.now() - started) / 1000).toFixed(0).padStart(4);
  console.error(`[${t}s] ${msg}`);
};

const databases: string[] = [];
async function cleanup() {
  for (const db of databases.splice(0)) await dropDatabase(db);
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, async () => {
    console.error(`\n${sig}: stopping the servers, dropping the benchmark databases`);
    await stopAllServers();
    await cleanup();
    Deno.exit(130);
  });
}

/** Profiles the loader on the clean file and the server under GET /tasks load. */
async function profileRun(o: Options): Promise<string> {
  const parts: string[] = [];
  const db = await createDatabase("bench_prof");
  databases.push(db);
  try {
    if (o.only !== "api" && await Deno.stat("cli.ts").then(() => true, () => false)) {
      const rows = Math.min(o.rows, 500_000);
      log(`profiling the loader on ${rows.toLocaleString()} clean rows`);
      const dir = `${OUT}/prof_loader`;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      const file = `${OUT}/prof_${rows}.csv`;
      await generateCsv({ rows, path: file, seed: 7 });
      await Deno.writeTextFile(`${OUT}/prof_schema.json`, JSON.stringify(schemaFor("prof_data")));
      const r = await runMeasured("deno", [
        "run",
        "-A",
        "--cpu-prof",
        `--cpu-prof-dir=${dir}`,
        "cli.ts",
        "ingest",
        file,
        "--table",
        "prof_data",
        "--schema",
        `${OUT}/prof_schema.json`,
        "--database-url",
        databaseUrl(db),
        "--quiet",
        "--rejects",
        `${OUT}/prof.rejects.csv`,
        "--log-file",
        `${OUT}/prof.ingest.log`,
      ], { outDir: OUT });
      if (r.code !== 0) {
        throw new Error(`profiled loader exited ${r.code}: ${r.stderr.slice(0, 500)}`);
      }
      for (const s of await summarizeDir(dir, 20)) {
        parts.push(
          profileMarkdown(
            `Loader, ${rows.toLocaleString()} clean rows (${r.seconds.toFixed(1)} s wall)`,
            s,
          ),
        );
      }
    }
    if (o.only !== "loader" && await Deno.stat("main.ts").then(() => true, () => false)) {
      log("profiling the server under GET /tasks load");
      const dir = `${OUT}/prof_api`;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      const server = await startServer("prof_server", [
        "-A",
        "--cpu-prof",
        `--cpu-prof-dir=${dir}`,
        "main.ts",
      ], {
        DATABASE_URL: databaseUrl(db),
        JWT_SECRET: "p".repeat(48),
        LOGIN_MAX_FAILURES: "0",
        AUTH_REQUESTS_PER_MINUTE: "0",
      }, OUT);
      try {
        const body = JSON.stringify({ username: "profuser", password: "bench-password-123" });
        const headers = { "Content-Type": "application/json" };
        await (await fetch(`${server.base}/register`, { method: "POST", body, headers })).body
          ?.cancel();
        const login = await (await fetch(`${server.base}/login`, { method: "POST", body, headers }))
          .json();
        const uid = (await psql(db, "SELECT id FROM users WHERE username = 'profuser'")).trim();
        await psql(
          db,
          `INSERT INTO tasks (user_id, title, description) SELECT ${uid}, 'Task ' || g, 'Description ' || g ` +
            `FROM generate_series(1, 1000) g; ANALYZE tasks`,
        );
        const r = await runWrk({
          url: `${server.base}/tasks?page=1&per_page=10`,
          connections: 32,
          durationSec: o.duration,
          headers: { Authorization: `Bearer ${login.access_token}` },
          outDir: OUT,
        });
        parts.push(
          `GET /tasks under the profiler: ${Math.round(r.rps)} req/s (the profiler slows it).\n`,
        );
      } finally {
        await server.stop();
      }
      await sleep(500);
      const sums = await summarizeDir(dir, 20).catch(() => []);
      if (sums.length === 0) {
        parts.push("The server wrote no .cpuprofile (did it exit cleanly on SIGTERM?).\n");
      }
      for (const s of sums.slice(0, 1)) {
        parts.push(profileMarkdown("Server under `GET /tasks` load", s));
      }
    }
  } finally {
    await dropDatabase(db);
    databases.splice(databases.indexOf(db), 1);
  }
  return parts.join("\n");
}

/** wrk against autocannon on the bare route: which takes less CPU from the server. */
async function compareLoadgens(o: Options): Promise<string> {
  const bare = await startServer("bare_cmp", ["-A", "bench/bare_server.ts"], {}, OUT);
  const rows: string[] = [];
  try {
    for (let rep = 0; rep < 2; rep++) {
      for (const f of rep % 2 ? [runAutocannon, runWrk] : [runWrk, runAutocannon]) {
        const r = await f({
          url: `${bare.base}/tasks`,
          connections: 32,
          durationSec: Math.min(o.duration, 5),
          outDir: OUT,
          cpuRoles: [{ name: "bare", rootPids: [bare.pid] }],
        });
        const perK = r.cpu ? (r.cpu.cores.loadgen * r.cpu.seconds * 1e6) / r.requests : NaN;
        rows.push(
          `| ${r.tool} | ${Math.round(r.rps)} | ${perK.toFixed(1)} ms | ${fmtCpuSplit(r.cpu)} |`,
        );
        log(
          `  ${r.tool}: ${Math.round(r.rps)} req/s, ${perK.toFixed(1)} ms CPU per 1,000 requests`,
        );
      }
    }
  } finally {
    await bare.stop();
  }
  return [
    "### Load generator: wrk against autocannon (bare route, 32 connections)",
    "",
    "| tool | req/s | load generator CPU per 1,000 requests | CPU split |",
    "| --- | ---: | ---: | --- |",
    ...rows,
    "",
  ].join("\n");
}

/** Writes BENCHMARKS.md, formatted: `deno fmt --check` (the CI's `deno task check`) covers it. */
async function writeBenchmarks(report: Report): Promise<void> {
  await Deno.writeTextFile("BENCHMARKS.md", markdown(report));
  await new Deno.Command("deno", { args: ["fmt", "-q", "BENCHMARKS.md"] }).output();
}

async function main() {
  const o = parseArgs(Deno.args);
  if (o.renderOnly) {
    const report = JSON.parse(await Deno.readTextFile(`${OUT}/last_report.json`)) as Report;
    report.findings = await Deno.readTextFile("bench/findings.md").catch(() => undefined);
    await writeBenchmarks(report);
    console.log(printable(report));
    return;
  }
  const command = ["deno task bench", ...Deno.args].join(" ");
  await Deno.mkdir(OUT, { recursive: true });
  log(`${command}: ${o.reps} rounds, ${o.rows.toLocaleString()} rows, ${o.duration} s loads`);
  await ensurePostgres();
  await ensureWrk();
  log("caching main.ts / cli.ts / bench modules");
  for (const f of ["main.ts", "cli.ts", "bench/bare_server.ts"]) {
    if (await Deno.stat(f).then(() => true, () => false)) {
      const c = await new Deno.Command("deno", {
        args: ["cache", f],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (c.code !== 0) {
        log(`  deno cache ${f} failed: ${new TextDecoder().decode(c.stderr).slice(0, 500)}`);
      }
    }
  }
  const machine = await machineInfo();
  let loader: LoaderFigures | undefined;
  let api: ApiFigures | undefined;
  let profiles: string | undefined;
  try {
    if (o.only !== "api") {
      log("== loader vs psql \\copy");
      const db = await createDatabase("bench_loader");
      databases.push(db);
      loader = await loaderBench({
        db,
        outDir: OUT,
        rows: o.rows,
        memRows: o.memRows,
        reps: o.reps,
        defectRate: 0.05,
        batchSize: o.batchSize,
        seed: 42,
        log,
      });
      await dropDatabase(db);
      databases.splice(databases.indexOf(db), 1);
    }
    if (o.only !== "loader") {
      log("== API vs pgbench vs bare route");
      const db = await createDatabase("bench_api");
      databases.push(db);
      api = await apiBench({
        db,
        outDir: OUT,
        reps: o.reps,
        durationSec: o.duration,
        loginDurationSec: o.loginDuration,
        connections: 32,
        pgbenchClients: 16,
        tasks: 1000,
        scenarios: o.scenarios,
        log,
      });
      await dropDatabase(db);
      databases.splice(databases.indexOf(db), 1);
    }
    if (o.compareLoadgen) {
      log("== wrk vs autocannon");
      profiles = (profiles ?? "") + await compareLoadgens(o);
    }
    if (o.profile) {
      log("== profiles");
      profiles = (profiles ?? "") + await profileRun(o);
    }
  } finally {
    await cleanup();
  }
  const findings = await Deno.readTextFile("bench/findings.md").catch(() => undefined);
  const head = await run("git", ["rev-parse", "--short", "HEAD"]).catch(() => undefined);
  const dirty = await run("git", ["status", "--porcelain", "--untracked-files=no"]).catch(() =>
    undefined
  );
  const report: Report = {
    command,
    commit: head?.code === 0
      ? head.stdout.trim() + (dirty?.stdout.trim() ? " + uncommitted changes" : "")
      : undefined,
    seconds: (performance.now() - started) / 1000,
    machine,
    loader,
    api,
    profiles,
    findings,
    options: `${o.reps} rounds, ${o.rows.toLocaleString("en-US")} rows, ${o.duration} s per load` +
      (o.batchSize ? `, batch size ${o.batchSize}` : ""),
  };
  await Deno.writeTextFile(
    `${OUT}/last_report.json`,
    JSON.stringify({ ...report, findings: undefined }),
  );
  console.log("\n" + printable(report));
  if (o.write) {
    await writeBenchmarks(report);
    log("wrote BENCHMARKS.md");
  }
  log(`done in ${((performance.now() - started) / 60000).toFixed(1)} min`);
}

if (import.meta.main) {
  try {
    await main();
  } catch (err) {
    console.error(`bench failed: ${(err as Error).stack ?? err}`);
    await cleanup();
    Deno.exit(1);
  }
}
