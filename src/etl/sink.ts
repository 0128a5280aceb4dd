/**
 * The database side: the target table (created from the schema, or checked against it), and
 * loading one batch per transaction with COPY. A batch the database refuses is rolled back and
 * loaded again in the same transaction with savepoints, isolating the refused rows: first by the
 * line PostgreSQL names in `err.where`, by bisection when it names none. One bad row never costs
 * a batch.
 *
 * @example
 * ```ts
 * await prepareTable(db, { table: "people", schema });
 * const refused = await loadBatch(db, {
 *   copySql: copyStatement("people", schema),
 *   data: ["1\tAda\n"],
 *   whole: () => Promise.resolve({ rows: 1, rowText: () => "1\tAda\n" }),
 *   finalize: async (tx, refused) => {},
 * });
 * ```
 */
import type { CopyData, Database, Session } from "../db/database.ts";
import { DatabaseUnavailableError } from "../db/errors.ts";
import { UsageError } from "../errors.ts";
import { type ColumnType, quoteIdent, quoteTable, type Schema, sqlType } from "./schema.ts";

/** The `COPY ... FROM STDIN` statement for a schema's columns. */
export function copyStatement(table: string, schema: Schema): string {
  const cols = schema.columns.map((c) => quoteIdent(c.name)).join(", ");
  return `COPY ${quoteTable(table)} (${cols}) FROM STDIN`;
}

/** The `CREATE TABLE` statement for a schema. */
export function createStatement(table: string, schema: Schema): string {
  const cols = schema.columns.map((c) => `  ${quoteIdent(c.name)} ${sqlType(c.type)}`);
  return `CREATE TABLE IF NOT EXISTS ${quoteTable(table)} (\n${cols.join(",\n")}\n)`;
}

// What an existing column may be for each schema type: COPY text of the type must load into it.
const COMPATIBLE: Record<ColumnType, RegExp> = {
  text: /^(text|character varying|character|citext)\b/,
  integer: /^(integer|bigint|numeric|double precision|real)\b/,
  bigint: /^(bigint|numeric)\b/,
  numeric: /^(numeric|double precision)\b/,
  double: /^(double precision|numeric|real)\b/,
  boolean: /^boolean$/,
  date: /^date$/,
  timestamp: /^timestamp without time zone$/,
  timestamptz: /^timestamp with time zone$/,
};

interface ColumnRow {
  name: string;
  type: string;
  not_null: boolean;
  has_default: boolean;
}

/** The existing table's columns, or undefined when there is no such table. */
export async function tableColumns(
  db: Database,
  table: string,
): Promise<ColumnRow[] | undefined> {
  const quoted = quoteTable(table);
  const exists = await db.query<{ oid: string | null }>("SELECT to_regclass($1)::text AS oid", [
    quoted,
  ]);
  if (!exists[0]?.oid) return undefined;
  return await db.query<ColumnRow>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            a.attnotnull AS not_null,
            (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS has_default
       FROM pg_attribute a
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [quoted],
  );
}

/**
 * Creates the table from the schema when it does not exist. When it does, checks that every
 * schema column is there with a type its values load into, and that any other column can be
 * left out (nullable or with a default); throws a {@linkcode UsageError} listing the
 * differences otherwise. Returns whether the table was created.
 */
export async function prepareTable(
  db: Database,
  options: { table: string; schema: Schema },
): Promise<boolean> {
  const { table, schema } = options;
  const existing = await tableColumns(db, table);
  if (existing === undefined) {
    await db.exec(createStatement(table, schema));
    return true;
  }
  const problems = tableDifferences(existing, schema);
  if (problems.length) {
    throw new UsageError(
      `table "${table}" exists with different columns: ${
        problems.join("; ")
      } (load into another --table, or drop it)`,
    );
  }
  return false;
}

/** What keeps an existing table from taking a schema's rows; empty when nothing does. */
export function tableDifferences(existing: readonly ColumnRow[], schema: Schema): string[] {
  const byName = new Map(existing.map((c) => [c.name, c]));
  const problems: string[] = [];
  for (const col of schema.columns) {
    const have = byName.get(col.name);
    if (!have) problems.push(`no column "${col.name}"`);
    else if (!COMPATIBLE[col.type].test(have.type)) {
      problems.push(`column "${col.name}" is ${have.type}, the schema says ${col.type}`);
    }
  }
  const wanted = new Set(schema.columns.map((c) => c.name));
  for (const c of existing) {
    if (!wanted.has(c.name) && c.not_null && !c.has_default) {
      problems.push(`column "${c.name}" is NOT NULL without a default and not in the schema`);
    }
  }
  return problems;
}

