/**
 * Statistics, formatting, ratios and targets for the bench's figures.
 *
 * @module
 */
import type { Figures } from "./report.ts";

/** The median of the finite numbers in `xs`, or NaN when there are none. */
export function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length === 0 ? NaN : v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** The `p`-th percentile (0..100) of already sorted values, nearest-rank. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** A ratio between two figures, by their ids: `of` ÷ `to`; with its value once measured. */
export interface Ratio {
  label: string;
  of: string;
  to: string;
}
export type RatioFigure = Ratio & { value: number };
/** Ratios from a table, a ratio a line: `of to label` (ids without spaces, then the label). */
export const ratios = (table: string): Ratio[] =>
  table.trim().split("\n").map((line) => {
    const [of, to, ...label] = line.trim().split(/\s+/);
    return { label: label.join(" "), of, to };
  });

/** `a / b`, or NaN when either side is missing. */
export const ratio = (a: number, b: number) =>
  Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN;

/** Formats a count with thousands separators: 123456 → "123,456". */
export const fmtInt = (x: number) =>
  Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "n/a";
/** Formats a number with `digits` decimals, or "n/a". */
export const fmt = (x: number, digits = 2) => Number.isFinite(x) ? x.toFixed(digits) : "n/a";
/** Formats milliseconds compactly: 0.84 ms, 12.3 ms, 1,234 ms. */
export const fmtMs = (x: number) =>
  !Number.isFinite(x)
    ? "n/a"
    : x < 10
    ? `${x.toFixed(2)} ms`
    : x < 100
    ? `${x.toFixed(1)} ms`
    : `${fmtInt(x)} ms`;
/** Formats a list of per-run values for the "runs" column: "1.2 / 1.3 / 1.1". */
export const fmtRuns = (xs: readonly number[], f: (x: number) => string = (x) => fmt(x, 0)) =>
  xs.map(f).join(" / ");

/** Renders rows as a Markdown table (also readable as plain text on a terminal). */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    "| " + cells.map((c, i) => (c ?? "").padEnd(widths[i])).join(" | ") + " |";
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** A measured value as shown, and whether it meets the bar and the goal. */
export type Measured = { shown: string; bar: boolean; goal: boolean };
/** A target: its bar and goal, and how to read the measured value from the figures. */
export interface Target {
  figure(f: Figures): string;
  bar: string;
  goal: string;
  /** Undefined when not measured. */
  measure(f: Figures): Measured | undefined;
}

/** The value of the ratio `of` ÷ `to`, when it was measured. */
export const ratioOf = (ratios: RatioFigure[] | undefined, of: string, to: string) =>
  ratios?.find((r) => r.of === of && r.to === to)?.value;
/** `v` shown as `shown(v)` against a bar and a goal; undefined when `v` was not measured. */
export const judge = (
  v: number | undefined,
  bar: (v: number) => boolean,
  goal: (v: number) => boolean,
  shown = (v: number) => fmt(v),
): Measured | undefined =>
  v === undefined || !Number.isFinite(v)
    ? undefined
    : { shown: shown(v), bar: bar(v), goal: goal(v) };
/** A measured value against a bar and a goal it should reach or pass. */
export const atLeast = (v: number | undefined, bar: number, goal: number) =>
  judge(v, (x) => x >= bar, (x) => x >= goal);
/** A ratio target: `of` ÷ `to` in `section`, at least `bar` (none: "—") and `goal`. */
export const ratioTarget = (
  section: "loader" | "api",
  figure: string,
  [of, to]: [string, string],
  bar: number | undefined,
  goal: number,
): Target => ({
  figure: () => figure,
  bar: bar === undefined ? "—" : `≥ ${bar}`,
  goal: `≥ ${goal}`,
  measure: (f) => atLeast(ratioOf(f[section]?.ratios, of, to), bar ?? -Infinity, goal),
});
