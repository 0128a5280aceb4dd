/** Turns the figures into the printed tables and BENCHMARKS.md. */
import type { ApiFigures, ScenarioFigures } from "./api_bench.ts";
import type { LoaderFigures } from "./loader_bench.ts";
import type { MachineInfo } from "./machine.ts";
import { fmtCpuSplit, meanSplit } from "./proc.ts";
import { fmt, fmtInt, fmtMs, fmtRuns, markdownTable, ratio } from "./stats.ts";

export interface Report {
  command: string;
  /** The commit measured (`git rev-parse --short HEAD`), plus "+ changes" when the tree is dirty. */
  commit?: string;
  seconds: number;
  machine: MachineInfo;
  loader?: LoaderFigures;
  api?: ApiFigures;
  /** Markdown of this run's profiles, when `--profile` was given. */
  profiles?: string;
  /** Hand-written findings (bench/findings.md), kept across runs. */
  findings?: string;
  options: string;
}

/** A target of issue 4: its bar, its goal, and the measured value. */
interface Target {
  figure: string;
  bar: string;
  goal: string;
  value: string;
  result: string;
}

function verdict(value: number, bar: (v: number) => boolean, goal: (v: number) => boolean): string {
  if (!Number.isFinite(value)) return "not measured";
  if (goal(value)) return "PASS (goal)";
  if (bar(value)) return "PASS (bar)";
  return "FAIL";
}

function scenario(api: ApiFigures | undefined, id: string): ScenarioFigures | undefined {
  return api?.scenarios.find((s) => s.id === id);
}

/** The headline ratios and the targets table. */
export function targets(r: Report): Target[] {
  const l = r.loader;
  const out: Target[] = [];
  const rc = l?.available ? l.ratioClean : NaN;
  out.push({
    figure: `loader rows/s ÷ \`\\copy\` rows/s, ${fmtInt(l?.clean.rows ?? NaN)} clean rows, full ` +
      "validation" +
      ((l?.clean.rows ?? 0) < 1_000_000 ? " (issue 4 asks for 1M: start-up weighs more here)" : ""),
    bar: "≥ 0.5",
    goal: "≥ 0.9",
    value: fmt(rc),
    result: verdict(rc, (v) => v >= 0.5, (v) => v >= 0.9),
  });
  const rd = l?.available ? l.ratioDefective : NaN;
  out.push({
    figure: "loader with 5% defective rows ÷ `\\copy` on the clean file",
    bar: "≥ 0.45",
    goal: "≥ 0.8",
    value: fmt(rd),
    result: verdict(rd, (v) => v >= 0.45, (v) => v >= 0.8),
  });
  const small = l?.mem[0];
  const big = l?.mem[1];
  const growth = small && big ? big.peakRssMiB / small.peakRssMiB : NaN;
  const bigMiB = big?.peakRssMiB ?? NaN;
  out.push({
    figure: `loader peak RSS at ${fmtInt(big?.rows ?? NaN)} rows`,
    bar: "≤ 1.3 × at 200k, ≤ 200 MB",
    goal: "≤ 120 MB",
    value: `${fmt(bigMiB, 0)} MiB (${fmt(growth)} × at ${fmtInt(small?.rows ?? NaN)})`,
    result: verdict(
      Number.isFinite(growth) ? bigMiB : NaN,
      (v) => v * 1.048576 <= 200 && growth <= 1.3,
      (v) => v * 1.048576 <= 120 && growth <= 1.3,
    ),
  });
  const get = scenario(r.api, "api_get");
  const pgb = scenario(r.api, `pgbench_get_${r.api?.protocol ?? "extended"}`);
  const rg = r.api?.apiAvailable ? ratio(get?.rps ?? NaN, pgb?.rps ?? NaN) : NaN;
  out.push({
    figure:
      `\`GET /tasks\` requests/s ÷ pgbench of its own SQL (${r.api?.protocol ?? "extended"}, ` +
      `the driver's protocol, 16 clients)`,
    bar: "≥ 0.3",
    goal: "≥ 0.5",
    value: fmt(rg),
    result: verdict(rg, (v) => v >= 0.3, (v) => v >= 0.5),
  });
  const p99 = r.api?.apiAvailable ? get?.p99 ?? NaN : NaN;
  out.push({
    figure: "`GET /tasks` p99 at 32 connections",
    bar: "≤ 50 ms",
    goal: "≤ 10 ms",
    value: fmtMs(p99),
    result: verdict(p99, (v) => v <= 50, (v) => v <= 10),
  });
  return out;
}