/** A row the database refused: its index in the batch and the database's message. */
export interface RefusedRow {
  index: number;
  message: string;
}

/** A batch's rows, complete: what isolating refused rows needs. */
export interface WholeBatch {
  /** Number of rows. */
  rows: number;
  /** Row `i` alone as COPY text. */
  rowText: (i: number) => string | Uint8Array;
}

/** One batch for {@linkcode loadBatch}. */
export interface BatchLoad {
  copySql: string;
  /**
   * The COPY input: all at hand, or an async iterable yielding rows as the batch fills, so that
   * the server works while the loader is still parsing.
   */
  data: CopyData;
  /** Resolves once the batch is complete (only awaited to isolate refused rows). */
  whole: () => Promise<WholeBatch>;
  /**
   * Runs in the batch's transaction after the rows are in: writes the rejects and the load
   * state. `refused` lists rows the database would not take.
   */
  finalize: (tx: Session, refused: RefusedRow[]) => Promise<void>;
}

/**
 * Errors a row's values can cause: data exceptions (22xxx), integrity violations (23xxx),
 * program limits such as a row too big (54xxx). Anything else (a dropped table, no privilege)
 * is no row's fault, and isolating would only reject every row.
 */
export function isRowError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && /^(22|23|54)/.test(code);
}

/** The 1-based row of a COPY that PostgreSQL blames, from `err.where` ("COPY t, line 3, ..."). */
export function blamedLine(err: unknown): number | undefined {
  const where = (err as { where?: unknown })?.where;
  if (typeof where !== "string") return undefined;
  const m = /\bline (\d+)/.exec(where);
  return m ? Number(m[1]) : undefined;
}

function refusal(err: unknown): string {
  const e = err as { message?: string; where?: string };
  const column = typeof e.where === "string" ? /column (\S+?):/.exec(e.where)?.[1] : undefined;
  return (column ? `${column}: ` : "") + (e.message ?? String(err));
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
 * Loads one batch in one transaction; returns the rows the database refused (already handed to
 * `finalize`). Connection errors propagate: the transaction rolls back and the caller stops.
 */
export function loadBatch(db: Database, batch: BatchLoad): Promise<RefusedRow[]> {
  if (db.kind !== "postgres") return loadBatchIn((fn) => db.transaction(fn), db, batch);
  // On a server the batch keeps one connection from its COPY to its isolation retry: the
  // batches after it hold the pool's other connections while they wait for it to commit, so
  // asking the pool again could wait on them until the connect timeout.
  return db.withSession((s) => loadBatchIn((fn) => s.transaction(fn), db, batch));
}

async function loadBatchIn(
  inTransaction: InTransaction,
  db: Database,
  batch: BatchLoad,
): Promise<RefusedRow[]> {
  let copyError: unknown;
  try {
    await inTransaction(async (tx) => {
      await tx.exec(db.kind === "postgres" ? ASYNC_COMMIT : UTC);
      try {
        await tx.copyFrom(batch.copySql, batch.data);
      } catch (err) {
        copyError = err;
        throw err;
      }
      await batch.finalize(tx, []);
    });
    return [];
  } catch (err) {
    if (err !== copyError || err instanceof DatabaseUnavailableError || !isRowError(err)) {
      throw err;
    }
  }
  // The rows may still be arriving (a streamed COPY stops at the first bad row).
  const whole = await batch.whole();
  return await inTransaction(async (tx) => {
    await tx.exec(db.kind === "postgres" ? ASYNC_COMMIT : UTC);
    const refused: RefusedRow[] = [];
    const all = Array.from({ length: whole.rows }, (_, i) => i);
    await isolate(tx, whole, batch.copySql, all, refused, copyError);
    if (refused.length === 0) throw copyError; // nothing to blame: not a row's fault after all
    refused.sort((a, b) => a.index - b.index);
    await batch.finalize(tx, refused);
    return refused;
  });
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
