/**
 * The row transform: per column, the stages null tokens → type conversion → defaults → required
 * check, each a small function below, composed in that order by {@linkcode RowTransformer} into
 * one COPY text line per record. It reads the parser's {@linkcode CsvRecord} (fields as byte
 * ranges) and writes bytes into the batch's {@linkcode CopyBuffer}: no string is made of a value
 * that loads, and the hot loop allocates nothing.
 *
 * With `widen` (for an inferred schema), a value that does not fit its column widens the column
 * instead of rejecting the row: see {@linkcode RowTransformer.takeWidenings}.
 *
 * @example
 * ```ts
 * const t = new RowTransformer({ schema, positions: [0, 1], headerLength: 2 });
 * t.apply(["42", "yes"]); // "42\tt\n"
 * t.apply(["4x", "yes"]); // undefined; t.reason === 'age: not an integer: "4x"'
 * ```
 *
 * @module
 */
import { COPY_NULL, CopyBuffer } from "./copy_text.ts";
import { CsvRecord } from "./csv_parser.ts";
import { type Converter, converterFor, convertValue, type Invalid } from "./convert.ts";
import { mayNeedTrim, trimEnd, trimStart } from "./trim.ts";
import { UsageError } from "../errors.ts";
import { type ColumnSpec, DEFAULT_NULL_TOKENS, type Schema } from "./schema.ts";
import { type Widening, widerTypes } from "./widen.ts";

/** Stage 1 on strings: is this (trimmed) value missing? Built once per token list. */
export type NullCheck = (value: string) => boolean;

/**
 * Builds the null-token test for already trimmed strings (inference uses it): tokens compare
 * case-sensitively.
 */
export function nullCheckFor(tokens: readonly string[]): NullCheck {
  if (tokens.length === 0) return () => false;
  const set = new Set(tokens.map((t) => t.trim()));
  const maxLen = Math.max(...[...set].map((t) => t.length));
  return (v) => v.length <= maxLen && set.has(v);
}

/** Stage 1 on bytes: is the trimmed value `b[s..e)` a null token? */
export type NullBytesCheck = (b: Uint8Array, s: number, e: number) => boolean;

/**
 * The null-token test the loader runs on every value's bytes. A length and a first-byte test
 * come first: most values (digits, words) fail one of them without comparing anything.
 */
export function nullBytesCheckFor(tokens: readonly string[]): NullBytesCheck {
  const encoded = [...new Set(tokens.map((t) => t.trim()))].map((t) => new TextEncoder().encode(t));
  if (encoded.length === 0) return () => false;
  const empty = encoded.some((t) => t.length === 0);
  const maxLen = Math.max(...encoded.map((t) => t.length));
  const first = new Uint8Array(256);
  for (const t of encoded) if (t.length) first[t[0]] = 1;
  const byLength: Uint8Array[][] = Array.from({ length: maxLen + 1 }, () => []);
  for (const t of encoded) byLength[t.length].push(t);
  return (b, s, e) => {
    const n = e - s;
    if (n === 0) return empty;
    if (n > maxLen || first[b[s]] === 0) return false;
    const candidates = byLength[n];
    outer: for (let k = 0; k < candidates.length; k++) {
      const t = candidates[k];
      for (let i = 0; i < n; i++) if (b[s + i] !== t[i]) continue outer;
      return true;
    }
    return false;
  };
}

/** Stage 3: what a missing value becomes, as COPY text (undefined: no default). */
export function defaultText(column: ColumnSpec): string | undefined {
  const d = column.default;
  if (d === undefined || d === null) return undefined;
  const raw = typeof d === "string" ? d : String(d);
  const out = convertValue(column.type, raw, { format: column.format });
  if (typeof out !== "string") {
    throw new UsageError(
      `schema column "${column.name}": default ${JSON.stringify(d)} is ${out.kind}`,
    );
  }
  return out;
}

/** Stage 4: a missing value with no default in a required column rejects the row. */
export const MISSING_REQUIRED: Invalid = { kind: "required value missing" };

/** Counts of every decision, for the summary and the log. */
export interface TransformCounts {
  /** Values that became their column's default, per column name. */
  defaulted: Record<string, number>;
  /** Rejected rows per reason (the reason without the value). */
  rejected: Record<string, number>;
}

/** Options for {@linkcode RowTransformer}. */
export interface TransformOptions {
  schema: Schema;
  /** Field index per schema column (from `resolveColumns`). */
  positions: readonly number[];
  /** Number of fields in the header: a record with another count is rejected. */
  headerLength: number;
  /**
   * Widen a column instead of rejecting a value that does not fit it (for an inferred schema):
   * see {@linkcode RowTransformer.takeWidenings}. Numbers then fit as inference reads them
   * (no leading zeros: `007` widens an integer column to text rather than loading as 7).
   * @default {false}
   */
  widen?: boolean;
}

