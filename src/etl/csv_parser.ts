/**
 * An incremental RFC 4180 parser over UTF-8 bytes. It works on the bytes as read, not on decoded
 * text: a record's fields are byte ranges of the chunk ({@linkcode CsvRecord}), which the
 * transformer validates and copies into COPY text without ever making a string of them. Only
 * what needs strings (the header, inference samples, rejected records) decodes them.
 *
 * Written for this loader rather than taken from a library because the loader needs what
 * libraries do not give cheaply: the physical line where each record starts (records may span
 * lines), stray quotes kept literally, no per-row objects, and no decoding.
 *
 * The rules: a field is quoted when its first byte is `"`; inside quotes `""` is a quote and
 * delimiters and line breaks are data; text after the closing quote is kept literally up to the
 * field's end (`"ab"cd` is `abcd`); a quote inside an unquoted field is literal; LF or CRLF ends
 * a record (a lone CR is data); blank lines are not records, but count as lines.
 *
 * @example
 * ```ts
 * const p = new CsvParser({ delimiter: "," }, (rec, line) => console.log(line, rec.strings()));
 * p.push('a,b\n1,"x\ny"\n');
 * p.finish(); // logs 1 ["a","b"], then 2 ["1","x\ny"]
 * ```
 *
 * @module
 */
import { LoadError } from "../errors.ts";

/**
 * Called once per record with the record and the physical line (1-based) where it starts. The
 * record is a view that the parser reuses: read it (or {@linkcode CsvRecord.clone} it) before
 * returning.
 */
export type RecordHandler = (record: CsvRecord, line: number, flags: number) => void;

/** `flags` bit: the record ended inside an unterminated quoted field (end of input). */
export const UNTERMINATED_QUOTE = 1;

/** Options for {@linkcode CsvParser}. */
export interface CsvParserOptions {
  /** One character (its UTF-8 bytes are matched). */
  delimiter: string;
  /**
   * A record longer than this (in bytes) stops the parse: an unbalanced quote, likely.
   * @default {64 * 1024 * 1024}
   */
  maxRecordBytes?: number;
}

/**
 * Thrown when a single record outgrows {@linkcode CsvParserOptions.maxRecordBytes}: the load
 * stops (exit 1) rather than hold an unbounded record in memory.
 */
export class RecordTooLongError extends LoadError {
  constructor(readonly line: number, limit: number) {
    super(
      `the record starting at line ${line} is longer than ${limit} bytes (an unbalanced quote?)`,
    );
  }
}

