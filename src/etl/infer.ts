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
import { accepts, converterFor, timestampOffset } from "./convert.ts";
import { CsvSource } from "./csv_source.ts";
import { UsageError } from "../errors.ts";
import { compileFormat, type DateFormat } from "./date_format.ts";
import { matchFormat } from "./date_match.ts";
import { nullCheckFor } from "./transform.ts";
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

const INT_PLAIN = /^[+-]?(?:0|[1-9]\d*)$/;
const DECIMAL_PLAIN = /^[+-]?(?:(?:0|[1-9]\d*)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = converterFor("integer");
const BIGINT = converterFor("bigint");
const DATE = converterFor("date");
const BOOLEAN_WORDS = new Set(["true", "false", "t", "f", "yes", "no", "y", "n"]);

/** Date formats inference tries: each has separators, so ids and other numbers never fit. */
const DATE_FORMATS = [
  "DD/MM/YYYY",
  "MM/DD/YYYY",
  "YYYY/MM/DD",
  "DD-MM-YYYY",
  "MM-DD-YYYY",
  "DD.MM.YYYY",
  "YYYY.MM.DD",
  "DD/MM/YY",
  "MM/DD/YY",
  "DD.MM.YY",
  "DD-Mon-YYYY",
  "DD-Mon-YY",
  "DD Mon YYYY",
  "Mon DD, YYYY",
  "Mon DD YYYY",
  "DD Month YYYY",
  "Month DD, YYYY",
  "Month DD YYYY",
];
/** Times that may follow a date (after one space); ISO 8601 timestamps need none of these. */
const TIME_FORMATS = ["HH24:MI", "HH24:MI:SS", "HH24:MI:SS.FF", "HH12:MI AM", "HH12:MI:SS AM"];

interface Candidate {
  type: "date" | "timestamp";
  format: DateFormat;
}

/** Every candidate: the date formats alone, and with each time (ISO dates with times too). */
let candidates: Candidate[] | undefined;

/** The candidates, compiled on first use: a load with a schema never needs them. */
function allCandidates(): Candidate[] {
  return candidates ??= [
    ...DATE_FORMATS.map((f) => ({ type: "date" as const, format: compileFormat(f, "date") })),
    ...["YYYY-MM-DD", ...DATE_FORMATS].flatMap((d) =>
      TIME_FORMATS.map((t) => ({
        type: "timestamp" as const,
        format: compileFormat(`${d} ${t}`, "timestamp"),
      }))
    ),
  ];
}

/** What inference makes of one column. */
export interface InferredColumn {
  type: ColumnType;
  /** The date/time format, when the values are dates with separators. */
  format?: string;
  /** Why a column that looks like dates stayed text. */
  note?: string;
}

const encoder = new TextEncoder();
let bytes = new Uint8Array(256);

/**
 * The candidate formats every value fits. When a format and the same with `Month` for `Mon`
 * both fit (every month was May), the abbreviated one stays.
 */
function fittingFormats(values: readonly string[]): Candidate[] {
  let alive = allCandidates();
  for (const v of values) {
    // Every candidate starts with a digit or a month name, and is at least 6 characters.
    if (v.length < 6) return [];
    if (v.length * 3 > bytes.length) bytes = new Uint8Array(v.length * 3);
    const n = encoder.encodeInto(v, bytes).written;
    alive = alive.filter((c) => matchFormat(c.format, bytes, 0, n) === 1);
    if (alive.length === 0) return [];
  }
  const patterns = new Set(alive.map((c) => c.format.pattern));
  return alive.filter((c) =>
    !patterns.has(c.format.pattern.replace("Month", "Mon")) ||
    !c.format.pattern.includes("Month")
  );
}

/**
 * Infers one column from its non-missing sample values (already trimmed): its type, a date
 * format, or a note saying why values that look like dates stayed text.
 */
export function inferColumn(values: readonly string[]): InferredColumn {
  const type = inferType(values);
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
  if (values.length === 0) return "text";
  let bool = true, boolWord = false;
  let int = true, decimal = true, exponent = false;
  let int4 = true, int8 = true;
  let date = true, ts = true, tsOffset = false;
  for (const v of values) {
    if (bool) {
      const lower = v.length <= 5 ? v.toLowerCase() : "";
      if (BOOLEAN_WORDS.has(lower)) boolWord = true;
      else if (v !== "0" && v !== "1") bool = false;
    }
    if (int && !INT_PLAIN.test(v)) int = false;
    if (int) {
      if (int4 && !accepts(INTEGER, v)) int4 = false;
      if (int8 && !accepts(BIGINT, v)) int8 = false;
    }
    if (decimal) {
      if (!DECIMAL_PLAIN.test(v)) decimal = false;
      else if (/[eE]/.test(v)) exponent = true;
    }
    if (date && (v.length !== 10 || !accepts(DATE, v))) date = false;
    if (ts) {
      const offset = timestampOffset(v);
      if (offset === undefined) ts = false;
      else if (offset) tsOffset = true;
    }
    if (!bool && !int && !decimal && !date && !ts) return "text";
  }
  if (bool && boolWord) return "boolean";
  if (int) return int4 ? "integer" : int8 ? "bigint" : "numeric";
  if (decimal) return exponent ? "double" : "numeric";
  if (date) return "date";
  // A column where some values carry an offset is timestamptz; the others are UTC by contract.
  if (ts) return tsOffset ? "timestamptz" : "timestamp";
  return "text";
}

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
  const names = columnNames(header);
  const counts = new Map<string, number>();
  for (const h of header) counts.set(h, (counts.get(h) ?? 0) + 1);
  const columns: ColumnSpec[] = header.map((h, i) => {
    const values: string[] = [];
    for (const rec of sample) {
      if (rec.length !== header.length) continue;
      const v = rec[i];
      const t = v.trim();
      if (!isNull(t)) values.push(t);
    }
    const inferred = inferColumn(values);
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
  return inferSchema({
    header: source.header,
    sample: await source.sample(limit),
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
