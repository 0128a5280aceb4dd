/**
 * Trimming, exactly as `String.prototype.trim` does it (ASCII whitespace, U+00A0, U+1680,
 * U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF), on a value's UTF-8 bytes for the
 * loader's hot loop, and on strings for everything else.
 *
 * @example
 * ```ts
 * const b = new TextEncoder().encode("\u3000 42 ");
 * const s = trimStart(b, 0, b.length), e = trimEnd(b, s, b.length); // b[s..e) is "42"
 * ```
 *
 * @module
 */

/** First bytes of the whitespace characters trim() removes (ASCII ones, and UTF-8 leads). */
const WS_FIRST = new Uint8Array(256);
/** Last bytes of the same characters. */
const WS_LAST = new Uint8Array(256);
for (const c of [9, 10, 11, 12, 13, 32]) WS_FIRST[c] = WS_LAST[c] = 1;
for (const c of [0xc2, 0xe1, 0xe2, 0xe3, 0xef]) WS_FIRST[c] = 1;
for (const c of [0xa0, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a]) {
  WS_LAST[c] = 1;
}
for (const c of [0xa8, 0xa9, 0xaf, 0x9f, 0xbf]) WS_LAST[c] = 1;

/** Byte length of the whitespace character at `b[i]` (before `e`), 0 when it is not one. */
function spaceAt(b: Uint8Array, i: number, e: number): number {
  const c = b[i];
  if (c < 0x80) return c === 32 || (c >= 9 && c <= 13) ? 1 : 0;
  if (c === 0xc2) return i + 1 < e && b[i + 1] === 0xa0 ? 2 : 0; // U+00A0
  if (i + 2 >= e) return 0;
  const c1 = b[i + 1], c2 = b[i + 2];
  if (c === 0xe2) {
    if (c1 === 0x80) {
      // U+2000-200A, U+2028, U+2029, U+202F
      return c2 <= 0x8a && c2 >= 0x80 || c2 === 0xa8 || c2 === 0xa9 || c2 === 0xaf ? 3 : 0;
    }
    return c1 === 0x81 && c2 === 0x9f ? 3 : 0; // U+205F
  }
  if (c === 0xe1) return c1 === 0x9a && c2 === 0x80 ? 3 : 0; // U+1680
  if (c === 0xe3) return c1 === 0x80 && c2 === 0x80 ? 3 : 0; // U+3000
  if (c === 0xef) return c1 === 0xbb && c2 === 0xbf ? 3 : 0; // U+FEFF
  return 0;
}

/** Byte length of the whitespace character that ends at `e` (after `s`), 0 when none. */
function spaceBefore(b: Uint8Array, s: number, e: number): number {
  const c = b[e - 1];
  if (c < 0x80) return c === 32 || (c >= 9 && c <= 13) ? 1 : 0;
  if (e - 2 >= s && b[e - 2] === 0xc2) return c === 0xa0 ? 2 : 0;
  return e - 3 >= s && spaceAt(b, e - 3, e) === 3 ? 3 : 0;
}

/** Whether `b[s..e)` may start or end with whitespace (two table reads; exact test follows). */
export function mayNeedTrim(b: Uint8Array, s: number, e: number): boolean {
  return s < e && (WS_FIRST[b[s]] === 1 || WS_LAST[b[e - 1]] === 1);
}

/** Start of `b[s..e)` without leading whitespace. */
export function trimStart(b: Uint8Array, s: number, e: number): number {
  let n: number;
  while (s < e && (n = spaceAt(b, s, e)) > 0) s += n;
  return s;
}

/** End of `b[s..e)` without trailing whitespace. */
export function trimEnd(b: Uint8Array, s: number, e: number): number {
  let n: number;
  while (e > s && (n = spaceBefore(b, s, e)) > 0) e -= n;
  return e;
}

/** True when `v` has whitespace at either end (cheap: two char reads). */
export function needsTrim(v: string): boolean {
  const n = v.length;
  return n > 0 && (v.charCodeAt(0) <= 32 || v.charCodeAt(n - 1) <= 32 ||
    v.charCodeAt(0) >= 0xa0 || v.charCodeAt(n - 1) >= 0xa0);
}

/** `v` without surrounding whitespace, allocating only when there is some. */
export function trimmed(v: string): string {
  return needsTrim(v) ? v.trim() : v;
}
