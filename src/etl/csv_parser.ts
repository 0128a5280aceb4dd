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
import { CsvRecord } from "./csv_record.ts";
import { blankEnd, delimAt, fieldEnd, LineDropper } from "./csv_lines.ts";

export { CsvRecord };

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
  /**
   * Physical lines dropped before the first record, whatever they hold (a preamble above the
   * header). They still count as lines.
   * @default {0}
   */
  skipLines?: number;
  /**
   * Lines that start with this text (where a record would start) are dropped; they still count
   * as lines.
   * @default {none}
   */
  comment?: string;
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

const encoder = new TextEncoder();

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
  /** Of the record being parsed: line breaks inside its quotes, its flags, whether it ended. */
  #extraLines = 0;
  #flags = 0;
  #recordDone = false;
  /** Preamble and comment lines to drop. */
  readonly #drop: LineDropper;

  constructor(options: CsvParserOptions, onRecord: RecordHandler) {
    if ([...options.delimiter].length !== 1) {
      throw new Error(`delimiter must be one character, got "${options.delimiter}"`);
    }
    this.#delim = encoder.encode(options.delimiter);
    this.#dc = this.#delim[0];
    this.#hi = Math.max(this.#dc, LF);
    this.onRecord = onRecord;
    this.#maxRecordBytes = options.maxRecordBytes ?? 64 * 1024 * 1024;
    this.#drop = new LineDropper(options.skipLines ?? 0, options.comment);
  }

  /** Comment lines dropped so far. */
  get commentLines(): number {
    return this.#drop.comments;
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

  /**
   * Does the delimiter (its first byte already matched) start at `b[i]`? A method, not the
   * module's function, in #parse's byte loop: see "Loader tuning" in bench/findings.md.
   */
  #delimAt(b: Uint8Array, i: number, len: number): boolean {
    return delimAt(b, i, len, this.#delim);
  }

  /**
   * Parses complete records from `from`, pausing at the first record that starts at or after
   * `stop` (`#paused` says so); returns the position reached.
   */
  #parse(from: number, stop: number, final: boolean): number {
    const b = this.#buf;
    const len = this.#len;
    const dc = this.#dc;
    const delim = this.#delim;
    const dlen = delim.length;
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
      // Blank lines are not records (a trailing newline at EOF is common), nor are preamble and
      // comment lines, but they count.
      const next = this.#drop.at(b[p]) ? this.#drop.line(b, p, len, final) : blankEnd(b, p, len);
      if (next !== p) {
        if (next < 0) break outer;
        p = next;
        line++;
        continue;
      }
      let quoted = false;
      let nf = 0;
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
          starts[nf] = ends[nf] = p;
          nf++;
          break;
        }
        if (b[p] !== QUOTE) {
          // Unquoted: up to the next delimiter or LF (a CR before the LF is not data). The loop
          // is fieldEnd() written out: the one loop nearly every byte of the file goes through.
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
        if (!quoted) {
          quoted = true;
          this.#extraLines = 0;
          this.#flags = 0;
          rec.clearQuoted();
        }
        p = this.#quoted(p, nf++, final);
        if (p < 0) {
          p = recStart;
          break outer;
        }
        if (this.#recordDone) break;
        continue;
      }
      rec.count = nf;
      rec.span = (p > len ? len : p) - recStart;
      if (quoted) {
        rec.unquote();
        this.onRecord(rec, line, this.#flags);
        line += 1 + this.#extraLines;
      } else {
        this.onRecord(rec, line, 0);
        line++;
      }
    }
    this.#line = line;
    return p > len ? len : p;
  }

  /**
   * Parses the quoted field `nf` that starts at `p`: finds the closing quote (`""` is an
   * escaped quote) and whatever follows it up to the field's end. Returns where the next field
   * starts (`#recordDone` says whether the record ended), or -1 when the record is not complete
   * in the bytes there are. Unescaping rewrites the bytes, so it waits until the record is known
   * to be complete (see {@linkcode CsvRecord.unquote}).
   */
  #quoted(p: number, nf: number, final: boolean): number {
    const b = this.#buf, len = this.#len, rec = this.#rec;
    const dc = this.#dc, dlen = this.#delim.length;
    let j = p + 1;
    let fix = false;
    for (;;) {
      while (j < len && b[j] !== QUOTE) {
        if (b[j] === LF) this.#extraLines++;
        j++;
      }
      // No closing quote yet, or one at the very end that might be the first of `""`.
      if (j + 1 >= len && !final) return -1;
      if (j + 1 >= len || b[j + 1] !== QUOTE) break;
      fix = true;
      j += 2;
    }
    rec.starts[nf] = p + 1;
    if (fix) rec.markQuoted(nf);
    this.#recordDone = true;
    if (j >= len) {
      // End of input inside quotes: keep what there is and say so.
      rec.ends[nf] = len;
      this.#flags |= UNTERMINATED_QUOTE;
      return len;
    }
    rec.ends[nf] = j;
    const r = j + 1; // after the closing quote
    if (r >= len) return r;
    const c = b[r];
    if (c === dc && (dlen === 1 || delimAt(b, r, len, this.#delim))) {
      this.#recordDone = false;
      return r + dlen;
    }
    if (c === LF) return r + 1;
    if (c === CR) {
      if (r + 1 >= len && !final) return -1;
      if (r + 1 >= len || b[r + 1] === LF) return r + 2;
    }
    // Text after the closing quote (`"ab"cd`): kept literally up to the field's end. The range
    // keeps the closing quote; CsvRecord.unquote drops it.
    const i = fieldEnd(b, r, len, dc, this.#hi, this.#delim);
    if (i >= len && !final) return -1;
    if (!fix) rec.markQuoted(nf);
    if (i < len && b[i] !== LF) {
      rec.ends[nf] = i;
      this.#recordDone = false;
      return i + dlen;
    }
    rec.ends[nf] = i > r && b[i - 1] === CR ? i - 1 : i;
    return i + 1;
  }
}
