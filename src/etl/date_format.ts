/**
 * Date and time formats for `date`, `timestamp` and `timestamptz` columns: a pattern in
 * PostgreSQL's `to_date` style (`DD/MM/YYYY`, `YYYYMMDD`, `DD-Mon-YYYY`, `MM/DD/YYYY HH24:MI`)
 * compiled once into parts, then matched against each value's bytes and written out as ISO
 * 8601 COPY text (`2023-03-05`, `2023-03-05 13:05:00`), with the calendar checked.
 *
 * Fields (upper case as shown; `Mon`/`MON`/`mon` and `Month`/`MONTH`/`month` all match any
 * case):
 *
 * | field | matches |
 * | --- | --- |
 * | `YYYY` | a 4-digit year (0001-9999) |
 * | `YY` | a 2-digit year: 00-69 are 2000-2069, 70-99 are 1970-1999 (as PostgreSQL reads them) |
 * | `MM`, `DD` | month, day: 2 digits, or 1 when a separator follows (`5/3/2023`) |
 * | `Mon`, `Month` | an English month name, abbreviated (`Jan`) or in full (`January`) |
 * | `HH24` | hour 0-23; `HH12` (or `HH`) hour 1-12, with `AM` (or `PM`) matching AM or PM |
 * | `MI`, `SS` | minute 0-59, second 0-60 (like `MM`: 1 digit when a separator follows) |
 * | `FF` | fractional seconds, 1 to 9 digits |
 * | `TZH`, `TZM` | an offset's hours (with its sign) and minutes; `timestamptz` only |
 *
 * Anything else that is not a letter (`/ - . : , ` and space) must appear as is; letters that
 * must appear as is go in double quotes (`YYYY-MM-DD"T"HH24:MI`). An unknown field is an error
 * quoting the pattern.
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

/** Thrown for a pattern that is not a valid format; the message quotes the pattern. */
export class FormatError extends Error {}

/** Kinds of part. */
const K = {
  Literal: 0,
  Year4: 1,
  Year2: 2,
  Month: 3,
  MonthAbbr: 4,
  MonthName: 5,
  Day: 6,
  Hour24: 7,
  Hour12: 8,
  Minute: 9,
  Second: 10,
  Fraction: 11,
  AmPm: 12,
  TzHour: 13,
  TzMinute: 14,
} as const;
type K = typeof K[keyof typeof K];

/** One part of a compiled pattern. */
interface Part {
  kind: K;
  /** Fewest and most digits (numeric fields). */
  min: number;
  max: number;
  /** The bytes a literal matches. */
  bytes?: Uint8Array;
}

/** A compiled pattern: see {@linkcode compileFormat}. */
export interface DateFormat {
  readonly pattern: string;
  readonly parts: readonly Part[];
  /** The column type it was compiled for: timestamps are written with their time. */
  readonly type: "date" | "timestamp" | "timestamptz";
  /** Whether the pattern has time fields (then it suits timestamp columns only). */
  readonly hasTime: boolean;
  /** Whether the pattern has an offset (`TZH`): timestamptz only. */
  readonly hasOffset: boolean;
}

/** Field names, longest first where one is a prefix of another. */
const FIELDS: [string, K][] = [
  ["YYYY", K.Year4],
  ["YY", K.Year2],
  ["MONTH", K.MonthName],
  ["Month", K.MonthName],
  ["month", K.MonthName],
  ["MON", K.MonthAbbr],
  ["Mon", K.MonthAbbr],
  ["mon", K.MonthAbbr],
  ["MM", K.Month],
  ["MI", K.Minute],
  ["DD", K.Day],
  ["HH24", K.Hour24],
  ["HH12", K.Hour12],
  ["HH", K.Hour12],
  ["SS", K.Second],
  ["FF", K.Fraction],
  ["AM", K.AmPm],
  ["PM", K.AmPm],
  ["TZH", K.TzHour],
  ["TZM", K.TzMinute],
];

const FIELD_LIST = "YYYY, YY, MM, Mon, Month, DD, HH24, HH12, MI, SS, FF, AM, TZH, TZM";

/** Most digits of each numeric field (0: not numeric). */
const WIDTH: Record<number, number> = {
  [K.Year4]: 4,
  [K.Year2]: 2,
  [K.Month]: 2,
  [K.Day]: 2,
  [K.Hour24]: 2,
  [K.Hour12]: 2,
  [K.Minute]: 2,
  [K.Second]: 2,
  [K.Fraction]: 9,
  [K.TzMinute]: 2,
};

const encoder = new TextEncoder();

function isLetter(c: string): boolean {
  return /^[A-Za-z]$/.test(c);
}

