/**
 * `deno task bench`: the loader against `psql \copy` and the API against pgbench and bare
 * servers, each on a fresh PostgreSQL database it creates and drops; prints the figures and
 * writes BENCHMARKS.md (with bench/findings.md, the hand-written findings).
 *
 * ```sh
 * deno task bench                      # the full run (~9 minutes on 2 cores)
 * deno task bench --quick              # 2 rounds, 5 s loads, 300k rows (~4 minutes when quiet)
 * deno task bench --only api --scenarios api_get,pgbench_get_prepared --reps 1
 * ```
 *
 * To add a figure, edit bench/scenarios.ts only (the loader's: bench/loader_scenarios.ts):
 *
 * - An API scenario is one entry of `API_PLAN.scenarios`: `http` (wrk on a server of
 *   `API_PLAN.servers`, a path, the user whose token it sends, a method and body; a plain GET is
 *   one line `id server user path label` of a `table`) or `pgbench` (a script;
 *   `c.sqlOf((q) => someQuery(q, ...))` records exactly what a src/db function sends). A server
 *   with its own environment (`serve({ WORKERS: "2" })`), behind a PgBouncer the bench starts
 *   (`pooler: true`) or with other code (`cwd`: a worktree of an earlier commit) is one more entry
 *   of `servers`; a user with N tasks one more of `users`; a comparison one line `of to label` of
 *   `ratios`.
 * - A loader comparison is one entry of `LOADER_PLAN.runs` (the loader with extra `args`, or
 *   `\copy` with `copy: true`, on one of `inputs`), a new input one entry of `inputs`, a
 *   comparison one line of `ratios`; a run that needs the table in some state first gives
 *   `prepare` (it then loads without `--replace`). An input may be `gzip`ped (the same rows,
 *   compressed). `--mem-rows` takes any sizes; the memory targets compare the largest with the
 *   smallest and with the one before it.
 * - A bar or goal is one entry of `TARGETS` (`ratioTarget` for a ratio's).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { apiBench } from "./api_bench.ts";
import { BASELINE_IDS, BASELINE_REF, baselineBench } from "./baseline.ts";
import { loaderBench } from "./loader_bench.ts";
import { machineInfo } from "./machine.ts";
import { postgresProblem, withDatabase } from "./pg.ts";
import { missingTool, run, undoAll } from "./proc.ts";
import { profileLoader, profileServer } from "./profile.ts";
import { type Figures, markdown, printable, type Report } from "./report.ts";
import { API_PLAN, LOADER_PLAN } from "./scenarios.ts";

const OUT = "bench/.out";

const USAGE = `usage: deno task bench [options]
  --quick             2 rounds, 5 s per load, 300k rows, memory at 100k and 1M rows
  --only loader|api   run one section
  --rows N            rows of the loader comparison (default 1,000,000)
  --mem-rows A,B,...  sizes for the loader's peak RSS (default 200000,2000000,4000000)
  --reps N            rounds of every comparison (default 3)
  --duration S        seconds per HTTP / pgbench load (default 10; secondary ones half)
  --batch-size N      passed to the loader (default: the loader's own)
  --scenarios a,b     API scenarios to run (${
  [...API_PLAN.scenarios.map((s) => s.id), ...BASELINE_IDS].join(", ")
})
  --baseline-ref REF  the commit whose server GET and POST /tasks are compared with, side by side
                      (default ${BASELINE_REF}, the start of this round; none: skip)
  --profile           also profile the loader and the server (deno --cpu-prof) and summarise
  --no-write          do not rewrite BENCHMARKS.md
  --render-only       rewrite BENCHMARKS.md from the last run's figures (bench/.out/last_report.json)
                      with the current bench/findings.md, measuring nothing`;

/** The options, with `--quick`'s defaults when it is given (explicit values still win). */
function options(args: string[]) {
  const str = { type: "string" } as const;
  const bool = { type: "boolean" } as const;
  const flags = {
    rows: str,
    "mem-rows": str,
    reps: str,
    duration: str,
    "batch-size": str,
    only: str,
    scenarios: str,
    "baseline-ref": str,
  };
  const { values: v } = parseArgs({
    args,
    options: {
      ...flags,
      quick: bool,
      profile: bool,
      "no-write": bool,
      "render-only": bool,
      help: { ...bool, short: "h" },
    },
  });
  if (v.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  if (v.only && v.only !== "loader" && v.only !== "api") {
    throw new Error(`--only takes loader or api, got "${v.only}"`);
  }
  const num = (name: keyof typeof flags, quick: number, full: number) => {
    const n = Number(v[name] ?? (v.quick ? quick : full));
    if (!(n > 0)) throw new Error(`--${name} takes a positive number, got "${v[name]}"`);
    return n;
  };
  const memRows = v["mem-rows"] ?? (v.quick ? "100000,1000000" : "200000,2000000,4000000");
  return {
    rows: num("rows", 300_000, 1_000_000),
    memRows: memRows.split(",").map(Number).filter((n) => n > 0),
    reps: num("reps", 2, 3),
    duration: num("duration", 5, 10),
    batchSize: v["batch-size"] ? num("batch-size", 0, 0) : undefined,
    only: v.only as "loader" | "api" | undefined,
    scenarios: v.scenarios?.split(",").filter((id) => !BASELINE_IDS.includes(id)),
    baseline: v["baseline-ref"] === "none" ||
        (v.scenarios && !v.scenarios.split(",").some((id) => BASELINE_IDS.includes(id)))
      ? undefined
      : v["baseline-ref"] ?? BASELINE_REF,
    profile: v.profile ?? false,
    write: !v["no-write"],
    renderOnly: v["render-only"] ?? false,
  };
}
type Options = ReturnType<typeof options>;

const started = performance.now();
function log(msg: string) {
  console.error(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s] ${msg}`);
}

/** The sections the options ask for, each on its own fresh database. */
async function measure(o: Options): Promise<Figures & { profiles?: string }> {
  const figures: Figures & { profiles?: string } = {};
  const common = { outDir: OUT, reps: o.reps, log };
  if (o.only !== "api") {
    log("== loader vs psql \\copy");
    const opts = { ...common, rows: o.rows, memRows: o.memRows, batchSize: o.batchSize };
    figures.loader = await withDatabase(
      "bench_loader",
      (db) => loaderBench({ ...opts, db }, LOADER_PLAN),
    );
  }
  if (o.only !== "loader" && (!o.scenarios || o.scenarios.length)) {
    log("== API vs pgbench vs bare servers");
    const opts = { ...common, durationSec: o.duration, only: o.scenarios };
    figures.api = await withDatabase("bench_api", (db) => apiBench({ ...opts, db }, API_PLAN));
  }
  if (o.only !== "loader" && o.baseline) {
    log(`== API vs its baseline ${o.baseline}, side by side`);
    const b = await baselineBench({ ...common, ref: o.baseline, durationSec: o.duration });
    figures.api = {
      scenarios: [...figures.api?.scenarios ?? [], ...b.scenarios],
      ratios: [...figures.api?.ratios ?? [], ...b.ratios],
      notes: [...figures.api?.notes ?? [], ...b.notes],
    };
  }
  if (o.profile) {
    log("== profiles");
    figures.profiles = await withDatabase("bench_prof", async (db) =>
      [
        o.only === "api" ? "" : await profileLoader(db, OUT, Math.min(o.rows, 500_000)),
        o.only === "loader" ? "" : await profileServer(db, OUT, o.duration, API_PLAN),
      ].join("\n"));
  }
  return figures;
}

/** Writes BENCHMARKS.md, formatted: `deno fmt --check` (the CI's `deno task check`) covers it. */
async function writeBenchmarks(report: Report): Promise<void> {
  report.findings = await Deno.readTextFile("bench/findings.md");
  await Deno.writeTextFile("BENCHMARKS.md", markdown(report));
  await run("deno", ["fmt", "-q", "BENCHMARKS.md"]);
}

async function main() {
  let o: Options;
  try {
    o = options(Deno.args);
  } catch (err) {
    console.error(`bench: ${(err as Error).message.split("\n")[0]} (--help lists the options)`);
    Deno.exit(2);
  }
  if (o.renderOnly) {
    const report = JSON.parse(await Deno.readTextFile(`${OUT}/last_report.json`)) as Report;
    await writeBenchmarks(report);
    return console.log(printable(report));
  }
  const problem = await missingTool() ?? await postgresProblem();
  if (problem) {
    console.error(`bench: ${problem}`);
    Deno.exit(1);
  }
  const command = ["deno task bench", ...Deno.args].join(" ");
  await Deno.mkdir(OUT, { recursive: true });
  log(`${command}: ${o.reps} rounds, ${o.rows.toLocaleString()} rows, ${o.duration} s loads`);
  await run("deno", ["cache", "cli.ts", "bench/bare_server.ts"]);
  const machine = await machineInfo();
  const figures = await measure(o);
  const head = (await run("git", ["rev-parse", "--short", "HEAD"])).stdout.trim();
  const dirty = (await run("git", ["status", "--porcelain", "--untracked-files=no"])).stdout.trim();
  const report: Report = {
    ...figures,
    command,
    options: `${o.reps} rounds, ${o.rows.toLocaleString("en-US")} rows, ${o.duration} s per load` +
      (o.batchSize ? `, batch size ${o.batchSize}` : ""),
    commit: head ? head + (dirty ? " + uncommitted changes" : "") : undefined,
    seconds: (performance.now() - started) / 1000,
    machine,
  };
  await Deno.writeTextFile(`${OUT}/last_report.json`, JSON.stringify(report));
  console.log("\n" + printable(report));
  if (o.write) {
    await writeBenchmarks(report);
    log("wrote BENCHMARKS.md");
  }
  log(`done in ${((performance.now() - started) / 60000).toFixed(1)} min`);
}

if (import.meta.main) {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, async () => {
      console.error(`\n${sig}: stopping the servers, dropping the bench's databases`);
      await undoAll();
      Deno.exit(130);
    });
  }
  try {
    await main();
  } catch (err) {
    console.error(`bench failed: ${(err as Error).stack ?? err}`);
    await undoAll();
    Deno.exit(1);
  }
}
