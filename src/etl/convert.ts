/**
 * Per-type converters, chosen once per column: each takes a value's UTF-8 bytes (a range of the
 * parser's buffer, trimmed, not a null token), checks it, and writes it to the batch's COPY
 * text, or returns an {@linkcode Invalid} saying why not. Working on the bytes as read, the
 * loader never makes a string of a value it loads: most converters copy the bytes through once
 * they are checked, and PostgreSQL parses the text once, as `\copy` would.
 *
 * {@linkcode convertValue} runs the same converters on a string (tests, defaults, inference).
 *
 * @example
 * ```ts
 * convertValue("integer", " 42 "); // "42"
 * convertValue("integer", "12x"); // { kind: "not an integer" }
 * convertValue("boolean", "Yes"); // "t"
 * convertValue("date", "31/12/2023", { format: "DD/MM/YYYY" }); // "2023-12-31"
 * ```
 *
 * @module
 */
import type { ColumnType } from "./schema.ts";
import { CopyBuffer, copyEscape } from "./copy_text.ts";
import { trimmed } from "./trim.ts";
import { compileFormat } from "./date_format.ts";
import { daysIn, matchFormat } from "./date_match.ts";

/** Why a value does not convert; one shared object per kind, so failing costs no allocation. */
export interface Invalid {
  readonly kind: string;
}

/**
 * Checks the value `b[s..e)` (trimmed) and writes its COPY text to `out`: null when it is
 * valid, else an {@linkcode Invalid} (and `out` may hold part of the value: the caller rewinds).
 */
export type Converter = (b: Uint8Array, s: number, e: number, out: CopyBuffer) => Invalid | null;

/** How a column converts, beyond its type. */
export interface ConvertOptions {
  /** A date/time pattern (see `date_format.ts`) for date, timestamp and timestamptz columns. */
  format?: string;
  /**
   * Numbers as inference reads them: no leading zeros (`007` is not an integer). For columns
   * whose type was inferred, so that a later value fits exactly when it would have kept the
   * inferred type had it been in the sample.
   * @default {false}
   */
  plain?: boolean;
}

const NOT_INTEGER: Invalid = { kind: "not an integer" };
const INT4_RANGE: Invalid = { kind: "out of range for integer" };
const INT8_RANGE: Invalid = { kind: "out of range for bigint" };
const NOT_NUMBER: Invalid = { kind: "not a number" };
const DOUBLE_RANGE: Invalid = { kind: "out of range for double" };
const NOT_BOOLEAN: Invalid = { kind: "not a boolean" };
const NOT_DATE: Invalid = { kind: "not a date (YYYY-MM-DD)" };
const BAD_DATE: Invalid = { kind: "not a real calendar date" };
const NOT_TIMESTAMP: Invalid = { kind: "not an ISO 8601 timestamp" };
const LEADING_ZERO: Invalid = { kind: "a number with leading zeros" };
const HAS_OFFSET: Invalid = { kind: "a timestamp with an offset" };

// --- numbers ---------------------------------------------------------------------------------

/** Whether the digits after an optional sign start with a 0 followed by another digit. */
export function leadingZero(b: Uint8Array, s: number, e: number): boolean {
  const c = b[s];
  const i = c === 43 || c === 45 ? s + 1 : s;
  return i + 1 < e && b[i] === 48 && b[i + 1] >= 48 && b[i + 1] <= 57;
}

function integerConverter(max: string, min: string, range: Invalid, plain: boolean): Converter {
  const maxLen = max.length;
  const maxBytes = new TextEncoder().encode(max), minBytes = new TextEncoder().encode(min);
  return (b, s, e, out) => {
    const c0 = b[s];
    let i = c0 === 45 || c0 === 43 ? s + 1 : s;
    if (i >= e) return NOT_INTEGER;
    for (let k = i; k < e; k++) if (((b[k] - 48) >>> 0) > 9) return NOT_INTEGER;
    if (e - i >= maxLen) {
      while (i < e - 1 && b[i] === 48) i++;
      if (exceeds(b, i, e, c0 === 45 ? minBytes : maxBytes)) return range;
    }
    if (plain && leadingZero(b, s, e)) return LEADING_ZERO;
    out.putBytes(b, s, e);
    return null;
  };
}

