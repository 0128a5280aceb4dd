/**
 * The row transform: per column, the stages null tokens → type conversion → defaults → required
 * check, each a small pure function below, composed in that order by {@linkcode RowTransformer}
 * into one COPY text line per record. The stages are chosen once per column from the schema, and
 * the hot loop works on the parser's field arrays, making no per-row objects.
 *
 * @example
 * ```ts
 * const t = new RowTransformer({ schema, positions: [0, 1], headerLength: 2 });
 * t.apply(["42", "yes"]); // "42\tt\n"
 * t.apply(["4x", "yes"]); // undefined; t.reason === 'age: not an integer: "4x"'
 * ```
 */
import { COPY_NULL, CopyBuffer } from "./copy_text.ts";
import { type Converter, converterFor, convertValue, type Invalid, needsTrim } from "./convert.ts";
import { UsageError } from "../errors.ts";
import { DEFAULT_NULL_TOKENS, type Schema } from "./schema.ts";

/** Stage 1: is this raw value missing? Built once per token list. */
export type NullCheck = (raw: string) => boolean;

/**
 * Builds the null-token test for already trimmed values: tokens compare case-sensitively. A
 * length guard comes first, since hashing long strings for a Set lookup is what costs time.
 */
export function nullCheckFor(tokens: readonly string[]): NullCheck {
  if (tokens.length === 0) return () => false;
  const set = new Set(tokens.map((t) => t.trim()));
  const maxLen = Math.max(...[...set].map((t) => t.length));
  const empty = set.has("");
  // Most values (digits, letters) fail on their first character without a hash lookup.
  const first = new Uint8Array(65536);
  for (const t of set) if (t.length) first[t.charCodeAt(0)] = 1;
  return (v) =>
    v.length <= maxLen && (v.length === 0 ? empty : first[v.charCodeAt(0)] === 1 && set.has(v));
}

/** Stage 2 is {@linkcode converterFor}; stage 3: what a missing value becomes (COPY text). */
export function defaultText(
  column: { name: string; type: Parameters<typeof converterFor>[0]; default?: unknown },
): string | undefined {
  const d = column.default;
  if (d === undefined || d === null) return undefined;
  const raw = typeof d === "string" ? d : String(d);
  const out = convertValue(column.type, raw);
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
}

/** The reason-count key for records with the wrong number of fields. */
export const RAGGED = "wrong number of fields";

/** See the module documentation. */
export class RowTransformer {
  readonly #n: number;
  readonly #positions: number[];
  readonly #isNull: NullCheck[];
  readonly #convert: Converter[];
  readonly #default: (string | undefined)[];
  readonly #required: boolean[];
  readonly #isText: boolean[];
  readonly #names: string[];
  readonly #headerLength: number;
  readonly #defaultedCounts: number[];
  #defaultedNow: number[] = [];
  /** Why the last rejected record was rejected, naming column and value. */
  reason = "";
  /** The reason without the value: the key of {@linkcode TransformCounts.rejected}. */
  reasonKey = "";

  constructor(options: TransformOptions) {
    const { schema } = options;
    this.#n = schema.columns.length;
    this.#positions = [...options.positions];
    this.#headerLength = options.headerLength;
    this.#names = schema.columns.map((c) => c.name);
    this.#isNull = schema.columns.map((c) =>
      nullCheckFor(c.null_tokens ?? schema.null_tokens ?? DEFAULT_NULL_TOKENS)
    );
    this.#convert = schema.columns.map((c) => converterFor(c.type));
    this.#default = schema.columns.map((c) => defaultText(c));
    this.#required = schema.columns.map((c) => c.required === true);
    this.#isText = schema.columns.map((c) => c.type === "text");
    this.#defaultedCounts = schema.columns.map(() => 0);
  }

  /**
   * Writes the record's COPY text line (values, tabs, the newline) into `out` and returns
   * true; or leaves `out` as it was and returns false when the record is rejected, with
   * {@linkcode reason} and {@linkcode reasonKey} set. Writing bytes straight into one buffer
   * per batch is what keeps this loop from building millions of short-lived strings.
   */
  applyTo(fields: readonly string[], out: CopyBuffer): boolean {
    if (fields.length !== this.#headerLength) {
      this.reasonKey = RAGGED;
      this.reason = `expected ${this.#headerLength} fields, found ${fields.length}`;
      return false;
    }
    const n = this.#n;
    const last = n - 1;
    const positions = this.#positions;
    const start = out.pos;
    let nDefaulted = 0;
    for (let c = 0; c < n; c++) {
      const raw = fields[positions[c]];
      const v = needsTrim(raw) ? raw.trim() : raw;
      if (this.#isNull[c](v)) {
        const d = this.#default[c];
        if (d !== undefined) {
          out.put(d);
          this.#defaultedNow[nDefaulted++] = c;
        } else if (this.#required[c]) {
          out.pos = start;
          this.#fail(fields, c, MISSING_REQUIRED);
          return false;
        } else out.put(COPY_NULL);
      } else if (this.#isText[c]) {
        out.putEscaped(raw);
      } else {
        const r = this.#convert[c](v, raw);
        if (typeof r !== "string") {
          out.pos = start;
          this.#fail(fields, c, r);
          return false;
        }
        // Every non-text converter accepts ASCII only (digits, signs, T, Z, ...).
        out.putAscii(r);
      }
      out.byte(c === last ? 10 : 9);
    }
    for (let i = 0; i < nDefaulted; i++) this.#defaultedCounts[this.#defaultedNow[i]]++;
    return true;
  }

  /** The record as one COPY text line, or undefined when rejected (see {@linkcode applyTo}). */
  apply(fields: readonly string[]): string | undefined {
    const out = new CopyBuffer(256);
    return this.applyTo(fields, out) ? new TextDecoder().decode(out.bytes()) : undefined;
  }

  /** Names every bad column of a rejected record; the first one is its counted reason. */
  #fail(fields: readonly string[], first: number, why: Invalid): void {
    const parts = [this.#describe(first, why, fields[this.#positions[first]])];
    for (let c = first + 1; c < this.#n; c++) {
      const raw = fields[this.#positions[c]];
      const v = needsTrim(raw) ? raw.trim() : raw;
      if (this.#isNull[c](v)) {
        if (this.#default[c] === undefined && this.#required[c]) {
          parts.push(this.#describe(c, MISSING_REQUIRED, raw));
        }
        continue;
      }
      const r = this.#convert[c](v, raw);
      if (typeof r !== "string") parts.push(this.#describe(c, r, raw));
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
