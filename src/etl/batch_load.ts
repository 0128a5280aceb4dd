/**
 * One batch into the database, in one transaction, as a sequence of steps: the transaction's
 * settings and the batch's own DDL (a widened column), the COPY of its rows (for a keyed load into
 * a staging table, then merged into the table: see `upsert.ts`), then its commit
 * ({@linkcode writeCommit}: rejects, reject limit, load state). A COPY the database refuses for a row's values is rolled back and the batch is
 * loaded again in a second transaction, with savepoints isolating the refused rows: first by the
 * line PostgreSQL names in `err.where`, by bisection when it names none. One bad row never costs
 * a batch; a lost connection is not a row's fault and stops the load.
 *
 * @example
 * ```ts
 * const progress = await loadBatch(db, {
 *   copySql: copyStatement("people", schema),
 *   data: batch.copyText(),
 *   whole: () => batch.whole(),
 * }, commit);
 * ```
 *
 * @module
 */
import type { CopyData, Database, Session } from "../db/database.ts";
import { DatabaseUnavailableError } from "../db/errors.ts";
import type { LoadProgress } from "../db/load_state.ts";
import type { RefusedRow, WholeBatch } from "./batch.ts";
import { ALL_LOADED, type BatchCommit, writeCommit } from "./batch_commit.ts";
import { mergeStage, type UpsertPlan } from "./upsert.ts";
import { stageStatement } from "./upsert_sql.ts";
import { blamedLine, isRowError, refusal } from "./refusal.ts";

export { blamedLine, isRowError } from "./refusal.ts";

/** One batch's rows for {@linkcode loadBatch}. */
export interface BatchRows {
  /** The `COPY ... FROM STDIN` statement. */
  copySql: string;
  /**
   * The COPY input: all at hand, or an async iterable yielding rows as the batch fills, so that
   * the server works while the loader is still parsing.
   */
  data: CopyData;
  /** The rows one by one, once the batch is complete: only asked for to isolate refused rows. */
  whole: () => Promise<WholeBatch>;
  /**
   * A keyed load (`--key`): `copySql` copies into its staging table, merged into the table
   * before the commit (see `upsert.ts`).
   * @default {none: the COPY goes straight into the table}
   */
  upsert?: UpsertPlan;
  /**
   * Runs first in each of the batch's transactions (after its settings): DDL the batch's rows
   * need, such as a widened column.
   * @default {nothing}
   */
  prepare?: (tx: Session) => Promise<void>;
}

// Converters pass timestamps through unchanged; one without an offset must mean UTC.
const UTC = "SET LOCAL TimeZone = 'UTC'";
// On a server, a batch's commit need not wait for the WAL flush: the load state commits with the
// rows, so a server crash loses both together and a resume redoes them (the rejects file is
// truncated back to the state's length). The caller ends the load with one synchronous commit.
// Not on PGlite: there the "server" is this process, and a kill would lose every batch.
const ASYNC_COMMIT = `${UTC}; SET LOCAL synchronous_commit = off`;

/** Runs `fn` in a transaction: on a pooled server, always the one connection given. */
type InTransaction = <T>(fn: (tx: Session) => Promise<T>) => Promise<T>;

/**
 * Loads one batch in one transaction and commits it with what `commit` writes; returns the
 * progress committed. `commit` resolves once the batch is sealed and the batch before it has
 * committed (it rejects when that one failed, and this one rolls back): batches load side by
 * side but commit in order, so the load state and the rejects file only ever describe a prefix
 * of the input. Connection errors propagate: the transaction rolls back and the caller stops.
 */
export function loadBatch(
  db: Database,
  rows: BatchRows,
  commit: Promise<BatchCommit>,
): Promise<LoadProgress> {
  const settings = db.kind === "postgres" ? ASYNC_COMMIT : UTC;
  if (db.kind !== "postgres") {
    return loadBatchIn((fn) => db.transaction(fn), settings, rows, commit);
  }
  // On a server the batch keeps one connection from its COPY to its isolation retry: the
  // batches after it hold the pool's other connections while they wait for it to commit, so
  // asking the pool again could wait on them until the connect timeout.
  return db.withSession((s) => loadBatchIn((fn) => s.transaction(fn), settings, rows, commit));
}

