/**
 * The input's bytes to what the parser reads, UTF-8: an encoding label checked up front, each
 * chunk checked or converted as it streams ({@linkcode Utf8Chunks}), and invalid bytes an
 * {@linkcode InputError} (exit 2) that names the line they are on.
 *
 * @example
 * ```ts
 * const decoder = new ChunkDecoder({ encoding: checkEncoding("latin1"), name: "people.csv" });
 * decoder.decode(new Uint8Array([0x4a, 0xe9]), () => 1); // the UTF-8 of "Jé"
 * ```
 *
 * @module
 */
import { InputError, UsageError } from "../errors.ts";
import { Utf8Chunks } from "./utf8_input.ts";

/**
 * Normalises an encoding label, or throws a {@linkcode UsageError} naming it.
 *
 * @example
 * ```ts
 * checkEncoding("Latin1"); // "windows-1252"
 * ```
 */
export function checkEncoding(label: string | undefined): string {
  const name = (label ?? "utf-8").trim().toLowerCase();
  try {
    return new TextDecoder(name).encoding;
  } catch {
    throw new UsageError(`unknown encoding "${label}" (try utf-8 or latin1)`);
  }
}

/** Line breaks (LF) in some bytes. */
export function countNewlines(b: Uint8Array): number {
  let n = 0;
  for (let k = b.indexOf(10); k !== -1; k = b.indexOf(10, k + 1)) n++;
  return n;
}

/** Options for {@linkcode ChunkDecoder}. */
export interface ChunkDecoderOptions {
  /** A label {@linkcode checkEncoding} accepted. */
  encoding: string;
  /** The input's name, for messages. */
  name: string;
}

/** Turns an input's chunks into UTF-8, refusing invalid bytes. */
export class ChunkDecoder {
  readonly #chunks: Utf8Chunks;
  readonly #name: string;

  constructor(options: ChunkDecoderOptions) {
    this.#chunks = new Utf8Chunks(options.encoding);
    this.#name = options.name;
  }

  /**
   * The next chunk as UTF-8, or the input's last bytes when `chunk` is undefined. `lineAtStart`
   * tells, only when the bytes are invalid, the line on which the chunk starts.
   */
  decode(chunk: Uint8Array | undefined, lineAtStart: () => number): Uint8Array {
    const r = chunk ? this.#chunks.next(chunk) : this.#chunks.end();
    if (r.bad < 0) return r.bytes;
    let line = lineAtStart();
    if (chunk) { for (let i = 0; i < r.bad && i < chunk.length; i++) if (chunk[i] === 10) line++; }
    throw new InputError(
      `"${this.#name}": invalid ${this.#chunks.encoding} bytes at line ${line}${
        chunk ? "" : " (the input ends inside a character)"
      }`,
    );
  }
}