/** Are the digits `b[i..e)` (no leading zeros) a greater number than `limit`? */
function exceeds(b: Uint8Array, i: number, e: number, limit: Uint8Array): boolean {
  if (e - i !== limit.length) return e - i > limit.length;
  for (let k = 0; k < limit.length; k++) {
    if (b[i + k] !== limit[k]) return b[i + k] > limit[k];
  }
  return false;
}

/**
 * Checks decimal notation, `[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?`: returns the offset of the
 * exponent marker (or `e` when there is none), -1 when the text is not a decimal number.
 */
export function decimalShape(b: Uint8Array, s: number, e: number): number {
  let i = s;
  if (i < e && (b[i] === 43 || b[i] === 45)) i++;
  const d0 = i;
  while (i < e && b[i] >= 48 && b[i] <= 57) i++;
  const intDigits = i - d0;
  let fracDigits = 0;
  if (i < e && b[i] === 46) {
    i++;
    const f0 = i;
    while (i < e && b[i] >= 48 && b[i] <= 57) i++;
    fracDigits = i - f0;
  }
  if (intDigits === 0 && fracDigits === 0) return -1;
  if (i === e) return e;
  const mark = i;
  if (b[i] !== 101 && b[i] !== 69) return -1; // e E
  i++;
  if (i < e && (b[i] === 43 || b[i] === 45)) i++;
  const x0 = i;
  while (i < e && b[i] >= 48 && b[i] <= 57) i++;
  return i === e && i > x0 ? mark : -1;
}

function numericConverter(plain: boolean): Converter {
  return (b, s, e, out) => {
    if (decimalShape(b, s, e) < 0) return NOT_NUMBER;
    if (plain && leadingZero(b, s, e)) return LEADING_ZERO;
    out.putBytes(b, s, e);
    return null;
  };
}

const latin = new TextDecoder("latin1");

const doubleConverter = (plain: boolean): Converter => (b, s, e, out) => {
  const mark = decimalShape(b, s, e);
  if (mark < 0) return NOT_NUMBER;
  if (plain && leadingZero(b, s, e)) return LEADING_ZERO;
  // Only a long mantissa or a big exponent can leave double's range (±1.8e308); converting
  // just those keeps Number() off the common path.
  let exponent = 0;
  if (mark < e) {
    let i = mark + 1;
    if (b[i] === 43 || b[i] === 45) i++;
    for (; i < e && exponent < 100_000; i++) exponent = exponent * 10 + b[i] - 48;
  }
  if (mark - s + exponent > 300 && !Number.isFinite(Number(latin.decode(b.subarray(s, e))))) {
    return DOUBLE_RANGE;
  }
  out.putBytes(b, s, e);
  return null;
};

// --- booleans --------------------------------------------------------------------------------

/** `b[i]` lower-cased if it is an ASCII letter (other bytes never equal a lower-case letter). */
function lower(b: Uint8Array, i: number): number {
  return b[i] | 0x20;
}

const booleanConverter: Converter = (b, s, e, out) => {
  const n = e - s;
  let t = -1;
  if (n === 1) {
    const c = lower(b, s);
    t = c === 116 || c === 121 || c === 49 ? 1 : c === 102 || c === 110 || c === 48 ? 0 : -1;
  } else if (n === 2) {
    t = lower(b, s) === 110 && lower(b, s + 1) === 111 ? 0 : -1; // no
  } else if (n === 3) {
    t = lower(b, s) === 121 && lower(b, s + 1) === 101 && lower(b, s + 2) === 115 ? 1 : -1;
  } else if (n === 4) {
    t = lower(b, s) === 116 && lower(b, s + 1) === 114 && lower(b, s + 2) === 117 &&
        lower(b, s + 3) === 101
      ? 1
      : -1;
  } else if (n === 5) {
    t = lower(b, s) === 102 && lower(b, s + 1) === 97 && lower(b, s + 2) === 108 &&
        lower(b, s + 3) === 115 && lower(b, s + 4) === 101
      ? 0
      : -1;
  }
  if (t < 0) return NOT_BOOLEAN;
  out.byte(t === 1 ? 116 : 102);
  return null;
};

