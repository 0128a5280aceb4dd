/**
 * The input side: opens a CSV file, decodes its bytes as they stream (UTF-8 by default, BOM
 * stripped, invalid bytes an error naming the line), sniffs the delimiter, reads the header and
 * hands every later record to a callback. Memory holds one chunk and one unfinished record,
 * whatever the file's size.
 *
 * @example
 * ```ts
 * const src = await CsvSource.open({ path: "people.csv" });
 * console.log(src.header, src.delimiter);
 * await src.stream((record, line) => console.log(line, record.strings()));
 * ```
 */
import { setImmediate } from "node:timers";
import { CsvParser, type CsvRecord, type RecordHandler } from "./csv_parser.ts";
import { Utf8Chunks } from "./utf8_input.ts";
import { InputError, UsageError } from "../errors.ts";

/** Delimiters the sniffer considers, in order of preference on a tie. */
export const DELIMITERS = [",", ";", "\t", "|"] as const;

/** Options for {@linkcode CsvSource.open}. */
export interface CsvSourceOptions {
  path: string;
  /** A WHATWG encoding label: `utf-8` (default), `latin1`, `windows-1252`, ... */
  encoding?: string;
  /** One character; sniffed from the header line when absent. */
  delimiter?: string;
  /** Bytes per read. */
  chunkSize?: number;
}

/** Normalises an encoding label, or throws a {@linkcode UsageError} naming it. */
export function checkEncoding(label: string | undefined): string {
  const name = (label ?? "utf-8").trim().toLowerCase();
  try {
    return new TextDecoder(name).encoding;
  } catch {
    throw new UsageError(`unknown encoding "${label}" (try utf-8 or latin1)`);
  }
}

