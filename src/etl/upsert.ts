/**
 * Loading by key (`--key COL[,COL...]`, `--on-conflict error|update|ignore`): each batch is
 * copied into a staging table first, then merged into the table, inside the batch's transaction.
 * The staging table is a temporary table created in that transaction and dropped at its commit
 * (`ON COMMIT DROP`): nothing lives on the session between transactions, so it works through a
 * transaction-mode pooler too. Its rows keep the batch's order, which is their physical order
 * (`ctid`): a new table filled by one COPY in one transaction is written front to back.
 *
 * - `error` (the default): a record whose key is in the table, or earlier in the batch, is
 *   rejected with the database's reason (`duplicate key value violates unique constraint
 *   "people_pkey"`); the rest of the batch loads.
 * - `update`: the last record of a key in the batch goes in (earlier ones are superseded), as an
 *   insert or an update of the row already there (`INSERT ... ON CONFLICT DO UPDATE`). A row that
 *   already holds the record's values is left as it is, not rewritten: loading next week's file
 *   over this week's writes only the rows that changed (no new row versions, index entries or
 *   WAL for the others, and no update triggers fired for them). They are counted as `unchanged`.
 *   The values are compared with their types' `=` (`IS DISTINCT FROM`): every type a loaded
 *   column may have (`target_table.ts`) has one. Where it does exactly what `ON CONFLICT` would,
 *   the merge is one `MERGE` (`merge_statement.ts`), on a stage pruned to each key's last record
 *   when a key comes twice in it.
 * - `ignore`: the first record of a key in the batch goes in unless the key is in the table
 *   (`ON CONFLICT DO NOTHING`); the others are counted as ignored.
 *
 * A merge the database refuses for a row's values (a CHECK constraint, say) is redone row set by
 * row set in savepoints until the refused rows are found; they are rejected, the rest loads.
 * The statements themselves are in `upsert_sql.ts`.
 *
 * @example
 * ```ts
 * const plan = { table: "people", columns: ["id", "name"], key: ["id"], onConflict: "update", constraint: "people_pkey" } as const;
 * await tx.exec(stageStatement(plan));
 * await tx.copyFrom(stageCopyStatement(plan), rows);
 * const { refused, ignored, updated, unchanged } = await mergeStage(tx, plan, staged);
 * ```
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Session } from "../db/database.ts";
import { DatabaseUnavailableError } from "../db/errors.ts";
import { isRowError, refusal } from "./refusal.ts";
import {
  conflictsSql,
  duplicateMessage,
  insertSql,
  keyTwiceSql,
  list,
  STAGE,
  supersededSql,
  winnersSql,
} from "./upsert_sql.ts";
import { openMerge, runMerge } from "./merge_statement.ts";

const log = getLogger(["ingest"]);

/** What `--on-conflict` may say. */
export const ON_CONFLICT = ["error", "update", "ignore"] as const;
/** One of {@linkcode ON_CONFLICT}. */
export type OnConflict = typeof ON_CONFLICT[number];

/** A keyed load's merge: the table, its columns as the COPY writes them, the key. */
export interface UpsertPlan {
  /** The target table, a checked name. */
  table: string;
  /** The columns the load writes (the schema's), in COPY order. */
  columns: readonly string[];
  /** The key's columns, among `columns`. */
  key: readonly string[];
  /** What a record whose key is there already does. */
  onConflict: OnConflict;
  /** The unique index (or constraint) on the key: the database's reason names it. */
  constraint: string;
  /**
   * The table's OID when an `update` merge may try `MERGE` first (see `merge_statement.ts`).
   * @default {never: `INSERT ... ON CONFLICT` only}
   */
  relid?: number;
  /**
   * A partitioned table, whose `INSERT ... RETURNING` cannot say which rows were new (`xmax`).
   * @default {false}
   */
  partitioned?: boolean;
}

/** A row the merge did not load: its place among the staged rows, and why. */
export interface StagedRefusal {
  position: number;
  message: string;
}

/** What a merge did with the staged rows. */
export interface MergeOutcome {
  /** Rows rejected: a conflict (`error`), or the database refused their values. */
  refused: StagedRefusal[];
  /** Rows not loaded because their key was there (`ignore`). */
  ignored: number;
  /** Rows loaded over an existing row of their key, or superseded in the batch (`update`). */
  updated: number;
  /** Of the `updated`, rows whose key's row already held their values, left as it was. */
  unchanged: number;
}

/** What one merge statement did: rows it inserted, and rows it inserted or updated. */
interface Written {
  inserted: number;
  written: number;
}

