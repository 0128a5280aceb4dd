/**
 * The figures as the tables printed at the end of a run and as BENCHMARKS.md.
 *
 * @module
 */
import type { ApiFigures } from "./api_bench.ts";
import type { LoaderFigures } from "./loader_bench.ts";
import type { MachineInfo } from "./machine.ts";
import { fmtCpuSplit } from "./proc.ts";
import { TARGETS } from "./scenarios.ts";
import { fmt, fmtInt, fmtMs, fmtRuns, markdownTable as table, type RatioFigure } from "./stats.ts";

/** What the sections measured. */
export type Figures = { loader?: LoaderFigures; api?: ApiFigures };

/** A whole run, as bench/.out/last_report.json keeps it for `--render-only`. */
export interface Report extends Figures {
  command: string;
  /** "3 rounds, 1,000,000 rows, 10 s per load". */
  options: string;
  /** The commit measured, with "+ uncommitted changes" when the tree is dirty. */
  commit?: string;
  seconds: number;
  machine: MachineInfo;
  /** Markdown of this run's profiles (`--profile`). */
  profiles?: string;
  /** Hand-written findings (bench/findings.md), read at every rendering. */
  findings?: string;
}

const targetsTable = (f: Figures) =>
  table(
    ["figure", "bar", "goal", "measured", "result"],
    TARGETS.map((t) => {
      const m = t.measure(f);
      const result = !m ? "not measured" : m.goal ? "PASS (goal)" : m.bar ? "PASS (bar)" : "FAIL";
      return [t.figure(f), t.bar, t.goal, m?.shown ?? "n/a", result];
    }),
  );
const ratiosTable = (title: string, ratios: RatioFigure[]) =>
  table([title, "value"], ratios.map((r) => [r.label, fmt(r.value)]));
const CPU_SPLIT = "CPU split while each ran (cores, mean over rounds";

const loaderTables = (l: LoaderFigures) =>
  [
    table(
      ["run", "rows/s (median)", "rows/s per round", "seconds per round"],
      l.runs.map((r) => [
        r.label,
        fmtInt(r.rowsPerSec),
        fmtRuns(r.runs.map((t) => t.rowsPerSec), fmtInt),
        fmtRuns(r.runs.map((t) => t.seconds), (s) => s.toFixed(2)),
      ]),
    ),
    `${CPU_SPLIT}):`,
    table(["run", "cores"], l.runs.map((r) => [r.id, fmtCpuSplit(r.cpu)])),
    ratiosTable("ratio (median of per-round ratios)", l.ratios),
    table(
      ["loader peak RSS", "MiB", "seconds", "rows/s"],
      l.mem.map((
        m,
      ) => [
        `${fmtInt(m.rows)} rows`,
        fmt(m.peakRssMiB, 1),
        fmt(m.seconds, 1),
        fmtInt(m.rowsPerSec),
      ]),
    ),
    "Peak RSS read with /usr/bin/time -v (ru_maxrss).",
  ].join("\n\n");

const apiTables = (a: ApiFigures) =>
  [
    table(
      ["scenario", "req/s (median)", "p50", "p99", "req/s per round", "errors"],
      a.scenarios.map((s) => [
        s.label,
        fmtInt(s.rps),
        fmtMs(s.p50),
        fmtMs(s.p99),
        fmtRuns(s.runs.map((x) => x.rps), fmtInt),
        fmtInt(s.errors),
      ]),
    ),
    ratiosTable("ratio of medians", a.ratios),
    `${CPU_SPLIT}; \`loadgen\` is wrk or pgbench, \`harness\` this script's own sampling, the ` +
    "others the servers by name):",
    table(["scenario", "cores"], a.scenarios.map((s) => [s.id, fmtCpuSplit(s.cpu)])),
  ].join("\n\n");

const notesOf = (r: Figures) =>
  [...(r.loader?.notes ?? []), ...(r.api?.notes ?? [])].map((n) => `- ${n}`).join("\n");

