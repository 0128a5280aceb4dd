/**
 * The loader against `psql \copy`: generated files into fresh tables, each side once per round,
 * alternating; and the loader's peak RSS at several sizes. What is compared is declared in
 * bench/scenarios.ts.
 *
 * The loader is spawned directly (`deno run -A cli.ts ingest ...`, not `deno task`), so its wall
 * clock and peak RSS are the loader's own. The `\copy` table is created by the loader's own
 * `CREATE TABLE` for the schema, so both sides load into the same column types.
 *
 * @module
 */
import { createStatement } from "../src/etl/target_table.ts";
import { generateCsv, type GenerateResult, schemaFor } from "./generate_csv.ts";
import { databaseUrl, pgEnv, POSTGRES_AUX, psql } from "./pg.ts";
import { type CpuSplit, meanSplit, run, runMeasured, sampled } from "./proc.ts";
import { measureRounds } from "./rounds.ts";
import { median, type Ratio, type RatioFigure } from "./stats.ts";

/** A generated input file: its share of defective rows and its seed; gzip-compressed or not. */
export interface InputSpec {
  defectRate: number;
  seed: number;
  /** The same rows, gzip-compressed (`gzip -c`, its default level). */
  gzip?: boolean;
}

/** One side of the comparison: the loader or `psql \copy` on one of the inputs. */
export interface LoaderRun {
  id: string;
  label(input: GenerateResult): string;
  input: string;
  tool: "loader" | "copy";
  /** More arguments for the loader. */
  args?: string[];
  /**
   * Puts the (dropped) table in the state the run starts from; the load then runs without
   * `--replace`, which would truncate it.
   */
  prepare?: (db: string, table: string, input: GenerateResult) => Promise<void>;
}

/** Everything the loader section measures. */
export interface LoaderPlan {
  /** Generated once (and cached in bench/.out), `--rows` rows each. */
  inputs: Record<string, InputSpec>;
  runs: LoaderRun[];
  /** Medians of the per-round ratios of rows/s between runs. */
  ratios: Ratio[];
}

/** Options for {@linkcode loaderBench}. */
export interface LoaderBenchOptions {
  db: string;
  outDir: string;
  rows: number;
  /** Sizes for the peak RSS, smallest first. */
  memRows: number[];
  reps: number;
  batchSize?: number;
  log(msg: string): void;
}

/** One timed load. */
export interface LoadTiming {
  rep: number;
  seconds: number;
  rowsPerSec: number;
  peakRssMiB: number;
  /** Cores used while it ran: the loader or psql, PostgreSQL, and anything else. */
  cpu?: CpuSplit;
}

/** A run's figures over its rounds. */
export interface LoaderRunFigures {
  id: string;
  label: string;
  runs: LoadTiming[];
  rowsPerSec: number;
  cpu: CpuSplit | undefined;
}

/** What {@linkcode loaderBench} measured. */
export interface LoaderFigures {
  inputs: Record<string, GenerateResult>;
  runs: LoaderRunFigures[];
  ratios: RatioFigure[];
  mem: { rows: number; peakRssMiB: number; seconds: number; rowsPerSec: number }[];
  notes: string[];
}

/** A generated file, made again only when no file of the same parameters is there. */
export async function cachedCsv(
  outDir: string,
  rows: number,
  spec: InputSpec,
): Promise<GenerateResult> {
  if (spec.gzip) return await cachedGzip(await cachedCsv(outDir, rows, { ...spec, gzip: false }));
  const name = `${outDir}/data_${rows}_${Math.round(spec.defectRate * 1000)}_${spec.seed}`;
  try {
    const m = JSON.parse(await Deno.readTextFile(`${name}.json`)) as GenerateResult;
    if ((await Deno.stat(m.path)).size === m.bytes) return m;
  } catch { /* generate */ }
  const result = await generateCsv({ rows, path: `${name}.csv`, ...spec });
  await Deno.writeTextFile(`${name}.json`, JSON.stringify(result));
  return result;
}

/** A generated file gzip-compressed next to it (made again when the plain file is newer). */
async function cachedGzip(plain: GenerateResult): Promise<GenerateResult> {
  const path = `${plain.path}.gz`;
  try {
    const [gz, csv] = await Promise.all([Deno.stat(path), Deno.stat(plain.path)]);
    if (gz.mtime && csv.mtime && gz.mtime >= csv.mtime && gz.size > 0) {
      return { ...plain, path, bytes: gz.size };
    }
  } catch { /* compress */ }
  const r = await run("sh", [
    "-c",
    `gzip -c '${plain.path}' > '${path}.tmp' && mv '${path}.tmp' '${path}'`,
  ]);
  if (r.code !== 0) throw new Error(`gzip failed: ${r.stderr.trim()}`);
  return { ...plain, path, bytes: (await Deno.stat(path)).size };
}

/** The loader's command line for `file` into a fresh `table`, with the generated files' schema. */
export async function loaderArgs(db: string, outDir: string, file: string, table: string) {
  const schema = `${outDir}/bench_schema.json`;
  await Deno.writeTextFile(schema, JSON.stringify(schemaFor("bench_data")));
  const out = `${outDir}/${table}`;
  // --replace only keeps a retry into the same table name from being refused as "already loaded".
  const flags = `--quiet --replace --rejects=${out}.rejects.csv --log-file=${out}.ingest.log`;
  return [
    "run",
    "-A",
    "cli.ts",
    "ingest",
    file,
    `--table=${table}`,
    `--schema=${schema}`,
    `--database-url=${databaseUrl(db)}`,
    ...flags.split(" "),
  ];
}

class LoaderSection {
  readonly notes: string[] = [];
  constructor(readonly o: LoaderBenchOptions) {}

