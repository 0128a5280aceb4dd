/**
 * A parsed CSV record as byte ranges: what the parser hands to its callback, and what the
 * transformer reads values from without making strings of them. {@linkcode CsvRecord.field}
 * and {@linkcode CsvRecord.strings} decode when a string is needed (the header, inference
 * samples, a rejected record).
 *
 * @example
 * ```ts
 * const r = CsvRecord.of(["42", "café"]);
 * r.count; // 2
 * r.field(1); // "café"
 * ```
 *
 * @module
 */

const QUOTE = 34;
const utf8 = new TextDecoder();
const encoder = new TextEncoder();

/**
 * One record: field `i` is the UTF-8 bytes `bytes[starts[i] .. ends[i])`, quotes already
 * removed and `""` already unescaped. A view into the parser's buffer, valid during the
 * {@linkcode RecordHandler} call only.
 */
export class CsvRecord {
  /** The buffer every field indexes. */
  bytes: Uint8Array = new Uint8Array(0);
  /** Field start offsets (the first {@linkcode count} entries are used). */
  starts: Int32Array;
  /** Field end offsets (exclusive). */
  ends: Int32Array;
  /** Number of fields. */
  count = 0;
  /** Bytes the record spans in the input (its fields plus delimiters and quotes). */
  span = 0;
  /** Fields marked by {@linkcode markQuoted} (allocated by the first mark: copies never mark). */
  #quoted: Int32Array | undefined;
  #nQuoted = 0;

  /** Room for `capacity` fields; or the given offsets (views of one array, for a copy). */
  constructor(capacity = 64, offsets?: { starts: Int32Array; ends: Int32Array }) {
    this.starts = offsets?.starts ?? new Int32Array(capacity);
    this.ends = offsets?.ends ?? new Int32Array(capacity);
  }

  /** Field `i` as a string. */
  field(i: number): string {
    const s = this.starts[i], e = this.ends[i];
    if (e - s < 24) {
      // Short ASCII fields (most of them) decode without a call into the runtime.
      const b = this.bytes;
      let ascii = true;
      for (let k = s; k < e; k++) {
        if (b[k] >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        let out = "";
        for (let k = s; k < e; k++) out += String.fromCharCode(b[k]);
        return out;
      }
    }
    return utf8.decode(this.bytes.subarray(s, e));
  }

  /** Every field as a string. */
  strings(): string[] {
    const out = new Array<string>(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.field(i);
    return out;
  }

  /** A copy that owns its bytes: outlives the handler call. Two allocations, not four. */
  clone(): CsvRecord {
    const n = Math.max(this.count, 1);
    const offsets = new Int32Array(2 * n);
    const r = new CsvRecord(n, { starts: offsets.subarray(0, n), ends: offsets.subarray(n) });
    const from = this.count ? this.starts[0] : 0;
    let to = from;
    for (let i = 0; i < this.count; i++) to = Math.max(to, this.ends[i]);
    let min = from;
    for (let i = 0; i < this.count; i++) min = Math.min(min, this.starts[i]);
    r.bytes = this.bytes.slice(min, to);
    for (let i = 0; i < this.count; i++) {
      r.starts[i] = this.starts[i] - min;
      r.ends[i] = this.ends[i] - min;
    }
    r.count = this.count;
    r.span = this.span;
    return r;
  }

  /** A record of the given strings (for tests and for values that do not come from a file). */
  static of(fields: readonly string[]): CsvRecord {
    const parts = fields.map((f) => encoder.encode(f));
    const r = new CsvRecord(Math.max(fields.length, 1));
    const total = parts.reduce((n, p) => n + p.length, 0);
    r.bytes = new Uint8Array(total);
    let at = 0;
    parts.forEach((p, i) => {
      r.bytes.set(p, at);
      r.starts[i] = at;
      at += p.length;
      r.ends[i] = at;
    });
    r.count = fields.length;
    r.span = total + fields.length;
    return r;
  }

  /**
   * Marks field `i` as quoted text still in its raw form: `""` pairs, and a closing quote when
   * text follows it (`"ab"cd`). The parser marks while it scans; {@linkcode unquote} rewrites.
   */
  markQuoted(i: number): void {
    let marks = this.#quoted ??= new Int32Array(16);
    if (this.#nQuoted === marks.length) {
      marks = new Int32Array(marks.length * 2);
      marks.set(this.#quoted);
      this.#quoted = marks;
    }
    marks[this.#nQuoted++] = i;
  }

  /** Forgets the marks (a record begins). */
  clearQuoted(): void {
    this.#nQuoted = 0;
  }

  /**
   * Rewrites the marked fields in place, once the record is known complete: `""` becomes `"`,
   * and the closing quote before text that follows it is dropped. The text only shrinks,
   * within the field.
   */
  unquote(): void {
    const b = this.bytes;
    const marks = this.#quoted;
    for (let k = 0; marks && k < this.#nQuoted; k++) {
      const f = marks[k];
      const e = this.ends[f];
      let r = this.starts[f], w = r;
      let closed = false;
      while (r < e) {
        const x = b[r];
        if (x === QUOTE && !closed) {
          if (r + 1 < e && b[r + 1] === QUOTE) {
            b[w++] = QUOTE;
            r += 2;
            continue;
          }
          closed = true;
          r++;
          continue;
        }
        b[w++] = x;
        r++;
      }
      this.ends[f] = w;
    }
    this.#nQuoted = 0;
  }

  /** Room for `n` fields. */
  grow(n: number): void {
    if (n <= this.starts.length) return;
    let size = this.starts.length * 2;
    while (size < n) size *= 2;
    const s = new Int32Array(size), e = new Int32Array(size);
    s.set(this.starts);
    e.set(this.ends);
    this.starts = s;
    this.ends = e;
  }
}
