/**
 * What `deno task bench` measures of the loader: its inputs, runs and ratios against `psql
 * \copy` (and against itself: gzip input, upserts), and its targets (issues 4 and 9). bench/run.ts
 * says how to add to each.
 *
 * @module
 */
import { createStatement } from "../src/etl/target_table.ts";
import { type GenerateResult, schemaFor } from "./generate_csv.ts";
import type { LoaderPlan } from "./loader_bench.ts";
import { psql } from "./pg.ts";
import type { Figures } from "./report.ts";
import { fmt, fmtInt } from "./stats.ts";
import { atLeast, ratioOf, type Target } from "./targets.ts";

export const LOADER_PLAN: LoaderPlan = {
  inputs: {
    clean: { defectRate: 0, seed: 42 },
    defective: { defectRate: 0.05, seed: 43 },
    clean_gz: { defectRate: 0, seed: 42, gzip: true },
  },
  runs: [
    {
      id: "loader",
      input: "clean",
      tool: "loader",
      label: (f) => `loader, ${fmtInt(f.rows)} clean rows`,
    },
    {
      id: "copy",
      input: "clean",
      tool: "copy",
      label: () => "`psql \\copy`, same file (no validation)",
    },
    {
      id: "loader_defective",
      input: "defective",
      tool: "loader",
      label: (f) => `loader, ${fmtInt(f.rows)} rows, ${fmtInt(f.defective)} defective`,
    },
    {
      id: "loader_gz",
      input: "clean_gz",
      tool: "loader",
      label: (f) => `loader, the clean rows gzip-compressed (${fmtInt(f.bytes)} bytes)`,
    },
    {
      id: "loader_upsert",
      input: "clean",
      tool: "loader",
      args: ["--key=id", "--on-conflict=update"],
      prepare: halfLoaded,
      label: () => "loader `--key id --on-conflict update`, into a table holding every other id",
    },
  ],
  ratios: [
    { label: "loader ÷ \\copy, clean", of: "loader", to: "copy" },
    {
      label: "loader on the defective file ÷ \\copy on the clean one",
      of: "loader_defective",
      to: "copy",
    },
    { label: "loader, gzip input ÷ plain input", of: "loader_gz", to: "loader" },
    {
      label: "loader, --on-conflict update into a half-full table ÷ plain load",
      of: "loader_upsert",
      to: "loader",
    },
  ],
};

/**
 * The upsert run's table before it loads: created with `id` as its primary key, holding half of
 * the file's ids (every other one, the other columns empty), with no load of it recorded.
 */
async function halfLoaded(db: string, table: string, input: GenerateResult): Promise<void> {
  await psql(db, createStatement(table, schemaFor(table), ["id"]));
  await psql(
    db,
    `INSERT INTO ${table} (id, email) SELECT g, 'old' FROM generate_series(1, ${input.rows}, 2) g`,
  );
  await psql(
    db,
    `DO $$ BEGIN IF to_regclass('ingest_loads') IS NOT NULL THEN
       DELETE FROM ingest_loads WHERE table_name = '${table}'; END IF; END $$`,
  );
}

/** CPU seconds a role (`loader`, `postgres`) used in a loader run, averaged over its rounds. */
function cpuSeconds(f: Figures, run: string, role: string): number | undefined {
  const cpu = f.loader?.runs.find((r) => r.id === run)?.cpu;
  const cores = cpu?.cores[role];
  return cpu && cores !== undefined ? cores * cpu.seconds : undefined;
}

/** The loader's targets (issue 4's, and issue 9's gzip, upsert, memory and CPU). */
export const LOADER_TARGETS: Target[] = [
  {
    figure: (f) => {
      const rows = f.loader?.inputs.clean.rows ?? NaN;
      const short = rows < 1_000_000 ? " (issue 4 asks for 1M: start-up weighs more here)" : "";
      return `loader rows/s ÷ \`\\copy\` rows/s, ${
        fmtInt(rows)
      } clean rows, full validation${short}`;
    },
    bar: "≥ 0.5",
    goal: "≥ 0.9",
    measure: (f) => atLeast(ratioOf(f.loader?.ratios, "loader", "copy"), 0.5, 0.9),
  },
  {
    figure: () => "loader with 5% defective rows ÷ `\\copy` on the clean file",
    bar: "≥ 0.45",
    goal: "≥ 0.8",
    measure: (f) => atLeast(ratioOf(f.loader?.ratios, "loader_defective", "copy"), 0.45, 0.8),
  },
  {
    figure: (f) => `loader peak RSS at ${fmtInt(f.loader?.mem.at(-1)?.rows ?? NaN)} rows`,
    bar: "≤ 1.3 × at 200k, ≤ 200 MB",
    goal: "≤ 120 MB",
    measure: (f) => {
      const [small, big] = [f.loader?.mem[0], f.loader?.mem.at(-1)];
      if (!small || !big || small === big) return undefined;
      const growth = big.peakRssMiB / small.peakRssMiB;
      const mb = big.peakRssMiB * 1.048576;
      const shown = `${fmt(big.peakRssMiB, 0)} MiB (${fmt(growth)} × at ${fmtInt(small.rows)})`;
      return { shown, bar: growth <= 1.3 && mb <= 200, goal: growth <= 1.3 && mb <= 120 };
    },
  },
  {
    figure: (f) => {
      const [mid, big] = [f.loader?.mem.at(-2), f.loader?.mem.at(-1)];
      return `loader peak RSS at ${fmtInt(big?.rows ?? NaN)} rows ÷ at ${fmtInt(mid?.rows ?? NaN)}`;
    },
    bar: "≤ 1.3",
    goal: "≤ 1.1 (flat)",
    measure: (f) => {
      const mem = f.loader?.mem ?? [];
      if (mem.length < 2) return undefined;
      const v = mem[mem.length - 1].peakRssMiB / mem[mem.length - 2].peakRssMiB;
      return { shown: fmt(v), bar: v <= 1.3, goal: v <= 1.1 };
    },
  },
  {
    figure: () => "loader, gzip input rows/s ÷ plain input rows/s (issue 9)",
    bar: "≥ 0.7",
    goal: "≥ 0.85",
    measure: (f) => atLeast(ratioOf(f.loader?.ratios, "loader_gz", "loader"), 0.7, 0.85),
  },
  {
    figure: () =>
      "loader `--on-conflict update` into a table holding half of the rows ÷ plain load (issue 9)",
    bar: "≥ 0.3",
    goal: "≥ 0.5",
    measure: (f) => atLeast(ratioOf(f.loader?.ratios, "loader_upsert", "loader"), 0.3, 0.5),
  },
  {
    figure: (f) => {
      const per = cpuSeconds(f, "loader", "loader");
      const rows = (f.loader?.inputs.clean.rows ?? NaN) / 1e6;
      const each = per === undefined ? "?" : fmt(per / rows);
      return "loader process CPU ÷ the `\\copy` backend's CPU, same clean file (" + each +
        " s per million rows; issue 9)";
    },
    bar: "≤ 1",
    goal: "≤ 0.7",
    measure: (f) => {
      const [loader, backend] = [
        cpuSeconds(f, "loader", "loader"),
        cpuSeconds(f, "copy", "postgres"),
      ];
      if (loader === undefined || backend === undefined) return undefined;
      const v = loader / backend;
      return { shown: fmt(v), bar: v <= 1, goal: v <= 0.7 };
    },
  },
];