/** The summary printed at the end of a run (Markdown tables read fine on a terminal). */
export function printable(r: Report): string {
  const parts = ["Targets (issue 4)", targetsTable(r)];
  if (r.loader) parts.push("Loader vs \\copy", loaderTables(r.loader));
  if (r.api) parts.push("API vs its database", apiTables(r.api));
  if (notesOf(r)) parts.push("Notes", notesOf(r));
  return parts.join("\n\n");
}

function loaderProse(l: LoaderFigures): string {
  const inputs = Object.entries(l.inputs).map(([name, f]) => {
    const kinds = Object.entries(f.defectsByKind).map(([k, v]) => `${k} ${v}`).join(", ");
    const bad = f.defective ? `, ${fmtInt(f.defective)} bad rows: ${kinds})` : ")";
    return `${name} (${fmt(f.bytes / 1e6, 0)} MB, ${
      fmtInt(f.multiline)
    } records spanning lines${bad}`;
  });
  return `Inputs: ${
    fmtInt(Object.values(l.inputs)[0]?.rows ?? NaN)
  } generated rows each, 12 typed ` +
    `columns (\`bench/generate_csv.ts\`): ${
      inputs.join("; ")
    }. Each run loads into a fresh table; ` +
    "the `\\copy` table is created by the loader's own `CREATE TABLE` for the schema " +
    "(`createStatement`, src/etl/target_table.ts), and the row counts are checked after every run. " +
    "The loader is timed by the wall clock of its own process (`deno run -A cli.ts ingest ... " +
    "--schema ... --quiet`), start-up included; rows/s = input rows ÷ seconds.";
}

const API_PROSE =
  "wrk (32 connections, 2 threads) against `deno run -A cli.ts serve` on a fresh database " +
  "(rate limits off, JWT_SECRET set), a user with 1,000 tasks; pgbench (`-n -c 16 -j 2`) runs the " +
  "statements the API's query functions send, recorded from `listTasks` and `insertTask` " +
  "(src/db/tasks.ts) on the bench's database (one statement per request), in the simple, extended " +
  "and prepared protocols. The API names its statements, so node-postgres parses each once per " +
  "connection and then only binds and executes: `prepared` is the like-for-like ceiling. The bare " +
  "node-postgres server (`bench/bare_server.ts` with `BARE_PG_USER_ID`) answers from the same " +
  "`listTasks` with no framework, auth or logging; the bare route (`bench/bare_server.ts` without it) " +
  "is Deno.serve + Hono answering a fixed 10-task JSON page. `POST /login` is bounded by argon2id " +
  "(19 MiB, 2 passes) by design: its rate is the cost of the password hash, not of the server. wrk " +
  "took less CPU per request than autocannon on these 2 cores (see Findings: Tools).";

/** BENCHMARKS.md. */
export function markdown(r: Report): string {
  const m = r.machine;
  const parts = [
    "# Benchmarks",
    "Made by `deno task bench` (bench/run.ts); this file is rewritten by every run. The machine is " +
    "shared and noisy, so every comparison runs its sides in the same run, alternating, several " +
    "rounds, and quotes medians: the ratios are the figures that count, not the absolute rates.",
    [
      `- command: \`${r.command}\` (${r.options})`,
      ...(r.commit ? [`- measured at commit ${r.commit}`] : []),
      `- date: ${m.date}; the whole run took ${fmt(r.seconds / 60, 1)} min`,
      `- machine: ${m.cores} cores (${m.cpuModel}), ${fmt(m.memoryGiB, 1)} GiB memory, ${m.os}, ` +
      `Linux ${m.kernel}`,
      `- Deno ${m.deno} (V8 ${m.v8}); ${m.postgres} (${m.postgresSettings}); ${m.wrk}; ${m.pgbench}`,
    ].join("\n"),
    "## Targets (issue 4)",
    targetsTable(r),
  ];
  if (r.loader) {
    parts.push("## Loader vs `psql \\copy`", loaderProse(r.loader), loaderTables(r.loader));
  }
  if (r.api) parts.push("## API vs its database", API_PROSE, apiTables(r.api));
  if (notesOf(r)) parts.push("## Notes from this run", notesOf(r));
  if (r.profiles) parts.push("## Profiles from this run", r.profiles);
  if (r.findings) parts.push(r.findings.trim());
  return parts.join("\n\n") + "\n";
}
