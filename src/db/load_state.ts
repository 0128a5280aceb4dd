/**
 * Queries on `ingest_loads`, the CSV loader's resume state (see `sql/010_ingest_loads.sql`).
 * {@linkcode saveProgress} runs inside each batch's transaction, so the state never runs ahead
 * of or behind the rows.
 *
 * @example
 * ```ts
 * const load = await findLoad(db, { table: "processed_data", fingerprint });
 * if (load?.status === "complete") console.log("already loaded");
 * ```
 *
 * @module
 */
import type { Queryable } from "./database.ts";

/** Which load: the target table and the input file's fingerprint. */
export interface LoadKey {
  table: string;
  fingerprint: string;
}

/** A column widened by a load (its inferred type did not fit a later value). */
export interface RecordedWidening {
  column: string;
  from: string;
  to: string;
  /** The physical line of the first record whose value did not fit. */
  line: number;
  value: string;
}

/** Counters as committed. */
export interface LoadProgress {
  recordsDone: number;
  lastLine: number;
  rowsLoaded: number;
  rowsRejected: number;
  /** Records not loaded because their key was there already (`--on-conflict ignore`). */
  rowsIgnored: number;
  /** Records loaded over an existing row of their key (`--on-conflict update`). */
  rowsUpdated: number;
  /** Of the `rowsUpdated`, records whose key's row already held their values (left as it was). */
  rowsUnchanged: number;
  /** Columns widened so far, in order. */
  widenings: RecordedWidening[];
  rejectedByReason: Record<string, number>;
  defaulted: Record<string, number>;
  rejectsBytes: number;
  batches: number;
}

/** One row of `ingest_loads`. */
export interface LoadState extends LoadProgress, LoadKey {
  status: "running" | "complete";
  filePath: string;
  fileSize: number;
  schema: unknown;
  /** The schema was inferred: later values that do not fit widen its columns. */
  schemaInferred: boolean;
  rejectsPath: string;
}

interface Row {
  table_name: string;
  fingerprint: string;
  file_path: string;
  file_size: string | number;
  status: "running" | "complete";
  schema: unknown;
  records_done: string | number;
  last_line: string | number;
  rows_loaded: string | number;
  rows_rejected: string | number;
  rows_ignored: string | number;
  rows_updated: string | number;
  rows_unchanged: string | number;
  widenings: RecordedWidening[] | string;
  schema_inferred: boolean;
  rejected_by_reason: Record<string, number> | string;
  defaulted: Record<string, number> | string;
  rejects_path: string;
  rejects_bytes: string | number;
  batches: string | number;
}

function json<T>(v: T | string): T {
  return typeof v === "string" ? JSON.parse(v) : v;
}

/** The recorded load of this file into this table, if any. */
export async function findLoad(db: Queryable, key: LoadKey): Promise<LoadState | undefined> {
  const rows = await db.query<Row>(
    "SELECT * FROM ingest_loads WHERE table_name = $1 AND fingerprint = $2",
    [key.table, key.fingerprint],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    table: r.table_name,
    fingerprint: r.fingerprint,
    filePath: r.file_path,
    fileSize: Number(r.file_size),
    status: r.status,
    schema: json(r.schema),
    recordsDone: Number(r.records_done),
    lastLine: Number(r.last_line),
    rowsLoaded: Number(r.rows_loaded),
    rowsRejected: Number(r.rows_rejected),
    rowsIgnored: Number(r.rows_ignored),
    rowsUpdated: Number(r.rows_updated),
    rowsUnchanged: Number(r.rows_unchanged),
    widenings: json(r.widenings),
    schemaInferred: r.schema_inferred,
    rejectedByReason: json(r.rejected_by_reason),
    defaulted: json(r.defaulted),
    rejectsPath: r.rejects_path,
    rejectsBytes: Number(r.rejects_bytes),
    batches: Number(r.batches),
  };
}

/** Records the start of a load (replacing any earlier record of the same key). */
export async function startLoad(
  db: Queryable,
  load: LoadKey & {
    filePath: string;
    fileSize: number;
    schema: unknown;
    schemaInferred: boolean;
    rejectsPath: string;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO ingest_loads (table_name, fingerprint, file_path, file_size, schema, rejects_path,
                               schema_inferred)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (table_name, fingerprint) DO UPDATE SET
       file_path = EXCLUDED.file_path, file_size = EXCLUDED.file_size, schema = EXCLUDED.schema,
       schema_inferred = EXCLUDED.schema_inferred,
       rejects_path = EXCLUDED.rejects_path, status = 'running', records_done = 0, last_line = 1,
       rows_loaded = 0, rows_rejected = 0, rows_ignored = 0, rows_updated = 0, rows_unchanged = 0,
       widenings = '[]',
       rejected_by_reason = '{}', defaulted = '{}',
       rejects_bytes = 0, batches = 0, started_at = now(), updated_at = now(), finished_at = NULL`,
    [
      load.table,
      load.fingerprint,
      load.filePath,
      load.fileSize,
      JSON.stringify(load.schema),
      load.rejectsPath,
      load.schemaInferred,
    ],
  );
}

/**
 * Saves the counters after a batch; call it inside the batch's transaction. `schema`, when
 * given, replaces the recorded one (the batch widened a column).
 */
export async function saveProgress(
  tx: Queryable,
  key: LoadKey,
  p: LoadProgress,
  complete = false,
  schema?: unknown,
): Promise<void> {
  await tx.query(
    `UPDATE ingest_loads SET records_done = $3, last_line = $4, rows_loaded = $5,
       rows_rejected = $6, rejected_by_reason = $7, defaulted = $8, rejects_bytes = $9,
       batches = $10, updated_at = now(),
       status = CASE WHEN $11::boolean THEN 'complete' ELSE status END,
       finished_at = CASE WHEN $11::boolean THEN now() ELSE finished_at END,
       rows_ignored = $12, rows_updated = $13, widenings = $14,
       schema = coalesce($15::jsonb, schema), rows_unchanged = $16
     WHERE table_name = $1 AND fingerprint = $2`,
    [
      key.table,
      key.fingerprint,
      p.recordsDone,
      p.lastLine,
      p.rowsLoaded,
      p.rowsRejected,
      JSON.stringify(p.rejectedByReason),
      JSON.stringify(p.defaulted),
      p.rejectsBytes,
      p.batches,
      complete,
      p.rowsIgnored,
      p.rowsUpdated,
      JSON.stringify(p.widenings),
      schema === undefined ? null : JSON.stringify(schema),
      p.rowsUnchanged,
    ],
  );
}

/** Forgets every recorded load into a table (its rows are about to be truncated). */
export async function forgetLoads(db: Queryable, table: string): Promise<void> {
  await db.query("DELETE FROM ingest_loads WHERE table_name = $1", [table]);
}

/** Forgets one recorded load (it loaded nothing: a corrected run starts afresh). */
export async function forgetLoad(db: Queryable, key: LoadKey): Promise<void> {
  await db.query("DELETE FROM ingest_loads WHERE table_name = $1 AND fingerprint = $2", [
    key.table,
    key.fingerprint,
  ]);
}

/** A synchronous write to the load's row: flushes the WAL of every batch committed before it. */
export async function touchLoad(db: Queryable, key: LoadKey): Promise<void> {
  await db.query(
    "UPDATE ingest_loads SET updated_at = now() WHERE table_name = $1 AND fingerprint = $2",
    [key.table, key.fingerprint],
  );
}
