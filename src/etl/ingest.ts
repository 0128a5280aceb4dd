/**
 * The loader, as a function: `cli.ts ingest` parses flags and calls {@linkcode ingest}; tests
 * call it directly. Stream the file → transform each record → COPY batch by batch, each batch
 * in one transaction with its load state; the next batch is parsed and transformed while the
 * current one is in COPY (a queue of one), so the database is the bottleneck and memory stays
 * flat.
 *
 * @example
 * ```ts
 * const { exitCode, summary } = await ingest({ file: "people.csv", table: "people" });
 * console.log(exitCode, summary?.rows_loaded);
 * ```
 */
import { getLogger } from "@logtape/logtape";
import { Buffer } from "node:buffer";
import type { Database } from "../db/database.ts";
import {
  findLoad,
  forgetLoads,
  type LoadProgress,
  saveProgress,
  startLoad,
  touchLoad,
} from "../db/load_state.ts";
import { migrate } from "../db/migrate.ts";
import { openDatabase } from "../db/open.ts";
import { errorFields } from "../log.ts";
import { CsvSource } from "./csv_source.ts";
import { type CsvRecord, UNTERMINATED_QUOTE } from "./csv_parser.ts";
import { CopyBuffer } from "./copy_text.ts";
import { EXIT_OK, type ExitCode, exitCodeOf, LoadError, UsageError } from "../errors.ts";
import { inferSchema } from "./infer.ts";
import type { IngestSummary, Progress } from "./report.ts";
import { RejectsWriter } from "./rejects.ts";
import {
  DEFAULT_TABLE,
  parseSchema,
  quoteTable,
  readSchemaFile,
  resolveColumns,
  type Schema,
} from "./schema.ts";
import { copyStatement, loadBatch, prepareTable, type RefusedRow } from "./sink.ts";
import { RowTransformer } from "./transform.ts";

/**
 * Records per batch unless `--batch-size` says otherwise. Measured on 1M rows (~130 MB): 20k,
 * 30k and 50k load at the same speed once batches overlap; memory grows with the batch
 * (118, 121, 130 MB peak RSS).
 */
export const DEFAULT_BATCH_SIZE = 25_000;
/** Records read for inference unless `--sample` says otherwise. */
export const DEFAULT_SAMPLE = 10_000;

/** A limit on rejects: a count, or a share of the rows read. */
export type MaxRejects = { count: number } | { ratio: number };

/** Parses `--max-rejects`: `100` (rows) or `0.05` / `5%` (share of rows read). */
export function parseMaxRejects(raw: string): MaxRejects {
  const s = raw.trim();
  if (/^\d+$/.test(s)) return { count: Number(s) };
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(s);
  if (pct && Number(pct[1]) <= 100) return { ratio: Number(pct[1]) / 100 };
  if (/^(0?\.\d+|1(\.0*)?)$/.test(s)) return { ratio: Number(s) };
  throw new UsageError(
    `--max-rejects must be a number of rows (100) or a ratio (0.05 or 5%), got "${raw}"`,
  );
}

/** Options for {@linkcode ingest}; the CLI's flags. */
export interface IngestOptions {
  file: string;
  /** Wins over the schema's `table`; default `processed_data`. */
  table?: string;
  schemaFile?: string;
  /** A schema object instead of a file (tests). */
  schema?: Schema;
  batchSize?: number;
  /** An open, migrated database to use instead of opening one (tests); left open. */
  db?: Database;
  databaseUrl?: string;
  /** `"transaction"` when `databaseUrl` is a transaction-mode pooler (`DATABASE_POOLER`). */
  pooler?: "none" | "transaction";
  dataDir?: string;
  rejectsPath?: string;
  resume?: boolean;
  replace?: boolean;
  dryRun?: boolean;
  encoding?: string;
  delimiter?: string;
  sample?: number;
  maxRejects?: MaxRejects;
  /** Called every `progressIntervalMs` (default 2000) while loading. */
  onProgress?: (p: Progress) => void;
  progressIntervalMs?: number;
}

