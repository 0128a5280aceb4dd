/**
 * The table a load writes to: created from the schema when it does not exist (with the load's
 * key as its primary key), checked against the schema when it does (every schema column there
 * with a type its values load into, every other column one that can be left out, a unique index
 * on the key), and the COPY statement that fills it.
 *
 * @example
 * ```ts
 * await prepareTable(db, { table: "people", schema });
 * await tx.copyFrom(copyStatement("people", schema), ["1\tAda\n"]);
 * ```
 *
 * @module
 */
import type { Database, Queryable } from "../db/database.ts";
import type { Widening } from "./widen.ts";
import { UsageError } from "../errors.ts";
import { type ColumnType, quoteIdent, quoteTable, type Schema, sqlType } from "./schema.ts";

/**
 * The `COPY ... FROM STDIN` statement for a schema's columns.
 *
 * @example
 * ```ts
 * copyStatement("people", { columns: [{ name: "id", type: "integer" }] });
 * // 'COPY "people" ("id") FROM STDIN'
 * ```
 */
export function copyStatement(table: string, schema: Schema): string {
  const cols = schema.columns.map((c) => quoteIdent(c.name)).join(", ");
  return `COPY ${quoteTable(table)} (${cols}) FROM STDIN`;
}

/**
 * The `CREATE TABLE IF NOT EXISTS` statement for a schema, with `key` as its primary key.
 *
 * @example
 * ```ts
 * createStatement("people", { columns: [{ name: "id", type: "integer" }] }, ["id"]);
 * ```
 */
export function createStatement(table: string, schema: Schema, key?: readonly string[]): string {
  const cols = schema.columns.map((c) => `  ${quoteIdent(c.name)} ${sqlType(c.type)}`);
  if (key?.length) cols.push(`  PRIMARY KEY (${key.map(quoteIdent).join(", ")})`);
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

/**
 * Widens the table's columns as the load's widenings say (in the batch's transaction `tx`, whose
 * TimeZone is UTC): `ALTER TABLE ... ALTER COLUMN ... TYPE ... USING ...`, unless the column
 * already takes the wider type's values (an existing table's column may be wider than inferred).
 */
export async function widenColumns(
  tx: Queryable,
  table: string,
  widenings: readonly Widening[],
): Promise<void> {
  for (const w of widenings) {
    const [col] = await tx.query<{ type: string }>(
      `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
        WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped`,
      [quoteTable(table), w.name],
    );
    if (col && COMPATIBLE[w.to].test(col.type)) continue;
    const c = quoteIdent(w.name), type = sqlType(w.to);
    await tx.exec(
      `ALTER TABLE ${quoteTable(table)} ALTER COLUMN ${c} TYPE ${type} USING ${c}::${type}`,
    );
  }
}

/** A column of an existing table, as the catalog describes it. */
export interface ColumnRow {
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

/** The table as {@linkcode prepareTable} left it. */
export interface PreparedTable {
  /** This call created it. */
  created: boolean;
  /** The unique index on the key, when a key was given. */
  keyIndex?: string;
}

/**
 * Creates the table from the schema when it does not exist, with `key` as its primary key.
 * When it does, checks that every schema column is there with a type its values load into, that
 * any other column can be left out (nullable or with a default), and that a unique index covers
 * exactly the key's columns; throws a {@linkcode UsageError} saying what differs otherwise.
 */
export async function prepareTable(
  db: Database,
  options: { table: string; schema: Schema; key?: readonly string[] },
): Promise<PreparedTable> {
  const { table, schema, key } = options;
  const existing = await tableColumns(db, table);
  if (existing === undefined) {
    await db.exec(createStatement(table, schema, key));
    return { created: true, keyIndex: key?.length ? await keyIndex(db, table, key) : undefined };
  }
  const problems = tableDifferences(existing, schema);
  if (problems.length) {
    throw new UsageError(
      `table "${table}" exists with different columns: ${
        problems.join("; ")
      } (load into another --table, or drop it)`,
    );
  }
  return { created: false, keyIndex: key?.length ? await keyIndex(db, table, key) : undefined };
}

/**
 * The name of the unique index on exactly the columns of `key` (in any order; not partial, not
 * on expressions: what `ON CONFLICT (key)` needs). Throws a {@linkcode UsageError} naming the
 * table's unique indexes, and the statement that would make one, when there is none.
 */
export async function keyIndex(
  db: Database,
  table: string,
  key: readonly string[],
): Promise<string> {
  const indexes = await db.query<{ name: string; cols: string[] }>(
    `SELECT c.relname AS name, array_agg(a.attname::text ORDER BY a.attnum) AS cols
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indexrelid
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
      WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL
        AND i.indexprs IS NULL
      GROUP BY c.relname
      ORDER BY c.relname`,
    [quoteTable(table)],
  );
  const want = [...key].sort().join("\0");
  const found = indexes.find((ix) => [...ix.cols].sort().join("\0") === want);
  if (found) return found.name;
  const cols = key.map(quoteIdent).join(", ");
  const have = indexes.length
    ? `its unique indexes are on ${indexes.map((ix) => `(${ix.cols.join(", ")})`).join(", ")}`
    : "it has no unique index";
  throw new UsageError(
    `table "${table}" has no unique index on exactly (${
      key.join(", ")
    }), which --key needs to find the rows already there: ${have}; create one with CREATE UNIQUE INDEX ON ${
      quoteTable(table)
    } (${cols})`,
  );
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
