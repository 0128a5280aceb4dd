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
 * f.parts.length; // 5: DD, "/", MM, "/", YYYY (matchFormat in date_match.ts reads values)
 * ```
 *
 * @module
 */

/** Thrown for a pattern that is not a valid format; the message quotes the pattern. */
export class FormatError extends Error {}

/** Kinds of part. */
export const K = {
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
export type K = typeof K[keyof typeof K];

/** One part of a compiled pattern. */
export interface Part {
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