/** What {@linkcode ingest} returns: the exit code the CLI uses, and the summary. */
export interface IngestResult {
  exitCode: ExitCode;
  summary?: IngestSummary;
  error?: Error;
}

const log = getLogger(["ingest"]);

/** Size and SHA-256 of the first MiB: identifies "this file" cheaply, even for huge files. */
export async function fingerprint(path: string, size: number): Promise<string> {
  const file = await Deno.open(path, { read: true });
  try {
    const buf = new Uint8Array(Math.min(size, 1 << 20));
    let n = 0;
    while (n < buf.length) {
      const r = await file.read(buf.subarray(n));
      if (r === null) break;
      n += r;
    }
    const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", buf.subarray(0, n)));
    return `${size}:${Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  } finally {
    file.close();
  }
}

async function sameFile(a: string, b: string): Promise<boolean> {
  try {
    const [x, y] = await Promise.all([Deno.stat(a), Deno.stat(b)]);
    return x.dev === y.dev && x.ino !== null && x.ino === y.ino;
  } catch {
    return false;
  }
}

/** Names the loader's connections in `pg_stat_activity` (unless the URL already does). */
export function withApplicationName(url: string, name: string): string {
  try {
    const u = new URL(url);
    if (!u.searchParams.has("application_name")) {
      u.searchParams.set("application_name", name.slice(0, 63));
    }
    return u.toString();
  } catch {
    return url;
  }
}

/** Options for {@linkcode inferFile}. */
export interface InferFileOptions {
  file: string;
  table?: string;
  encoding?: string;
  delimiter?: string;
  sample?: number;
}

/** Infers the schema `ingest` would use for a file (what `cli.ts infer` prints). */
export async function inferFile(options: InferFileOptions): Promise<Schema> {
  const limit = options.sample ?? DEFAULT_SAMPLE;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new UsageError(`--sample must be a whole number of rows, 1 or more, got "${limit}"`);
  }
  const source = await CsvSource.open({
    path: options.file,
    encoding: options.encoding,
    delimiter: options.delimiter,
  });
  const sample: string[][] = [];
  try {
    await source.stream((record) => {
      if (sample.length < limit) sample.push(record.strings());
      else source.stop();
    });
  } finally {
    source.close();
  }
  const table = options.table ?? DEFAULT_TABLE;
  quoteTable(table);
  return inferSchema({ header: source.header, sample, table });
}

/** The default rejects file: `FILE.rejects.csv` next to the input (`x.csv` → `x.rejects.csv`). */
export function defaultRejectsPath(file: string): string {
  return /\.csv$/i.test(file) ? file.replace(/\.csv$/i, ".rejects.csv") : `${file}.rejects.csv`;
}

interface Batch {
  /** Records consumed (loaded or rejected). */
  records: number;
  /** The batch's COPY text, written as records are transformed. */
  out: CopyBuffer;
  /**
   * The line of each accepted row, to find a row the database refuses in the file again. Not
   * its text: keeping it would keep every chunk of input alive until the batch commits.
   */
  lines: LineList;
  /**
   * Rejected records, already formatted for the rejects file and encoded: keeping their field
   * strings would keep the chunks of input they point into alive until the batch commits.
   */
  rejectText: CopyBuffer;
  rejected: number;
  reasons: Record<string, number>;
  lastLine: number;
  defaulted: Record<string, number>;
  final: boolean;
  /** No more records will come. */
  sealed: boolean;
  whenSealed: Promise<void>;
  markSealed: () => void;
  /** Wakes the COPY feed waiting for more rows. */
  wake: (() => void) | undefined;
  /** Settles when the batch is committed (or failed). */
  done: Promise<void>;
}

/**
 * A growable list of line numbers in a typed array: pooled with the COPY buffer, it makes no
 * garbage per batch (a JS array of 20,000 numbers would be promoted, then dropped).
 */
class LineList {
  arr = new Float64Array(1024);
  length = 0;
  push(line: number): void {
    if (this.length === this.arr.length) {
      const next = new Float64Array(this.arr.length * 2);
      next.set(this.arr);
      this.arr = next;
    }
    this.arr[this.length++] = line;
  }
  at(i: number): number {
    return this.arr[i];
  }
}

function newBatch(out: CopyBuffer, lines: LineList, rejectText: CopyBuffer): Batch {
  let markSealed = () => {};
  const whenSealed = new Promise<void>((resolve) => (markSealed = resolve));
  return {
    records: 0,
    out,
    lines,
    rejectText,
    rejected: 0,
    reasons: {},
    lastLine: 0,
    defaulted: {},
    final: false,
    sealed: false,
    whenSealed,
    markSealed,
    wake: undefined,
    done: Promise.resolve(),
  };
}

function bufferOf(bytes: Uint8Array): Buffer {
  // A Buffer view, no copy: node streams treat a plain Uint8Array as a slower case.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const FEED_PIECE_BYTES = 64 << 10;

/**
 * The batch's COPY text as it is written: yields what is new each time the parser has been
 * through a chunk, ends when the batch is sealed. The parser only yields to the event loop
 * between records, so every piece ends on a row boundary.
 */
async function* feed(b: Batch): AsyncGenerator<Uint8Array> {
  let sent = 0;
  for (;;) {
    const end = b.out.pos;
    // Pieces of 64 KiB or more: each piece is a CopyData message and two socket writes, and
    // sending every few KiB cost ~0.3 s of CPU per million rows (measured).
    if (end > sent && (end - sent >= FEED_PIECE_BYTES || b.sealed)) {
      const piece = b.out.buf.subarray(sent, end);
      sent = end;
      yield bufferOf(piece);
      continue;
    }
    if (b.sealed) return;
    await new Promise<void>((resolve) => (b.wake = resolve));
  }
}

/** The rows of a batch's COPY text: COPY escapes newlines, so its lines are its rows. */
function splitRows(bytes: Uint8Array): Uint8Array[] {
  const rows: Uint8Array[] = [];
  let start = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, start)) {
    rows.push(bytes.subarray(start, i + 1));
    start = i + 1;
  }
  return rows;
}

/**
 * Reads the records starting at the given lines from the file again: the rows the database
 * refused, for the rejects file. Rare, so a second pass over the file beats holding every
 * row's text in memory.
 */
async function refetch(
  options: { path: string; encoding: string; delimiter: string },
  lines: readonly number[],
): Promise<Map<number, string[]>> {
  const wanted = new Set(lines);
  const last = Math.max(...lines);
  const found = new Map<number, string[]>();
  const src = await CsvSource.open(options);
  try {
    await src.stream((record, line) => {
      if (wanted.has(line)) found.set(line, record.strings());
      if (line >= last) src.stop();
    });
  } finally {
    src.close();
  }
  return found;
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/**
 * Loads a CSV file into a table. Never throws for a failed load: the result carries the exit
 * code (0 done, 1 failed, 2 bad usage or unreadable input), the summary and the error.
 */
export async function ingest(options: IngestOptions): Promise<IngestResult> {
  const started = performance.now();
  let db: Database | undefined;
  let source: CsvSource | undefined;
  let rejects: RejectsWriter | undefined;
  const table = options.table ?? options.schema?.table;
  const summary: IngestSummary = {
    file: options.file,
    table: table ?? DEFAULT_TABLE,
    dry_run: options.dryRun === true,
    resumed_after_records: 0,
    rows_read: 0,
    rows_loaded: 0,
    rows_rejected: 0,
    rejected_by_reason: {},
    defaulted: {},
    batches: 0,
    seconds: 0,
    rows_per_second: 0,
    rejects_file: options.rejectsPath ?? defaultRejectsPath(options.file),
    total_rows_loaded: 0,
    total_rows_rejected: 0,
    exit_code: 0,
  };
  const finish = (exitCode: ExitCode, error?: Error): IngestResult => {
    summary.seconds = (performance.now() - started) / 1000;
    summary.rows_per_second = summary.seconds > 0 ? summary.rows_read / summary.seconds : 0;
    summary.exit_code = exitCode;
    if (error) summary.error = error.message;
    return { exitCode, summary, error };
  };
  try {
    await run(options, summary, {
      setDb: (d) => (db = d),
      setSource: (s) => (source = s),
      setRejects: (r) => (rejects = r),
    });
    const result = finish(EXIT_OK);
    log.info("done: {rows_read} read, {rows_loaded} loaded, {rows_rejected} rejected", {
      ...result.summary,
    });
    return result;
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    const code = exitCodeOf(error);
    log.error("ingest of {file} failed: {error}", { file: options.file, ...errorFields(error) });
    const result = finish(code, error);
    log.info("summary: {rows_read} read, {rows_loaded} loaded, {rows_rejected} rejected", {
      ...result.summary,
    });
    return result;
  } finally {
    (source as CsvSource | undefined)?.close();
    (rejects as RejectsWriter | undefined)?.close();
    if (db && db !== options.db) await (db as Database).close().catch(() => {});
  }
}

async function run(
  options: IngestOptions,
  summary: IngestSummary,
  hold: {
    setDb(db: Database): void;
    setSource(s: CsvSource): void;
    setRejects(r: RejectsWriter): void;
  },
): Promise<void> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new UsageError(`--batch-size must be a whole number, 1 or more, got "${batchSize}"`);
  }
  if (options.resume && options.replace) {
    throw new UsageError("--resume and --replace exclude each other; give one");
  }
  if (options.table !== undefined) quoteTable(options.table);
  let schema = options.schema
    ? parseSchema(options.schema)
    : options.schemaFile
    ? await readSchemaFile(options.schemaFile)
    : undefined;

  const source = await CsvSource.open({
    path: options.file,
    encoding: options.encoding,
    delimiter: options.delimiter,
  });
  hold.setSource(source);
  if (schema) {
    // A schema that does not fit the file is bad usage: say so before opening any database.
    const positions = resolveColumns(schema, source.header);
    new RowTransformer({ schema, positions, headerLength: source.header.length });
  }
  const print = await fingerprint(options.file, source.size);
  const dryRun = options.dryRun === true;

  let db = options.db;
  if (!dryRun && !db) {
    db = await openDatabase({
      databaseUrl: options.databaseUrl &&
        withApplicationName(
          options.databaseUrl,
          `ingest ${options.table ?? schema?.table ?? DEFAULT_TABLE}`,
        ),
      dataDir: options.dataDir ?? "./data",
      poolSize: 2,
      queryTimeoutMs: 0,
      pooler: options.pooler,
    });
    hold.setDb(db);
    await migrate(db);
  }

  const table = options.table ?? schema?.table ?? DEFAULT_TABLE;
  summary.table = table;
  quoteTable(table);
  const key = { table, fingerprint: print };
  const state = db ? await findLoad(db, key) : undefined;
  if (state && !options.resume && !options.replace) {
    throw new UsageError(
      `"${options.file}" is already recorded as loaded into "${table}" (${state.status}, ${state.rowsLoaded} rows, ${state.rowsRejected} rejected): use --resume to continue it or --replace to truncate the table and load again`,
    );
  }
  const resuming = options.resume === true && state !== undefined;
  if (resuming && !schema) schema = parseSchema(state.schema, "the schema recorded for this load");
  if (!schema) {
    schema = await inferFile({
      file: options.file,
      table,
      encoding: options.encoding,
      delimiter: source.delimiter,
      sample: options.sample,
    });
  }
  schema = { ...schema, table };
  const positions = resolveColumns(schema, source.header);
  const transformer = new RowTransformer({
    schema,
    positions,
    headerLength: source.header.length,
  });
  const copySql = copyStatement(table, schema);
  const rejectsPath = options.rejectsPath ?? defaultRejectsPath(options.file);
  summary.rejects_file = rejectsPath;
  if (await sameFile(rejectsPath, options.file)) {
    throw new UsageError(`the rejects file "${rejectsPath}" is the input file itself`);
  }

  log.info("ingest {file} ({size} bytes) into {table}", {
    file: options.file,
    size: source.size,
    table,
    delimiter: source.delimiter,
    encoding: source.encoding,
    schema,
    batchSize,
    dryRun,
    resume: resuming,
    backend: db?.label,
  });

  // Opened before the load is recorded: an unwritable path must not leave a recorded load.
  const rejects = await RejectsWriter.open({
    path: rejectsPath,
    header: source.header,
    delimiter: source.delimiter,
    resumeAt: resuming ? state.rejectsBytes : undefined,
  });
  hold.setRejects(rejects);
  if (rejects.lostBytes > 0) {
    log.warning(
      "the rejects file {path} is shorter than the {bytes} bytes committed: earlier rejects are lost from it",
      { path: rejectsPath, bytes: state?.rejectsBytes },
    );
  }

  let committed: LoadProgress = {
    recordsDone: 0,
    lastLine: 1,
    rowsLoaded: 0,
    rowsRejected: 0,
    rejectedByReason: {},
    defaulted: {},
    rejectsBytes: 0,
    batches: 0,
  };
  if (db) {
    await prepareTable(db, { table, schema });
    if (resuming && state.status === "complete") {
      log.info("the load of {file} into {table} is already complete", {
        file: options.file,
        table,
      });
      summary.total_rows_loaded = state.rowsLoaded;
      summary.total_rows_rejected = state.rowsRejected;
      summary.resumed_after_records = state.recordsDone;
      return;
    }
    if (resuming) {
      committed = { ...state };
      summary.resumed_after_records = state.recordsDone;
      log.info("resuming after record {records} (line {line})", {
        records: state.recordsDone,
        line: state.lastLine,
      });
    } else {
      const fresh = { ...key, filePath: options.file, fileSize: source.size, schema, rejectsPath };
      await db.transaction(async (tx) => {
        if (options.replace) {
          await tx.exec(`TRUNCATE ${quoteTable(table)}`);
          await forgetLoads(tx, table);
        }
        await startLoad(tx, fresh);
      });
    }
  }

  // --- the pipeline ------------------------------------------------------------------------
  // Records are transformed into the current batch's COPY buffer as they are parsed. On
  // PostgreSQL each batch's COPY starts as soon as the previous batch has committed and streams
  // the rows while they are produced, so the server works while the loader parses; the batch
  // commits (with its rejects and load state) right after its last row. At most one sealed
  // batch waits for the database while the next one fills: memory stays flat.
  const streaming = db !== undefined && !dryRun && db.kind === "postgres";
  // Where the time goes, for the log: parsing waiting for the database, and batch loads.
  const trace = { wait: 0, commit: 0 };
  let skip = committed.recordsDone;
  let failure: unknown;
  let chain: Promise<void> = Promise.resolve();
  const waiting: Batch[] = []; // sealed, not yet committed
  let read = 0;

  const limit = options.maxRejects;
  const checkLimit = (rejected: number, recordsRead: number) => {
    if (!limit) return;
    const over = "count" in limit ? rejected > limit.count : rejected > limit.ratio * recordsRead;
    if (over) {
      throw new LoadError(
        `too many rejects: ${rejected} of ${recordsRead} rows rejected, more than --max-rejects ${
          "count" in limit ? limit.count : limit.ratio
        } allows (see ${rejectsPath})`,
      );
    }
  };

  const commit = async (batch: Batch, previous: Promise<void>): Promise<void> => {
    const reasons: Record<string, number> = {};
    let progress: LoadProgress | undefined;
    // Runs once the batch is complete, inside its transaction when there is one.
    const finalizeRejects = async (refused: RefusedRow[]): Promise<LoadProgress> => {
      // A copy: the pooled buffer is reused once this batch is done.
      rejects.addEncoded(batch.rejectText.bytes().slice(), batch.rejected);
      addCounts(reasons, batch.reasons);
      const again = refused.length
        ? await refetch(
          { path: options.file, encoding: source.encoding, delimiter: source.delimiter },
          refused.map((r) => batch.lines.at(r.index)),
        )
        : undefined;
      for (const r of refused) {
        const line = batch.lines.at(r.index);
        rejects.add(again?.get(line) ?? [], line, `database refused: ${r.message}`);
        const key = `database refused: ${r.message.replace(/"[^"]*"/g, '"…"')}`;
        reasons[key] = (reasons[key] ?? 0) + 1;
      }
      const rejectedByReason = { ...committed.rejectedByReason };
      addCounts(rejectedByReason, reasons);
      const p: LoadProgress = {
        recordsDone: committed.recordsDone + batch.records,
        lastLine: batch.lastLine || committed.lastLine,
        rowsLoaded: committed.rowsLoaded + batch.lines.length - refused.length,
        rowsRejected: committed.rowsRejected + batch.rejected + refused.length,
        rejectedByReason,
        defaulted: batch.defaulted,
        rejectsBytes: 0,
        batches: committed.batches + 1,
      };
      try {
        // Across all runs of this load, as the state counts them.
        checkLimit(p.rowsRejected, p.recordsDone);
      } finally {
        // Written even when the limit stops the load, for the user to look at; not committed,
        // so a resume truncates them away and writes them once.
        p.rejectsBytes = await rejects.flush();
      }
      return p;
    };
    const c0 = performance.now();
    if (db && !dryRun) {
      if (!streaming) await batch.whenSealed;
      let rowTexts: Uint8Array[] | undefined;
      await loadBatch(db, {
        copySql,
        data: streaming ? feed(batch) : [bufferOf(batch.out.bytes())],
        whole: async () => {
          await batch.whenSealed;
          const bytes = batch.out.bytes();
          return {
            rows: batch.lines.length,
            rowText: (i) => bufferOf((rowTexts ??= splitRows(bytes))[i]),
          };
        },
        finalize: async (tx, refused) => {
          await batch.whenSealed;
          // Batches load side by side but commit in order, so the load state and the rejects
          // file only ever describe a prefix of the input. A failed batch before this one
          // throws here, and this one rolls back.
          await previous;
          progress = await finalizeRejects(refused);
          await saveProgress(tx, key, progress, batch.final);
        },
      });
    } else {
      await batch.whenSealed;
      progress = await finalizeRejects([]);
    }
    trace.commit += performance.now() - c0;
    const before = committed;
    committed = progress!;
    summary.rows_read += batch.records;
    summary.rows_loaded = committed.rowsLoaded - (resuming ? state!.rowsLoaded : 0);
    summary.rows_rejected = committed.rowsRejected - (resuming ? state!.rowsRejected : 0);
    addCounts(summary.rejected_by_reason, reasons);
    summary.defaulted = batch.defaulted;
    summary.batches++;
    summary.total_rows_loaded = committed.rowsLoaded;
    summary.total_rows_rejected = committed.rowsRejected;
    log.debug(
      "batch {batch} committed: {records} records, {loaded} loaded, {rejected} rejected, up to line {line}",
      {
        batch: committed.batches,
        records: batch.records,
        loaded: committed.rowsLoaded - before.rowsLoaded,
        rejected: committed.rowsRejected - before.rowsRejected,
        line: batch.lastLine,
      },
    );
  };

  // COPY buffers are reused batch after batch: allocating megabytes per batch and freeing them
  // fragments the C heap, and the process's memory would creep up with the file's size.
  const buffers: { out: CopyBuffer; lines: LineList; rejectText: CopyBuffer }[] = [];
  /** A new batch, queued to commit after the one before it. */
  const open = (): Batch => {
    const pooled = buffers.pop() ??
      { out: new CopyBuffer(4 << 20), lines: new LineList(), rejectText: new CopyBuffer(1 << 16) };
    pooled.out.pos = 0;
    pooled.lines.length = 0;
    pooled.rejectText.pos = 0;
    const b = newBatch(pooled.out, pooled.lines, pooled.rejectText);
    const forget = () => {
      const i = waiting.indexOf(b);
      if (i >= 0) waiting.splice(i, 1);
      buffers.push({ out: b.out, lines: b.lines, rejectText: b.rejectText });
    };
    // On a server, a batch's transaction and COPY start at once, on the pool's second
    // connection, while the batch before it finishes: the round trips between two batches no
    // longer leave PostgreSQL idle. Commits stay in order (see finalize). PGlite has one
    // connection: one batch at a time.
    const previous = chain;
    b.done = streaming ? commit(b, previous) : previous.then(() => commit(b, previous));
    b.done.then(forget, (err) => {
      failure ??= err;
      forget();
    });
    chain = b.done;
    return b;
  };
  const seal = (b: Batch) => {
    b.defaulted = transformer.defaulted();
    b.sealed = true;
    b.markSealed();
    b.wake?.();
    waiting.push(b);
  };

  let cur = open();
  const onRecord = (record: CsvRecord, line: number, flags: number) => {
    if (skip > 0) {
      skip--;
      return;
    }
    const b = cur;
    b.records++;
    b.lastLine = line;
    const ok = (flags & UNTERMINATED_QUOTE) === 0 && transformer.applyTo(record, b.out);
    if (!ok) {
      const unterminated = (flags & UNTERMINATED_QUOTE) !== 0;
      const reason = unterminated
        ? "unterminated quoted field (the file ends inside quotes)"
        : transformer.reason;
      const key = unterminated ? "unterminated quoted field" : transformer.reasonKey;
      b.rejectText.put(rejects.format(record.strings(), line, reason));
      b.rejected++;
      b.reasons[key] = (b.reasons[key] ?? 0) + 1;
    } else {
      b.lines.push(line);
    }
    if (b.records >= batchSize) {
      read += b.records;
      seal(b);
      cur = open();
    }
  };

  const interval = options.progressIntervalMs ?? 2000;
  let lastProgress = performance.now();
  const t0 = performance.now();
  const report = () => {
    const p: Progress = {
      bytesRead: source.bytesRead,
      bytesTotal: source.size,
      rowsRead: read + cur.records,
      rowsLoaded: summary.rows_loaded,
      rowsRejected: summary.rows_rejected,
      seconds: (performance.now() - t0) / 1000,
    };
    log.info("progress: {rowsRead} rows read, {rowsLoaded} loaded, {rowsRejected} rejected", {
      ...p,
    });
    options.onProgress?.(p);
  };

  try {
    await source.stream(onRecord, async () => {
      cur.wake?.();
      // Back-pressure: a complete batch waiting for the database stops the parser until it
      // commits (the database is the slower side; measured, waiting for two batches instead
      // was no faster and held 10 MB more).
      while (waiting.length >= 1 && !failure) {
        const w0 = performance.now();
        await waiting[0].done.catch(() => {});
        trace.wait += performance.now() - w0;
      }
      if (failure) throw failure;
      if (performance.now() - lastProgress >= interval) {
        lastProgress = performance.now();
        report();
      }
    });
    cur.final = true;
    read += cur.records;
    seal(cur);
    await chain;
    // Batches commit without waiting for the WAL flush; this synchronous commit flushes them
    // all, so that exit 0 means the load is durable.
    if (db && !dryRun) await touchLoad(db, key);
  } catch (err) {
    // Let the batch in COPY finish (or fail) before reporting: its outcome is part of the state.
    cur.final = false;
    if (!cur.sealed) seal(cur);
    await chain.catch(() => {});
    throw failure ?? err;
  }
  if (failure) throw failure;
  summary.defaulted = transformer.defaulted();
  if (options.onProgress) report();
  log.info("pipeline: {waitMs} ms waiting for the database, {commitMs} ms in batch loads", {
    waitMs: Math.round(trace.wait),
    commitMs: Math.round(trace.commit),
  });
}
