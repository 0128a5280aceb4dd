/**
 * The CSV side of the input: decodes a {@linkcode ByteInput}'s bytes as they stream (UTF-8 by
 * default, BOM stripped, invalid bytes an error naming the line), sniffs the delimiter, reads the
 * header and hands every later record to a callback. Memory holds one chunk and one unfinished
 * record, whatever the input's size. A source can read ahead a sample (for inference) that it
 * still hands over in order, and read chosen records a second time (those the database refused).
 *
 * @example
 * ```ts
 * const src = await CsvSource.open({ path: "people.csv" });
 * console.log(src.header, src.delimiter);
 * await src.stream((record, line) => console.log(line, record.strings()));
 * ```
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { CsvParser, type CsvRecord, type RecordHandler } from "./csv_parser.ts";
import { checkEncoding, ChunkDecoder, countNewlines } from "./decoding.ts";
import { InputError } from "../errors.ts";
import { type ByteInput, openInput } from "./input.ts";
import { checkDialect, findHeader, sniffDelimiter } from "./sniff.ts";

/** Options for {@linkcode CsvSource.open}. */
export interface CsvSourceOptions {
  /** The input, as `FILE` names it (see {@linkcode openInput}): a file, or `-`. */
  path: string;
  /**
   * What `-` reads.
   * @default {the process's standard input}
   */
  stdin?: ReadableStream<Uint8Array>;
  /**
   * A WHATWG encoding label: `utf-8`, `latin1`, `windows-1252`, ...
   * @default {"utf-8"}
   */
  encoding?: string;
  /**
   * One character.
   * @default {sniffed from the header line}
   */
  delimiter?: string;
  /**
   * Bytes per read.
   * @default {65536}
   */
  chunkSize?: number;
  /**
   * A record longer than this (in bytes) stops the load with exit 1: an unbalanced quote,
   * likely, that would otherwise hold the rest of the input in memory.
   * @default {64 * 1024 * 1024}
   */
  maxRecordBytes?: number;
  /**
   * Physical lines before the header (a preamble), forced; 0 reads the header from the first
   * line.
   * @default {detected: title lines and `#` comments above the header (see `findHeader`)}
   */
  skipLines?: number;
  /**
   * Lines that start with this are dropped wherever they are (they still count as lines).
   * @default {none}
   */
  comment?: string;
}

/** A record parsed before {@linkcode CsvSource.stream} took over: with the header, or a sample. */
interface EarlyRecord {
  record: CsvRecord;
  line: number;
  flags: number;
}

/** What a source was opened with, checked; a second pass over the input reuses it. */
interface SourceSettings {
  encoding: string;
  delimiter: string | undefined;
  chunkSize: number;
  maxRecordBytes: number | undefined;
  skipLines: number | undefined;
  comment: string | undefined;
}

/** Bytes at the start of the input in which the header is looked for (see `findHeader`). */
const HEAD_BYTES = 64 << 10;

/**
 * Early records handed over between two checks of the consumer's back-pressure: about as many
 * as a slice of {@linkcode SLICE_BYTES} holds.
 */
const EARLY_SLICE = 32;

/**
 * A CSV input opened and its header read; {@linkcode stream} hands over the records after it.
 * Disposing of it closes the input.
 */
export class CsvSource implements Disposable {
  readonly encoding: string;
  readonly #input: ByteInput;
  readonly #settings: SourceSettings;
  readonly #decoder: ChunkDecoder;
  #parser: CsvParser | undefined;
  #buf: Uint8Array;
  #early: EarlyRecord[] = [];
  #header: string[] | undefined;
  #delimiter = ",";
  /** The input's first bytes, gathered until the header can be looked for in them. */
  #head: Uint8Array | undefined = new Uint8Array(0);
  #preambleLines = 0;
  #stopped = false;
  #done = false;

  private constructor(input: ByteInput, settings: SourceSettings) {
    this.#input = input;
    this.#settings = settings;
    this.encoding = settings.encoding;
    this.#decoder = new ChunkDecoder({ encoding: settings.encoding, name: input.name });
    // 64 KiB reads (fewer, cheaper I/O operations), parsed in slices (see SLICE_BYTES).
    this.#buf = new Uint8Array(settings.chunkSize);
  }

