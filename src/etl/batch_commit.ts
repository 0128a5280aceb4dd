/**
 * What a batch writes when it commits, besides its rows: its rejected records (those the
 * transform refused, and those the database refused, read again from the input) appended to the
 * rejects file and synced; the reject limit checked across every run of the load; and the load
 * state, in the batch's transaction. A batch's commit is handed all of this as one
 * {@linkcode BatchCommit} value.
 *
 * The rejects file's length goes into the load state with the batch, so a resume truncates the
 * file back to what was committed and each reject is in it exactly once.
 *
 * @example
 * ```ts
 * const progress = await db.transaction((tx) => writeCommit(tx, commit, ALL_LOADED));
 * console.log(progress.rowsLoaded, progress.rejectsBytes);
 * ```
 *
 * @module
 */
import type { Session } from "../db/database.ts";
import { type LoadKey, type LoadProgress, saveProgress } from "../db/load_state.ts";
import { LoadError } from "../errors.ts";
import type { Batch, RefusedRow } from "./batch.ts";
import type { RejectsWriter } from "./rejects.ts";

/** A limit on rejects: a count, or a share of the rows read. */
export type MaxRejects = { count: number } | { ratio: number };

/** Reads records of the input a second time, by the line they start on. */
export interface RecordReader {
  recordsAt(lines: readonly number[]): Promise<Map<number, string[]>>;
}

/** Where every batch of a load writes, besides its rows. */
export interface CommitTargets {
  /** The rejects file. */
  rejects: RejectsWriter;
  /** The load's row in `ingest_loads`. */
  key: LoadKey;
  /** Where the records the database refused are read again. */
  input: RecordReader;
  /**
   * Stops the load (exit 1) once more rows than this are rejected, across all its runs.
   * @default {no limit}
   */
  maxRejects?: MaxRejects;
}

/** What loading a batch's rows found, besides the rows that went in. */
export interface BatchResult {
  /** Rows the database refused (their index among the batch's rows, and why). */
  refused: readonly RefusedRow[];
  /** Rows not loaded because their key was there already (`--on-conflict ignore`). */
  ignored: number;
  /** Rows loaded over an existing row of their key (`--on-conflict update`). */
  updated: number;
  /** Of the `updated`, rows whose key's row already held their values (left as it was). */
  unchanged: number;
}

/** A batch whose rows all went in. */
export const ALL_LOADED: BatchResult = { refused: [], ignored: 0, updated: 0, unchanged: 0 };

/** One batch's commit: the batch, sealed; the progress committed before it; where it writes. */
export interface BatchCommit {
  batch: Batch;
  before: LoadProgress;
  to: CommitTargets;
}

/** The progress of a load that has committed nothing yet. */
export function noProgress(): LoadProgress {
  return {
    recordsDone: 0,
    lastLine: 1,
    rowsLoaded: 0,
    rowsRejected: 0,
    rowsIgnored: 0,
    rowsUpdated: 0,
    rowsUnchanged: 0,
    widenings: [],
    rejectedByReason: {},
    defaulted: {},
    rejectsBytes: 0,
    batches: 0,
  };
}

/** The reason a refused row is counted under: the database's message without quoted values. */
function refusedReason(message: string): string {
  return `database refused: ${message.replace(/"[^"]*"/g, '"…"')}`;
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** Throws a {@linkcode LoadError} when the rejects pass the limit. */
export function checkRejectLimit(
  limit: MaxRejects | undefined,
  p: LoadProgress,
  rejectsPath: string,
): void {
  if (!limit) return;
  const over = "count" in limit
    ? p.rowsRejected > limit.count
    : p.rowsRejected > limit.ratio * p.recordsDone;
  if (over) {
    throw new LoadError(
      `too many rejects: ${p.rowsRejected} of ${p.recordsDone} rows rejected, more than --max-rejects ${
        "count" in limit ? limit.count : limit.ratio
      } allows (see ${rejectsPath})`,
    );
  }
}

/**
 * Writes a batch's rejects and, inside `tx`, its load state; returns the progress it commits.
 * `result` says which rows the database would not take, and how many were ignored or updated.
 * Without `tx` (a dry run) only the rejects are written. Throws a {@linkcode LoadError} past
 * the reject limit: the rejects are then in the file for the user to look at, but not
 * committed, so a resume truncates them away.
 */
export async function writeCommit(
  tx: Session | undefined,
  commit: BatchCommit,
  result: BatchResult = ALL_LOADED,
): Promise<LoadProgress> {
  const { batch, before, to } = commit;
  const { refused, ignored, updated, unchanged } = result;
  const { rejects } = to;
  // A copy: the pooled buffer is reused once this batch is done.
  rejects.addEncoded(batch.rejectText.bytes().slice(), batch.rejected);
  const reasons = { ...batch.reasons };
  if (refused.length) {
    const lines = refused.map((r) => batch.lines.at(r.index));
    // The records kept with the batch (a pipe), or read again from the input.
    const kept = batch.kept.length > 0;
    const records = kept ? undefined : await to.input.recordsAt(lines);
    refused.forEach((r, i) => {
      const fields = kept ? batch.kept.fields(r.index) : records!.get(lines[i]) ?? [];
      rejects.add(fields, lines[i], `database refused: ${r.message}`);
      const key = refusedReason(r.message);
      reasons[key] = (reasons[key] ?? 0) + 1;
    });
  }
  const rejectedByReason = { ...before.rejectedByReason };
  addCounts(rejectedByReason, reasons);
  const next: LoadProgress = {
    recordsDone: before.recordsDone + batch.records,
    lastLine: batch.lastLine || before.lastLine,
    rowsLoaded: before.rowsLoaded + batch.lines.length - refused.length - ignored,
    rowsRejected: before.rowsRejected + batch.rejected + refused.length,
    rowsIgnored: before.rowsIgnored + ignored,
    rowsUpdated: before.rowsUpdated + updated,
    rowsUnchanged: before.rowsUnchanged + unchanged,
    widenings: [
      ...before.widenings,
      ...batch.widenings.map(({ name, from, to, line, value }) => ({
        column: name,
        from,
        to,
        line,
        value,
      })),
    ],
    rejectedByReason,
    defaulted: batch.defaulted,
    rejectsBytes: 0,
    batches: before.batches + 1,
  };
  try {
    checkRejectLimit(to.maxRejects, next, rejects.path);
  } finally {
    next.rejectsBytes = await rejects.flush();
  }
  // A batch that widened a column records the widened schema: a resume converts with it.
  if (tx) await saveProgress(tx, to.key, next, batch.final, batch.schema);
  return next;
}
