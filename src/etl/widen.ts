/**
 * Widening: the order in which a column whose type was inferred from a sample gives way to a
 * later value that does not fit it, instead of rejecting the row. Each type's wider types, least
 * first; every value a type accepts, each wider type accepts too, so COPY text already written
 * for the narrower type stays valid for the wider one:
 *
 * ```
 * integer → bigint → numeric → text
 * double → numeric → text
 * timestamp → timestamptz → text        (no offset is UTC, as everywhere)
 * boolean → text,  date → text,  timestamptz → text
 * ```
 *
 * A column with a date/time `format` widens straight to text.
 *
 * How a load uses it (`RowTransformer` with `widen: true`, for an inferred schema, and for the
 * resume of a load whose schema was inferred): the transformer writes each record with the types
 * in force after that record's own widenings and queues a {@linkcode Widening} per column it
 * widened (`RowTransformer.takeWidenings()`). The pipeline then seals the batch so far, with the
 * types it had, and starts the next batch with the record's row; that batch's transaction, once
 * every batch before it has committed (and before any batch after it starts), runs
 * `ALTER TABLE t ALTER COLUMN c TYPE <to> USING c::<to>` (TimeZone UTC, as for every batch;
 * skipped when an existing table's column already takes the wider type) before its COPY, and
 * commits the widened schema with its progress, so that a resume converts as this run did. The
 * summary and the log list each widening. Rows loaded before a widening take PostgreSQL's cast
 * (a boolean becomes `true`, a timestamptz its UTC text); rows after it load as the file writes
 * them.
 *
 * @example
 * ```ts
 * widerTypes("integer"); // ["bigint", "numeric", "text"]
 * ```
 *
 * @module
 */
import type { ColumnType } from "./schema.ts";

const WIDER: Record<ColumnType, readonly ColumnType[]> = {
  integer: ["bigint", "numeric", "text"],
  bigint: ["numeric", "text"],
  numeric: ["text"],
  double: ["numeric", "text"],
  boolean: ["text"],
  date: ["text"],
  timestamp: ["timestamptz", "text"],
  timestamptz: ["text"],
  text: [],
};

/** The types a column of `type` may widen to, least first (text last). */
export function widerTypes(type: ColumnType, format?: string): readonly ColumnType[] {
  return format === undefined || type === "text" ? WIDER[type] : ["text"];
}

/**
 * One widening: column `column` (its index in the schema, and its name) changed from `from` to
 * `to` at the record that starts on physical line `line`, whose value `value` did not fit.
 */
export interface Widening {
  column: number;
  name: string;
  from: ColumnType;
  /** The column's format before (dropped: only date/time types have one). */
  format?: string;
  to: ColumnType;
  line: number;
  value: string;
}