/** Picks the candidate delimiter that occurs most often (outside quotes) in the first line. */
export function sniffDelimiter(text: string): string {
  const counts = new Map<string, number>(DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === "\n" || ch === "\r")) break;
    else if (!quoted && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
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

function countNewlines(b: Uint8Array): number {
  let n = 0;
  for (let k = b.indexOf(10); k !== -1; k = b.indexOf(10, k + 1)) n++;
  return n;
}

interface EarlyRecord {
  record: CsvRecord;
  line: number;
  flags: number;
}

/** See the module documentation. */
export class CsvSource {
  /** The header's fields. */
  readonly header: string[];
  readonly delimiter: string;
  /** The file's size in bytes. */
  readonly size: number;
  readonly path: string;
  readonly encoding: string;
  #file: Deno.FsFile;
  #decoder: Utf8Chunks;
  #parser: CsvParser;
  #buf: Uint8Array;
  #bytesRead: number;
  #early: EarlyRecord[];
  #box: { handler: RecordHandler };
  #stopped = false;
  #done = false;

  private constructor(init: {
    path: string;
    encoding: string;
    file: Deno.FsFile;
    decoder: Utf8Chunks;
    parser: CsvParser;
    buf: Uint8Array;
    bytesRead: number;
    header: string[];
    delimiter: string;
    size: number;
    early: EarlyRecord[];
    done: boolean;
    box: { handler: RecordHandler };
  }) {
    this.path = init.path;
    this.encoding = init.encoding;
    this.#file = init.file;
    this.#decoder = init.decoder;
    this.#parser = init.parser;
    this.#buf = init.buf;
    this.#bytesRead = init.bytesRead;
    this.header = init.header;
    this.delimiter = init.delimiter;
    this.size = init.size;
    this.#early = init.early;
    this.#done = init.done;
    this.#box = init.box;
  }

  /**
   * Opens the file and reads its header. Throws an {@linkcode InputError} (exit 2) when the file
   * is missing, unreadable, empty or not in its encoding.
   */
  static async open(options: CsvSourceOptions): Promise<CsvSource> {
    const { path } = options;
    const encoding = checkEncoding(options.encoding);
    const d = options.delimiter;
    if (d !== undefined && (d.length !== 1 || d === '"' || d === "\n" || d === "\r")) {
      throw new UsageError(
        `--delimiter must be one character other than a quote or a line break, got ${
          JSON.stringify(d)
        }`,
      );
    }
    let file: Deno.FsFile;
    let size: number;
    try {
      const stat = await Deno.stat(path);
      if (stat.isDirectory) throw new InputError(`"${path}" is a directory, not a CSV file`);
      size = stat.size;
      file = await Deno.open(path, { read: true });
    } catch (err) {
      if (err instanceof InputError) throw err;
      if (err instanceof Deno.errors.NotFound) throw new InputError(`file not found: "${path}"`);
      if (err instanceof Deno.errors.PermissionDenied) {
        throw new InputError(`cannot read "${path}": permission denied`);
      }
      throw new InputError(`cannot read "${path}": ${(err as Error).message}`);
    }
    const decoder = new Utf8Chunks(encoding);
    // 64 KiB reads (fewer, cheaper I/O operations), parsed in slices (see SLICE_CHARS).
    const buf = new Uint8Array(options.chunkSize ?? (64 << 10));
    let header: string[] | undefined;
    const early: EarlyRecord[] = [];
    let parser: CsvParser | undefined;
    let delimiter = options.delimiter;
    let bytesRead = 0;
    let done = false;
    // The parser calls through this box, so that stream() can take the records over later.
    const box: { handler: RecordHandler } = {
      handler: (record, line, flags) => {
        if (header === undefined) header = record.strings();
        else early.push({ record: record.clone(), line, flags });
      },
    };
    const onRecord: RecordHandler = (record, line, flags) => box.handler(record, line, flags);
    try {
      while (header === undefined) {
        const chunk = await readChunk(file, buf, path);
        if (chunk === null) {
          const tail = decodeOrThrow(decoder, undefined, parser, path);
          parser ??= new CsvParser(
            { delimiter: delimiter ?? sniffDelimiter(textOf(tail)) },
            onRecord,
          );
          if (tail.length) parser.push(tail);
          parser.finish();
          done = true;
          break;
        }
        bytesRead += chunk.length;
        const bytes = decodeOrThrow(decoder, chunk, parser, path);
        if (!parser) {
          delimiter ??= sniffDelimiter(textOf(bytes));
          parser = new CsvParser({ delimiter }, onRecord);
        }
        parser.push(bytes);
      }
    } catch (err) {
      file.close();
      throw err;
    }
    if (header === undefined) {
      file.close();
      throw new InputError(`"${path}" is empty: no header row`);
    }
    const source = new CsvSource({
      path,
      encoding,
      file,
      decoder,
      parser: parser!,
      buf,
      bytesRead,
      header,
      delimiter: delimiter ?? ",",
      size,
      early,
      done,
      box,
    });
    return source;
  }

  /** Bytes read so far (for progress). */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** Ends {@linkcode stream} after the current chunk (the sample for inference is complete). */
  stop(): void {
    this.#stopped = true;
  }

  /**
   * Hands every data record (after the header) to `onRecord`, in order. The fields array is
   * reused from record to record: copy it to keep it. `afterChunk` runs after
   * each chunk's records, and is awaited: the consumer's back-pressure.
   */
  async stream(
    onRecord: RecordHandler,
    afterChunk?: (bytesRead: number) => Promise<void> | void,
  ): Promise<void> {
    const parser = this.#parser;
    // Records parsed along with the header come first.
    for (const r of this.#early) {
      if (this.#stopped) break;
      onRecord(r.record, r.line, r.flags);
    }
    this.#early = [];
    this.#box.handler = onRecord;
    parser.onRecord = onRecord;
    let next: Promise<Uint8Array | null> | undefined;
    try {
      if (afterChunk) await afterChunk(this.#bytesRead);
      // Two buffers: the next read runs (in the runtime's I/O threads) while this chunk is
      // parsed, so the parser does not wait out each read's round trip.
      let spare: Uint8Array = new Uint8Array(this.#buf.length);
      next = this.#done ? undefined : readChunk(this.#file, this.#buf, this.path);
      while (!this.#done && !this.#stopped) {
        const chunk = await next!;
        if (chunk !== null) {
          const used = this.#buf;
          this.#buf = spare;
          spare = used;
          next = readChunk(this.#file, this.#buf, this.path);
        }
        if (chunk === null) {
          const tail = decodeOrThrow(this.#decoder, undefined, parser, this.path);
          if (tail.length) parser.push(tail);
          parser.finish();
          this.#done = true;
        } else {
          this.#bytesRead += chunk.length;
          // In steps, with a turn of the event loop between them (see SLICE_CHARS).
          parser.begin(decodeOrThrow(this.#decoder, chunk, parser, this.path));
          while (!parser.next(SLICE_CHARS)) {
            if (afterChunk) await afterChunk(this.#bytesRead);
            await yieldToEventLoop();
            if (this.#stopped) break;
          }
        }
        if (afterChunk) await afterChunk(this.#bytesRead);
      }
    } finally {
      // A read still in flight must settle before its file is closed.
      if (next) await next.catch(() => null);
      this.close();
    }
  }

  /** Closes the file (also done when {@linkcode stream} ends). */
  close(): void {
    try {
      this.#file.close();
    } catch {
      // already closed
    }
  }
}

/**
 * Characters parsed between two turns of the event loop. Measured: a consumer's socket writes
 * (the COPY stream) only move on during those turns; parsing a whole 64 KiB chunk at a time
 * left PostgreSQL waiting for data (1M rows: 2.4-2.9 s), 4 Ki-character slices keep it fed
 * (1.8-1.9 s).
 */
const SLICE_CHARS = 4096;

/** Resolves after a turn of the event loop, I/O callbacks included (~2 µs). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function readChunk(
  file: Deno.FsFile,
  buf: Uint8Array,
  path: string,
): Promise<Uint8Array | null> {
  let n: number | null;
  try {
    n = await file.read(buf);
  } catch (err) {
    throw new InputError(`cannot read "${path}": ${(err as Error).message}`);
  }
  // A copy is not needed: the decoder copies into a string before the buffer is reused.
  return n === null ? null : buf.subarray(0, n);
}

/** The start of the input as text, for the delimiter sniffer. */
function textOf(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes.subarray(0, 64 << 10));
}

/** The chunk as UTF-8 for the parser (`undefined`: the end of input); bad bytes name the line. */
function decodeOrThrow(
  decoder: Utf8Chunks,
  chunk: Uint8Array | undefined,
  parser: CsvParser | undefined,
  path: string,
): Uint8Array {
  const r = chunk ? decoder.next(chunk) : decoder.end();
  if (r.bad < 0) return r.bytes;
  let line = parser ? parser.line + countNewlines(parser.pending) : 1;
  if (chunk) { for (let i = 0; i < r.bad && i < chunk.length; i++) if (chunk[i] === 10) line++; }
  throw new InputError(
    `"${path}": invalid ${decoder.encoding} bytes at line ${line}${
      chunk ? "" : " (the file ends inside a character)"
    }`,
  );
}