async function loadBatchIn(
  inTransaction: InTransaction,
  settings: string,
  rows: BatchRows,
  commit: Promise<BatchCommit>,
): Promise<LoadProgress> {
  let copyError: unknown;
  try {
    return await inTransaction(async (tx) => {
      await begin(tx, settings, rows);
      let copied: number;
      try {
        copied = await tx.copyFrom(rows.copySql, rows.data);
      } catch (err) {
        copyError = err;
        throw err;
      }
      return await finish(tx, rows, commit, copied, []);
    });
  } catch (err) {
    if (err !== copyError || err instanceof DatabaseUnavailableError || !isRowError(err)) {
      throw err;
    }
  }
  // The rows may still be arriving (a streamed COPY stops at the first bad row).
  const whole = await rows.whole();
  return await inTransaction(async (tx) => {
    await begin(tx, settings, rows);
    const refused: RefusedRow[] = [];
    const all = Array.from({ length: whole.rows }, (_, i) => i);
    await isolate(tx, whole, rows.copySql, all, refused, copyError);
    if (refused.length === 0) throw copyError; // nothing to blame: not a row's fault after all
    refused.sort((a, b) => a.index - b.index);
    return await finish(tx, rows, commit, whole.rows - refused.length, refused);
  });
}

/** The start of a batch's transaction: its settings, its own steps, a keyed load's stage. */
async function begin(tx: Session, settings: string, rows: BatchRows): Promise<void> {
  await tx.exec(settings);
  await rows.prepare?.(tx);
  if (rows.upsert) await tx.exec(stageStatement(rows.upsert));
}

/**
 * After the COPY (`copied` rows in, `copyRefused` refused): a keyed load merges its stage into
 * the table, once the batch before has committed (so keys meet in the file's order); then the
 * commit.
 */
async function finish(
  tx: Session,
  rows: BatchRows,
  commit: Promise<BatchCommit>,
  copied: number,
  copyRefused: RefusedRow[],
): Promise<LoadProgress> {
  if (!rows.upsert) {
    return await writeCommit(tx, await commit, { ...ALL_LOADED, refused: copyRefused });
  }
  // The merge opens its savepoints while the batch before commits: once it has, the merge is
  // one statement away.
  const merged = await mergeStage(tx, rows.upsert, copied, commit);
  // The staged rows are the batch's rows less those the COPY refused, in order.
  const refusedIndex = new Set(copyRefused.map((r) => r.index));
  const staged: number[] = [];
  for (let i = 0; staged.length < copied; i++) if (!refusedIndex.has(i)) staged.push(i);
  const refused = [
    ...copyRefused,
    ...merged.refused.map((r) => ({ index: staged[r.position], message: r.message })),
  ].sort((a, b) => a.index - b.index);
  return await writeCommit(tx, await commit, { ...merged, refused });
}

async function isolate(
  tx: Session,
  batch: WholeBatch,
  copySql: string,
  rows: number[],
  refused: RefusedRow[],
  knownError?: unknown,
): Promise<void> {
  let pending = rows;
  let err = knownError;
  while (pending.length > 0) {
    if (err === undefined) {
      try {
        await tx.transaction((sp) => sp.copyFrom(copySql, pending.map((i) => batch.rowText(i))));
        return;
      } catch (e) {
        if (e instanceof DatabaseUnavailableError) throw e;
        err = e;
      }
    }
    const line = blamedLine(err);
    if (line !== undefined && line >= 1 && line <= pending.length) {
      // The rows before the blamed one went in fine; load them, skip it, go on after it.
      if (line > 1) await isolate(tx, batch, copySql, pending.slice(0, line - 1), refused);
      refused.push({ index: pending[line - 1], message: refusal(err) });
      pending = pending.slice(line);
    } else if (pending.length === 1) {
      refused.push({ index: pending[0], message: refusal(err) });
      return;
    } else {
      const mid = pending.length >> 1;
      await isolate(tx, batch, copySql, pending.slice(0, mid), refused);
      await isolate(tx, batch, copySql, pending.slice(mid), refused);
      return;
    }
    err = undefined;
  }
}
