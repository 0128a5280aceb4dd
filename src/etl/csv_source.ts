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
 * await src.stream((fields, line) => console.log(line, fields));
 * ```
 */
import { setImmediate } from "node:timers";
import { CsvParser, type RecordHandler } from "./csv_parser.ts";
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

/** Byte offset of the first invalid UTF-8 sequence in `b` (or `b.length` when none). */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  // A sequence begun in the previous chunk ends in up to three continuation bytes here.
  while (i < 3 && i < b.length && (b[i] & 0xc0) === 0x80) i++;
  while (i < b.length) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let n: number, min: number;
    if (c >= 0xc2 && c <= 0xdf) [n, min] = [1, 0x80];
    else if (c >= 0xe0 && c <= 0xef) [n, min] = [2, 0x800];
    else if (c >= 0xf0 && c <= 0xf4) [n, min] = [3, 0x10000];
    else return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      if (i + k >= b.length) return b.length;
      const cc = b[i + k];
      if ((cc & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return b.length;
}

function countNewlines(s: string): number {
  let n = 0;
  for (let k = s.indexOf("\n"); k !== -1; k = s.indexOf("\n", k + 1)) n++;
  return n;
}

interface EarlyRecord {
  fields: string[];
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
  #decoder: TextDecoder;
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
    decoder: TextDecoder;
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
    const decoder = new TextDecoder(encoding, { fatal: true });
    // 64 KiB reads (fewer, cheaper I/O operations), parsed in slices (see SLICE_CHARS). The
    // decoded chunk stays small enough to die young in V8's heap, which keeps memory flat.
    const buf = new Uint8Array(options.chunkSize ?? (64 << 10));
    let header: string[] | undefined;
    const early: EarlyRecord[] = [];
    let parser: CsvParser | undefined;
    let delimiter = options.delimiter;
    let bytesRead = 0;
    let done = false;
    // The parser calls through this box, so that stream() can take the records over later.
    const box: { handler: RecordHandler } = {
      handler: (fields, line, flags) => {
        if (header === undefined) header = fields.slice();
        else early.push({ fields: fields.slice(), line, flags });
      },
    };
    const onRecord: RecordHandler = (fields, line, flags) => box.handler(fields, line, flags);
    try {
      while (header === undefined) {
        const chunk = await readChunk(file, buf, path);
        if (chunk === null) {
          const tail = decodeOrThrow(decoder, undefined, parser, path);
          parser ??= new CsvParser(
            { delimiter: delimiter ?? sniffDelimiter(tail), reuseFields: true },
            onRecord,
          );
          if (tail) parser.push(tail);
          parser.finish();
          done = true;
          break;
        }
        bytesRead += chunk.length;
        const text = decodeOrThrow(decoder, chunk, parser, path);
        if (!parser) {
          delimiter ??= sniffDelimiter(text);
          parser = new CsvParser({ delimiter, reuseFields: true }, onRecord);
        }
        parser.push(text);
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
      onRecord(r.fields, r.line, r.flags);
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
          if (tail) parser.push(tail);
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

function decodeOrThrow(
  decoder: TextDecoder,
  chunk: Uint8Array | undefined,
  parser: CsvParser | undefined,
  path: string,
): string {
  try {
    return chunk ? decoder.decode(chunk, { stream: true }) : decoder.decode();
  } catch {
    const before = parser ? parser.line + countNewlines(parser.pending) : 1;
    let line = before;
    if (chunk) {
      const bad = firstInvalidUtf8(chunk);
      for (let i = 0; i < bad && i < chunk.length; i++) if (chunk[i] === 10) line++;
    }
    throw new InputError(
      `"${path}": invalid ${decoder.encoding} bytes at line ${line}${
        chunk ? "" : " (the file ends inside a character)"
      }`,
    );
  }
}
