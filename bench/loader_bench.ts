/**
 * The loader against `psql \copy`: the same generated file into identically typed fresh tables,
 * alternating the sides, several rounds; the 5%-defective file through the loader; and the
 * loader's peak RSS at two sizes.
 *
 * The loader is spawned directly (`deno run -A cli.ts ingest ...`, not `deno task`), so its wall
 * clock and peak RSS are the loader's own.
 */
import {
  COLUMNS,
  createTableSql,
  generateCsv,
  type GenerateResult,
  schemaFor,
  sqlType,
} from "./generate_csv.ts";
import { databaseUrl, pgEnv, POSTGRES_AUX, psql } from "./pg.ts";
import {
  CpuSampler,
  type CpuSplit,
  foreignCores,
  type MeasuredRun,
  run,
  runMeasured,
  waitForQuiet,
} from "./proc.ts";
import { median } from "./stats.ts";

export interface LoaderBenchOptions {
  db: string;
  outDir: string;
  rows: number;
  memRows: [number, number];
  reps: number;
  defectRate: number;
  batchSize?: number;
  seed: number;
  log: (msg: string) => void;
}

/** One timed run of either side. */
export interface LoadRun {
  side: "loader" | "copy" | "loader_defective";
  rep: number;
  seconds: number;
  rowsIn: number;
  rowsLoaded: number;
  rowsPerSec: number;
  peakRssMiB: number;
  /** The loader's own `--summary-json`, when it wrote one. */
  summary?: Record<string, unknown>;
  /** Cores used while it ran: the loader or psql, PostgreSQL, and anything else. */
  cpu?: CpuSplit;
}

export interface LoaderFigures {
  available: boolean;
  unavailableReason?: string;
  clean: GenerateResult;
  defective: GenerateResult;
  runs: LoadRun[];
  loaderRps: number;
  copyRps: number;
  loaderBadRps: number;
  /** Median of the per-round ratios (each round's sides ran back to back). */
  ratioClean: number;
  ratioDefective: number;
  mem: { rows: number; peakRssMiB: number; seconds: number; rowsPerSec: number }[];
  rssSource: string;
  notes: string[];
}

const CLI = "cli.ts";

/** Generates a file unless one made with the same parameters is already there. */
async function cachedCsv(
  outDir: string,
  rows: number,
  defectRate: number,
  seed: number,
): Promise<GenerateResult> {
  const name = `${outDir}/data_${rows}_${Math.round(defectRate * 1000)}_${seed}`;
  const path = `${name}.csv`;
  const manifest = `${name}.json`;
  try {
    const m = JSON.parse(await Deno.readTextFile(manifest)) as GenerateResult;
    const st = await Deno.stat(path);
    if (st.size === m.bytes) return m;
  } catch { /* generate */ }
  const result = await generateCsv({ rows, path, seed, defectRate });
  await Deno.writeTextFile(manifest, JSON.stringify(result));
  return result;
}

async function countRows(db: string, table: string): Promise<number> {
  return Number((await psql(db, `SELECT count(*) FROM ${table}`)).trim());
}

async function columnTypes(db: string, table: string): Promise<string[]> {
  const out = await psql(
    db,
    `SELECT column_name || ' ' || data_type FROM information_schema.columns ` +
      `WHERE table_name = '${table}' ORDER BY ordinal_position`,
  );
  return out.trim().split("\n").filter(Boolean);
}

async function dropTable(db: string, table: string): Promise<void> {
  await psql(db, `DROP TABLE IF EXISTS ${table}`);
}

/** Runs the loader once on `file` into a fresh `table`. */
async function runLoader(
  o: LoaderBenchOptions,
  file: string,
  schemaPath: string,
  table: string,
): Promise<{ run: MeasuredRun; summary?: Record<string, unknown> }> {
  const summaryPath = `${o.outDir}/${table}.summary.json`;
  await Deno.remove(summaryPath).catch(() => {});
  const args = [
    "run",
    "-A",
    CLI,
    "ingest",
    file,
    "--table",
    table,
    "--schema",
    schemaPath,
    "--database-url",
    databaseUrl(o.db),
    "--quiet",
    // The table is always fresh (dropped before); --replace only keeps a retry of the same
    // file into the same table name from being refused as "already loaded".
    "--replace",
    "--summary-json",
    summaryPath,
    "--rejects",
    `${o.outDir}/${table}.rejects.csv`,
    "--log-file",
    `${o.outDir}/${table}.ingest.log`,
  ];
  if (o.batchSize) args.push("--batch-size", String(o.batchSize));
  const r = await runMeasured("deno", args, { outDir: o.outDir, env: { NO_COLOR: "1" } });
  if (r.code !== 0) {
    throw new Error(`loader exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 2000)}`);
  }
  let summary: Record<string, unknown> | undefined;
  try {
    summary = JSON.parse(await Deno.readTextFile(summaryPath));
  } catch { /* optional */ }
  return { run: r, summary };
}