/** What the merge statements of a batch did: new keys, and rows they were given but did not write. */
interface Merged {
  inserted: number;
  unwritten: number;
}

/**
 * Takes out of the stage what does not go in as it is: the conflicting rows (`error`, returned
 * with their positions) or the superseded ones (`update`, `ignore`, counted).
 */
async function prune(
  tx: Session,
  p: UpsertPlan,
): Promise<{ conflicts: StagedRefusal[]; superseded: number }> {
  if (p.onConflict !== "error") {
    const [{ n }] = await tx.query<{ n: number }>(supersededSql(p));
    return { conflicts: [], superseded: n };
  }
  const rows = await tx.query<{ c: string; n: number }>(conflictsSql(p));
  if (rows.length > 0) {
    await tx.query(`DELETE FROM ${STAGE} WHERE ctid = ANY($1::tid[])`, [rows.map((r) => r.c)]);
  }
  const message = duplicateMessage(p);
  return { conflicts: rows.map((r) => ({ position: r.n, message })), superseded: 0 };
}

/**
 * The outcome, from the staged count, the rows refused, the new keys inserted and the rows that
 * went to the table's statement but were not written (`update`: already holding their values).
 */
function outcome(
  p: UpsertPlan,
  staged: number,
  refused: StagedRefusal[],
  { inserted, unwritten }: Merged,
): MergeOutcome {
  const kept = staged - refused.length;
  refused.sort((a, b) => a.position - b.position);
  const update = p.onConflict === "update";
  return {
    refused,
    ignored: p.onConflict === "ignore" ? kept - inserted : 0,
    updated: update ? kept - inserted : 0,
    unchanged: update ? unwritten : 0,
  };
}

/**
 * Merges the staged rows (`staged` of them) into the table, in `tx` (see the module
 * documentation). A lost connection, or an error that is no row's fault, propagates.
 */
export async function mergeStage(
  tx: Session,
  p: UpsertPlan,
  staged: number,
  turn: Promise<unknown> = Promise.resolve(),
): Promise<MergeOutcome> {
  let turnFailed = false;
  const myTurn = turn.catch((err) => {
    turnFailed = true;
    throw err;
  });
  try {
    return await tx.transaction((sp) => mergeAll(sp, p, staged, myTurn));
  } catch (err) {
    if (turnFailed || err instanceof DatabaseUnavailableError || !isRowError(err)) throw err;
  }
  await myTurn;
  // A row's values are refused: find it (them) by sets of rows, each in a savepoint.
  const all = await tx.query<{ c: string }>(`SELECT ctid::text AS c FROM ${STAGE} ORDER BY ctid`);
  const position = new Map(all.map((r, i) => [r.c, i]));
  const refused: StagedRefusal[] = [];
  const refuse = (c: string, message: string) => {
    refused.push({ position: position.get(c)!, message });
  };
  const done: Merged = { inserted: 0, unwritten: 0 };
  if (p.onConflict === "error") {
    const { conflicts } = await prune(tx, p);
    refused.push(...conflicts);
    await insertRows(tx, p, await stagedCtids(tx), refuse, done);
  } else {
    // In rounds: each key's winning record (the last, or the first); where the database
    // refuses it, the key's next record in the file's order is its winner in the next round.
    for (;;) {
      const round = await stagedCtids(tx, winnersSql(p));
      if (round.length === 0) break;
      const before = refused.length;
      await insertRows(tx, p, round, refuse, done);
      const failed = refused.slice(before).map((r) => all[r.position].c);
      await tx.query(
        `DELETE FROM ${STAGE} s WHERE s.ctid = ANY($1::tid[]) OR NOT EXISTS (
           SELECT 1 FROM ${STAGE} f WHERE f.ctid = ANY($2::tid[])
              AND (${list(p.key, "f.")}) = (${list(p.key, "s.")}))`,
        [round, failed],
      );
    }
  }
  return outcome(p, staged, refused, done);
}

/** The staged rows' ctids, in order: all of them, or those a query of `c` picks. */
async function stagedCtids(tx: Session, sql?: string): Promise<string[]> {
  const rows = await tx.query<{ c: string }>(
    sql ?? `SELECT ctid::text AS c FROM ${STAGE} ORDER BY ctid`,
  );
  return rows.map((r) => r.c);
}