const QUOTE = 34;
const LF = 10;
const CR = 13;

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

  constructor(capacity = 64) {
    this.starts = new Int32Array(capacity);
    this.ends = new Int32Array(capacity);
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
      if (ascii) return String.fromCharCode.apply(null, b.subarray(s, e) as unknown as number[]);
    }
    return utf8.decode(this.bytes.subarray(s, e));
  }

  /** Every field as a string. */
  strings(): string[] {
    const out = new Array<string>(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.field(i);
    return out;
  }

  /** A copy that owns its bytes: outlives the handler call. */
  clone(): CsvRecord {
    const r = new CsvRecord(Math.max(this.count, 1));
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

/** See the module documentation. */
export class CsvParser {
  readonly #delim: Uint8Array;
  readonly #dc: number;
  /** The highest byte that can end an unquoted field: one comparison rules most bytes out. */
  readonly #hi: number;
  /** Where records go; may be replaced between pushes. */
  onRecord: RecordHandler;
  readonly #maxRecordBytes: number;
  readonly #rec = new CsvRecord();
  /** Bytes held back because their record is not complete yet (a copy: chunks are reused). */
  #rest: Uint8Array = new Uint8Array(0);
  #restLen = 0;
  /** The bytes being parsed in steps, and how far. */
  #buf: Uint8Array = new Uint8Array(0);
  #len = 0;
  #at = 0;
  #paused = false;
  /** Physical line where the next record starts. */
  #line = 1;
  /** Quoted fields of the current record whose bytes still hold `""` or a closing quote. */
  #fixes = new Int32Array(16);
  #nFix = 0;

  constructor(options: CsvParserOptions, onRecord: RecordHandler) {
    if ([...options.delimiter].length !== 1) {
      throw new Error(`delimiter must be one character, got "${options.delimiter}"`);
    }
    this.#delim = encoder.encode(options.delimiter);
    this.#dc = this.#delim[0];
    this.#hi = Math.max(this.#dc, LF);
    this.onRecord = onRecord;
    this.#maxRecordBytes = options.maxRecordBytes ?? 64 * 1024 * 1024;
  }

  /** The line where the next (not yet complete) record starts. */
  get line(): number {
    return this.#line;
  }

  /** Bytes held back because their record is not complete yet. */
  get pending(): Uint8Array {
    return this.#rest.subarray(0, this.#restLen);
  }

  /** Feeds the next chunk; complete records are handed to the callback before it returns. */
  push(chunk: Uint8Array | string): void {
    this.begin(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
    while (!this.next(Infinity));
  }

  /**
   * Takes the next chunk of UTF-8 bytes, to be parsed by {@linkcode next} in steps. The parser
   * reads the chunk in place, and may rewrite the bytes of records it has parsed (unescaping
   * quotes): the caller must not reuse the chunk's memory until {@linkcode next} says it is done.
   */
  begin(chunk: Uint8Array): void {
    if (this.#restLen === 0) {
      this.#buf = chunk;
      this.#len = chunk.length;
    } else {
      // The unfinished record comes first: one copy of the chunk behind it.
      const need = this.#restLen + chunk.length;
      if (this.#rest.length < need) {
        const next = new Uint8Array(Math.max(need, this.#rest.length * 2));
        next.set(this.#rest.subarray(0, this.#restLen));
        this.#rest = next;
      }
      this.#rest.set(chunk, this.#restLen);
      this.#buf = this.#rest;
      this.#len = need;
      this.#restLen = 0;
    }
    this.#at = 0;
  }

  /**
   * Parses records of the chunk given to {@linkcode begin} until about `bytes` bytes are
   * consumed; true when the chunk is done (its unfinished last record held back).
   */
  next(bytes: number): boolean {
    const used = this.#parse(this.#at, this.#at + bytes, false);
    if (this.#paused) {
      this.#at = used;
      return false;
    }
    this.#holdBack(used);
    return true;
  }

  /** Ends the input: the last record may lack its line break. */
  finish(): void {
    if (this.#restLen === 0) return;
    this.#buf = this.#rest;
    this.#len = this.#restLen;
    this.#restLen = 0;
    this.#parse(0, Infinity, true);
    this.#buf = new Uint8Array(0);
    this.#len = 0;
  }

  #holdBack(used: number): void {
    const left = this.#len - used;
    if (left > 0) {
      if (this.#buf === this.#rest) {
        this.#rest.copyWithin(0, used, this.#len);
      } else {
        if (this.#rest.length < left) this.#rest = new Uint8Array(Math.max(left, 4096) * 2);
        this.#rest.set(this.#buf.subarray(used, this.#len));
      }
    }
    this.#restLen = left;
    this.#buf = new Uint8Array(0);
    this.#len = 0;
    if (left > this.#maxRecordBytes) throw new RecordTooLongError(this.#line, this.#maxRecordBytes);
  }

  #fix(field: number): void {
    if (this.#nFix === this.#fixes.length) {
      const next = new Int32Array(this.#fixes.length * 2);
      next.set(this.#fixes);
      this.#fixes = next;
    }
    this.#fixes[this.#nFix++] = field;
  }

  /**
   * Rewrites the quoted fields of a complete record in place: `""` becomes `"`, and the closing
   * quote before text that follows it is dropped. The text only shrinks, within the field.
   */
  #unquote(rec: CsvRecord): void {
    const b = rec.bytes;
    for (let k = 0; k < this.#nFix; k++) {
      const f = this.#fixes[k];
      const e = rec.ends[f];
      let r = rec.starts[f], w = r;
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
      rec.ends[f] = w;
    }
    this.#nFix = 0;
  }

  /** Does the delimiter (first byte already matched) start at `i`? */
  #delimAt(b: Uint8Array, i: number, len: number): boolean {
    const d = this.#delim;
    if (i + d.length > len) return false;
    for (let k = 1; k < d.length; k++) if (b[i + k] !== d[k]) return false;
    return true;
  }

  /**
   * Parses complete records from `from`, pausing at the first record that starts at or after
   * `stop` (`#paused` says so); returns the position reached.
   */
  #parse(from: number, stop: number, final: boolean): number {
    const b = this.#buf;
    const len = this.#len;
    const dc = this.#dc;
    const dlen = this.#delim.length;
    const hi = this.#hi;
    const rec = this.#rec;
    rec.bytes = b;
    let starts = rec.starts, ends = rec.ends;
    let p = from;
    let line = this.#line;
    this.#paused = false;
    outer: while (p < len) {
      if (p >= stop) {
        this.#paused = true;
        break;
      }
      const recStart = p;
      let extraLines = 0;
      let flags = 0;
      let nf = 0;
      this.#nFix = 0;
      // Blank lines are not records (a trailing newline at EOF is common), but they count.
      let c = b[p];
      if (c === LF) {
        p++;
        line++;
        continue;
      }
      if (c === CR && p + 1 < len && b[p + 1] === LF) {
        p += 2;
        line++;
        continue;
      }
      for (;;) {
        if (nf === starts.length) {
          rec.grow(nf + 1);
          starts = rec.starts;
          ends = rec.ends;
        }
        if (p >= len) {
          // The record so far ended with a delimiter right at the end of input.
          if (!final) {
            p = recStart;
            break outer;
          }
          starts[nf] = p;
          ends[nf++] = p;
          break;
        }
        c = b[p];
        if (c !== QUOTE) {
          // Unquoted: up to the next delimiter or LF (a CR before the LF is not data).
          let i = p;
          for (; i < len; i++) {
            const x = b[i];
            if (x <= hi && (x === LF || (x === dc && (dlen === 1 || this.#delimAt(b, i, len))))) {
              break;
            }
          }
          if (i >= len && !final) {
            p = recStart;
            break outer;
          }
          starts[nf] = p;
          if (i < len && b[i] !== LF) {
            ends[nf++] = i;
            p = i + dlen;
            continue;
          }
          ends[nf++] = i > p && b[i - 1] === CR ? i - 1 : i;
          p = i + 1;
          break;
        }
        // Quoted: find the closing quote (`""` is an escaped quote). Unescaping rewrites the
        // bytes, so it waits until the record is known to be complete (see #unquote).
        let j = p + 1;
        let closed = false;
        let fix = false;
        for (;;) {
          while (j < len && b[j] !== QUOTE) {
            if (b[j] === LF) extraLines++;
            j++;
          }
          if (j + 1 >= len && !final) {
            // No closing quote yet, or cannot tell `""` from a closing quote yet.
            p = recStart;
            break outer;
          }
          if (j >= len) break;
          if (j + 1 < len && b[j + 1] === QUOTE) {
            fix = true;
            j += 2;
            continue;
          }
          closed = true;
          break;
        }
        starts[nf] = p + 1;
        if (!closed) {
          // End of input inside quotes: keep what there is and say so.
          if (fix) this.#fix(nf);
          ends[nf++] = len;
          flags |= UNTERMINATED_QUOTE;
          p = len;
          break;
        }
        const r = j + 1; // after the closing quote
        if (r >= len) {
          if (fix) this.#fix(nf);
          ends[nf++] = j;
          p = r;
          break;
        }
        c = b[r];
        if (c === dc && (dlen === 1 || this.#delimAt(b, r, len))) {
          if (fix) this.#fix(nf);
          ends[nf++] = j;
          p = r + dlen;
          continue;
        }
        if (c === LF) {
          if (fix) this.#fix(nf);
          ends[nf++] = j;
          p = r + 1;
          break;
        }
        if (c === CR) {
          if (r + 1 >= len && !final) {
            p = recStart;
            break outer;
          }
          if (r + 1 >= len || b[r + 1] === LF) {
            if (fix) this.#fix(nf);
            ends[nf++] = j;
            p = r + 2;
            break;
          }
        }
        // Text after the closing quote (`"ab"cd`): kept literally up to the field's end.
        let i = r;
        for (; i < len; i++) {
          const x = b[i];
          if (x <= hi && (x === LF || (x === dc && (dlen === 1 || this.#delimAt(b, i, len))))) {
            break;
          }
        }
        if (i >= len && !final) {
          p = recStart;
          break outer;
        }
        const atDelim = i < len && b[i] !== LF;
        // The range keeps the closing quote; #unquote drops it.
        this.#fix(nf);
        ends[nf++] = !atDelim && i > r && b[i - 1] === CR ? i - 1 : i;
        if (atDelim) {
          p = i + dlen;
          continue;
        }
        p = i + 1;
        break;
      }
      if (this.#nFix) this.#unquote(rec);
      rec.count = nf;
      rec.span = (p > len ? len : p) - recStart;
      this.onRecord(rec, line, flags);
      line += 1 + extraLines;
    }
    this.#line = line;
    return p > len ? len : p;
  }
}