/**
 * Whether column `col`'s converter may run before its trim and null tests: a typed column
 * without a format (unformatted converters accept no value with a space at either end), none
 * of whose null tokens the converter accepts.
 */
function direct(col: ColumnSpec, convert: Converter, schema: Schema): number {
  if (col.type === "text" || col.format !== undefined) return 0;
  const tokens = col.null_tokens ?? schema.null_tokens ?? DEFAULT_NULL_TOKENS;
  const out = new CopyBuffer(64);
  for (const t of tokens) {
    const b = new TextEncoder().encode(t.trim());
    out.pos = 0;
    if (convert(b, 0, b.length, out) === null) return 0;
  }
  return 1;
}

/** The reason-count key for records with the wrong number of fields. */
export const RAGGED = "wrong number of fields";

const NULL_BYTES = new TextEncoder().encode(COPY_NULL);

/** See the module documentation. */
export class RowTransformer {
  readonly #n: number;
  readonly #positions: Int32Array;
  readonly #isNull: NullBytesCheck[];
  readonly #convert: Converter[];
  readonly #default: (Uint8Array | undefined)[];
  readonly #required: boolean[];
  readonly #isText: boolean[];
  /**
   * Columns whose converter can run on the raw field first: typed, without a format, and no
   * null token of theirs converts. A value such a converter accepts has no space around it and
   * is no null token (see {@linkcode direct}), so the trim and null tests can wait for a value
   * it refuses.
   */
  readonly #direct: Uint8Array;
  readonly #names: string[];
  /** The columns as they are now: types change as they widen. */
  readonly #columns: ColumnSpec[];
  readonly #widen: boolean;
  readonly #widenings: Widening[] = [];
  #pending: Widening[] = [];
  readonly #headerLength: number;
  readonly #defaultedCounts: number[];
  /** Columns defaulted in the record being transformed. */
  readonly #defaultedNow: Int32Array;
  /** Why the last rejected record was rejected, naming column and value. */
  reason = "";
  /** The reason without the value: the key of {@linkcode TransformCounts.rejected}. */
  reasonKey = "";