function loaderTable(l: LoaderFigures): string {
  const runsOf = (side: string) => l.runs.filter((x) => x.side === side).map((x) => x.rowsPerSec);
  const secsOf = (side: string) => l.runs.filter((x) => x.side === side).map((x) => x.seconds);
  const rows: string[][] = [];
  const add = (name: string, side: string, rps: number) =>
    rows.push([
      name,
      fmtInt(rps),
      fmtRuns(runsOf(side), fmtInt),
      fmtRuns(secsOf(side), (s) => s.toFixed(2)),
    ]);
  if (l.available) add(`loader, ${fmtInt(l.clean.rows)} clean rows`, "loader", l.loaderRps);
  add(`\`psql \\copy\`, same file (no validation)`, "copy", l.copyRps);
  if (l.available) {
    add(
      `loader, ${fmtInt(l.defective.rows)} rows, ${fmtInt(l.defective.defective)} defective`,
      "loader_defective",
      l.loaderBadRps,
    );
  }
  let md = markdownTable(["run", "rows/s (median)", "rows/s per round", "seconds per round"], rows);
  const sides = ["loader", "copy", "loader_defective"].filter((x) => runsOf(x).length > 0);
  md += "\n\nCPU split while each ran (cores, mean over rounds):\n\n" + markdownTable(
    ["run", "cores"],
    sides.map((side) => [
      side,
      fmtCpuSplit(meanSplit(l.runs.filter((x) => x.side === side).map((x) => x.cpu))),
    ]),
  );
  if (l.available) {
    md += "\n\n" + markdownTable(["ratio (median of per-round ratios)", "value"], [
      ["loader ÷ \\copy, clean", fmt(l.ratioClean)],
      ["loader on the defective file ÷ \\copy on the clean one", fmt(l.ratioDefective)],
    ]);
    if (l.mem.length) {
      md += "\n\n" + markdownTable(
        ["loader peak RSS", "MiB", "seconds", "rows/s"],
        l.mem.map((
          m,
        ) => [
          `${fmtInt(m.rows)} rows`,
          fmt(m.peakRssMiB, 1),
          fmt(m.seconds, 1),
          fmtInt(m.rowsPerSec),
        ]),
      );
      md += `\n\nPeak RSS read with ${l.rssSource}.`;
    }
  }
  return md;
}

function apiTable(a: ApiFigures): string {
  const rows = a.scenarios.map((s) => [
    s.label +
    (s.id === `pgbench_get_${a.protocol}` || s.id === `pgbench_post_${a.protocol}`
      ? " (the API's protocol)"
      : ""),
    fmtInt(s.rps),
    fmtMs(s.p50),
    fmtMs(s.p99),
    fmtRuns(s.runs.map((x) => x.rps), fmtInt),
    s.errors ? fmtInt(s.errors) : "0",
  ]);
  let md = markdownTable(
    ["scenario", "req/s (median)", "p50", "p99", "req/s per round", "errors"],
    rows,
  );
  const r = (x: string, y: string) => ratio(scenario(a, x)?.rps ?? NaN, scenario(a, y)?.rps ?? NaN);
  if (a.apiAvailable) {
    const p = a.protocol;
    const others = (["extended", "simple", "prepared"] as const).filter((x) => x !== p);
    md += "\n\n" + markdownTable(["ratio of medians", "value"], [
      [`API GET ÷ pgbench ${p} (the API's protocol)`, fmt(r("api_get", `pgbench_get_${p}`))],
      ...others.map((x) => [`API GET ÷ pgbench ${x}`, fmt(r("api_get", `pgbench_get_${x}`))]),
      [
        "API GET ÷ bare Deno + node-postgres server (the app's own cost)",
        fmt(r("api_get", "bare_pg_get")),
      ],
      [
        `bare Deno + node-postgres ÷ pgbench ${p} (the driver's and Deno's cost)`,
        fmt(r("bare_pg_get", `pgbench_get_${p}`)),
      ],
      ["API GET ÷ bare Hono route", fmt(r("api_get", "bare_get"))],
      [`API POST ÷ pgbench ${p} (the API's protocol)`, fmt(r("api_post", `pgbench_post_${p}`))],
      ...others.map((x) => [`API POST ÷ pgbench ${x}`, fmt(r("api_post", `pgbench_post_${x}`))]),
    ]);
  }
  if (a.dbWork) md += `\n\nDatabase work of the API, from PostgreSQL's statistics, ${a.dbWork}.`;
  md += "\n\nCPU split while each ran (cores, mean over rounds; `loadgen` is wrk or pgbench, " +
    "`harness` this script's own sampling):\n\n" +
    markdownTable(["scenario", "cores"], a.scenarios.map((s) => [s.id, fmtCpuSplit(s.cpu)]));
  return md;
}

