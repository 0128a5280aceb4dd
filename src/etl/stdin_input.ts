/**
 * Standard input as the loader's input (`FILE` = `-`): `zcat x.csv.gz | ingest -` and other
 * pipes. A pipe has no size (progress shows bytes read, no ETA), cannot be read twice (the
 * pipeline keeps each batch's records for the rows the database refuses, and `--resume` is
 * refused), and cannot be identified before it is read: each load from it is a load of its own.
 *
 * @example
 * ```ts
 * const input = new StdinInput(Deno.stdin.readable);
 * const chunk = await input.read(new Uint8Array(64 << 10));
 * input.close();
 * ```
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { ByteInput, RawInput } from "./input.ts";

/** See the module documentation. */
export class StdinInput implements RawInput {
  readonly name = "standard input";
  readonly size = undefined;
  readonly canReopen = false;
  #bytesRead = 0;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  /** Chunks read by {@linkcode peek}, still to be handed over. */
  readonly #held: Uint8Array[] = [];
  readonly #key = `stdin:${crypto.randomUUID()}`;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** The next chunk, in memory of the stream's own (`_buf` is not used); null at the end. */
  async read(_buf: Uint8Array): Promise<Uint8Array | null> {
    return this.#held.shift() ?? await this.#next();
  }

  async peek(n: number): Promise<Uint8Array> {
    let have = this.#held.reduce((k, c) => k + c.length, 0);
    while (have < n) {
      const chunk = await this.#next();
      if (chunk === null) break;
      this.#held.push(chunk);
      have += chunk.length;
    }
    const head = new Uint8Array(Math.min(n, have));
    let at = 0;
    for (const c of this.#held) {
      if (at >= head.length) break;
      const part = c.subarray(0, head.length - at);
      head.set(part, at);
      at += part.length;
    }
    return head;
  }

  reopen(): Promise<ByteInput> {
    return Promise.reject(new Error("standard input cannot be read a second time"));
  }

  /** A key of its own for each load: a pipe's content is not known before it is read. */
  fingerprint(): Promise<string> {
    return Promise.resolve(this.#key);
  }

  close(): void {
    this.#reader.cancel().catch(() => {});
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async #next(): Promise<Uint8Array | null> {
    let r: ReadableStreamReadResult<Uint8Array>;
    try {
      r = await this.#reader.read();
    } catch (err) {
      throw new InputError(`cannot read standard input: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (r.done) return null;
    this.#bytesRead += r.value.length;
    return r.value;
  }
}
