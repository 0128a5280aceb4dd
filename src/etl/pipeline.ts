/**
 * The load itself, as a pipeline of steps over a prepared {@linkcode LoadPlan}: *read* (the
 * source hands over each record) → *transform* (into the current batch's COPY text, or its
 * rejects) → *seal* (the batch holds its records) → *load* (the batch into the database in one
 * transaction) → *commit* (its rejects, reject limit and load state, in that transaction).
 *
 * On PostgreSQL each batch's COPY starts as soon as the batch is opened and streams its rows
 * while they are produced, on the pool's second connection, while the batch before it commits:
 * the server works while the loader parses. Batches commit in order. At most one sealed batch
 * waits for the database while the next one fills (two for a keyed load), so memory stays flat.
 * PGlite has one connection: there a batch loads once sealed, one at a time.
 *
 * With an inferred schema, a record whose value does not fit its column widens the column (see
 * `widen.ts`): the batch so far is sealed with the types it had, and the record starts the next
 * batch, whose transaction alters the column before its COPY and records the widened schema with
 * its progress, so that a resume converts as this run did.
 *
 * @example
 * ```ts
 * await using plan = await prepareLoad({ file: "people.csv", table: "people" });
 * const pipeline = new LoadPipeline(plan);
 * await pipeline.load();
 * console.log(pipeline.committed.rowsLoaded);
 * ```
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type LoadProgress, touchLoad } from "../db/load_state.ts";
import { type Batch, BatchPool } from "./batch.ts";
import { type BatchCommit, writeCommit } from "./batch_commit.ts";
import { loadBatch } from "./batch_load.ts";
import { type RecordHandler, UNTERMINATED_QUOTE } from "./csv_parser.ts";
import type { LoadPlan } from "./load_plan.ts";
import type { Session } from "../db/database.ts";
import type { CsvRecord } from "./csv_record.ts";
import type { RejectsWriter } from "./rejects.ts";
import { widenColumns } from "./target_table.ts";
import type { Schema } from "./schema.ts";
import type { Widening } from "./widen.ts";
import type { Progress } from "./summary.ts";
import { RAGGED, type RowTransformer } from "./transform.ts";

const log = getLogger(["ingest"]);

/** Runs one load; its state is its fields. See the module documentation. */
export class LoadPipeline {
  /** What is committed: the load's progress after its last committed batch. */
  committed: LoadProgress;
  /** Records this run rejected for a wrong number of fields, by the number they had. */
  readonly fieldCounts = new Map<number, number>();
  /** Values defaulted by this run, per column, as of its last committed batch. */
  defaulted: Record<string, number> = {};
  readonly #plan: LoadPlan;
  readonly #transformer: RowTransformer;
  readonly #rejects: RejectsWriter;
  readonly #batchSize: number;
  /** Keep each batch's records: the input cannot be read again for refused rows (a pipe). */
  readonly #keep: boolean;
  /** Batches load while they fill (a server), or once sealed (PGlite). */
  readonly #streaming: boolean;
  /**
   * Sealed batches that may wait for the database before the source is held back. One for a
   * plain load: its COPY is the database's work, and a second COPY into the table at once made
   * PostgreSQL spend more CPU, not less. Two for a keyed load: its merge, which waits for the
   * batch before to commit, is the slow step, and the next batch's COPY into its staging table
   * runs meanwhile on the other connection (bench/findings.md, "Loader tuning"). PGlite has one
   * connection and loads one batch at a time: one there.
   */
  readonly #inFlight: number;
  readonly #pool = new BatchPool();
  /** The batch being filled. */
  #current!: Batch;
  /** Sealed batches not yet committed. */
  readonly #waiting: Batch[] = [];
  /** Settles when the last batch opened is committed. */
  #chain: Promise<void> = Promise.resolve();
  /** Settles when the last batch that altered the table (widened a column) is committed. */
  #altered: Promise<void> = Promise.resolve();
  /** The first error of a batch; it stops the load. */
  #failure: unknown = undefined;
  /** Records to pass over: committed by an earlier run. */
  #skip: number;
  /** Records in sealed batches. */
  #sealedRecords = 0;
  /** Where the time goes, for the log: the parser waiting for the database, batch loads. */
  readonly #trace = { waitMs: 0, loadMs: 0 };
  #startedAt = 0;
  #reportedAt = 0;