/** The plain-text summary printed at the end of a run (Markdown tables read fine on a terminal). */
export function printable(r: Report): string {
  const parts = [
    `Targets (issue 4)\n`,
    markdownTable(
      ["figure", "bar", "goal", "measured", "result"],
      targets(r).map((t) => [t.figure, t.bar, t.goal, t.value, t.result]),
    ),
  ];
  if (r.loader) parts.push("\nLoader vs \\copy\n", loaderTable(r.loader));
  if (r.api) parts.push("\nAPI vs its database\n", apiTable(r.api));
  const notes = [...(r.loader?.notes ?? []), ...(r.api?.notes ?? [])];
  if (r.loader && !r.loader.available) {
    notes.unshift(`loader not measured: ${r.loader.unavailableReason}`);
  }
  if (r.api && !r.api.apiAvailable) notes.unshift(`API not measured: ${r.api.unavailableReason}`);
  if (notes.length) parts.push("\nNotes\n", notes.map((n) => `- ${n}`).join("\n"));
  return parts.join("\n");
}

/** BENCHMARKS.md. */
export function markdown(r: Report): string {
  const m = r.machine;
  const lines = [
    "# Benchmarks",
    "",
    "Made by `deno task bench` (bench/run.ts); this file is rewritten by every run. The machine is",
    "shared and noisy, so every comparison runs its sides in the same run, alternating, several rounds,",
    "and quotes medians: the ratios are the figures that count, not the absolute rates.",
    "",
    `- command: \`${r.command}\` (${r.options})`,
    ...(r.commit ? [`- measured at commit ${r.commit}`] : []),
    `- date: ${m.date}; the whole run took ${fmt(r.seconds / 60, 1)} min`,
    `- machine: ${m.cores} cores (${m.cpuModel}), ${
      fmt(m.memoryGiB, 1)
    } GiB memory, ${m.os}, Linux ${m.kernel}`,
    `- Deno ${m.deno} (V8 ${m.v8}); ${m.postgres} (${m.postgresSettings}); ${m.wrk}; ${m.pgbench}`,
    "",
    "## Targets (issue 4)",
    "",
    markdownTable(
      ["figure", "bar", "goal", "measured", "result"],
      targets(r).map((t) => [t.figure, t.bar, t.goal, t.value, t.result]),
    ),
    "",
  ];
  if (r.loader) {
    const l = r.loader;
    lines.push(
      "## Loader vs `psql \\copy`",
      "",
      `Input: ${fmtInt(l.clean.rows)} generated rows, 12 typed columns (${
        fmt(l.clean.bytes / 1e6, 0)
      } MB, ` +
        `${fmtInt(l.clean.multiline)} records spanning lines); the defective file has ` +
        `${fmtInt(l.defective.defective)} bad rows (${
          Object.entries(l.defective.defectsByKind).map(([k, v]) => `${k} ${v}`).join(", ")
        }). ` +
        "Each run loads into a fresh table; the `\\copy` table is created with the same column types " +
        "(`bench/generate_csv.ts` `createTableSql`), and the row counts are checked after every run. " +
        "The loader is timed by the wall clock of its own process (`deno run -A cli.ts ingest ... " +
        "--schema ... --quiet`), start-up included; rows/s = input rows ÷ seconds.",
      "",
      l.available ? "" : `The loader was not measured: ${l.unavailableReason}.\n`,
      loaderTable(l),
      "",
    );
  }
  if (r.api) {
    const a = r.api;
    lines.push(
      "## API vs its database",
      "",
      "wrk (32 connections, 2 threads) against `deno run -A main.ts` on a fresh database (rate limits " +
        "off, JWT_SECRET set), a user with 1,000 tasks; pgbench (`-n -c 16 -j 2`) runs the same SQL " +
        "(`bench/api_sql.ts`, copied from `src/db/tasks.ts`: one statement per request) in the " +
        "simple, extended and prepared protocols. " +
        (a.protocol === "prepared"
          ? "The API names its statements, so node-postgres parses each once per connection and then " +
            "only binds and executes: `prepared` is the like-for-like ceiling. "
          : "node-postgres sends unnamed statements with the extended protocol, so `extended` is the " +
            "like-for-like ceiling. ") +
        "The bare node-postgres server (`bench/bare_pg_server.ts`) runs the API's page statement the " +
        "same way with no framework, auth or logging. The " +
        "bare route is `bench/bare_server.ts`: Deno.serve + Hono answering a fixed 10-task JSON page. " +
        "`POST /login` is bounded by argon2id (19 MiB, 2 passes) by design: its rate is the cost of " +
        "the password hash, not of the server. wrk was chosen over autocannon because it took less CPU " +
        "per request on these 2 cores (see Findings: Tools).",
      "",
      a.apiAvailable ? "" : `The API was not measured: ${a.unavailableReason}.\n`,
      apiTable(a),
      "",
    );
  }
  const notes = [...(r.loader?.notes ?? []), ...(r.api?.notes ?? [])];
  if (notes.length) lines.push("## Notes from this run", "", ...notes.map((n) => `- ${n}`), "");
  if (r.profiles) lines.push("## Profiles from this run", "", r.profiles, "");
  if (r.findings) lines.push(r.findings.trim(), "");
  return lines.filter((x, i, arr) => !(x === "" && arr[i - 1] === "")).join("\n");
}
