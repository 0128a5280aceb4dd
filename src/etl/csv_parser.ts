/**
 * An incremental RFC 4180 parser over decoded text chunks. Written for this loader rather than
 * papaparse because the loader needs what papaparse does not give cheaply: the physical line
 * where each record starts (records may span lines), stray quotes kept literally, and no
 * per-row objects. It finds field ends with `indexOf`, so clean unquoted data runs at memchr
 * speed.
 *
 * @example
 * ```ts
 * const p = new CsvParser({ delimiter: "," }, (fields, line) => console.log(line, fields));
 * p.push('a,b\n1,"x\ny"\n');
 * p.finish(); // logs 1 ["a","b"], then 2 ["1","x\ny"]
 * ```
 *
 * @module
 */
import { LoadError } from "../errors.ts";

/** Called once per record with its fields and the physical line (1-based) where it starts. */
export type RecordHandler = (fields: string[], line: number, flags: number) => void;

/** `flags` bit: the record ended inside an unterminated quoted field (end of input). */
export const UNTERMINATED_QUOTE = 1;

/** Options for {@linkcode CsvParser}. */
export interface CsvParserOptions {
  /** One character. */
  delimiter: string;
  /**
   * Hand every record the same array (refilled): saves an allocation per record. The callback
   * must copy the array to keep it.
   */
  reuseFields?: boolean;
  /** A record longer than this (in UTF-16 units) stops the parse: an unbalanced quote, likely. */
  maxRecordChars?: number;
}

/**
 * Thrown when a single record outgrows {@linkcode CsvParserOptions.maxRecordChars}: the load
 * stops (exit 1) rather than hold an unbounded record in memory.
 */
export class RecordTooLongError extends LoadError {
  constructor(readonly line: number, limit: number) {
    super(
      `the record starting at line ${line} is longer than ${limit} characters (an unbalanced quote?)`,
    );
  }
}

const QUOTE = 34;
const LF = 10;
const CR = 13;

/** See the module documentation. */
export class CsvParser {
  readonly #delim: string;
  readonly #delimCode: number;
  /** Where records go; may be replaced between pushes. */
  onRecord: RecordHandler;
  readonly #maxRecordChars: number;
  readonly #reuse: string[] | undefined;
  #rest = "";
  /** The chunk being parsed in steps, and how far. */
  #text = "";
  #at = 0;
  #paused = false;

  /** Physical line where the next record starts. */
  #line = 1;

  constructor(options: CsvParserOptions, onRecord: RecordHandler) {
    if (options.delimiter.length !== 1) {
      throw new Error(`delimiter must be one character, got "${options.delimiter}"`);
    }
    this.#delim = options.delimiter;
    this.#delimCode = options.delimiter.charCodeAt(0);
    this.onRecord = onRecord;
    this.#maxRecordChars = options.maxRecordChars ?? 64 * 1024 * 1024;
    this.#reuse = options.reuseFields ? [] : undefined;
  }

  /** The line where the next (not yet complete) record starts. */
  get line(): number {
    return this.#line;
  }

  /** Text held back because its record is not complete yet. */
  get pending(): string {
    return this.#rest;
  }

  /** Feeds the next chunk; complete records are handed to the callback before it returns. */
  push(chunk: string): void {
    this.begin(chunk);
    while (!this.next(Infinity));
  }

  /**
   * Takes the next chunk, to be parsed by {@linkcode next} in steps. Parsing one string in
   * steps, rather than pushing slices of it, saves copying each slice onto the held-back text.
   */
  begin(chunk: string): void {
    this.#text = this.#rest.length ? this.#rest + chunk : chunk;
    this.#rest = "";
    this.#at = 0;
  }

