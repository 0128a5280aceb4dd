/**
 * Small statistics and formatting helpers for the bench's figures.
 *
 * @module
 */

/** The median of the finite numbers in `xs`, or NaN when there are none. */
export function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** The `p`-th percentile (0..100) of already sorted values, nearest-rank. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** A ratio between two figures, by their ids: `of` ÷ `to`. */
export interface Ratio {
  label: string;
  of: string;
  to: string;
}

/** A ratio and its measured value. */
export interface RatioFigure extends Ratio {
  value: number;
}

/** `a / b`, or NaN when either side is missing. */
export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN;
}

/** Formats a count with thousands separators: 123456 → "123,456". */
export function fmtInt(x: number): string {
  if (!Number.isFinite(x)) return "n/a";
  return Math.round(x).toLocaleString("en-US");
}

/** Formats a number with `digits` decimals, or "n/a". */
export function fmt(x: number, digits = 2): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "n/a";
}

/** Formats milliseconds compactly: 0.84 ms, 12.3 ms, 1,234 ms. */
export function fmtMs(x: number): string {
  if (!Number.isFinite(x)) return "n/a";
  if (x < 10) return `${x.toFixed(2)} ms`;
  if (x < 100) return `${x.toFixed(1)} ms`;
  return `${fmtInt(x)} ms`;
}

/** Formats a list of per-run values for the "runs" column: "1.2 / 1.3 / 1.1". */
export function fmtRuns(
  xs: readonly number[],
  f: (x: number) => string = (x) => fmt(x, 0),
): string {
  return xs.map(f).join(" / ");
}

/** Renders rows as a Markdown table (also readable as plain text on a terminal). */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    "| " + cells.map((c, i) => (c ?? "").padEnd(widths[i])).join(" | ") + " |";
  return [
    line(header),
    "| " + widths.map((w) => "-".repeat(w)).join(" | ") + " |",
    ...rows.map(line),
  ].join("\n");
}
