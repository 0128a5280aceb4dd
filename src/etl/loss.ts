/**
 * No silent loss: a load that read records and rejected every one of them failed, whatever its
 * rejects file says, and a load that lost more than half of its records to a wrong number of
 * fields is most likely reading the file wrongly. {@linkcode judgeLoss} says so, with the likely
 * cause (the header, the delimiter, or the schema) and the counts that show it.
 *
 * @example
 * ```ts
 * const verdict = judgeLoss({
 *   recordsRead: 524, rowsRejected: 524, rejectedByReason: { "wrong number of fields": 524 },
 *   fieldCounts: new Map([[11, 524]]), header: ["# Data source: x"], headerLine: 1,
 *   delimiter: ",", schemaGiven: false, allowed: false,
 * });
 * verdict.error; // "every one of the 524 records read was rejected ..."
 * ```
 *
 * @module
 */
import { num } from "./summary.ts";
import { RAGGED } from "./transform.ts";

/** What {@linkcode judgeLoss} looks at: the load's committed counts and the file's shape. */
export interface LossFacts {
  /** Records read and committed, across every run of the load. */
  recordsRead: number;
  /** Of those, rejected. */
  rowsRejected: number;
  /** Rejected per reason, across every run. */
  rejectedByReason: Record<string, number>;
  /** Records with the wrong number of fields, by the number they had (this run). */
  fieldCounts: ReadonlyMap<number, number>;
  /** The header's fields. */
  header: readonly string[];
  /** The header's physical line. */
  headerLine: number;
  /** The delimiter in use. */
  delimiter: string;
  /** The schema came from the user (a file or an object), not from inference. */
  schemaGiven: boolean;
  /** `--max-rejects` was given: the user accepts rejects up to it, a total loss included. */
  allowed: boolean;
}

/** What {@linkcode judgeLoss} concludes: an error (the load failed) or a warning, or neither. */
export interface LossVerdict {
  /** Every record was rejected and no `--max-rejects` allows it: exit 1 with this. */
  error?: string;
  /** Worth telling although the load stands. */
  warning?: string;
}

function delimiterName(d: string): string {
  return d === "\t" ? "tab" : JSON.stringify(d);
}

/** The field count most rejected records had, and how many had it. */
function commonest(counts: ReadonlyMap<number, number>): [number, number] | undefined {
  let best: [number, number] | undefined;
  for (const [fields, n] of counts) if (!best || n > best[1]) best = [fields, n];
  return best;
}

/** Why records had the wrong number of fields, most likely: the header or the delimiter. */
function raggedCause(f: LossFacts, ragged: number): string {
  const h = f.header.length;
  const header = `the header (line ${f.headerLine}, ${JSON.stringify(f.header.join(f.delimiter))})`;
  const common = commonest(f.fieldCounts);
  const shape = common
    ? `${num(common[1])} of them have ${num(common[0])} field${common[0] === 1 ? "" : "s"}`
    : "";
  const counted = `${num(ragged)} records do not have the ${num(h)} field${
    h === 1 ? "" : "s"
  } of ${header}${shape ? ` (${shape})` : ""}`;
  if (common && common[0] > h) {
    return `${counted}: the header is likely a title or a note above the real one: give --skip-lines N (the lines above the real header) or --comment C`;
  }
  if (common && common[0] === 1) {
    return `${counted}: the delimiter ${
      delimiterName(f.delimiter)
    } is likely wrong: give --delimiter`;
  }
  return `${counted}: the file leaves fields out, or the delimiter ${
    delimiterName(f.delimiter)
  } is wrong (give --delimiter), or the header is not the file's (give --skip-lines N)`;
}

/** The commonest reasons, with their counts: what a schema that does not fit looks like. */
function schemaCause(f: LossFacts): string {
  const top = Object.entries(f.rejectedByReason).sort((a, b) => b[1] - a[1]).slice(0, 3);
  const list = top.map(([reason, n]) => `${num(n)} × ${reason}`).join(", ");
  const advice = /duplicate key value/.test(top[0]?.[0] ?? "")
    ? "the keys are in the table already: give --on-conflict update (load over them) or ignore (keep the rows there)"
    : f.schemaGiven
    ? "the schema does not fit the file: check its types, formats and each column's source"
    : "the values do not fit the table: check its columns and constraints";
  return `${list}: ${advice}`;
}

/**
 * Judges a finished load (see the module documentation). A total loss is an error unless
 * `--max-rejects` was given; more than half rejected for a wrong number of fields is a warning.
 */
export function judgeLoss(f: LossFacts): LossVerdict {
  if (f.recordsRead === 0 || f.rowsRejected === 0) return {};
  const ragged = f.rejectedByReason[RAGGED] ?? 0;
  const cause = ragged * 2 > f.rowsRejected ? raggedCause(f, ragged) : schemaCause(f);
  if (f.rowsRejected === f.recordsRead) {
    const message = `every one of the ${
      num(f.recordsRead)
    } records read was rejected, nothing was loaded: ${cause}`;
    if (f.allowed) return { warning: message };
    return { error: `${message} (--max-rejects accepts such a load)` };
  }
  if (ragged * 2 > f.recordsRead) {
    return {
      warning: `${num(ragged)} of the ${num(f.recordsRead)} records read were rejected: ${cause}`,
    };
  }
  return {};
}
