/**
 * A bench target (a figure, its bar and goal, and how to read it from the figures), and the
 * helpers that read ratios for one.
 *
 * @module
 */
import type { Figures } from "./report.ts";
import { fmt, type RatioFigure } from "./stats.ts";

/** A target: its bar and goal, and how to read the measured value from the figures. */
export interface Target {
  figure(f: Figures): string;
  bar: string;
  goal: string;
  /** The value as shown, and whether it meets the bar and the goal; undefined if not measured. */
  measure(f: Figures): { shown: string; bar: boolean; goal: boolean } | undefined;
}

/** The value of the ratio `of` ÷ `to`, when it was measured. */
export const ratioOf = (ratios: RatioFigure[] | undefined, of: string, to: string) =>
  ratios?.find((r) => r.of === of && r.to === to)?.value;
/** A measured value against a bar and a goal it should reach or pass. */
export const atLeast = (v: number | undefined, bar: number, goal: number) =>
  v === undefined || !Number.isFinite(v)
    ? undefined
    : { shown: fmt(v), bar: v >= bar, goal: v >= goal };
