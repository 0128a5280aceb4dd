/**
 * Reads values with a compiled date/time format ({@linkcode DateFormat}, from `date_format.ts`):
 * matches a value's bytes part by part, checks the calendar, and writes the ISO 8601 COPY text
 * (`2023-03-05`, `2023-03-05 13:05:00`). Allocates nothing per value.
 *
 * @example
 * ```ts
 * const f = compileFormat("DD/MM/YYYY", "date");
 * const out = new CopyBuffer(64);
 * matchFormat(f, new TextEncoder().encode("31/12/2023"), 0, 10, out); // 1; out holds "2023-12-31"
 * ```
 *
 * @module
 */
import type { CopyBuffer } from "./copy_text.ts";
import { type DateFormat, K } from "./date_format.ts";

const MONTHS = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
];

/** The month (1-12) whose name (lower case) matches `b[i..i+n)` case-insensitively, or 0. */
function monthNamed(b: Uint8Array, i: number, n: number, full: boolean): number {
  for (let m = 0; m < 12; m++) {
    const name = MONTHS[m];
    if (full ? name.length !== n : n !== 3) continue;
    let k = 0;
    while (k < n && (b[i + k] | 0x20) === name.charCodeAt(k)) k++;
    if (k === n) return m + 1;
  }
  return 0;
}

/** Days in month `m` (1-12) of year `y`, proleptic Gregorian as PostgreSQL counts. */
export function daysIn(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** What {@linkcode matchFormat} read from the last value: one object, no allocation per value. */
const v = {
  year: 0,
  month: 0,
  day: 0,
  hour: 0,
  minute: 0,
  second: 0,
  /** 1 PM, 0 AM, -1 no AM/PM field. */
  pm: -1,
  fracFrom: 0,
  fracTo: 0,
  /** Offset hours (-1: none), its sign, minutes. */
  tzh: -1,
  tzSign: 1,
  tzm: 0,
};

/** Keeps numeric field `kind`'s value `n`; false when it is out of the field's range. */
function store(kind: K, n: number, sign: number): boolean {
  switch (kind) {
    case K.Year4:
      v.year = n;
      return true;
    case K.Year2:
      v.year = n < 70 ? 2000 + n : 1900 + n;
      return true;
    case K.Month:
      v.month = n;
      return true;
    case K.Day:
      v.day = n;
      return true;
    case K.Hour24:
      v.hour = n;
      return n <= 23;
    case K.Hour12:
      v.hour = n;
      return n >= 1 && n <= 12;
    case K.Minute:
      v.minute = n;
      return n <= 59;
    case K.Second:
      v.second = n;
      return n <= 60;
    case K.TzHour:
      v.tzh = n;
      v.tzSign = sign;
      return n <= 15;
    case K.TzMinute:
      v.tzm = n;
      return n <= 59;
  }
  return false;
}

function pad(out: CopyBuffer, n: number, width: number): void {
  if (width === 4) {
    out.byte(48 + ((n / 1000) | 0));
    out.byte(48 + (((n / 100) | 0) % 10));
  }
  out.byte(48 + (((n / 10) | 0) % 10));
  out.byte(48 + (n % 10));
}

/**
 * Matches `b[s..e)` (trimmed) against a format: 1 when it is a valid date or time (its ISO
 * form then written to `out`, when given), 0 when it does not have the format's shape, -1 when
 * it does but is not a real calendar date.
 */
export function matchFormat(
  f: DateFormat,
  b: Uint8Array,
  s: number,
  e: number,
  out?: CopyBuffer,
): number {
  v.year =
    v.month =
    v.day =
    v.hour =
    v.minute =
    v.second =
      0;
  v.pm = v.tzh = -1;
  v.fracFrom = v.fracTo = v.tzm = 0;
  let i = s;
  const parts = f.parts;
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p];
    const kind = part.kind;
    if (kind === K.Literal) {
      const lit = part.bytes!;
      if (i + lit.length > e) return 0;
      for (let k = 0; k < lit.length; k++) if (b[i + k] !== lit[k]) return 0;
      i += lit.length;
      continue;
    }
    if (kind === K.MonthAbbr || kind === K.MonthName) {
      let j = i;
      while (j < e && ((b[j] | 0x20) >= 97 && (b[j] | 0x20) <= 122)) j++;
      const m = monthNamed(b, i, j - i, kind === K.MonthName);
      if (m === 0) return 0;
      v.month = m;
      i = j;
      continue;
    }
    if (kind === K.AmPm) {
      if (i + 2 > e || (b[i + 1] | 0x20) !== 109) return 0; // m
      const a = b[i] | 0x20;
      if (a !== 97 && a !== 112) return 0; // a p
      v.pm = a === 112 ? 1 : 0;
      i += 2;
      continue;
    }
    let sign = 1;
    if (kind === K.TzHour) {
      const c = b[i];
      if (c !== 43 && c !== 45) return 0;
      sign = c === 45 ? -1 : 1;
      i++;
    }
    const max = kind === K.TzHour ? 2 : part.max;
    const min = kind === K.TzHour ? 2 : part.min;
    let n = 0, k = 0;
    while (k < max && i + k < e) {
      const d = b[i + k] - 48;
      if (d < 0 || d > 9) break;
      n = n * 10 + d;
      k++;
    }
    if (k < min) return 0;
    if (kind === K.Fraction) {
      v.fracFrom = i;
      v.fracTo = i + k;
    } else if (!store(kind, n, sign)) return 0;
    i += k;
  }
  if (i !== e) return 0;
  if (v.year < 1 || v.month < 1 || v.month > 12 || v.day < 1 || v.day > daysIn(v.year, v.month)) {
    return -1;
  }
  if (v.pm === 1 && v.hour < 12) v.hour += 12;
  else if (v.pm === 0 && v.hour === 12) v.hour = 0;
  if (out) write(f, b, out);
  return 1;
}

function write(f: DateFormat, b: Uint8Array, out: CopyBuffer): void {
  out.ensure(40);
  pad(out, v.year, 4);
  out.byte(45);
  pad(out, v.month, 2);
  out.byte(45);
  pad(out, v.day, 2);
  if (f.type === "date") return;
  out.byte(32);
  pad(out, v.hour, 2);
  out.byte(58);
  pad(out, v.minute, 2);
  out.byte(58);
  pad(out, v.second, 2);
  if (v.fracTo > v.fracFrom) {
    out.byte(46);
    out.putBytes(b, v.fracFrom, v.fracTo);
  }
  if (v.tzh >= 0) {
    out.byte(v.tzSign < 0 ? 45 : 43);
    pad(out, v.tzh, 2);
    out.byte(58);
    pad(out, v.tzm, 2);
  }
}
