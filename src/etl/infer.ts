/**
 * Schema inference from a sample of records: safe snake_case column names from the header and
 * the narrowest type every non-missing sample value parses as. The rules lean to `text`: leading
 * zeros stay text (zip codes, ids), a column of only 0 and 1 is an integer rather than a
 * boolean, and eight digits stay a number. Dates in ISO 8601 need no format; dates with
 * separators get one (`DD/MM/YYYY`) when exactly one of the formats inference knows fits every
 * value: a day over 12 tells `DD/MM` from `MM/DD`, and when nothing does the column stays text
 * with a note saying why (see {@linkcode InferOptions.onNote}).
 *
 * @example
 * ```ts
 * const schema = inferSchema({ header: ["Zip", "Age"], sample: [["01234", "31"]] });
 * // { table: "processed_data", columns: [{name: "zip", type: "text", ...}, {name: "age", type: "integer", ...}] }
 * ```
 *
 * @module
 */
import { CsvSource } from "./csv_source.ts";
import type { CsvRecord } from "./csv_record.ts";
import { UsageError } from "../errors.ts";
import { ColumnValues, fittingFormats, typeOf } from "./infer_values.ts";
import { nullBytesCheckFor, nullCheckFor } from "./transform.ts";
import { trimEnd, trimStart } from "./trim.ts";
import {
  type ColumnSpec,
  type ColumnType,
  DEFAULT_NULL_TOKENS,
  DEFAULT_TABLE,
  quoteTable,
  type Schema,
} from "./schema.ts";

/**
 * Turns a header into a snake_case identifier: `Cost Total $` → `cost_total`, `firstName` →
 * `first_name`, `Café` → `cafe`. Returns "" when nothing usable is left.
 */
export function snakeCase(header: string): string {
  let s = header.normalize("NFKD").replace(/[\u0300-\u036f]/g, "");
  s = s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2");
  s = s.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
  // A leading digit would need quoting in every query the user writes.
  if (/^[0-9]/.test(s)) s = "_" + s;
  return s.slice(0, 63).replace(/_+$/, "");
}

/**
 * Unique column names for a header: snake_case, duplicates suffixed `_2`, `_3`, an empty
 * result `column_N` (N the 1-based position).
 */
export function columnNames(header: readonly string[]): string[] {
  const taken = new Set<string>();
  return header.map((h, i) => {
    const base = snakeCase(h) || `column_${i + 1}`;
    let name = base;
    for (let k = 2; taken.has(name); k++) name = `${base.slice(0, 58)}_${k}`;
    taken.add(name);
    return name;
  });
}

/** What inference makes of one column. */
export interface InferredColumn {
  type: ColumnType;
  /** The date/time format, when the values are dates with separators. */
  format?: string;
  /** Why a column that looks like dates stayed text. */
  note?: string;
}

/**
 * Infers one column from its non-missing sample values (already trimmed): its type, a date
 * format, or a note saying why values that look like dates stayed text.
 */
export function inferColumn(values: readonly string[]): InferredColumn {
  return inferValues(ColumnValues.of(values));
}

/** {@linkcode inferColumn} of values as bytes. */
function inferValues(values: ColumnValues): InferredColumn {
  const type = typeOf(values);
  if (type !== "text" || values.length === 0) return { type };
  const fits = fittingFormats(values);
  if (fits.length === 1) return { type: fits[0].type, format: fits[0].format.pattern };
  if (fits.length === 0) return { type };
  const names = fits.map((c) => c.format.pattern);
  const list = names.length === 2 ? `${names[0]} and ${names[1]}` : names.join(", ");
  const dayMonth = names.some((n) => n.startsWith("DD")) && names.some((n) => n.startsWith("MM"));
  return {
    type,
    note: `every value fits ${list}${
      dayMonth ? ` (no day over 12 in ${values.length} values)` : ""
    }: left as text; give the column a "format" in a schema to load it as a date`,
  };
}

/** Infers one column's type from its non-missing sample values (already trimmed). */
export function inferType(values: readonly string[]): ColumnType {
  return typeOf(ColumnValues.of(values));
}

const encoder = new TextEncoder();

/** Options for {@linkcode inferSchema}. */
export interface InferOptions {
  /** The CSV header's fields. */
  header: readonly string[];
  /** Sample records; ones with the wrong number of fields are skipped. */
  sample: readonly (readonly string[])[];
  /**
   * The `table` written into the schema.
   * @default {"processed_data"}
   */
  table?: string;
  /**
   * Values that mean "missing", ignored when inferring a type.
   * @default {DEFAULT_NULL_TOKENS}
   */
  nullTokens?: readonly string[];
  /** Told why a column stayed text when its values looked like dates (for `infer` to print). */
  onNote?: (note: string) => void;
}