  /**
   * Opens the input and reads its header. Throws an {@linkcode InputError} (exit 2) when the
   * input is missing, unreadable, empty or not in its encoding, a {@linkcode UsageError} for a
   * bad encoding or delimiter.
   */
  static async open(options: CsvSourceOptions): Promise<CsvSource> {
    const settings: SourceSettings = {
      encoding: checkEncoding(options.encoding),
      delimiter: options.delimiter,
      chunkSize: options.chunkSize ?? (64 << 10),
      maxRecordBytes: options.maxRecordBytes,
      skipLines: options.skipLines,
      comment: options.comment,
    };
    checkDialect(options);
    return await CsvSource.#start(await openInput(options.path, options), settings);
  }

  static async #start(input: ByteInput, settings: SourceSettings): Promise<CsvSource> {
    const source = new CsvSource(input, settings);
    try {
      while (source.#header === undefined && await source.#readAhead());
      if (source.#header === undefined) {
        throw new InputError(`"${input.name}" is empty: no header row`);
      }
      return source;
    } catch (err) {
      source.close();
      throw err;
    }
  }

  /** The header's fields. */
  get header(): readonly string[] {
    return this.#header!;
  }

  /** The delimiter given, or sniffed from the header line. */
  get delimiter(): string {
    return this.#delimiter;
  }

  /** Physical lines skipped before the header: a preamble (title lines, comments). */
  get preambleLines(): number {
    return this.#preambleLines;
  }

  /** Comment lines dropped so far (see {@linkcode CsvSourceOptions.comment}). */
  get commentLines(): number {
    return this.#parser?.commentLines ?? 0;
  }

  /** What the input is called in messages. */
  get name(): string {
    return this.#input.name;
  }

  /** The input's size in bytes as stored (compressed, for gzip); undefined for a pipe. */
  get size(): number | undefined {
    return this.#input.size;
  }

  /** {@linkcode recordsAt} works: the input can be read a second time (not a pipe). */
  get canReopen(): boolean {
    return this.#input.canReopen;
  }

  /** Bytes of the input read so far (for progress). */
  get bytesRead(): number {
    return this.#input.bytesRead;
  }

  /** Identifies the input's content: the key of its recorded load. */
  fingerprint(): Promise<string> {
    return this.#input.fingerprint();
  }

  /**
   * The first `n` data records, or all of them when there are fewer. They are read ahead and
   * kept: {@linkcode stream} still hands them over first, so the input is read once.
   */
  async sample(n: number): Promise<readonly (readonly string[])[]> {
    while (this.#early.length < n && await this.#readAhead());
    return this.#early.slice(0, n).map((r) => r.record.strings());
  }

  /**
   * {@linkcode sample} as the parser's records (the kept copies: read them, do not change them),
   * for inference on the values' bytes without a string per value.
   */
  async sampleRecords(n: number): Promise<readonly CsvRecord[]> {
    while (this.#early.length < n && await this.#readAhead());
    return this.#early.slice(0, n).map((r) => r.record);
  }

  /**
   * Reads the records that start at the given lines again, in a second pass over the input:
   * the rows the database refused, for the rejects file. Rare, so a second pass beats holding
   * every row's text until its batch commits.
   */
  async recordsAt(lines: readonly number[]): Promise<Map<number, string[]>> {
    const wanted = new Set(lines);
    const last = Math.max(...lines);
    const found = new Map<number, string[]>();
    using again = await CsvSource.#start(await this.#input.reopen(), {
      ...this.#settings,
      delimiter: this.delimiter,
      skipLines: this.#preambleLines,
    });
    await again.stream((record, line) => {
      if (wanted.has(line)) found.set(line, record.strings());
      if (line >= last) again.stop();
    });
    return found;
  }

  /** Ends {@linkcode stream} after the current slice of records. */
  stop(): void {
    this.#stopped = true;
  }