  constructor(options: TransformOptions) {
    const { schema } = options;
    this.#n = schema.columns.length;
    this.#positions = Int32Array.from(options.positions);
    this.#headerLength = options.headerLength;
    this.#names = schema.columns.map((c) => c.name);
    this.#columns = schema.columns.map((c) => ({ ...c }));
    this.#widen = options.widen === true;
    this.#isNull = schema.columns.map((c) =>
      nullBytesCheckFor(c.null_tokens ?? schema.null_tokens ?? DEFAULT_NULL_TOKENS)
    );
    this.#convert = schema.columns.map((c) =>
      converterFor(c.type, { format: c.format, plain: this.#widen })
    );
    this.#default = schema.columns.map((c) => {
      const d = defaultText(c);
      return d === undefined ? undefined : new TextEncoder().encode(d);
    });
    this.#required = schema.columns.map((c) => c.required === true);
    this.#isText = schema.columns.map((c) => c.type === "text");
    this.#direct = Uint8Array.from(schema.columns, (c, i) => direct(c, this.#convert[i], schema));
    this.#defaultedCounts = schema.columns.map(() => 0);
    this.#defaultedNow = new Int32Array(this.#n);
  }

  /**
   * Writes the record's COPY text line (values, tabs, the newline) into `out` and returns
   * true; or leaves `out` as it was and returns false when the record is rejected, with
   * {@linkcode reason} and {@linkcode reasonKey} set. `line`, where the record starts, only
   * labels widenings.
   */
  applyTo(rec: CsvRecord, out: CopyBuffer, line = 0): boolean {
    if (rec.count !== this.#headerLength) {
      this.reasonKey = RAGGED;
      this.reason = `expected ${this.#headerLength} fields, found ${rec.count}`;
      return false;
    }
    const n = this.#n;
    const b = rec.bytes, starts = rec.starts, ends = rec.ends;
    const positions = this.#positions;
    const start = out.pos;
    let nDefaulted = 0;
    for (let c = 0; c < n; c++) {
      const f = positions[c];
      const s0 = starts[f], e0 = ends[f];
      if (this.#direct[c] === 1) {
        const at = out.pos;
        if (this.#convert[c](b, s0, e0, out) === null) {
          out.byte(c === n - 1 ? 10 : 9);
          continue;
        }
        out.pos = at;
      }
      let s = s0, e = e0;
      if (mayNeedTrim(b, s, e)) {
        s = trimStart(b, s, e);
        e = trimEnd(b, s, e);
      }
      if (this.#isNull[c](b, s, e)) {
        const d = this.#default[c];
        if (d !== undefined) {
          out.putBytes(d, 0, d.length);
          this.#defaultedNow[nDefaulted++] = c;
        } else if (this.#required[c]) {
          out.pos = start;
          this.#fail(rec, c, MISSING_REQUIRED);
          return false;
        } else out.putBytes(NULL_BYTES, 0, NULL_BYTES.length);
      } else if (this.#isText[c]) {
        out.putEscapedBytes(b, s0, e0);
      } else {
        const at = out.pos;
        const r = this.#convert[c](b, s, e, out);
        if (r !== null) {
          out.pos = at;
          if (!this.#widen || !this.#widenFor(c, rec, s, e, out, line)) {
            out.pos = start;
            this.#fail(rec, c, r);
            return false;
          }
        }
      }
      out.byte(c === n - 1 ? 10 : 9);
    }
    // Counted once the row is accepted.
    for (let i = 0; i < nDefaulted; i++) this.#defaultedCounts[this.#defaultedNow[i]]++;
    return true;
  }

  /**
   * Widens column `c` to the least wider type that takes the value `b[s..e)` and writes the
   * value with it; false when none does (only a text column cannot widen).
   */
  #widenFor(
    c: number,
    rec: CsvRecord,
    s: number,
    e: number,
    out: CopyBuffer,
    line: number,
  ): boolean {
    const col = this.#columns[c];
    for (const to of widerTypes(col.type, col.format)) {
      const f = this.#positions[c];
      const at = out.pos;
      const convert = to === "text" ? undefined : converterFor(to, { plain: true });
      if (convert && convert(rec.bytes, s, e, out) !== null) {
        out.pos = at;
        continue;
      }
      // Text loads the value verbatim, untrimmed, as a text column always does.
      if (!convert) out.putEscapedBytes(rec.bytes, rec.starts[f], rec.ends[f]);
      const w: Widening = {
        column: c,
        name: col.name,
        from: col.type,
        to,
        line,
        value: rec.field(f),
      };
      if (col.format !== undefined) w.format = col.format;
      this.#widenings.push(w);
      this.#pending.push(w);
      col.type = to;
      delete col.format;
      this.#isText[c] = to === "text";
      this.#direct[c] = 0;
      if (convert) this.#convert[c] = convert;
      return true;
    }
    return false;
  }

  /**
   * The widenings since the last call, in the order they happened (one record may widen several
   * columns). The record that caused a widening is written with the wider type; the COPY text
   * of the records before it stays valid for the wider type (see `widen.ts`).
   */
  takeWidenings(): Widening[] {
    const out = this.#pending;
    this.#pending = [];
    return out;
  }

  /** A record widened a column since the last {@linkcode takeWidenings}. */
  get widened(): boolean {
    return this.#pending.length > 0;
  }

  /** Every widening so far. */
  get widenings(): readonly Widening[] {
    return this.#widenings;
  }

  /** The schema's columns with their types now (after any widening): what a resume must use. */
  columns(): ColumnSpec[] {
    return this.#columns.map((c) => ({ ...c }));
  }

  /** The record as one COPY text line, or undefined when rejected (see {@linkcode applyTo}). */
  apply(fields: readonly string[], line = 0): string | undefined {
    const out = new CopyBuffer(256);
    return this.applyTo(CsvRecord.of(fields), out, line)
      ? new TextDecoder().decode(out.bytes())
      : undefined;
  }

  /** Names every bad column of a rejected record; the first one is its counted reason. */
  #fail(rec: CsvRecord, first: number, why: Invalid): void {
    const parts = [this.#describe(first, why, rec.field(this.#positions[first]))];
    const scratch = new CopyBuffer(64);
    for (let c = first + 1; c < this.#n; c++) {
      const f = this.#positions[c];
      const b = rec.bytes;
      const s = trimStart(b, rec.starts[f], rec.ends[f]);
      const e = trimEnd(b, s, rec.ends[f]);
      if (this.#isNull[c](b, s, e)) {
        if (this.#default[c] === undefined && this.#required[c]) {
          parts.push(this.#describe(c, MISSING_REQUIRED, rec.field(f)));
        }
        continue;
      }
      if (this.#isText[c]) continue;
      scratch.pos = 0;
      const r = this.#convert[c](b, s, e, scratch);
      if (r !== null) parts.push(this.#describe(c, r, rec.field(f)));
    }
    this.reasonKey = `${this.#names[first]}: ${why.kind}`;
    this.reason = parts.join("; ");
  }

  #describe(c: number, why: Invalid, raw: string): string {
    return `${this.#names[c]}: ${why.kind}: ${JSON.stringify(raw)}`;
  }

  /** Values defaulted so far, per column name (columns with none left out). */
  defaulted(): Record<string, number> {
    const out: Record<string, number> = {};
    this.#defaultedCounts.forEach((n, c) => {
      if (n > 0) out[this.#names[c]] = n;
    });
    return out;
  }
}