/** Infers a whole schema (the format of a schema file) from a header and sample records. */
export function inferSchema(options: InferOptions): Schema {
  const { header, sample } = options;
  const isNull = nullCheckFor(options.nullTokens ?? DEFAULT_NULL_TOKENS);
  const columns = header.map(() => new ColumnValues());
  for (const rec of sample) {
    if (rec.length !== header.length) continue;
    rec.forEach((v, i) => {
      const t = v.trim();
      if (isNull(t)) return;
      const b = encoder.encode(t);
      columns[i].add(b, 0, b.length);
    });
  }
  return schemaOf(header, columns, options);
}

/**
 * {@linkcode inferSchema} of records as the parser gives them: their values are trimmed, tested
 * for null tokens and typed on their bytes, the way the loader reads them (see `trim.ts`).
 */
function inferRecords(
  header: readonly string[],
  sample: readonly CsvRecord[],
  options: Omit<InferOptions, "header" | "sample">,
): Schema {
  const isNull = nullBytesCheckFor(options.nullTokens ?? DEFAULT_NULL_TOKENS);
  const columns = header.map(() => new ColumnValues());
  for (const rec of sample) {
    if (rec.count !== header.length) continue;
    const b = rec.bytes;
    for (let i = 0; i < rec.count; i++) {
      const s = trimStart(b, rec.starts[i], rec.ends[i]);
      const e = trimEnd(b, s, rec.ends[i]);
      if (!isNull(b, s, e)) columns[i].add(b, s, e);
    }
  }
  return schemaOf(header, columns, options);
}

function schemaOf(
  header: readonly string[],
  values: readonly ColumnValues[],
  options: Omit<InferOptions, "header" | "sample">,
): Schema {
  const names = columnNames(header);
  const counts = new Map<string, number>();
  for (const h of header) counts.set(h, (counts.get(h) ?? 0) + 1);
  const columns: ColumnSpec[] = header.map((h, i) => {
    const inferred = inferValues(values[i]);
    const col: ColumnSpec = { name: names[i], source: h, type: inferred.type };
    if (inferred.format !== undefined) col.format = inferred.format;
    if (inferred.note !== undefined) {
      options.onNote?.(`column "${names[i]}" (${JSON.stringify(h)}): ${inferred.note}`);
    }
    // The header alone cannot find a repeated or empty field.
    if ((counts.get(h) ?? 0) > 1 || h.trim() === "") col.position = i + 1;
    return col;
  });
  return { table: options.table ?? DEFAULT_TABLE, columns };
}

/** Records read for inference unless told otherwise. */
export const DEFAULT_SAMPLE = 10_000;

/** Options for {@linkcode inferSource}. */
export interface InferSourceOptions {
  /**
   * The `table` written into the schema.
   * @default {"processed_data"}
   */
  table?: string;
  /**
   * Records read to infer the types.
   * @default {DEFAULT_SAMPLE}
   */
  sample?: number;
  /** Told why a column stayed text when its values looked like dates. */
  onNote?: (note: string) => void;
}

/** Options for {@linkcode inferFile}. */
export interface InferFileOptions extends InferSourceOptions {
  /** The CSV file. */
  file: string;
  /**
   * The input's encoding.
   * @default {"utf-8"}
   */
  encoding?: string;
  /**
   * One character.
   * @default {sniffed from the header line}
   */
  delimiter?: string;
  /**
   * Physical lines before the header, forced.
   * @default {detected (see `CsvSourceOptions.skipLines`)}
   */
  skipLines?: number;
  /**
   * Lines that start with this are dropped.
   * @default {none}
   */
  comment?: string;
}

function sampleSize(sample: number | undefined): number {
  const n = sample ?? DEFAULT_SAMPLE;
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`--sample must be a whole number of rows, 1 or more, got "${n}"`);
  }
  return n;
}

/**
 * Infers the schema of an open source from its first records. They stay in the source: a load
 * that follows reads them from there, so the input is read once (a pipe can only be).
 *
 * @example
 * ```ts
 * using source = await CsvSource.open({ path: "people.csv" });
 * const schema = await inferSource(source, { table: "people" });
 * ```
 */
export async function inferSource(
  source: CsvSource,
  options: InferSourceOptions = {},
): Promise<Schema> {
  const limit = sampleSize(options.sample);
  const table = options.table ?? DEFAULT_TABLE;
  quoteTable(table);
  return inferRecords(source.header, await source.sampleRecords(limit), {
    table,
    onNote: options.onNote,
  });
}

/**
 * Infers the schema `ingest` would use for a file: what `cli.ts infer` prints.
 *
 * @example
 * ```ts
 * const schema = await inferFile({ file: "people.csv", table: "people" });
 * console.log(JSON.stringify(schema, null, 2));
 * ```
 */
export async function inferFile(options: InferFileOptions): Promise<Schema> {
  sampleSize(options.sample);
  using source = await CsvSource.open({
    path: options.file,
    encoding: options.encoding,
    delimiter: options.delimiter,
    skipLines: options.skipLines,
    comment: options.comment,
  });
  return await inferSource(source, options);
}
