/**
 * Per-type converters, chosen once per column: each takes a raw CSV value that is not a null
 * token and returns either the value as COPY text or an {@linkcode Invalid} saying why not.
 * Returning the COPY text directly (usually the trimmed input itself) avoids parsing into JS
 * numbers and formatting back; PostgreSQL parses the text once, as `\copy` would.
 *
 * @example
 * ```ts
 * convertValue("integer", " 42 "); // "42"
 * convertValue("integer", "12x"); // { kind: "not an integer" }
 * convertValue("boolean", "Yes"); // "t"
 * ```
 */
import type { ColumnType } from "./schema.ts";
import { copyEscape } from "./copy_text.ts";

/** Why a value does not convert; one shared object per kind, so failing costs no allocation. */
export interface Invalid {
  readonly kind: string;
}

/**
 * COPY text for a valid value, an {@linkcode Invalid} otherwise. `value` is the raw value
 * trimmed (the caller trims once for the null check and the conversion); text uses `raw`.
 */
export type Converter = (value: string, raw: string) => string | Invalid;

const NOT_INTEGER: Invalid = { kind: "not an integer" };
const INT4_RANGE: Invalid = { kind: "out of range for integer" };
const INT8_RANGE: Invalid = { kind: "out of range for bigint" };
const NOT_NUMBER: Invalid = { kind: "not a number" };
const DOUBLE_RANGE: Invalid = { kind: "out of range for double" };
const NOT_BOOLEAN: Invalid = { kind: "not a boolean" };
const NOT_DATE: Invalid = { kind: "not a date (YYYY-MM-DD)" };
const BAD_DATE: Invalid = { kind: "not a real calendar date" };
const NOT_TIMESTAMP: Invalid = { kind: "not an ISO 8601 timestamp" };

/** True when `v` has whitespace at either end (cheap: two char reads). */
export function needsTrim(v: string): boolean {
  const n = v.length;
  return n > 0 && (v.charCodeAt(0) <= 32 || v.charCodeAt(n - 1) <= 32 ||
    v.charCodeAt(0) === 0xa0 || v.charCodeAt(n - 1) === 0xa0);
}

/** `v` without surrounding whitespace, allocating only when there is some. */
export function trimmed(v: string): string {
  return needsTrim(v) ? v.trim() : v;
}

