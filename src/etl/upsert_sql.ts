/**
 * The SQL of a keyed load's merge (see `upsert.ts`): the staging table, the statements that find
 * conflicting and superseded records in it, and the `INSERT ... ON CONFLICT` that merges it.
 * Each is a function of the load's {@linkcode UpsertPlan}, with names quoted.
 *
 * @example
 * ```ts
 * const plan = { table: "people", columns: ["id", "name"], key: ["id"], onConflict: "update", constraint: "people_pkey" } as const;
 * await tx.exec(stageStatement(plan));
 * await tx.copyFrom(stageCopyStatement(plan), rows);
 * const [{ inserted, written }] = await tx.query(insertSql(plan, false));
 * ```
 *
 * @module
 */
import { quoteIdent, quoteTable } from "./schema.ts";
import type { UpsertPlan } from "./upsert.ts";

/** The staging table's name: a temporary table, so each session has its own. */
export const STAGE = "_ingest_stage";

/** Quoted column names, each with `alias` in front, comma-separated. */
export function list(names: readonly string[], alias = ""): string {
  return names.map((n) => alias + quoteIdent(n)).join(", ");
}

/** The columns an update writes: all the load's columns but the key's. */
export function updatedColumns(p: Pick<UpsertPlan, "columns" | "key">): string[] {
  return p.columns.filter((c) => !p.key.includes(c));
}

/**
 * The staging table's DDL: the table's columns for the load, with the table's types (so values
 * convert as they would into the table), dropped when the transaction commits.
 */
export function stageStatement(p: UpsertPlan): string {
  return `CREATE TEMP TABLE ${STAGE} ON COMMIT DROP AS SELECT ${list(p.columns)} FROM ${
    quoteTable(p.table)
  } WITH NO DATA`;
}

/** The COPY into the staging table. */
export function stageCopyStatement(p: UpsertPlan): string {
  return `COPY ${STAGE} (${list(p.columns)}) FROM STDIN`;
}

/** The staged rows whose key is in the table or earlier in the batch, with their positions. */
export function conflictsSql(p: UpsertPlan): string {
  const keys = list(p.key);
  return `SELECT s.c, s.n FROM (
      SELECT ctid::text AS c, (row_number() OVER (ORDER BY ctid) - 1)::int AS n,
             row_number() OVER (PARTITION BY ${keys} ORDER BY ctid) AS dup, ${keys}
        FROM ${STAGE}) s
    WHERE s.dup > 1 OR EXISTS (SELECT 1 FROM ${quoteTable(p.table)} t
                                WHERE (${list(p.key, "t.")}) = (${list(p.key, "s.")}))`;
}

/** Deletes the records of a key that another of the batch supersedes; returns how many. */
export function supersededSql(p: UpsertPlan): string {
  // update: the last record of a key wins; ignore: the first stays.
  const order = p.onConflict === "update" ? "DESC" : "ASC";
  return `WITH gone AS (DELETE FROM ${STAGE} WHERE ctid IN (
      SELECT ctid FROM (SELECT ctid, row_number() OVER (PARTITION BY ${
    list(p.key)
  } ORDER BY ctid ${order}) AS r
                          FROM ${STAGE}) x WHERE r > 1) RETURNING 1)
    SELECT count(*)::int AS n FROM gone`;
}

/**
 * Inserts the staged rows (those of `$1`, a tid[], when `subset`); counts the new keys and the
 * rows written (a row already holding a record's values is not: see the module documentation).
 */
export function insertSql(p: UpsertPlan, subset: boolean): string {
  const cols = list(p.columns);
  const set = updatedColumns(p);
  const onConflict = p.onConflict === "error"
    ? ""
    : p.onConflict === "ignore" || set.length === 0
    ? ` ON CONFLICT (${list(p.key)}) DO NOTHING`
    : ` ON CONFLICT (${list(p.key)}) DO UPDATE SET ${
      set.map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`).join(", ")
    } WHERE ROW(${list(set, "t.")}) IS DISTINCT FROM ROW(${list(set, "EXCLUDED.")})`;
  const where = subset ? " WHERE ctid = ANY($1::tid[])" : "";
  // In the file's order (a key's first record wins under DO NOTHING); update's keys are unique.
  const order = p.onConflict === "update" ? "" : " ORDER BY ctid";
  const insert = `INSERT INTO ${quoteTable(p.table)} AS t (${cols})
      SELECT ${cols} FROM ${STAGE}${where}${order}${onConflict}`;
  if (!p.partitioned) {
    // xmax is 0 on a row this statement inserted, and set on one it updated.
    return `WITH ins AS (${insert} RETURNING (xmax = 0) AS fresh)
    SELECT count(*) FILTER (WHERE fresh)::int AS inserted, count(*)::int AS written FROM ins`;
  }
  // A partition's rows have no xmax to return. Every sub-statement sees the table as it was
  // before the insert, so the new keys are the rows given less those whose key was there.
  const existing = p.onConflict === "update"
    ? `(SELECT count(*) FROM ${STAGE} s WHERE ${subset ? "s.ctid = ANY($1::tid[]) AND " : ""}
         EXISTS (SELECT 1 FROM ${quoteTable(p.table)} t
                  WHERE (${list(p.key, "t.")}) = (${list(p.key, "s.")})))`
    : "0";
  return `WITH ins AS (${insert} RETURNING 1)
    SELECT ((SELECT count(*) FROM ${STAGE}${where}) - ${existing})::int AS inserted,
           (SELECT count(*) FROM ins)::int AS written`;
}

/** The reason PostgreSQL gives for a duplicate key, for a row the `error` mode rejects. */
export function duplicateMessage(p: UpsertPlan): string {
  return `duplicate key value violates unique constraint "${p.constraint}"`;
}

/** Each key's winning staged record: the last (`update`) or the first (`ignore`). */
export function winnersSql(p: UpsertPlan): string {
  const order = p.onConflict === "update" ? "DESC" : "ASC";
  return `SELECT c FROM (SELECT ctid::text AS c, ctid AS t, row_number() OVER (PARTITION BY ${
    list(p.key)
  } ORDER BY ctid ${order}) AS r FROM ${STAGE}) x WHERE r = 1 ORDER BY t`;
}

/** Whether a key comes more than once among the staged rows (`twice`). */
export function keyTwiceSql(p: UpsertPlan): string {
  const keys = p.key.length === 1 ? quoteIdent(p.key[0]) : `(${list(p.key)})`;
  return `SELECT count(DISTINCT ${keys}) <> count(*) AS twice FROM ${STAGE}`;
}