  constructor(plan: LoadPlan) {
    this.#plan = plan;
    this.#transformer = plan.transformer;
    this.#rejects = plan.targets.rejects;
    this.#batchSize = plan.batchSize;
    this.#streaming = plan.db?.kind === "postgres";
    this.#inFlight = this.#streaming && plan.upsert ? 2 : 1;
    this.#keep = !plan.source.canReopen;
    this.committed = plan.start;
    this.#skip = plan.start.recordsDone;
  }

  /**
   * Loads every record after those already committed. Throws the error that stopped the load,
   * once the batch in flight has committed or failed: what is committed is then exactly what
   * the load state says.
   */
  async load(): Promise<void> {
    const { source, db } = this.#plan;
    this.#startedAt = this.#reportedAt = performance.now();
    this.#current = this.#newBatch();
    try {
      await source.stream(this.#transform, this.#betweenSlices);
      this.#current.final = true;
      this.#seal(this.#current);
      await this.#chain;
      // Batches commit without waiting for the WAL flush; this synchronous commit flushes them
      // all, so that exit 0 means the load is durable.
      if (db) await touchLoad(db, this.#plan.targets.key);
    } catch (err) {
      this.#current.final = false;
      if (!this.#current.sealed) this.#seal(this.#current);
      await this.#chain.catch(() => {});
      throw this.#failure ?? err;
    }
    if (this.#failure !== undefined) throw this.#failure;
    this.defaulted = this.#transformer.defaulted();
    if (this.#plan.onProgress) this.#report();
    log.info("pipeline: {waitMs} ms waiting for the database, {loadMs} ms in batch loads", {
      waitMs: Math.round(this.#trace.waitMs),
      loadMs: Math.round(this.#trace.loadMs),
    });
  }

  /** Read and transform: each record into the current batch, as a row or a reject. */
  #transform: RecordHandler = (record, line, flags) => {
    if (this.#skip > 0) {
      this.#skip--;
      return;
    }
    const b = this.#current;
    const lastLine = b.lastLine;
    const at = b.out.pos;
    b.records++;
    b.lastLine = line;
    const t = this.#transformer;
    if ((flags & UNTERMINATED_QUOTE) !== 0) {
      const reason = "unterminated quoted field (the file ends inside quotes)";
      b.reject(this.#rejects.format(record.strings(), line, reason), "unterminated quoted field");
    } else if (t.applyTo(record, b.out, line)) {
      b.lines.push(line);
      if (this.#keep) b.kept.add(record);
    } else {
      b.reject(this.#rejects.format(record.strings(), line, t.reason), t.reasonKey);
      if (t.reasonKey === RAGGED) {
        this.fieldCounts.set(record.count, (this.fieldCounts.get(record.count) ?? 0) + 1);
      }
    }
    if (t.widened) this.#widen(b, record, line, at, lastLine);
    if (this.#current.records >= this.#batchSize) {
      this.#seal(this.#current);
      this.#current = this.#newBatch();
    }
  };

  /**
   * The record on `line` widened a column (see `widen.ts`): the batch so far commits with the
   * types it had, and the next batch, whose transaction widens the column before its COPY, takes
   * the record's row (written with the wider type, from `at` in the batch's COPY text).
   */
  #widen(b: Batch, record: CsvRecord, line: number, at: number, lastLine: number): void {
    const widenings = this.#transformer.takeWidenings();
    let row: Uint8Array | undefined;
    if (b.out.pos > at) {
      row = b.out.buf.slice(at, b.out.pos);
      b.out.pos = at;
      b.lines.length--;
      if (this.#keep) b.kept.pop();
      b.records--;
      b.lastLine = lastLine;
    }
    this.#seal(b);
    const next = this.#newBatch(widenings);
    if (row) {
      next.out.putBytes(row, 0, row.length);
      next.lines.push(line);
      if (this.#keep) next.kept.add(record);
      next.records++;
      next.lastLine = line;
    }
    this.#current = next;
  }

  /**
   * Between two slices of records: lets the streaming COPY send what is new, holds the source
   * back while `#inFlight` sealed batches wait for the database (the slower side), stops on a
   * failed batch, and reports progress.
   */
  #betweenSlices = async (): Promise<void> => {
    this.#current.wake();
    while (this.#waiting.length >= this.#inFlight && this.#failure === undefined) {
      const t0 = performance.now();
      await this.#waiting[0].done.catch(() => {});
      this.#trace.waitMs += performance.now() - t0;
    }
    if (this.#failure !== undefined) throw this.#failure;
    if (performance.now() - this.#reportedAt >= this.#plan.progressIntervalMs) {
      this.#reportedAt = performance.now();
      this.#report();
    }
  };

  /** A new batch, queued to commit after the one before it; first widening `widenings`. */
  #newBatch(widenings: readonly Widening[] = []): Batch {
    const b = this.#pool.take();
    const previous = this.#chain;
    // A batch that alters the table starts once every batch before it has committed, and the
    // batches after it once it has: a batch holding the table's lock while it waits to commit
    // in turn would block the ALTER of the batch it waits for.
    let start = this.#altered;
    if (widenings.length > 0) {
      b.widenings = widenings;
      b.schema = this.#schemaNow();
      start = previous.catch(() => {});
    }
    b.done = this.#streaming
      ? start.then(() => this.#load(b, previous))
      : previous.then(() => this.#load(b, previous));
    b.done.then(() => this.#retire(b), (err) => {
      this.#failure ??= err;
      this.#retire(b);
    });
    this.#chain = b.done;
    if (widenings.length > 0) this.#altered = b.done.catch(() => {});
    return b;
  }

  /** The schema with the types the transformer has now (widened), for the load state. */
  #schemaNow(): Schema {
    const now = this.#transformer.columns();
    return {
      ...this.#plan.schema,
      columns: this.#plan.schema.columns.map((c, i) => {
        const { format: _, ...rest } = c;
        const { type, format } = now[i];
        return format === undefined ? { ...rest, type } : { ...rest, type, format };
      }),
    };
  }

  /** Seal: the batch holds its records; its COPY ends, its commit may go ahead. */
  #seal(b: Batch): void {
    this.#sealedRecords += b.records;
    b.seal(this.#transformer.defaulted());
    this.#waiting.push(b);
  }

  /** Load and commit: the batch into the database (on a dry run: its rejects to the file). */
  async #load(b: Batch, previous: Promise<void>): Promise<void> {
    const { db, copySql, upsert, table } = this.#plan;
    const commit = this.#commitOf(b, previous);
    // It rejects when the batch before failed, and the load may stop before asking for it.
    commit.catch(() => {});
    const t0 = performance.now();
    let progress: LoadProgress;
    if (db) {
      if (!this.#streaming) await b.whenSealed;
      const data = this.#streaming ? b.copyText() : b.allCopyText();
      const prepare = b.widenings.length > 0
        ? (tx: Session) => widenColumns(tx, table, b.widenings)
        : undefined;
      const rows = { copySql, data, whole: () => b.whole(), upsert, prepare };
      progress = await loadBatch(db, rows, commit);
    } else {
      progress = await writeCommit(undefined, await commit);
    }
    this.#trace.loadMs += performance.now() - t0;
    const before = this.committed;
    this.committed = progress;
    this.defaulted = b.defaulted;
    for (const w of b.widenings) {
      log.info("widened column {column} from {from} to {to} at line {line} (value {value})", {
        column: w.name,
        from: w.from,
        to: w.to,
        line: w.line,
        value: w.value,
      });
    }
    log.debug(
      "batch {batch} committed: {records} records, {loaded} loaded, {rejected} rejected, up to line {line}",
      {
        batch: progress.batches,
        records: b.records,
        loaded: progress.rowsLoaded - before.rowsLoaded,
        rejected: progress.rowsRejected - before.rowsRejected,
        line: b.lastLine,
      },
    );
  }

  /** What the batch's commit writes, once it is sealed and the batch before it committed. */
  async #commitOf(b: Batch, previous: Promise<void>): Promise<BatchCommit> {
    await b.whenSealed;
    await previous;
    return { batch: b, before: this.committed, to: this.#plan.targets };
  }

  /** A committed (or failed) batch gives its buffers back. */
  #retire(b: Batch): void {
    const i = this.#waiting.indexOf(b);
    if (i >= 0) this.#waiting.splice(i, 1);
    this.#pool.give(b);
  }

  #report(): void {
    const { source, start, onProgress } = this.#plan;
    const p: Progress = {
      bytesRead: source.bytesRead,
      bytesTotal: source.size,
      rowsRead: this.#sealedRecords + (this.#current.sealed ? 0 : this.#current.records),
      rowsLoaded: this.committed.rowsLoaded - start.rowsLoaded,
      rowsRejected: this.committed.rowsRejected - start.rowsRejected,
      seconds: (performance.now() - this.#startedAt) / 1000,
    };
    log.info("progress: {rowsRead} rows read, {rowsLoaded} loaded, {rowsRejected} rejected", {
      ...p,
    });
    onProgress?.(p);
  }
}