  /**
   * Parses records of the chunk given to {@linkcode begin} until about `chars` characters are
   * consumed; true when the chunk is done (its unfinished last record held back).
   */
  next(chars: number): boolean {
    const s = this.#text;
    const used = this.#parse(s, this.#at, this.#at + chars, false);
    if (this.#paused) {
      this.#at = used;
      return false;
    }
    this.#rest = used === s.length ? "" : s.slice(used);
    this.#text = "";
    if (this.#rest.length > this.#maxRecordChars) {
      throw new RecordTooLongError(this.#line, this.#maxRecordChars);
    }
    return true;
  }

  /** Ends the input: the last record may lack its line break. */
  finish(): void {
    const s = this.#rest;
    this.#rest = "";
    if (s.length) this.#parse(s, 0, Infinity, true);
  }

  /**
   * Parses complete records of `s` from `from`, pausing at the first record that starts at or
   * after `stop` (`#paused` says so); returns the position reached.
   */
  #parse(s: string, from: number, stop: number, final: boolean): number {
    const len = s.length;
    const delim = this.#delim;
    const dc = this.#delimCode;
    const onRecord = this.onRecord;
    const reuse = this.#reuse;
    let p = from;
    let nl = -1; // cached position of the next LF at or after p (or len when none and final)
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
      const fields: string[] = reuse ?? [];
      let nf = 0;
      // Blank lines are not records (a trailing newline at EOF is common), but they count.
      let c0 = s.charCodeAt(p);
      if (c0 === LF) {
        p++;
        line++;
        continue;
      }
      if (c0 === CR && p + 1 < len && s.charCodeAt(p + 1) === LF) {
        p += 2;
        line++;
        continue;
      }
      for (;;) {
        if (p >= len) {
          // The record so far ended with a delimiter right at the end of input.
          if (!final) {
            p = recStart;
            break outer;
          }
          fields[nf++] = "";
          break;
        }
        c0 = s.charCodeAt(p);
        if (c0 === QUOTE) {
          let q = p + 1;
          let val = "";
          let closed = false;
          for (;;) {
            const j = s.indexOf('"', q);
            if (j === -1) break;
            if (j + 1 >= len && !final) break; // cannot tell "" from a closing quote yet
            if (s.charCodeAt(j + 1) === QUOTE) {
              val += s.slice(q, j + 1);
              q = j + 2;
              continue;
            }
            val += s.slice(q, j);
            // Newlines inside the quotes belong to this record's physical lines.
            for (let k = s.indexOf("\n", p); k !== -1 && k < j; k = s.indexOf("\n", k + 1)) {
              extraLines++;
            }
            p = j + 1;
            closed = true;
            break;
          }
          if (!closed) {
            if (!final) {
              p = recStart;
              break outer;
            }
            // End of input inside quotes: keep what there is and say so.
            val += s.slice(q);
            for (let k = s.indexOf("\n", p); k !== -1; k = s.indexOf("\n", k + 1)) extraLines++;
            fields[nf++] = val;
            flags |= UNTERMINATED_QUOTE;
            p = len;
            break;
          }
          if (p >= len) {
            if (!final) {
              p = recStart;
              break outer;
            }
            fields[nf++] = val;
            break;
          }
          const c = s.charCodeAt(p);
          if (c === dc) {
            fields[nf++] = val;
            p++;
            continue;
          }
          if (c === LF) {
            fields[nf++] = val;
            p++;
            break;
          }
          if (c === CR) {
            if (p + 1 >= len && !final) {
              p = recStart;
              break outer;
            }
            if (p + 1 >= len || s.charCodeAt(p + 1) === LF) {
              fields[nf++] = val;
              p += 2;
              break;
            }
          }
          // Text after the closing quote (`"ab"cd`): kept literally up to the field's end.
          if (nl < p) {
            nl = s.indexOf("\n", p);
            if (nl === -1) {
              if (!final) {
                p = recStart;
                break outer;
              }
              nl = len;
            }
          }
          const d = s.indexOf(delim, p);
          if (d !== -1 && d < nl) {
            fields[nf++] = val + s.slice(p, d);
            p = d + 1;
            continue;
          }
          const e = nl > p && s.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
          fields[nf++] = val + s.slice(p, e);
          p = nl + 1;
          break;
        }
        // Unquoted field: ends at the next delimiter or line break; quotes inside are literal.
        if (nl < p) {
          nl = s.indexOf("\n", p);
          if (nl === -1) {
            if (!final) {
              p = recStart;
              break outer;
            }
            nl = len;
          }
        }
        const d = s.indexOf(delim, p);
        if (d !== -1 && d < nl) {
          fields[nf++] = s.slice(p, d);
          p = d + 1;
          continue;
        }
        const e = nl > p && s.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
        fields[nf++] = s.slice(p, e);
        p = nl + 1;
        break;
      }
      if (reuse) fields.length = nf;
      onRecord(fields, line, flags);
      line += 1 + extraLines;
    }
    this.#line = line;
    return p > len ? len : p;
  }
}
