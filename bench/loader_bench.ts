/**
 * The loader against `psql \copy`: generated files into fresh tables, each side once per round,
 * alternating; and the loader's peak RSS at several sizes. What is compared is declared in
 * bench/loader_scenarios.ts.
 *
 * The loader is spawned directly (`deno run -A cli.ts ingest ...`, not `deno task`), so its wall
 * clock and peak RSS are the loader's own. The `\copy` table is created by the loader's own
 * `CREATE TABLE` for the schema, so both sides load into the same column types.
 *
 * @module
 */
import { createStatement } from "../src/etl/target_table.ts";
import { generateCsv, type GenerateResult, schemaFor } from "./generate_csv.ts";
import { databaseUrl, pgEnv, postgresRoles, psql } from "./pg.ts";
import { type CpuSplit, meanSplit, run, runMeasured, sampled } from "./proc.ts";
import { measureRounds } from "./rounds.ts";
import { median, type Ratio } from "./stats.ts";

/** A generated input file: its share of defective rows, its seed, and gzip-compressed or not. */
export type InputSpec = { defectRate: number; seed: number; gzip?: boolean };

/** One side of the comparison: the loader (with more `args`) or `psql \copy` on an input. */
export interface LoaderRun {
  id: string;
  label(input: GenerateResult): string;
  input: string;
  copy?: boolean;
  args?: string[];
  /** Puts the (dropped) table in the state the run starts from; it then loads without `--replace`. */
  prepare?: (db: string, table: string, input: GenerateResult) => Promise<void>;
}

/** Everything the loader section measures: inputs (`--rows` rows each), runs, ratios of rows/s. */
export interface LoaderPlan {
  inputs: Record<string, InputSpec>;
  runs: LoaderRun[];
  ratios: Ratio[];
}

/** Options for {@linkcode loaderBench}; `memRows` are the sizes for the peak RSS, smallest first. */
export interface LoaderBenchOptions {
  db: string;
  outDir: string;
  rows: number;
  memRows: number[];
  reps: number;
  batchSize?: number;
  log(msg: string): void;
}

/** One timed load, and the cores used while it ran (loader or psql, PostgreSQL, the rest). */
export interface LoadTiming {
  rep: number;
  seconds: number;
  rowsPerSec: number;
  peakRssMiB: number;
  cpu?: CpuSplit;
}

/** What {@linkcode loaderBench} measured: each run's rounds, medians and mean CPU split. */
export type LoaderFigures = Awaited<ReturnType<typeof loaderBench>>;

/** A generated file (gzip-compressed when asked), made again only when it is not there. */
export async function cachedCsv(outDir: string, rows: number, spec: InputSpec) {
  const name = `${outDir}/data_${rows}_${Math.round(spec.defectRate * 1000)}_${spec.seed}`;
  let plain: GenerateResult | undefined;
  try {
    const m = JSON.parse(await Deno.readTextFile(`${name}.json`)) as GenerateResult;
    if ((await Deno.stat(m.path)).size === m.bytes) plain = m;
  } catch { /* generate */ }
  if (!plain) {
    plain = await generateCsv({
      rows,
      path: `${name}.csv`,
      defectRate: spec.defectRate,
      seed: spec.seed,
    });
    await Deno.writeTextFile(`${name}.json`, JSON.stringify(plain));
  }
  if (!spec.gzip) return plain;
  const path = `${plain.path}.gz`;
  const [gz, csv] = await Promise.all([
    Deno.stat(path).catch(() => undefined),
    Deno.stat(plain.path),
  ]);
  if (!(gz?.mtime && csv.mtime && gz.mtime >= csv.mtime && gz.size > 0)) {
    const sh = `gzip -c '${plain.path}' > '${path}.tmp' && mv '${path}.tmp' '${path}'`;
    const r = await run("sh", ["-c", sh]);
    if (r.code !== 0) throw new Error(`gzip failed: ${r.stderr.trim()}`);
  }
  return { ...plain, path, bytes: (await Deno.stat(path)).size };
}

/** The loader's command line for `file` into a fresh `table`, with the generated files' schema. */
export async function loaderArgs(db: string, outDir: string, file: string, table: string) {
  const schema = `${outDir}/bench_schema.json`;
  await Deno.writeTextFile(schema, JSON.stringify(schemaFor("bench_data")));
  const out = `${outDir}/${table}`;
  // --replace only keeps a retry into the same table name from being refused as "already loaded".
  return `run -A cli.ts ingest ${file} --table=${table} --schema=${schema} --database-url=${
    databaseUrl(db)
  } --quiet --replace --rejects=${out}.rejects.csv --log-file=${out}.ingest.log`.split(" ");
}