function isDigits(s: string, from: number): boolean {
  const n = s.length;
  if (from >= n) return false;
  for (let i = from; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Compares unsigned digit strings without leading zeros: is `a` greater than `limit`? */
function exceeds(digits: string, limit: string): boolean {
  if (digits.length !== limit.length) return digits.length > limit.length;
  return digits > limit;
}

function integerConverter(max: string, min: string, range: Invalid): Converter {
  const maxLen = max.length;
  return (s) => {
    const c0 = s.charCodeAt(0);
    const start = c0 === 45 || c0 === 43 ? 1 : 0;
    if (!isDigits(s, start)) return NOT_INTEGER;
    if (s.length - start >= maxLen) {
      let i = start;
      while (i < s.length - 1 && s.charCodeAt(i) === 48) i++;
      if (exceeds(s.slice(i), c0 === 45 ? min : max)) return range;
    }
    return s;
  };
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

const numericConverter: Converter = (s) => {
  return DECIMAL.test(s) ? s : NOT_NUMBER;
};

const doubleConverter: Converter = (s) => {
  if (!DECIMAL.test(s)) return NOT_NUMBER;
  // Only a long mantissa or a big exponent can leave double's range (±1.8e308); converting
  // just those keeps Number() off the common path.
  let e = s.indexOf("e");
  if (e === -1) e = s.indexOf("E");
  const mantissa = e === -1 ? s.length : e;
  let exponent = 0;
  if (e !== -1) {
    let i = e + 1;
    const sign = s.charCodeAt(i);
    if (sign === 43 || sign === 45) i++;
    for (; i < s.length && exponent < 100_000; i++) exponent = exponent * 10 + s.charCodeAt(i) - 48;
  }
  if (mantissa + exponent > 300 && !Number.isFinite(Number(s))) return DOUBLE_RANGE;
  return s;
};

const booleanConverter: Converter = (s) => {
  if (s.length > 5) return NOT_BOOLEAN;
  switch (s.toLowerCase()) {
    case "t":
    case "true":
    case "y":
    case "yes":
    case "1":
      return "t";
    case "f":
    case "false":
    case "n":
    case "no":
    case "0":
      return "f";
  }
  return NOT_BOOLEAN;
};

/** Days in month `m` (1-12) of year `y`, proleptic Gregorian as PostgreSQL counts. */
function daysIn(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

function digit(s: string, i: number): number {
  const d = s.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : -100_000;
}

/** Checks `YYYY-MM-DD` at the start of `s`: 1 valid, 0 not the format, -1 not a real date. */
function checkDate(s: string): number {
  if (s.length < 10 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return 0;
  // `>>> 0` turns a negative (below "0") into a huge number: one test per digit.
  const y0 = s.charCodeAt(0) - 48, y1 = s.charCodeAt(1) - 48;
  const y2 = s.charCodeAt(2) - 48, y3 = s.charCodeAt(3) - 48;
  const m0 = s.charCodeAt(5) - 48, m1 = s.charCodeAt(6) - 48;
  const d0 = s.charCodeAt(8) - 48, d1 = s.charCodeAt(9) - 48;
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

const dateConverter: Converter = (s) => {
  if (s.length !== 10) return NOT_DATE;
  const ok = checkDate(s);
  return ok === 1 ? s : ok === 0 ? NOT_DATE : BAD_DATE;
};

/** Two digits at `i` as a number, negative when they are not two digits. */
function two(s: string, i: number): number {
  if (i + 1 >= s.length) return -1;
  const a = s.charCodeAt(i) - 48, b = s.charCodeAt(i + 1) - 48;
  return (a >>> 0) > 9 || (b >>> 0) > 9 ? -1 : a * 10 + b;
}

/**
 * Parses an ISO 8601 timestamp: `YYYY-MM-DD`, `T` or one space, `hh:mm[:ss[.fraction]]`, then
 * an optional `Z` or `±hh[[:]mm]`. Returns undefined when invalid, else whether it carries an
 * offset. Hand-written rather than a regex: it runs once per value of every timestamp column.
 */
export function timestampOffset(s: string): boolean | undefined {
  const n = s.length;
  if (n < 16 || checkDate(s) !== 1) return undefined;
  const sep = s.charCodeAt(10);
  if (sep !== 84 && sep !== 116 && sep !== 32) return undefined; // T t space
  const hh = two(s, 11);
  if (hh < 0 || hh > 24 || s.charCodeAt(13) !== 58) return undefined;
  const mm = two(s, 14);
  if (mm < 0 || mm > 59) return undefined;
  let i = 16;
  let ss = 0;
  if (i < n && s.charCodeAt(i) === 58) {
    ss = two(s, i + 1);
    if (ss < 0 || ss > 60) return undefined;
    i += 3;
    const c = s.charCodeAt(i);
    if (i < n && (c === 46 || c === 44)) {
      let k = i + 1;
      while (k < n && digit(s, k) >= 0) k++;
      if (k - i - 1 < 1 || k - i - 1 > 9) return undefined;
      i = k;
    }
  }
  if (hh === 24 && (mm !== 0 || ss !== 0)) return undefined;
  if (i === n) return false;
  const c = s.charCodeAt(i);
  if (c === 90 || c === 122) return i + 1 === n ? true : undefined; // Z z
  if (c !== 43 && c !== 45) return undefined; // + -
  const oh = two(s, i + 1);
  if (oh < 0 || oh > 15) return undefined;
  i += 3;
  if (i === n) return true;
  if (s.charCodeAt(i) === 58) i++;
  const om = two(s, i);
  return om >= 0 && om <= 59 && i + 2 === n ? true : undefined;
}

// A timestamptz without an offset is UTC by contract: the sink loads every batch with the
// session's TimeZone set to UTC, so the text goes through unchanged.
const timestampConverter: Converter = (s) => {
  const offset = timestampOffset(s);
  if (offset === undefined) return checkDate(s) === -1 ? BAD_DATE : NOT_TIMESTAMP;
  return s;
};

const textConverter: Converter = (_value, raw) => copyEscape(raw);

const CONVERTERS: Record<ColumnType, Converter> = {
  text: textConverter,
  integer: integerConverter("2147483647", "2147483648", INT4_RANGE),
  bigint: integerConverter("9223372036854775807", "9223372036854775808", INT8_RANGE),
  numeric: numericConverter,
  double: doubleConverter,
  boolean: booleanConverter,
  date: dateConverter,
  timestamp: timestampConverter,
  timestamptz: timestampConverter,
};

/** The converter for a column type. */
export function converterFor(type: ColumnType): Converter {
  return CONVERTERS[type];
}

/** Converts one raw value (trimming it first): the stage on its own, for tests and defaults. */
export function convertValue(type: ColumnType, raw: string): string | Invalid {
  return CONVERTERS[type](trimmed(raw), raw);
}