/** The merge of a whole stage, when the database refuses no row's values. */
async function mergeAll(
  tx: Session,
  p: UpsertPlan,
  staged: number,
  turn: Promise<unknown>,
): Promise<MergeOutcome> {
  if (p.onConflict === "update" && p.relid !== undefined) {
    // MERGE compares a key's second record with the row as it was before the statement, so it
    // may keep the wrong record of a key that comes twice instead of failing: the stage keeps
    // each key's last record first. Before the batch's turn, while the batch before merges.
    const { superseded } = await hasKeyTwice(tx, p) ? await prune(tx, p) : { superseded: 0 };
    const fed = staged - superseded;
    const w = await viaMerge(tx, { ...p, relid: p.relid }, fed, turn);
    if (w === undefined) {
      // Refused (a concurrent insert of a key, a row's values): ON CONFLICT says which.
      return merged(p, staged, [], fed, (await tx.query<Written>(insertSql(p, false)))[0]);
    }
    return merged(p, staged, [], fed, w);
  }
  if (p.onConflict === "update") {
    try {
      // Most batches hold each key once: then no pass is needed to find each key's last record.
      const [w] = await tx.transaction(async (sp) => {
        await turn;
        return await sp.query<Written>(insertSql(p, false));
      });
      return merged(p, staged, [], staged, w);
    } catch (err) {
      // "ON CONFLICT DO UPDATE command cannot affect row a second time": a key twice.
      if ((err as { code?: unknown })?.code !== "21000") throw err;
    }
  }
  await turn;
  // ignore needs no pass either: the rows go in in the file's order, so a key's first stays.
  const { conflicts, superseded } = p.onConflict === "ignore"
    ? { conflicts: [], superseded: 0 }
    : await prune(tx, p);
  const [w] = await tx.query<Written>(insertSql(p, false));
  return merged(p, staged, conflicts, staged - conflicts.length - superseded, w);
}

/**
 * Whether a key comes more than once among the staged rows. `count(DISTINCT)` sorts: ~1.8 ms for
 * a batch of 25,000 where `GROUP BY ... HAVING` took 6-8 ms to build its hash table.
 */
async function hasKeyTwice(tx: Session, p: UpsertPlan): Promise<boolean> {
  const [r] = await tx.query<{ twice: boolean }>(keyTwiceSql(p));
  return r.twice;
}

/** The outcome of a merge statement given `fed` of the `staged` rows, `refused` the others. */
function merged(
  p: UpsertPlan,
  staged: number,
  refused: StagedRefusal[],
  fed: number,
  w: Written,
): MergeOutcome {
  return outcome(p, staged, refused, { inserted: w.inserted, unwritten: fed - w.written });
}

/**
 * The merge of `fed` staged rows, each key's once, as one `MERGE` (see `merge_statement.ts`), in
 * a savepoint readied before the batch's turn; `undefined` when the database refused it (then
 * nothing of it is left).
 */
async function viaMerge(
  tx: Session,
  p: UpsertPlan & { relid: number },
  fed: number,
  turn: Promise<unknown>,
): Promise<Written | undefined> {
  try {
    return await tx.transaction(async (sp) => {
      const before = await openMerge(sp, p);
      await turn;
      const counted = await runMerge(sp, p, STAGE, before);
      const { inserted, written } = counted;
      // Counts that cannot be (another writer of the table in this transaction): roll back.
      if (inserted < 0 || written < inserted || written > fed) throw new MergeMiscounted();
      return counted;
    });
  } catch (err) {
    if (err instanceof DatabaseUnavailableError) throw err;
    await turn; // the batch before failed: that is this batch's error
    log.debug("MERGE refused ({reason}); merging with INSERT ... ON CONFLICT", {
      reason: err instanceof Error ? err.message : String(err),
    });
    return undefined;
  }
}

/** The table's counts after a `MERGE` do not add up: merged the other way instead. */
class MergeMiscounted extends Error {
  constructor() {
    super("the table's insert and update counts do not match the merge");
  }
}

/**
 * Inserts the staged rows `ctids`, halving the set on a refusal; adds the new keys and the rows
 * not written to `done`.
 */
async function insertRows(
  tx: Session,
  p: UpsertPlan,
  ctids: string[],
  refuse: (ctid: string, message: string) => void,
  done: Merged,
): Promise<void> {
  if (ctids.length === 0) return;
  try {
    const [w] = await tx.transaction((sp) => sp.query<Written>(insertSql(p, true), [ctids]));
    done.inserted += w.inserted;
    done.unwritten += ctids.length - w.written;
  } catch (err) {
    if (err instanceof DatabaseUnavailableError || !isRowError(err)) throw err;
    if (ctids.length === 1) return refuse(ctids[0], refusal(err));
    const mid = ctids.length >> 1;
    await insertRows(tx, p, ctids.slice(0, mid), refuse, done);
    await insertRows(tx, p, ctids.slice(mid), refuse, done);
  }
}