/** Splits a pattern into fields and literals; throws a {@linkcode FormatError} quoting it. */
function tokenize(pattern: string): { kind: K; text: string }[] {
  const out: { kind: K; text: string }[] = [];
  let lit = "";
  const flush = () => {
    if (lit) out.push({ kind: K.Literal, text: lit });
    lit = "";
  };
  for (let i = 0; i < pattern.length;) {
    const c = pattern[i];
    if (c === '"') {
      const end = pattern.indexOf('"', i + 1);
      if (end === -1) throw new FormatError(`unclosed quote in format "${pattern}"`);
      lit += pattern.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (/[0-9]/.test(c)) {
      throw new FormatError(`format "${pattern}": digits must be quoted ("${c}")`);
    }
    if (!isLetter(c)) {
      lit += c;
      i++;
      continue;
    }
    const field = FIELDS.find(([name]) => pattern.startsWith(name, i));
    if (!field) {
      let j = i;
      while (j < pattern.length && isLetter(pattern[j])) j++;
      throw new FormatError(
        `unknown field "${
          pattern.slice(i, j)
        }" in format "${pattern}" (fields: ${FIELD_LIST}; quote literal letters: "T")`,
      );
    }
    flush();
    out.push({ kind: field[1], text: field[0] });
    i += field[0].length;
  }
  flush();
  return out;
}

/**
 * Compiles a pattern for a column of `type`. Throws a {@linkcode FormatError} that quotes the
 * pattern when it has an unknown or repeated field, lacks a year, month or day, has time fields
 * on a `date` column, or an offset on a column that is not `timestamptz`.
 */
export function compileFormat(
  pattern: string,
  type: "date" | "timestamp" | "timestamptz",
): DateFormat {
  const tokens = tokenize(pattern);
  const seen = new Set<K>();
  for (const t of tokens) {
    if (t.kind === K.Literal) continue;
    const key = t.kind === K.MonthAbbr || t.kind === K.MonthName ? K.Month : t.kind;
    const key2 = key === K.Year2 ? K.Year4 : key === K.Hour12 ? K.Hour24 : key;
    if (seen.has(key2)) throw new FormatError(`format "${pattern}" has "${t.text}" twice`);
    seen.add(key2);
  }
  const has = (k: K) => tokens.some((t) => t.kind === k);
  if (!seen.has(K.Year4) || !seen.has(K.Month) || !seen.has(K.Day)) {
    throw new FormatError(`format "${pattern}" needs a year, a month and a day`);
  }
  const hasTime = seen.has(K.Hour24);
  if (type === "date" && hasTime) {
    throw new FormatError(`format "${pattern}" has a time: use type timestamp for it`);
  }
  if (has(K.Hour12) !== has(K.AmPm)) {
    throw new FormatError(`format "${pattern}": HH12 and AM go together`);
  }
  if (seen.has(K.Minute) && !hasTime) throw new FormatError(`format "${pattern}": MI needs HH24`);
  if (seen.has(K.Second) && !seen.has(K.Minute)) {
    throw new FormatError(`format "${pattern}": SS needs MI`);
  }
  if (seen.has(K.Fraction) && !seen.has(K.Second)) {
    throw new FormatError(`format "${pattern}": FF needs SS`);
  }
  const hasOffset = seen.has(K.TzHour);
  if (seen.has(K.TzMinute) && !hasOffset) {
    throw new FormatError(`format "${pattern}": TZM needs TZH`);
  }
  if (hasOffset && type !== "timestamptz") {
    throw new FormatError(`format "${pattern}" has an offset: use type timestamptz for it`);
  }
  const parts: Part[] = tokens.map((t, i) => {
    if (t.kind === K.Literal) {
      return { kind: K.Literal, min: 0, max: 0, bytes: encoder.encode(t.text) };
    }
    const max = WIDTH[t.kind] ?? 0;
    // A field up against another numeric field must be whole: `YYYYMMDD` cannot be split
    // otherwise. One between separators (or the ends) may be shorter: `5/3/2023`.
    const numeric = (x: { kind: K } | undefined) =>
      x !== undefined && ((WIDTH[x.kind] ?? 0) > 0 || x.kind === K.TzHour);
    const fixed = t.kind === K.Year4 || t.kind === K.Year2 || t.kind === K.TzMinute ||
      numeric(tokens[i - 1]) || numeric(tokens[i + 1]);
    const min = t.kind === K.Fraction ? 1 : fixed ? max : 1;
    return { kind: t.kind, min, max };
  });
  return { pattern, type, parts, hasTime, hasOffset };
}

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
    switch (kind) {
      case K.Year4:
        v.year = n;
        break;
      case K.Year2:
        v.year = n < 70 ? 2000 + n : 1900 + n;
        break;
      case K.Month:
        v.month = n;
        break;
      case K.Day:
        v.day = n;
        break;
      case K.Hour24:
        if (n > 23) return 0;
        v.hour = n;
        break;
      case K.Hour12:
        if (n < 1 || n > 12) return 0;
        v.hour = n;
        break;
      case K.Minute:
        if (n > 59) return 0;
        v.minute = n;
        break;
      case K.Second:
        if (n > 60) return 0;
        v.second = n;
        break;
      case K.Fraction:
        v.fracFrom = i;
        v.fracTo = i + k;
        break;
      case K.TzHour:
        if (n > 15) return 0;
        v.tzh = n;
        v.tzSign = sign;
        break;
      case K.TzMinute:
        if (n > 59) return 0;
        v.tzm = n;
        break;
    }
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
