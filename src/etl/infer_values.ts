/**
 * The type inference of one column, on its sample values' UTF-8 bytes: what `infer.ts` decides
 * for each column. The loader's sample comes from the parser as bytes, and the checks are the
 * converters' own byte checks, so a sample is typed without making a string of each value (10,000
 * records of a dozen columns were ~0.4 s of CPU as strings: decoding, trimming, encoding them back
 * for the converters, and the garbage). Strings (tests, callers of `inferType`) are encoded once.
 *
 * @example
 * ```ts
 * const values = ColumnValues.of(["1", "2", "30"]);
 * typeOf(values); // "integer"
 * ```
 *
 * @module
 */
import { converterFor, decimalShape, leadingZero, timestampShape } from "./convert.ts";
import { CopyBuffer } from "./copy_text.ts";
import { compileFormat, type DateFormat } from "./date_format.ts";
import { matchFormat } from "./date_match.ts";
import type { ColumnType } from "./schema.ts";

/** A column's sample values (trimmed, not missing), packed: value `i` is `bytes[at[i]..at[i+1])`. */
export class ColumnValues {
  bytes = new Uint8Array(1024);
  /** Value offsets; `at[length]` is the end of the last value. */
  at = new Int32Array(257);
  length = 0;

  /** Appends `b[s..e)`. */
  add(b: Uint8Array, s: number, e: number): void {
    const end = this.at[this.length];
    if (end + e - s > this.bytes.length) {
      const next = new Uint8Array(Math.max(end + e - s, this.bytes.length * 2));
      next.set(this.bytes.subarray(0, end));
      this.bytes = next;
    }
    // A loop, not `set(subarray())`: most values are a few bytes, and a view each is garbage.
    const to = this.bytes;
    for (let k = s, w = end; k < e; k++, w++) to[w] = b[k];
    if (this.length + 2 > this.at.length) {
      const next = new Int32Array(this.at.length * 2);
      next.set(this.at);
      this.at = next;
    }
    this.at[++this.length] = end + e - s;
  }

  /** The values of strings (already trimmed). */
  static of(values: readonly string[]): ColumnValues {
    const out = new ColumnValues();
    for (const v of values) {
      const b = encoder.encode(v);
      out.add(b, 0, b.length);
    }
    return out;
  }
}

const encoder = new TextEncoder();
const INTEGER = converterFor("integer");
const BIGINT = converterFor("bigint");
const DATE = converterFor("date");
const scratch = new CopyBuffer(256);

const BOOLEAN_WORDS = ["true", "false", "t", "f", "yes", "no", "y", "n"].map((w) =>
  encoder.encode(w)
);

/** `b[s..e)` is a boolean word in any case (`toLowerCase` maps no other character to ASCII ones). */
function booleanWord(b: Uint8Array, s: number, e: number): boolean {
  if (e - s > 5) return false; // most values: names, emails, numbers, dates
  outer: for (let i = 0; i < BOOLEAN_WORDS.length; i++) {
    const w = BOOLEAN_WORDS[i];
    if (w.length !== e - s) continue;
    for (let k = 0; k < w.length; k++) {
      const c = b[s + k];
      // Only ASCII letters lower-case with `| 0x20` into a letter.
      if ((c < 65 || c > 90) && (c < 97 || c > 122) || (c | 0x20) !== w[k]) continue outer;
    }
    return true;
  }
  return false;
}

/** `[+-]?(0|[1-9][0-9]*)`: an integer as inference reads one (any size, no leading zeros). */
function plainInteger(b: Uint8Array, s: number, e: number): boolean {
  const i = b[s] === 43 || b[s] === 45 ? s + 1 : s;
  if (i >= e) return false;
  for (let k = i; k < e; k++) if (((b[k] - 48) >>> 0) > 9) return false;
  return !leadingZero(b, s, e);
}

function accepts(convert: typeof INTEGER, b: Uint8Array, s: number, e: number): boolean {
  scratch.pos = 0;
  return convert(b, s, e, scratch) === null;
}

/**
 * The narrowest type every value parses as (see `infer.ts` for the rules); `text` when none.
 * Dates with separators are {@linkcode fittingFormats}' business.
 */
export function typeOf(values: ColumnValues): ColumnType {
  if (values.length === 0) return "text";
  const b = values.bytes, at = values.at;
  let bool = true, boolWord = false;
  let int = true, decimal = true, exponent = false;
  let int4 = true, int8 = true;
  let date = true, ts = true, tsOffset = false;
  for (let i = 0; i < values.length; i++) {
    const s = at[i], e = at[i + 1];
    if (bool) {
      if (booleanWord(b, s, e)) boolWord = true;
      else if (e - s !== 1 || (b[s] !== 48 && b[s] !== 49)) bool = false;
    }
    if (int && !plainInteger(b, s, e)) int = false;
    if (int) {
      if (int4 && !accepts(INTEGER, b, s, e)) int4 = false;
      if (int8 && !accepts(BIGINT, b, s, e)) int8 = false;
    }
    if (decimal) {
      const mark = decimalShape(b, s, e);
      if (mark < 0 || leadingZero(b, s, e)) decimal = false;
      else if (mark < e) exponent = true;
    }
    if (date && (e - s !== 10 || !accepts(DATE, b, s, e))) date = false;
    if (ts) {
      const shape = timestampShape(b, s, e);
      if (shape < 0) ts = false;
      else if (shape === 1) tsOffset = true;
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

/** A format inference may give a column. */
export interface Candidate {
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

const MONTH_STARTS = new Set(
  ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
);

/**
 * Whether `b[s..e)` could fit a candidate at all: 6 characters or more, ASCII (every part of
 * every candidate is), and starting with a digit or a month's name. Most text fails here, before
 * the candidates are compiled or tried.
 */
function mayFit(b: Uint8Array, s: number, e: number): boolean {
  if (e - s < 6) return false;
  for (let k = s; k < e; k++) if (b[k] >= 0x80) return false;
  if (((b[s] - 48) >>> 0) <= 9) return true;
  const word = String.fromCharCode(b[s] | 0x20, b[s + 1] | 0x20, b[s + 2] | 0x20);
  return MONTH_STARTS.has(word);
}

/**
 * The candidate formats every value fits. When a format and the same with `Month` for `Mon`
 * both fit (every month was May), the abbreviated one stays.
 */
export function fittingFormats(values: ColumnValues): Candidate[] {
  const b = values.bytes, at = values.at;
  for (let i = 0; i < values.length; i++) if (!mayFit(b, at[i], at[i + 1])) return [];
  let alive = allCandidates();
  for (let i = 0; i < values.length; i++) {
    alive = alive.filter((c) => matchFormat(c.format, b, at[i], at[i + 1]) === 1);
    if (alive.length === 0) return [];
  }
  const patterns = new Set(alive.map((c) => c.format.pattern));
  return alive.filter((c) =>
    !patterns.has(c.format.pattern.replace("Month", "Mon")) ||
    !c.format.pattern.includes("Month")
  );
}
