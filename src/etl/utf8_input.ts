/**
 * Turns the input's raw chunks into what the byte parser reads: UTF-8. A UTF-8 input is only
 * checked (natively, in place: no copy, no string) and loses its byte-order mark; any other
 * encoding (`latin1`, `windows-1252`, ...) is decoded and encoded to UTF-8. A character split
 * between two chunks is checked once both halves are in.
 *
 * @example
 * ```ts
 * const u = new Utf8Chunks("utf-8");
 * const r = u.next(new TextEncoder().encode("\ufeffa,b\n"));
 * // r.bytes is "a,b\n", r.bad is -1
 * ```
 *
 * @module
 */
import { isUtf8 } from "node:buffer";

/** What {@linkcode Utf8Chunks.next} returns. */
export interface Utf8Chunk {
  /** The chunk as UTF-8 (a view of the input chunk when it was UTF-8 already). */
  bytes: Uint8Array;
  /** Offset in the input chunk of the first invalid byte; -1 when the chunk is valid. */
  bad: number;
}

/** Bytes of the UTF-8 sequence a lead byte starts (0: not a lead byte). */
function sequenceLength(c: number): number {
  return c < 0x80
    ? 1
    : c >= 0xc2 && c <= 0xdf
    ? 2
    : c >= 0xe0 && c <= 0xef
    ? 3
    : c >= 0xf0 && c <= 0xf4
    ? 4
    : 0;
}

/** Offset where an incomplete sequence at the end of `b[from..]` starts (`b.length`: none). */
function incompleteTail(b: Uint8Array, from: number): number {
  for (let k = 1; k <= 3 && b.length - k >= from; k++) {
    const c = b[b.length - k];
    if ((c & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const n = sequenceLength(c);
    return n > k ? b.length - k : b.length;
  }
  return b.length;
}

/** Offset of the first invalid UTF-8 sequence in `b` (`b.length` when none). */
export function firstInvalid(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    const n = sequenceLength(c) - 1;
    if (n < 1) return i;
    const min = n === 1 ? 0x80 : n === 2 ? 0x800 : 0x10000;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      if (i + k >= b.length) return i;
      const cc = b[i + k];
      if ((cc & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return b.length;
}

const BOM = [0xef, 0xbb, 0xbf];

/** See the module documentation. */
export class Utf8Chunks {
  readonly #decoder: TextDecoder | undefined;
  /** The encoding's WHATWG name. */
  readonly encoding: string;
  readonly #encoder = new TextEncoder();
  /** The start of a character whose other bytes are in the next chunk. */
  #carry = new Uint8Array(4);
  #carryLen = 0;
  /** Bytes of the file's start seen so far, while a BOM may still be there. */
  #head = 0;

  /** `encoding`: a WHATWG label, already checked. */
  constructor(encoding: string) {
    const name = new TextDecoder(encoding).encoding;
    this.encoding = name;
    this.#decoder = name === "utf-8" ? undefined : new TextDecoder(name, { fatal: true });
  }

  /** The next chunk as UTF-8. */
  next(chunk: Uint8Array): Utf8Chunk {
    if (this.#decoder) {
      try {
        return {
          bytes: this.#encoder.encode(this.#decoder.decode(chunk, { stream: true })),
          bad: -1,
        };
      } catch {
        return { bytes: chunk.subarray(0, 0), bad: firstInvalid(chunk) };
      }
    }
    let bytes = chunk;
    if (this.#head < 3) bytes = this.#stripBom(bytes);
    let i = 0;
    if (this.#carryLen > 0) {
      // Complete the character begun in the previous chunk, and check it on its own.
      const need = sequenceLength(this.#carry[0]) - this.#carryLen;
      const take = Math.min(need, bytes.length);
      this.#carry.set(bytes.subarray(0, take), this.#carryLen);
      this.#carryLen += take;
      i = take;
      if (take < need) {
        for (let k = 0; k < take; k++) if ((bytes[k] & 0xc0) !== 0x80) return { bytes, bad: 0 };
        return { bytes, bad: -1 };
      }
      if (firstInvalid(this.#carry.subarray(0, this.#carryLen)) !== this.#carryLen) {
        return { bytes, bad: 0 };
      }
      this.#carryLen = 0;
    }
    const tail = incompleteTail(bytes, i);
    if (!isUtf8(bytes.subarray(i, tail))) {
      const at = chunk.length - bytes.length + i + firstInvalid(bytes.subarray(i, tail));
      return { bytes, bad: Math.max(0, at) };
    }
    this.#carry.set(bytes.subarray(tail));
    this.#carryLen = bytes.length - tail;
    return { bytes, bad: -1 };
  }

  /**
   * Ends the input: the last bytes (an encoding's decoder may hold some back), with `bad` 0
   * when the input ends inside a character.
   */
  end(): Utf8Chunk {
    if (!this.#decoder) {
      // A carried character, or the start of a BOM that never finished, is cut short.
      const cut = this.#carryLen > 0 || (this.#head > 0 && this.#head < 3);
      return { bytes: new Uint8Array(0), bad: cut ? 0 : -1 };
    }
    try {
      return { bytes: this.#encoder.encode(this.#decoder.decode()), bad: -1 };
    } catch {
      return { bytes: new Uint8Array(0), bad: 0 };
    }
  }

  /** Drops the UTF-8 byte-order mark from the first three bytes of the input. */
  #stripBom(bytes: Uint8Array): Uint8Array {
    let k = 0;
    while (this.#head < 3 && k < bytes.length && bytes[k] === BOM[this.#head]) {
      this.#head++;
      k++;
    }
    if (this.#head < 3 && k < bytes.length) {
      // Not a BOM after all: the bytes taken for one belong to the text.
      const had = this.#head - k;
      this.#head = 3;
      if (had > 0) {
        const joined = new Uint8Array(had + bytes.length);
        joined.set(BOM.slice(0, had));
        joined.set(bytes, had);
        return joined;
      }
      return bytes;
    }
    return bytes.subarray(k);
  }
}
