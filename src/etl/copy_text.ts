/**
 * PostgreSQL COPY text format: one line per row, tab between columns, `\N` for NULL, and
 * backslash, tab, newline and carriage return escaped. Only text values can hold those
 * characters (every other type is validated to digits, signs and the like), so only they pass
 * through {@linkcode copyEscape}.
 *
 * @example
 * ```ts
 * copyEscape("a\tb"); // "a\\tb"
 * copyEscape("plain"); // "plain" (same string, no copy)
 * ```
 *
 * @module
 */

/** COPY text's NULL. */
export const COPY_NULL = "\\N";

const SPECIAL = /[\\\t\n\r]/;
const SPECIAL_ALL = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** Escapes a value for COPY text; returns the same string when nothing needs escaping. */
export function copyEscape(value: string): string {
  // One regex test is cheaper than four indexOf scans, and almost every value is clean.
  return SPECIAL.test(value) ? value.replace(SPECIAL_ALL, (ch) => ESCAPES[ch]) : value;
}

/**
 * A growing byte buffer that COPY text is written into directly as UTF-8: no per-value strings,
 * one `Uint8Array` per batch handed to the database as is. Escaping of text values happens in
 * the same pass as the copy.
 *
 * @example
 * ```ts
 * const out = new CopyBuffer(1024);
 * out.putEscaped("a\tb");
 * out.byte(10);
 * out.bytes(); // the UTF-8 of "a\\tb\n"
 * ```
 */
export class CopyBuffer {
  buf: Uint8Array;
  pos = 0;

  constructor(initialBytes = 1 << 20) {
    this.buf = new Uint8Array(initialBytes);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** One byte (a tab or a newline between values). */
  byte(b: number): void {
    if (this.pos >= this.buf.length) this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** A value that needs no escaping (validated numbers, dates, `\N`, ...). */
  put(v: string): void {
    const n = v.length;
    if (this.pos + n * 3 > this.buf.length) this.ensure(n * 3);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c < 0x80) buf[pos++] = c;
      else {
        pos = utf8(buf, pos, v, i, c);
        i = skip(i, c, v);
      }
    }
    this.pos = pos;
  }

  /** A value known to be ASCII with nothing to escape: a validated number, date, boolean. */
  putAscii(v: string): void {
    const n = v.length;
    if (this.pos + n > this.buf.length) this.ensure(n);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < n; i++) buf[pos++] = v.charCodeAt(i);
    this.pos = pos;
  }

  /** A text value, escaped for COPY as it is copied. */
  putEscaped(v: string): void {
    const n = v.length;
    // Worst case: every character escaped (2 bytes) or 3-byte UTF-8.
    if (this.pos + n * 3 > this.buf.length) this.ensure(n * 3);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c < 0x80) {
        if (c > 13 && c !== 92) buf[pos++] = c;
        else if (c === 92) (buf[pos++] = 92), (buf[pos++] = 92);
        else if (c === 9) (buf[pos++] = 92), (buf[pos++] = 116);
        else if (c === 10) (buf[pos++] = 92), (buf[pos++] = 110);
        else if (c === 13) (buf[pos++] = 92), (buf[pos++] = 114);
        else buf[pos++] = c;
      } else {
        pos = utf8(buf, pos, v, i, c);
        i = skip(i, c, v);
      }
    }
    this.pos = pos;
  }

  /** Bytes `src[from..to)` known to need no escaping (validated ASCII, or COPY text). */
  putBytes(src: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (this.pos + n > this.buf.length) this.ensure(n);
    const buf = this.buf;
    let pos = this.pos;
    // A loop beats `set(subarray())` for the short values most fields are.
    if (n < 64) { for (let i = from; i < to; i++) buf[pos++] = src[i]; }
    else {
      buf.set(src.subarray(from, to), pos);
      pos += n;
    }
    this.pos = pos;
  }

  /** UTF-8 text `src[from..to)`, escaped for COPY as it is copied. */
  putEscapedBytes(src: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (this.pos + 2 * n > this.buf.length) this.ensure(2 * n);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = from; i < to; i++) {
      const c = src[i];
      if (c > 13 && c !== 92) buf[pos++] = c;
      else if (c === 92) (buf[pos++] = 92), (buf[pos++] = 92);
      else if (c === 9) (buf[pos++] = 92), (buf[pos++] = 116);
      else if (c === 10) (buf[pos++] = 92), (buf[pos++] = 110);
      else if (c === 13) (buf[pos++] = 92), (buf[pos++] = 114);
      else buf[pos++] = c;
    }
    this.pos = pos;
  }

  /** The bytes written so far (a view, not a copy). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

function isPair(c: number, v: string, i: number): boolean {
  if (c < 0xd800 || c > 0xdbff || i + 1 >= v.length) return false;
  const d = v.charCodeAt(i + 1);
  return d >= 0xdc00 && d <= 0xdfff;
}

/** Index of the last UTF-16 unit consumed for the character at `i`. */
function skip(i: number, c: number, v: string): number {
  return isPair(c, v, i) ? i + 1 : i;
}

/** Writes the non-ASCII character at `v[i]` (first unit `c`) as UTF-8; returns the new position. */
function utf8(buf: Uint8Array, pos: number, v: string, i: number, c: number): number {
  if (c < 0x800) {
    buf[pos++] = 0xc0 | (c >> 6);
    buf[pos++] = 0x80 | (c & 63);
    return pos;
  }
  if (isPair(c, v, i)) {
    const cp = 0x10000 + ((c - 0xd800) << 10) + (v.charCodeAt(i + 1) - 0xdc00);
    buf[pos++] = 0xf0 | (cp >> 18);
    buf[pos++] = 0x80 | ((cp >> 12) & 63);
    buf[pos++] = 0x80 | ((cp >> 6) & 63);
    buf[pos++] = 0x80 | (cp & 63);
    return pos;
  }
  // A lone surrogate has no UTF-8; U+FFFD, as TextEncoder writes it.
  if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
  buf[pos++] = 0xe0 | (c >> 12);
  buf[pos++] = 0x80 | ((c >> 6) & 63);
  buf[pos++] = 0x80 | (c & 63);
  return pos;
}