/** Runs `psql \copy` once on `file` into a fresh, identically typed `table`. */
async function runCopy(o: LoaderBenchOptions, file: string, table: string): Promise<number> {
  await psql(o.db, createTableSql(table));
  const r = await run("psql", [
    "-X",
    "-q",
    "-v",
    "ON_ERROR_STOP=1",
    "-d",
    o.db,
    "-c",
    `\\copy ${table} FROM '${file}' WITH (FORMAT csv, HEADER true)`,
  ], { env: pgEnv() });
  if (r.code !== 0) throw new Error(`psql \\copy failed: ${r.stderr.trim()}`);
  return r.seconds;
}

/** Runs the whole loader section. */
export async function loaderBench(o: LoaderBenchOptions): Promise<LoaderFigures> {
  const notes: string[] = [];
  o.log(`generating ${o.rows.toLocaleString()} clean and ${o.defectRate * 100}% defective rows`);
  const clean = await cachedCsv(o.outDir, o.rows, 0, o.seed);
  const defective = await cachedCsv(o.outDir, o.rows, o.defectRate, o.seed + 1);
  o.log(
    `  clean: ${(clean.bytes / 1e6).toFixed(0)} MB; defective: ${defective.defective} bad rows ` +
      `(${JSON.stringify(defective.defectsByKind)})`,
  );
  const schemaPath = `${o.outDir}/bench_schema.json`;
  await Deno.writeTextFile(schemaPath, JSON.stringify(schemaFor("bench_data"), null, 2));

  const available = await Deno.stat(CLI).then(() => true, () => false);
  let unavailableReason = available ? undefined : `${CLI} does not exist yet`;
  if (available) {
    // Warm-up: compiles and caches the CLI, and checks it counts rejects as we expect.
    const small = await cachedCsv(o.outDir, 2000, o.defectRate, o.seed + 2);
    try {
      o.log("  warm-up load of 2,000 rows (also checks the reject count)");
      await runLoader(o, small.path, schemaPath, "warmup");
      const n = await countRows(o.db, "warmup");
      if (n !== small.rows - small.defective) {
        notes.push(
          `warm-up: the loader loaded ${n} of 2,000 rows; ${
            small.rows - small.defective
          } are valid`,
        );
      }
      await dropTable(o.db, "warmup");
    } catch (err) {
      unavailableReason = `the loader failed its warm-up: ${(err as Error).message}`;
    }
  }
  if (unavailableReason) o.log(`  loader not measured: ${unavailableReason}`);
  const loaderOk = unavailableReason === undefined;

  const runs: LoadRun[] = [];
  const sides: LoadRun["side"][] = loaderOk ? ["loader", "copy", "loader_defective"] : ["copy"];
  let typesChecked = false;
  for (let rep = 1; rep <= o.reps; rep++) {
    // Rotate the order each round so that drift on a shared machine hits every side alike.
    const order = sides.map((_, i) => sides[(i + rep - 1) % sides.length]);
    for (const side of order) {
      const table = `${side}_r${rep}`;
      const file = side === "loader_defective" ? defective : clean;
      let seconds = NaN;
      let peak = NaN;
      let summary: Record<string, unknown> | undefined;
      let cpu: CpuSplit | undefined;
      let failed = false;
      for (let attempt = 1; attempt <= 2; attempt++) {
        await dropTable(o.db, table);
        await psql(o.db, "CHECKPOINT");
        await waitForQuiet(0.3, 10_000);
        const sampler = new CpuSampler([
          { name: side === "copy" ? "psql" : "loader", rootPids: [Deno.pid] },
          { name: "postgres", comm: "postgres", cmdline: [` ${o.db} `, ...POSTGRES_AUX] },
          { name: "postgres (other dbs)", comm: "postgres" },
        ]);
        sampler.start();
        try {
          if (side === "copy") {
            seconds = await runCopy(o, file.path, table);
          } else {
            const r = await runLoader(o, file.path, schemaPath, table);
            seconds = r.run.seconds;
            peak = r.run.peakRssMiB;
            summary = r.summary;
          }
        } catch (err) {
          const msg = (err as Error).message.slice(0, 400);
          notes.push(`${table} failed: ${msg}`);
          o.log(`  round ${rep} ${side} failed: ${msg}`);
          await dropTable(o.db, table);
          failed = true;
          break;
        } finally {
          cpu = sampler.stop();
        }
        const foreign = foreignCores(cpu);
        if (foreign > 0.4) {
          o.log(
            `  round ${rep} ${side}: other programs took ${foreign.toFixed(2)} cores` +
              (attempt === 1 ? ", measuring it again" : ""),
          );
          if (attempt === 1) continue;
          notes.push(
            `${table}: other programs took ${foreign.toFixed(2)} cores, even after a retry`,
          );
        }
        break;
      }
      if (failed) continue;
      const loaded = await countRows(o.db, table);
      const expected = file.rows - file.defective;
      if (loaded !== expected) {
        notes.push(`${table}: loaded ${loaded} rows, expected ${expected}`);
      }
      if (side === "loader" && !typesChecked) {
        typesChecked = true;
        const want = COLUMNS.map((c) => `${c.name} ${sqlType(c.type)}`);
        const got = await columnTypes(o.db, table);
        const extra = got.filter((g) => !want.includes(g));
        const missing = want.filter((w) => !got.includes(w));
        if (extra.length || missing.length) {
          notes.push(
            `the loader's table differs from the \\copy table: loader has [${extra.join(", ")}], ` +
              `\\copy table has [${missing.join(", ")}]`,
          );
        }
      }
      const rps = file.rows / seconds;
      runs.push({
        side,
        rep,
        seconds,
        rowsIn: file.rows,
        rowsLoaded: loaded,
        rowsPerSec: rps,
        peakRssMiB: peak,
        summary,
        cpu,
      });
      o.log(
        `  round ${rep} ${side.padEnd(16)} ${seconds.toFixed(2)} s  ${
          Math.round(rps).toLocaleString()
        } rows/s` +
          (Number.isFinite(peak) ? `  peak RSS ${peak.toFixed(0)} MiB` : ""),
      );
      await dropTable(o.db, table);
    }
  }

  const rpsOf = (side: LoadRun["side"]) =>
    runs.filter((r) => r.side === side).map((r) => r.rowsPerSec);
  const perRound = (a: LoadRun["side"], b: LoadRun["side"]) => {
    const out: number[] = [];
    for (let rep = 1; rep <= o.reps; rep++) {
      const x = runs.find((r) => r.side === a && r.rep === rep);
      const y = runs.find((r) => r.side === b && r.rep === rep);
      if (x && y) out.push(x.rowsPerSec / y.rowsPerSec);
    }
    return out;
  };

  const mem: LoaderFigures["mem"] = [];
  let rssSource = "";
  if (loaderOk) {
    for (const rows of o.memRows) {
      const f = await cachedCsv(o.outDir, rows, 0, o.seed + 3);
      const table = `loader_mem_${rows}`;
      await dropTable(o.db, table);
      await psql(o.db, "CHECKPOINT");
      let r;
      try {
        r = await runLoader(o, f.path, schemaPath, table);
      } catch (err) {
        const msg = (err as Error).message.slice(0, 400);
        notes.push(`${table} failed: ${msg}`);
        o.log(`  memory ${rows} failed: ${msg}`);
        continue;
      }
      rssSource = r.run.rssSource;
      const loaded = await countRows(o.db, table);
      if (loaded !== rows) notes.push(`${table}: loaded ${loaded} rows, expected ${rows}`);
      mem.push({
        rows,
        peakRssMiB: r.run.peakRssMiB,
        seconds: r.run.seconds,
        rowsPerSec: rows / r.run.seconds,
      });
      o.log(
        `  memory ${rows.toLocaleString()} rows: peak RSS ${r.run.peakRssMiB.toFixed(1)} MiB ` +
          `(${r.run.seconds.toFixed(1)} s)`,
      );
      await dropTable(o.db, table);
    }
  }

  return {
    available: loaderOk,
    unavailableReason,
    clean,
    defective,
    runs,
    loaderRps: median(rpsOf("loader")),
    copyRps: median(rpsOf("copy")),
    loaderBadRps: median(rpsOf("loader_defective")),
    ratioClean: median(perRound("loader", "copy")),
    ratioDefective: median(perRound("loader_defective", "copy")),
    mem,
    rssSource,
    notes,
  };
}