// --- ISO dates and times ---------------------------------------------------------------------

/** Checks `YYYY-MM-DD` at `b[s..]`: 1 valid, 0 not the format, -1 not a real date. */
function checkDate(b: Uint8Array, s: number, e: number): number {
  if (e - s < 10 || b[s + 4] !== 45 || b[s + 7] !== 45) return 0;
  // `>>> 0` turns a negative (below "0") into a huge number: one test per digit.
  const y0 = b[s] - 48, y1 = b[s + 1] - 48, y2 = b[s + 2] - 48, y3 = b[s + 3] - 48;
  const m0 = b[s + 5] - 48, m1 = b[s + 6] - 48, d0 = b[s + 8] - 48, d1 = b[s + 9] - 48;
  if (
    (y0 >>> 0) > 9 || (y1 >>> 0) > 9 || (y2 >>> 0) > 9 || (y3 >>> 0) > 9 ||
    (m0 >>> 0) > 9 || (m1 >>> 0) > 9 || (d0 >>> 0) > 9 || (d1 >>> 0) > 9
  ) return 0;
  const y = y0 * 1000 + y1 * 100 + y2 * 10 + y3;
  const m = m0 * 10 + m1;
  const d = d0 * 10 + d1;
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m)) return -1;
  return 1;
}

const dateConverter: Converter = (b, s, e, out) => {
  if (e - s !== 10) return NOT_DATE;
  const ok = checkDate(b, s, e);
  if (ok !== 1) return ok === 0 ? NOT_DATE : BAD_DATE;
  out.putBytes(b, s, e);
  return null;
};

/** Two digits at `i` as a number, negative when they are not two digits before `e`. */
function two(b: Uint8Array, i: number, e: number): number {
  if (i + 1 >= e) return -1;
  const x = b[i] - 48, y = b[i + 1] - 48;
  return (x >>> 0) > 9 || (y >>> 0) > 9 ? -1 : x * 10 + y;
}

/**
 * Parses an ISO 8601 timestamp: `YYYY-MM-DD`, `T` or one space, `hh:mm[:ss[.fraction]]`, then
 * an optional `Z` or `±hh[[:]mm]`. Returns -1 when invalid, 1 when it carries an offset, 0 when
 * not. Hand-written rather than a regex: it runs once per value of every timestamp column.
 */
export function timestampShape(b: Uint8Array, s: number, e: number): number {
  if (e - s < 16 || checkDate(b, s, e) !== 1) return -1;
  const sep = b[s + 10];
  if (sep !== 84 && sep !== 116 && sep !== 32) return -1; // T t space
  const hh = two(b, s + 11, e);
  if (hh < 0 || hh > 24 || b[s + 13] !== 58) return -1;
  const mm = two(b, s + 14, e);
  if (mm < 0 || mm > 59) return -1;
  let i = s + 16;
  let ss = 0;
  if (i < e && b[i] === 58) {
    ss = two(b, i + 1, e);
    if (ss < 0 || ss > 60) return -1;
    i += 3;
    if (i < e && (b[i] === 46 || b[i] === 44)) {
      let k = i + 1;
      while (k < e && b[k] >= 48 && b[k] <= 57) k++;
      if (k - i - 1 < 1 || k - i - 1 > 9) return -1;
      i = k;
    }
  }
  if (hh === 24 && (mm !== 0 || ss !== 0)) return -1;
  if (i === e) return 0;
  const c = b[i];
  if (c === 90 || c === 122) return i + 1 === e ? 1 : -1; // Z z
  if (c !== 43 && c !== 45) return -1; // + -
  const oh = two(b, i + 1, e);
  if (oh < 0 || oh > 15) return -1;
  i += 3;
  if (i === e) return 1;
  if (b[i] === 58) i++;
  const om = two(b, i, e);
  return om >= 0 && om <= 59 && i + 2 === e ? 1 : -1;
}