/** The loader section's steps on one database; `notes` gathers what the report should say. */
function section(o: LoaderBenchOptions, notes: string[]) {
  const drop = (table: string) => psql(o.db, `DROP TABLE IF EXISTS ${table}`);
  /** Loads `file` into `table` with the loader (without `--replace` when `keep`). */
  const loader = async (file: GenerateResult, table: string, args: string[] = [], keep = false) => {
    const batch = o.batchSize ? [`--batch-size=${o.batchSize}`] : [];
    const base = await loaderArgs(o.db, o.outDir, file.path, table);
    const cmd = [...base.filter((a) => !keep || a !== "--replace"), ...batch, ...args];
    const r = await runMeasured("deno", cmd, o.outDir, { NO_COLOR: "1" });
    if (r.code !== 0) {
      throw new Error(`loader exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 2000)}`);
    }
    return r;
  };
  /** Loads `file` into a fresh `table` with `psql \\copy`. */
  const copy = async (file: GenerateResult, table: string) => {
    await psql(o.db, createStatement(table, schemaFor(table)));
    const sql = `\\copy ${table} FROM '${file.path}' WITH (FORMAT csv, HEADER true)`;
    const r = await run(
      "psql",
      ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", o.db, "-c", sql],
      pgEnv(),
    );
    if (r.code !== 0) throw new Error(`psql \\copy failed: ${r.stderr.trim()}`);
    return { ...r, peakRssMiB: NaN };
  };
  /** Checks that `table` holds the valid rows of `file`, then drops it. */
  const check = async (file: GenerateResult, table: string) => {
    const loaded = Number(await psql(o.db, `SELECT count(*) FROM ${table}`));
    const expected = file.rows - file.defective;
    if (loaded !== expected) notes.push(`${table}: loaded ${loaded} rows, expected ${expected}`);
    await drop(table);
  };
  /** Times one run, sampling the CPU of this process's children and of PostgreSQL. */
  const timed = async (run: LoaderRun, file: GenerateResult, rep: number): Promise<LoadTiming> => {
    const table = `${run.id}_r${rep}`;
    await drop(table);
    await run.prepare?.(o.db, table, file);
    const r = await sampled(
      [{ name: run.copy ? "psql" : "loader", rootPids: [Deno.pid] }, ...postgresRoles(o.db)],
      () => run.copy ? copy(file, table) : loader(file, table, run.args, run.prepare !== undefined),
    );
    await check(file, table);
    const { seconds, peakRssMiB, cpu } = r;
    return { rep, seconds, rowsPerSec: file.rows / seconds, peakRssMiB, cpu };
  };
  return { loader, check, timed };
}

/**
 * Runs the loader section: a warm-up, every run of the plan once per round, then the memory.
 *
 * @example
 * ```ts
 * const figures = await loaderBench({ db, outDir, rows: 1e6, memRows: [2e5, 2e6], reps: 3, log }, LOADER_PLAN);
 * ```
 */
export async function loaderBench(o: LoaderBenchOptions, plan: LoaderPlan) {
  const notes: string[] = [];
  const { loader, check, timed } = section(o, notes);
  const inputs: Record<string, GenerateResult> = {};
  for (const [name, spec] of Object.entries(plan.inputs)) {
    o.log(`  generating ${o.rows.toLocaleString()} rows (${name}, ${spec.defectRate * 100}% bad)`);
    inputs[name] = await cachedCsv(o.outDir, o.rows, spec);
  }
  o.log("  warm-up load of 2,000 rows (caches the CLI, checks the reject count)");
  const warmup = await cachedCsv(o.outDir, 2000, { defectRate: 0.05, seed: 44 });
  await loader(warmup, "warmup");
  await check(warmup, "warmup");

  const byId = new Map(plan.runs.map((r) => [r.id, r]));
  const timings = await measureRounds<LoadTiming>({
    ids: plan.runs.map((r) => r.id),
    reps: o.reps,
    step: 1,
    before: () => psql(o.db, "CHECKPOINT").then(() => {}),
    run: (id, rep) => timed(byId.get(id)!, inputs[byId.get(id)!.input], rep),
    describe: (t) =>
      `${t.seconds.toFixed(2)} s  ${Math.round(t.rowsPerSec).toLocaleString()} rows/s` +
      (Number.isFinite(t.peakRssMiB) ? `  peak RSS ${t.peakRssMiB.toFixed(0)} MiB` : ""),
    log: o.log,
    notes,
  });
  const runs = plan.runs.map((r) => {
    const ts = timings.get(r.id)!;
    const [rowsPerSec, cpu] = [
      median(ts.map((t) => t.rowsPerSec)),
      meanSplit(ts.map((t) => t.cpu)),
    ];
    return { id: r.id, label: r.label(inputs[r.input]), runs: ts, rowsPerSec, cpu };
  });
  const perRound = (of: string, to: string) =>
    timings.get(of)!.flatMap((x) =>
      timings.get(to)!.filter((y) => y.rep === x.rep).map((y) => x.rowsPerSec / y.rowsPerSec)
    );
  const ratios = plan.ratios.map((x) => ({ ...x, value: median(perRound(x.of, x.to)) }));
  const mem = [];
  for (const rows of o.memRows) {
    const file = await cachedCsv(o.outDir, rows, { defectRate: 0, seed: 45 });
    await psql(o.db, "CHECKPOINT");
    const { peakRssMiB, seconds } = await loader(file, `loader_mem_${rows}`);
    await check(file, `loader_mem_${rows}`);
    mem.push({ rows, peakRssMiB, seconds, rowsPerSec: rows / seconds });
    o.log(
      `  memory ${rows.toLocaleString()} rows: peak RSS ${peakRssMiB.toFixed(1)} MiB (${
        seconds.toFixed(1)
      } s)`,
    );
  }
  return { inputs, runs, ratios, mem, notes };
}