  /**
   * Hands every data record (after the header) to `onRecord`, in order. The record is a view
   * valid during the call only: clone it to keep it. `afterSlice` runs every few records and is
   * awaited: the consumer's back-pressure, and the turns of the event loop its I/O needs.
   */
  async stream(
    onRecord: RecordHandler,
    afterSlice?: () => Promise<void> | void,
  ): Promise<void> {
    const parser = this.#parser!;
    const early = this.#early;
    this.#early = [];
    for (let i = 0; i < early.length && !this.#stopped; i++) {
      const r = early[i];
      onRecord(r.record, r.line, r.flags);
      if (afterSlice && i % EARLY_SLICE === EARLY_SLICE - 1) await afterSlice();
    }
    parser.onRecord = onRecord;
    let next: Promise<Uint8Array | null> | undefined;
    try {
      if (afterSlice) await afterSlice();
      // Two buffers: the next read runs (in the runtime's I/O threads) while this chunk is
      // parsed, so the parser does not wait out each read's round trip.
      let spare: Uint8Array = new Uint8Array(this.#buf.length);
      next = this.#done ? undefined : this.#input.read(this.#buf);
      while (!this.#done && !this.#stopped) {
        const chunk = await next!;
        if (chunk !== null) {
          const used = this.#buf;
          this.#buf = spare;
          spare = used;
          next = this.#input.read(this.#buf);
        }
        if (chunk === null) {
          this.#finish(parser, this.#decode(undefined));
        } else {
          // In slices, with a turn of the event loop between them (see SLICE_BYTES).
          parser.begin(this.#decode(chunk));
          while (!parser.next(SLICE_BYTES)) {
            if (afterSlice) await afterSlice();
            await yieldToEventLoop();
            if (this.#stopped) break;
          }
        }
        if (afterSlice) await afterSlice();
      }
    } finally {
      // A read still in flight must settle before its input is closed.
      if (next) await next.catch(() => null);
      this.close();
    }
  }

  /** Closes the input (also done when {@linkcode stream} ends). */
  close(): void {
    this.#input.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Until `stream` takes over: the first record is the header, the rest wait in `#early`. */
  #keep: RecordHandler = (record, line, flags) => {
    if (this.#header === undefined) this.#header = record.strings();
    else this.#early.push({ record: record.clone(), line, flags });
  };

  /** Reads and parses one more chunk whole, keeping its records; false at the end. */
  async #readAhead(): Promise<boolean> {
    if (this.#done) return false;
    const chunk = await this.#input.read(this.#buf);
    let bytes = this.#decode(chunk ?? undefined);
    if (this.#head !== undefined) {
      // The header is looked for in the first HEAD_BYTES (a pipe may hand over less at first).
      bytes = concat(this.#head, bytes);
      if (chunk !== null && bytes.length < HEAD_BYTES) {
        this.#head = bytes;
        return true;
      }
      this.#head = undefined;
      this.#parser = this.#newParser(bytes, chunk === null);
    }
    const parser = this.#parser!;
    if (chunk === null) {
      this.#finish(parser, bytes);
      return false;
    }
    parser.push(bytes);
    return true;
  }

  /** The parser, once the header's place is known from the input's first bytes. */
  #newParser(first: Uint8Array, complete: boolean): CsvParser {
    const { delimiter, skipLines, comment } = this.#settings;
    const text = new TextDecoder().decode(first.subarray(0, HEAD_BYTES));
    const place = findHeader(text, { delimiter, comment, complete });
    this.#preambleLines = skipLines ?? place.skip;
    this.#delimiter = delimiter ??
      (skipLines === undefined
        ? place.delimiter
        : sniffDelimiter(text.split("\n", skipLines + 1)[skipLines] ?? ""));
    return new CsvParser({
      delimiter: this.#delimiter,
      maxRecordBytes: this.#settings.maxRecordBytes,
      skipLines: this.#preambleLines,
      comment,
    }, this.#keep);
  }

  /** Ends the input: `tail` is what the decoder still held. */
  #finish(parser: CsvParser, tail: Uint8Array): void {
    if (tail) parser.push(tail);
    parser.finish();
    this.#done = true;
  }

  /** Decodes a chunk (the end of the input when undefined). */
  #decode(chunk: Uint8Array | undefined): Uint8Array {
    return this.#decoder.decode(chunk, () => {
      const parser = this.#parser;
      if (!parser) return 1 + countNewlines(this.#head ?? new Uint8Array(0));
      return parser.line + countNewlines(parser.pending);
    });
  }
}

/** `a` then `b`, in new memory (`b` may be a view of a read buffer that is reused). */
function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Bytes parsed between two turns of the event loop: a consumer's socket writes (the COPY
 * stream, in pieces of 64 KiB) only move on during those turns, so a whole chunk at a time
 * leaves PostgreSQL waiting for data; each turn costs CPU, so 4 slices per chunk, not 16
 * (bench/findings.md, "Loader tuning").
 */
const SLICE_BYTES = 16 << 10;

/** Resolves after a turn of the event loop, I/O callbacks included. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
