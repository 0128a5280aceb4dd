/**
 * The CSV dialect: checked when the user gives it ({@linkcode checkDialect}), guessed from the
 * input's first lines when not: where the
 * header is (below a preamble of title lines and `#` comments) and the delimiter (the candidate
 * that occurs most often, outside quotes, in the header line).
 *
 * @example
 * ```ts
 * sniffDelimiter("a;b;c\n1;2;3\n"); // ";"
 * findHeader("# source: x\nTitle\na,b\n1,2\n"); // { skip: 2, delimiter: "," }
 * ```
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/**
 * Checks a delimiter and a comment prefix the user gave; throws a {@linkcode UsageError}
 * quoting a bad one.
 *
 * @example
 * ```ts
 * checkDialect({ delimiter: '"' }); // throws: a quote cannot be the delimiter
 * ```
 */
export function checkDialect(given: { delimiter?: string; comment?: string }): void {
  const d = given.delimiter, c = given.comment;
  if (d !== undefined && (d.length !== 1 || d === '"' || d === "\n" || d === "\r")) {
    throw new UsageError(
      `--delimiter must be one character other than a quote or a line break, got ${
        JSON.stringify(d)
      }`,
    );
  }
  if (c !== undefined && (c.length === 0 || /[\r\n]/.test(c))) {
    throw new UsageError(
      `--comment must be one or more characters other than a line break, got ${JSON.stringify(c)}`,
    );
  }
}

/** Delimiters the sniffer considers, in order of preference on a tie. */
export const DELIMITERS = [",", ";", "\t", "|"] as const;

/** Occurrences of each candidate delimiter outside quotes, in the first line of `text`. */
function delimiterCounts(text: string, candidates: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>(candidates.map((d) => [d, 0]));
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === "\n" || ch === "\r")) break;
    else if (!quoted && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
  return counts;
}

/**
 * Picks the candidate delimiter that occurs most often (outside quotes) in the first line; `,`
 * when none occurs.
 *
 * @example
 * ```ts
 * sniffDelimiter('"a;b",c\n'); // ","
 * ```
 */
export function sniffDelimiter(text: string): string {
  const counts = delimiterCounts(text, DELIMITERS);
  let best: string = ",";
  let bestCount = 0;
  for (const d of DELIMITERS) {
    if (counts.get(d)! > bestCount) {
      best = d;
      bestCount = counts.get(d)!;
    }
  }
  return best;
}

/** Where {@linkcode findHeader} found the header. */
export interface HeaderPlace {
  /** Physical lines before the header line: the preamble. */
  skip: number;
  /** The delimiter given, or sniffed from the header line. */
  delimiter: string;
}

/** Options for {@linkcode findHeader}. */
export interface FindHeaderOptions {
  /** The delimiter, when the user gave one. */
  delimiter?: string;
  /** Lines that start with this are comments (dropped by the parser): never the header. */
  comment?: string;
  /** The text is the whole input (its last line needs no line break). */
  complete?: boolean;
}

/**
 * Finds the header line in the input's first lines: lines that start with `#`, or hold a single
 * field (no delimiter outside quotes: a title, a note), before the first line with two fields or
 * more are a preamble. A single field only counts as a preamble when such a line follows, and that
 * line is taken as the header only when the line after it (if any) has two fields or more too:
 * a one-column file keeps its first line as its header.
 *
 * @example
 * ```ts
 * findHeader("Sales 2023\n\na;b\n1;2\n"); // { skip: 2, delimiter: ";" }
 * findHeader("name\nAda\n"); // { skip: 0, delimiter: "," }
 * ```
 */
export function findHeader(text: string, options: FindHeaderOptions = {}): HeaderPlace {
  const lines = text.split("\n");
  // The last piece is a line only when the text is all there is.
  if (!options.complete) lines.pop();
  const candidates = options.delimiter === undefined ? DELIMITERS : [options.delimiter];
  const fields = (line: string) => {
    let n = 0;
    for (const c of delimiterCounts(line, candidates).values()) n = Math.max(n, c);
    return n + 1;
  };
  const ignored = (line: string) =>
    line.trim() === "" || (options.comment !== undefined && line.startsWith(options.comment));
  let firstPlain = -1;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (ignored(line) || line.startsWith("#")) continue;
    if (firstPlain < 0) firstPlain = i;
    if (fields(line) < 2) continue;
    const next = lines.slice(i + 1).find((l) => !ignored(l));
    if (next === undefined || fields(next) >= 2) return placeAt(lines, i, options.delimiter);
    break;
  }
  // No header below single fields: only the comment lines at the top are a preamble.
  return placeAt(lines, firstPlain < 0 ? 0 : firstPlain, options.delimiter);
}

function placeAt(lines: readonly string[], i: number, delimiter?: string): HeaderPlace {
  return { skip: i, delimiter: delimiter ?? sniffDelimiter(lines[i] ?? "") };
}
