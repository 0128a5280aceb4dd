/**
 * A gzip input, decompressed as it streams: node:zlib's gunzip behind the {@linkcode ByteInput}
 * interface. Everything the loader shows about the input's bytes (size, bytes read, so progress
 * and ETA) is about the compressed bytes as stored; the fingerprint is the stored file's.
 *
 * node:zlib rather than `DecompressionStream("gzip")`: Deno's DecompressionStream stops with
 * "failed to write whole buffer" at the second member of a multi-member file (`cat a.gz b.gz`,
 * bgzip), which gunzip reads as one stream, as `zcat` does; the two cost the same CPU.
 *
 * @example
 * ```ts
 * const input = await openInput("people.csv.gz"); // a GunzipInput, found by its magic bytes
 * const chunk = await input.read(new Uint8Array(64 << 10)); // decompressed bytes
 * input.close();
 * ```
 *
 * @module
 */
import { pipeline, Readable } from "node:stream";
import { createGunzip, type Gunzip } from "node:zlib";
import { InputError } from "../errors.ts";
import type { ByteInput, RawInput } from "./input.ts";

/** Does an input that starts with these bytes hold gzip data (its magic bytes, 1f 8b)? */
export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** Bytes per compressed read, and per decompressed chunk. */
const CHUNK = 64 << 10;

/** The raw input's chunks, each in memory of its own (gunzip may hold on to them). */
async function* rawChunks(raw: RawInput): AsyncGenerator<Uint8Array> {
  for (;;) {
    const chunk = await raw.read(new Uint8Array(CHUNK));
    if (chunk === null) return;
    yield chunk;
  }
}

/** See the module documentation. */
export class GunzipInput implements ByteInput {
  readonly #raw: RawInput;
  readonly #gunzip: Gunzip;
  readonly #out: AsyncIterator<Uint8Array>;

  constructor(raw: RawInput) {
    this.#raw = raw;
    this.#gunzip = createGunzip({ chunkSize: CHUNK });
    // pipeline(): an error on either side (a read, bad gzip data) reaches the iterator.
    pipeline(Readable.from(rawChunks(raw)), this.#gunzip, () => {});
    this.#out = this.#gunzip[Symbol.asyncIterator]();
  }

  get name(): string {
    return this.#raw.name;
  }

  get size(): number | undefined {
    return this.#raw.size;
  }

  get bytesRead(): number {
    return this.#raw.bytesRead;
  }

  get canReopen(): boolean {
    return this.#raw.canReopen;
  }

  /** The next decompressed chunk (in memory of its own; `_buf` is not used), null at the end. */
  async read(_buf: Uint8Array): Promise<Uint8Array | null> {
    try {
      const r = await this.#out.next();
      return r.done ? null : r.value;
    } catch (err) {
      if (err instanceof InputError) throw err;
      const why = (err as Error).message;
      throw new InputError(`"${this.name}": not valid gzip data (${why})`, { cause: err });
    }
  }

  reopen(): Promise<ByteInput> {
    return this.#raw.reopen();
  }

  fingerprint(): Promise<string> {
    return this.#raw.fingerprint();
  }

  close(): void {
    this.#gunzip.destroy();
    this.#raw.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