// A timestamptz without an offset is UTC by contract: the sink loads every batch with the
// session's TimeZone set to UTC, so the text goes through unchanged.
const timestampConverter: Converter = (b, s, e, out) => {
  if (timestampShape(b, s, e) < 0) return checkDate(b, s, e) === -1 ? BAD_DATE : NOT_TIMESTAMP;
  out.putBytes(b, s, e);
  return null;
};

// Inference makes a column with offsets timestamptz: in a `plain` timestamp column (inferred
// from values without one) a value with an offset does not fit.
const plainTimestampConverter: Converter = (b, s, e, out) => {
  const shape = timestampShape(b, s, e);
  if (shape < 0) return checkDate(b, s, e) === -1 ? BAD_DATE : NOT_TIMESTAMP;
  if (shape === 1) return HAS_OFFSET;
  out.putBytes(b, s, e);
  return null;
};

/** A converter for a date/time column with a `format`. */
function formattedConverter(type: "date" | "timestamp" | "timestamptz", format: string): Converter {
  const f = compileFormat(format, type);
  const shape: Invalid = {
    kind: `not a ${type === "date" ? "date" : "timestamp"} (${format})`,
  };
  return (b, s, e, out) => {
    const r = matchFormat(f, b, s, e, out);
    return r === 1 ? null : r === 0 ? shape : BAD_DATE;
  };
}

const textConverter: Converter = (b, s, e, out) => {
  out.putEscapedBytes(b, s, e);
  return null;
};

/** The converters of each type: as a schema gives them, and `plain` (see ConvertOptions). */
function converters(plain: boolean): Record<ColumnType, Converter> {
  return {
    text: textConverter,
    integer: integerConverter("2147483647", "2147483648", INT4_RANGE, plain),
    bigint: integerConverter("9223372036854775807", "9223372036854775808", INT8_RANGE, plain),
    numeric: numericConverter(plain),
    double: doubleConverter(plain),
    boolean: booleanConverter,
    date: dateConverter,
    timestamp: plain ? plainTimestampConverter : timestampConverter,
    timestamptz: timestampConverter,
  };
}
const CONVERTERS = converters(false);
const PLAIN = converters(true);

/**
 * The converter for a column type, with its `format` for date/time columns. Throws a
 * `FormatError` for a bad format (a schema's formats are checked when it is read).
 */
export function converterFor(type: ColumnType, options: ConvertOptions = {}): Converter {
  if (type === "date" || type === "timestamp" || type === "timestamptz") {
    if (options.format !== undefined) return formattedConverter(type, options.format);
  }
  return (options.plain ? PLAIN : CONVERTERS)[type];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const scratch = new CopyBuffer(256);
/** A string's UTF-8 bytes, in a buffer reused from call to call (no allocation per value). */
let input = new Uint8Array(256);

function encoded(value: string): number {
  if (value.length * 3 > input.length) input = new Uint8Array(value.length * 3);
  return encoder.encodeInto(value, input).written;
}

/**
 * Converts one raw value given as a string (trimming it first, as the loader does), with the
 * converter the loader uses: the COPY text, or an {@linkcode Invalid}.
 */
export function convertValue(
  type: ColumnType,
  raw: string,
  options: ConvertOptions = {},
): string | Invalid {
  if (type === "text") return copyEscape(raw);
  return convertWith(converterFor(type, options), trimmed(raw));
}

/** Runs a converter on a (trimmed) string value. */
export function convertWith(convert: Converter, value: string): string | Invalid {
  const n = encoded(value);
  scratch.pos = 0;
  const r = convert(input, 0, n, scratch);
  return r ?? decoder.decode(scratch.bytes());
}

/** Whether a converter takes a (trimmed) string value: {@linkcode convertWith} without its text. */
export function accepts(convert: Converter, value: string): boolean {
  const n = encoded(value);
  scratch.pos = 0;
  return convert(input, 0, n, scratch) === null;
}

/** {@linkcode timestampShape} of a string: undefined when invalid, else whether it has an offset. */
export function timestampOffset(s: string): boolean | undefined {
  const r = timestampShape(input, 0, encoded(s));
  return r < 0 ? undefined : r === 1;
}
