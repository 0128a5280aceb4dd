/**
 * The fast path of an `--on-conflict update` merge: one `MERGE` statement instead of
 * `INSERT ... ON CONFLICT DO UPDATE`. Where a key's row is there, `MERGE` updates it in place of
 * `ON CONFLICT`'s speculative insertion, row lock and update (one heap write and one WAL record
 * fewer for each row), and it joins the stage to the table by the key's index in a nested loop,
 * so each batch costs the same however large the table is (bench/findings.md, "MERGE").
 *
 * It is only a fast path: `upsert.ts` runs it on a stage that holds each key once (a key twice
 * would be compared with the row as it was before the statement, not fail), and on any refusal
 * (a concurrent insert of the same key, a row's values) rolls it back and merges as before. It is
 * only used where it does exactly what `ON CONFLICT` would and the rows it wrote can be counted:
 * PostgreSQL 15 or later (PGlite is), a plain table with no rules and no triggers of the user's
 * (`ON CONFLICT` fires insert triggers for updated rows too; `MERGE` does not), and `track_counts`
 * on. `MERGE` in PostgreSQL 15 has no `RETURNING`, so the new keys and the rows written are this
 * transaction's own insert and update counts of the table, read before and after.
 *
 * @example
 * ```ts
 * const { relid } = await mergeTarget(db, "people");
 * if (relid !== undefined) {
 *   const plan = { table: "people", columns: ["id", "name"], key: ["id"], relid };
 *   const before = await openMerge(tx, plan); // before the batch's turn comes
 *   const { inserted, written } = await runMerge(tx, plan, "_ingest_stage", before);
 * }
 * ```
 *
 * @module
 */
import type { Queryable, Session } from "../db/database.ts";
import { quoteIdent, quoteTable } from "./schema.ts";
import { list, updatedColumns } from "./upsert_sql.ts";

/** What a `MERGE` needs to know of the load. */
export interface MergePlan {
  /** The target table, a checked name. */
  table: string;
  /** The columns the load writes, in COPY order. */
  columns: readonly string[];
  /** The key's columns, among `columns`. */
  key: readonly string[];
  /** The table's OID, from {@linkcode mergeTarget}: its insert and update counts are read by it. */
  relid: number;
}

/** What one `MERGE` did: rows it inserted, and rows it inserted or updated. */
export interface MergeCounts {
  inserted: number;
  written: number;
}

/** This transaction's inserts and updates of the table so far, for the counts. */
interface TableCounts {
  i: number;
  u: number;
}

/** What a keyed load's merge needs to know of its table. */
export interface MergeTarget {
  /** The table's OID when an `update` load may merge it with `MERGE`; unset when it may not. */
  relid?: number;
  /** A partitioned table: its rows' system columns cannot be read back from an `INSERT`. */
  partitioned: boolean;
}

/** How a keyed load may merge into `table` (see the module documentation). */
export async function mergeTarget(db: Queryable, table: string): Promise<MergeTarget> {
  const [row] = await db.query<{ relid: string; mergeable: boolean; partitioned: boolean }>(
    `SELECT c.oid::int8::text AS relid, c.relkind = 'p' AS partitioned,
            c.relkind = 'r' AND NOT c.relhasrules
        AND current_setting('server_version_num')::int >= 150000
        AND current_setting('track_counts')::bool
        AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)
            AS mergeable
       FROM pg_class c WHERE c.oid = to_regclass($1)`,
    [quoteTable(table)],
  );
  if (!row) return { partitioned: false };
  return row.mergeable
    ? { relid: Number(row.relid), partitioned: false }
    : { partitioned: row.partitioned };
}

function countsSql(p: MergePlan): string {
  return `SELECT pg_stat_get_xact_tuples_inserted(${p.relid})::int8::text AS i,
                 pg_stat_get_xact_tuples_updated(${p.relid})::int8::text AS u`;
}

async function tableCounts(tx: Queryable, p: MergePlan): Promise<TableCounts> {
  const [r] = await tx.query<{ i: string; u: string }>(countsSql(p));
  return { i: Number(r.i), u: Number(r.u) };
}

/**
 * Readies `tx` for the merge before the batch's turn: the join by the key's index (the stage is
 * not analysed, and a hash join would read the whole table for every batch), and the counts so
 * far. `SET LOCAL` ends with the batch's transaction, or with the savepoint it runs in when that
 * is rolled back.
 */
export async function openMerge(tx: Session, p: MergePlan): Promise<TableCounts> {
  await tx.exec("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off");
  return await tableCounts(tx, p);
}

/**
 * Merges the stage `stage` into the table: a key's row there gets the staged values unless it
 * holds them already (compared with the types' `=`, as `upsert.ts` does); a new key's row is
 * inserted. `before` is what {@linkcode openMerge} returned. Throws when the database refuses it.
 */
export async function runMerge(
  tx: Session,
  p: MergePlan,
  stage: string,
  before: TableCounts,
): Promise<MergeCounts> {
  const set = updatedColumns(p);
  const on = p.key.map((k) => `t.${quoteIdent(k)} = s.${quoteIdent(k)}`).join(" AND ");
  const matched = set.length === 0 ? "" : ` WHEN MATCHED AND ROW(${list(set, "t.")})
      IS DISTINCT FROM ROW(${list(set, "s.")}) THEN UPDATE SET ${
    set.map((c) => `${quoteIdent(c)} = s.${quoteIdent(c)}`).join(", ")
  }`;
  await tx.exec(`MERGE INTO ${quoteTable(p.table)} AS t USING ${stage} AS s ON ${on}${matched}
    WHEN NOT MATCHED THEN INSERT (${list(p.columns)}) VALUES (${list(p.columns, "s.")})`);
  const after = await tableCounts(tx, p);
  const inserted = after.i - before.i;
  return { inserted, written: inserted + after.u - before.u };
}