  /** Loads `file` into `table` with the loader (without `--replace` when `keep`). */
  async loader(file: GenerateResult, table: string, args: string[] = [], keep = false) {
    const batch = this.o.batchSize ? [`--batch-size=${this.o.batchSize}`] : [];
    const base = await loaderArgs(this.o.db, this.o.outDir, file.path, table);
    const cmd = [...base.filter((a) => !keep || a !== "--replace"), ...batch, ...args];
    const r = await runMeasured("deno", cmd, this.o.outDir, { NO_COLOR: "1" });
    if (r.code !== 0) {
      throw new Error(`loader exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 2000)}`);
    }
    return r;
  }

  /** Loads `file` into a fresh `table` with `psql \\copy`. */
  async copy(file: GenerateResult, table: string) {
    await psql(this.o.db, createStatement(table, schemaFor(table)));
    const sql = `\\copy ${table} FROM '${file.path}' WITH (FORMAT csv, HEADER true)`;
    const r = await run(
      "psql",
      ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", this.o.db, "-c", sql],
      pgEnv(),
    );
    if (r.code !== 0) throw new Error(`psql \\copy failed: ${r.stderr.trim()}`);
    return { ...r, peakRssMiB: NaN };
  }

  /** Checks that `table` holds the valid rows of `file`, then drops it. */
  async check(file: GenerateResult, table: string) {
    const loaded = Number(await psql(this.o.db, `SELECT count(*) FROM ${table}`));
    const expected = file.rows - file.defective;
    if (loaded !== expected) {
      this.notes.push(`${table}: loaded ${loaded} rows, expected ${expected}`);
    }
    await this.drop(table);
  }

  drop(table: string): Promise<string> {
    return psql(this.o.db, `DROP TABLE IF EXISTS ${table}`);
  }

  /** Times one run, sampling the CPU of this process's children and of PostgreSQL. */
  async timed(run: LoaderRun, file: GenerateResult, rep: number): Promise<LoadTiming> {
    const table = `${run.id}_r${rep}`;
    await this.drop(table);
    await run.prepare?.(this.o.db, table, file);
    const r = await sampled(
      [
        { name: run.tool === "copy" ? "psql" : "loader", rootPids: [Deno.pid] },
        { name: "postgres", comm: "postgres", cmdline: [` ${this.o.db} `, ...POSTGRES_AUX] },
        { name: "postgres (other dbs)", comm: "postgres" },
      ],
      () =>
        run.tool === "copy"
          ? this.copy(file, table)
          : this.loader(file, table, run.args, run.prepare !== undefined),
    );
    await this.check(file, table);
    return {
      rep,
      seconds: r.seconds,
      rowsPerSec: file.rows / r.seconds,
      peakRssMiB: r.peakRssMiB,
      cpu: r.cpu,
    };
  }

  /** The loader's peak RSS at each size of `memRows`. */
  async memory(): Promise<LoaderFigures["mem"]> {
    const mem: LoaderFigures["mem"] = [];
    for (const rows of this.o.memRows) {
      const file = await cachedCsv(this.o.outDir, rows, { defectRate: 0, seed: 45 });
      await psql(this.o.db, "CHECKPOINT");
      const { peakRssMiB, seconds } = await this.loader(file, `loader_mem_${rows}`);
      await this.check(file, `loader_mem_${rows}`);
      mem.push({ rows, peakRssMiB, seconds, rowsPerSec: rows / seconds });
      this.o.log(
        `  memory ${rows.toLocaleString()} rows: peak RSS ${peakRssMiB.toFixed(1)} MiB (${
          seconds.toFixed(1)
        } s)`,
      );
    }
    return mem;
  }
}

/**
 * Runs the loader section: a warm-up, every run of the plan once per round, then the memory.
 *
 * @example
 * ```ts
 * const figures = await loaderBench({ db, outDir, rows: 1e6, memRows: [2e5, 2e6], reps: 3, log }, LOADER_PLAN);
 * ```
 */
export async function loaderBench(o: LoaderBenchOptions, plan: LoaderPlan): Promise<LoaderFigures> {
  const section = new LoaderSection(o);
  const inputs: Record<string, GenerateResult> = {};
  for (const [name, spec] of Object.entries(plan.inputs)) {
    o.log(`  generating ${o.rows.toLocaleString()} rows (${name}, ${spec.defectRate * 100}% bad)`);
    inputs[name] = await cachedCsv(o.outDir, o.rows, spec);
  }
  o.log("  warm-up load of 2,000 rows (caches the CLI, checks the reject count)");
  const warmup = await cachedCsv(o.outDir, 2000, { defectRate: 0.05, seed: 44 });
  await section.loader(warmup, "warmup");
  await section.check(warmup, "warmup");

  const byId = new Map(plan.runs.map((r) => [r.id, r]));
  const timings = await measureRounds<LoadTiming>({
    ids: plan.runs.map((r) => r.id),
    reps: o.reps,
    step: 1,
    before: () => psql(o.db, "CHECKPOINT").then(() => {}),
    run: (id, rep) => section.timed(byId.get(id)!, inputs[byId.get(id)!.input], rep),
    describe: (t) =>
      `${t.seconds.toFixed(2)} s  ${Math.round(t.rowsPerSec).toLocaleString()} rows/s` +
      (Number.isFinite(t.peakRssMiB) ? `  peak RSS ${t.peakRssMiB.toFixed(0)} MiB` : ""),
    log: o.log,
    notes: section.notes,
  });
  const runs = plan.runs.map((r): LoaderRunFigures => {
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
  return { inputs, runs, ratios, mem: await section.memory(), notes: section.notes };
}
