/**
 * Byte scanning for the CSV parser, outside its hot loop: where an unquoted field ends, whether a
 * (multi-byte) delimiter starts at a byte, and the lines the parser drops before looking for a
 * record there (a preamble's lines, comment lines).
 *
 * @example
 * ```ts
 * const drop = new LineDropper(1, "#");
 * const b = new TextEncoder().encode("Title\n# note\na,b\n");
 * drop.at(b[0]) && drop.line(b, 0, b.length, true); // 6: the preamble line is dropped
 * drop.at(b[6]) && drop.line(b, 6, b.length, true); // 13: so is the comment
 * ```
 *
 * @module
 */

const LF = 10;

/** Does the delimiter `d` (its first byte already matched) start at `b[i]`? */
export function delimAt(b: Uint8Array, i: number, len: number, d: Uint8Array): boolean {
  if (i + d.length > len) return false;
  for (let k = 1; k < d.length; k++) if (b[i + k] !== d[k]) return false;
  return true;
}

/** Where the unquoted field at `b[i]` ends: its delimiter, its LF, or `len`. */
export function fieldEnd(
  b: Uint8Array,
  i: number,
  len: number,
  dc: number,
  hi: number,
  delim: Uint8Array,
): number {
  for (; i < len; i++) {
    const x = b[i];
    if (x <= hi && (x === LF || (x === dc && (delim.length === 1 || delimAt(b, i, len, delim))))) {
      return i;
    }
  }
  return len;
}

/** Where the line at `p` ends when it is blank (LF or CRLF alone); `p` when it is not. */
export function blankEnd(b: Uint8Array, p: number, len: number): number {
  const x = b[p];
  return x === LF ? p + 1 : x === 13 && p + 1 < len && b[p + 1] === LF ? p + 2 : p;
}

/** The lines a parser drops where a record would start: the preamble's, then comment lines. */
export class LineDropper {
  /** Preamble lines still to drop. */
  #left: number;
  /** The comment prefix's bytes, and its first byte (-1: no comment prefix). */
  readonly #comment: Uint8Array;
  readonly #first: number;
  /** Comment lines dropped so far. */
  comments = 0;

  constructor(skipLines: number, comment?: string) {
    this.#left = skipLines;
    this.#comment = new TextEncoder().encode(comment ?? "");
    this.#first = this.#comment.length ? this.#comment[0] : -1;
  }

  /** May the line that starts with byte `x` be one to drop? (Cheap: one or two comparisons.) */
  at(x: number): boolean {
    return this.#left > 0 || x === this.#first;
  }

  /**
   * At a line start `p` that {@linkcode at} picked: where the next line starts once this one is
   * dropped; `p` when it is not to be dropped after all (a record that only starts like the
   * comment prefix); -1 when the bytes there are do not tell yet (the line's end, or the whole
   * prefix, is in the next chunk).
   */
  line(b: Uint8Array, p: number, len: number, final: boolean): number {
    if (this.#left === 0) {
      const c = this.#comment;
      if (p + c.length > len) return final ? p : -1;
      for (let k = 1; k < c.length; k++) if (b[p + k] !== c[k]) return p;
    }
    const lf = b.subarray(0, len).indexOf(LF, p);
    if (lf === -1 && !final) return -1;
    if (this.#left > 0) this.#left--;
    else this.comments++;
    return lf === -1 ? len : lf + 1;
  }
}
