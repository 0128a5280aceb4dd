/**
 * The loader's input as bytes: what a {@linkcode CsvSource} reads from. {@linkcode openInput}
 * is the one place that decides what the `FILE` argument names (a file, or `-` for standard
 * input) and how its bytes are read (gzip is decompressed as it streams); the CSV source above
 * it only sees a {@linkcode ByteInput}: chunks of bytes, a size for progress, a fingerprint that
 * identifies the content for resuming, and a way to read it again (not for a pipe).
 *
 * @example
 * ```ts
 * const input = await openInput("people.csv");
 * const chunk = await input.read(new Uint8Array(64 << 10));
 * console.log(input.size, chunk?.length, await input.fingerprint());
 * input.close();
 * ```
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { GunzipInput, isGzip } from "./gzip_input.ts";
import { StdinInput } from "./stdin_input.ts";

/** A stream of the input's bytes, read chunk by chunk. */
export interface ByteInput extends Disposable {
  /** What the input is called in messages (the file's path, or "standard input"). */
  readonly name: string;
  /**
   * Bytes in all, as stored (of a gzip file: compressed): progress shows the share read.
   * Undefined when unknown (a pipe).
   */
  readonly size: number | undefined;
  /** Bytes of the input read so far, as stored (of a gzip file: compressed). */
  readonly bytesRead: number;
  /** {@linkcode reopen} works: the input can be read a second time (a file, not a pipe). */
  readonly canReopen: boolean;
  /**
   * The next bytes, read into `buf` or handed over in a buffer of the input's own; null at the
   * end. A caller may start the next read while it still decodes the previous chunk (into
   * another `buf`), so an input must not reuse the memory of a chunk it returned one read ago.
   */
  read(buf: Uint8Array): Promise<Uint8Array | null>;
  /** The same input again, from its first byte (to read refused records a second time). */
  reopen(): Promise<ByteInput>;
  /**
   * Identifies the content cheaply, even for a huge input: the key of a recorded load. A pipe
   * cannot be identified before it is read: each gets a key of its own.
   */
  fingerprint(): Promise<string>;
  /** Releases the input; safe to call twice. */
  close(): void;
}

/** An input as opened, before any decompression: it can show its first bytes. */
export interface RawInput extends ByteInput {
  /** The first `n` bytes (fewer when the input is shorter), still to be read. */
  peek(n: number): Promise<Uint8Array>;
}

/** Options for {@linkcode openInput}. */
export interface OpenInputOptions {
  /**
   * What `-` reads.
   * @default {the process's standard input}
   */
  stdin?: ReadableStream<Uint8Array>;
}

/** The FILE argument that means standard input. */
export const STDIN = "-";

/**
 * Opens what `FILE` names: a file, or standard input for `-`; either decompressed as it is read
 * when it starts with gzip's magic bytes. Throws an {@linkcode InputError} (exit 2) when it is
 * missing, a directory or unreadable, or named `.gz` without being gzip.
 *
 * @example
 * ```ts
 * const input = await openInput("people.csv.gz");
 * input.close();
 * ```
 */
export async function openInput(path: string, options: OpenInputOptions = {}): Promise<ByteInput> {
  const raw: RawInput = path === STDIN
    ? new StdinInput(options.stdin ?? Deno.stdin.readable)
    : await FileInput.open(path);
  try {
    if (isGzip(await raw.peek(2))) return new GunzipInput(raw);
    if (/\.gz$/i.test(path)) {
      throw new InputError(`"${path}" is named .gz but is not gzip data (no gzip magic bytes)`);
    }
    return raw;
  } catch (err) {
    raw.close();
    throw err;
  }
}

/** Bytes of the input that its fingerprint hashes. */
const FINGERPRINT_BYTES = 1 << 20;

/** A file on disk. */
export class FileInput implements RawInput {
  readonly name: string;
  readonly size: number;
  readonly canReopen = true;
  #bytesRead = 0;
  readonly #file: Deno.FsFile;

  private constructor(path: string, size: number, file: Deno.FsFile) {
    this.name = path;
    this.size = size;
    this.#file = file;
  }

  /** Opens a file for reading; see {@linkcode openInput}. */
  static async open(path: string): Promise<FileInput> {
    try {
      const stat = await Deno.stat(path);
      if (stat.isDirectory) throw new InputError(`"${path}" is a directory, not a CSV file`);
      return new FileInput(path, stat.size, await Deno.open(path, { read: true }));
    } catch (err) {
      if (err instanceof InputError) throw err;
      if (err instanceof Deno.errors.NotFound) throw new InputError(`file not found: "${path}"`);
      if (err instanceof Deno.errors.PermissionDenied) {
        throw new InputError(`cannot read "${path}": permission denied`);
      }
      throw new InputError(`cannot read "${path}": ${(err as Error).message}`, { cause: err });
    }
  }

  get bytesRead(): number {
    return this.#bytesRead;
  }

  async read(buf: Uint8Array): Promise<Uint8Array | null> {
    let n: number | null;
    try {
      n = await this.#file.read(buf);
    } catch (err) {
      throw new InputError(`cannot read "${this.name}": ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (n === null) return null;
    this.#bytesRead += n;
    return buf.subarray(0, n);
  }

  reopen(): Promise<ByteInput> {
    return openInput(this.name);
  }

  async peek(n: number): Promise<Uint8Array> {
    const buf = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const r = await this.#file.read(buf.subarray(got));
      if (r === null) break;
      got += r;
    }
    await this.#file.seek(0, Deno.SeekMode.Start);
    return buf.subarray(0, got);
  }

  /** `size:sha256-of-the-first-MiB`. */
  async fingerprint(): Promise<string> {
    using file = await Deno.open(this.name, { read: true });
    const buf = new Uint8Array(Math.min(this.size, FINGERPRINT_BYTES));
    let n = 0;
    while (n < buf.length) {
      const r = await file.read(buf.subarray(n));
      if (r === null) break;
      n += r;
    }
    const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", buf.subarray(0, n)));
    return `${this.size}:${Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  }

  close(): void {
    try {
      this.#file.close();
    } catch {
      // already closed
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
