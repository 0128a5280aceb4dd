/**
 * What the loader tells people: the end-of-load summary (text for stdout, JSON for
 * `--summary-json`) and the one-line progress display for a terminal.
 *
 * @example
 * ```ts
 * console.log(formatSummary(summary));
 * ```
 *
 * @module
 */

/** The end-of-load summary; the same object is written by `--summary-json`. */
export interface IngestSummary {
  /** The input, as given. */
  file: string;
  /** The table loaded into. */
  table: string;
  /** Nothing was written to the database. */
  dry_run: boolean;
  /** Records skipped because an earlier run committed them (a resume). */
  resumed_after_records: number;
  /** Physical lines skipped before the header (title lines, comments): the preamble. */
  preamble_lines: number;
  /** Comment lines (`--comment`) this run dropped. */
  comment_lines: number;
  /** Data records read by this run (the header not counted). */
  rows_read: number;
  /** Rows this run loaded (on a dry run: would have loaded). */
  rows_loaded: number;
  /** Records this run wrote to the rejects file. */
  rows_rejected: number;
  /**
   * Records this run did not load because their key was there already (`--on-conflict
   * ignore`): in the table, or earlier in the file.
   */
  rows_ignored: number;
  /**
   * Records this run loaded over an existing row of their key (`--on-conflict update`): in the
   * table, or earlier in the file. Counted in `rows_loaded` too.
   */
  rows_updated: number;
  /**
   * Of the `rows_updated`, records whose key's row already held their values: left as it was,
   * not rewritten (`--on-conflict update`).
   */
  rows_unchanged: number;
  /** Rejected rows per reason (column and kind, without the value). */
  rejected_by_reason: Record<string, number>;
  /** Missing values that became their column's default, per column. */
  defaulted: Record<string, number>;
  /** Columns this run widened (an inferred type that a later value did not fit), in order. */
  widenings: WideningNote[];
  /** What looks wrong although the load went through (say, most rows rejected): for stderr. */
  warnings: string[];
  /** Batches this run committed. */
  batches: number;
  /** Wall-clock seconds of this run. */
  seconds: number;
  /** `rows_read` per second. */
  rows_per_second: number;
  /** Where rejected records went. */
  rejects_file: string;
  /** Rows loaded across every run of this load (equal to `rows_loaded` unless resumed). */
  total_rows_loaded: number;
  /** Rows rejected across every run of this load. */
  total_rows_rejected: number;
  /** The exit code of the CLI: 0 done, 1 failed, 2 bad usage or unreadable input. */
  exit_code: number;
  /** Why the load stopped, when it did. */
  error?: string;
}

/** One widening, as the summary lists it. */
export interface WideningNote {
  /** The column. */
  column: string;
  /** Its type before. */
  from: string;
  /** Its type after. */
  to: string;
  /** The physical line of the first record whose value did not fit. */
  line: number;
  /** That value. */
  value: string;
}

/** Progress as reported every few seconds. */
export interface Progress {
  /** Bytes of the input read. */
  bytesRead: number;
  /** The input's size (of a gzip file: compressed); undefined when unknown (a pipe). */
  bytesTotal: number | undefined;
  /** Records read by this run. */
  rowsRead: number;
  /** Rows committed by this run. */
  rowsLoaded: number;
  /** Records rejected and committed by this run. */
  rowsRejected: number;
  /** Seconds since the load started streaming. */
  seconds: number;
}

/**
 * `n` with thousands separators, as `toLocaleString("en-US")` writes a whole number. Not through
 * `Intl`: its first use loads ICU's locale data, ~40 ms of CPU for every load's summary.
 */
export function num(n: number): string {
  if (!Number.isSafeInteger(n)) return n.toLocaleString("en-US");
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function lineCount(n: number): string {
  return `${num(n)} line${n === 1 ? "" : "s"}`;
}

/** `12 over existing keys`, and how many of those were left as they were. */
function overKeys(s: IngestSummary): string {
  const unchanged = s.rows_unchanged ? `, ${num(s.rows_unchanged)} of them unchanged` : "";
  return `${num(s.rows_updated)} over existing keys${unchanged}`;
}

/**
 * The summary as aligned text lines, for stdout.
 *
 * @example
 * ```ts
 * formatSummary(summary).split("\n")[2]; // "rows read       1,000,000"
 * ```
 */
export function formatSummary(s: IngestSummary): string {
  const lines: string[] = [];
  const row = (label: string, value: string) => lines.push(`${label.padEnd(16)}${value}`);
  row("file", s.file === "-" ? "- (standard input)" : s.file);
  row("table", s.table + (s.dry_run ? " (dry run: nothing written)" : ""));
  if (s.preamble_lines > 0) {
    row("preamble", `${lineCount(s.preamble_lines)} skipped above the header`);
  }
  if (s.comment_lines > 0) row("comments", `${lineCount(s.comment_lines)} dropped`);
  if (s.resumed_after_records > 0) {
    row("resumed after", `${num(s.resumed_after_records)} records committed earlier`);
  }
  row("rows read", num(s.rows_read));
  row(
    "rows loaded",
    num(s.rows_loaded) + (s.rows_updated ? `  (${overKeys(s)})` : ""),
  );
  if (s.rows_ignored > 0) row("rows ignored", `${num(s.rows_ignored)}  (key already there)`);
  row("rows rejected", num(s.rows_rejected) + (s.rows_rejected ? `  (see ${s.rejects_file})` : ""));
  const reasons = Object.entries(s.rejected_by_reason).sort((a, b) => b[1] - a[1]);
  for (const [reason, n] of reasons) lines.push(`  ${num(n).padStart(12)}  ${reason}`);
  const defaulted = Object.entries(s.defaulted);
  if (defaulted.length) {
    row("defaulted", defaulted.map(([c, n]) => `${c}: ${num(n)}`).join(", "));
  }
  if (s.resumed_after_records > 0) {
    row("total loaded", `${num(s.total_rows_loaded)} (all runs)`);
    row("total rejected", `${num(s.total_rows_rejected)} (all runs)`);
  }
  for (const w of s.widenings) {
    row(
      "widened",
      `${w.column}: ${w.from} → ${w.to} at line ${w.line} (${JSON.stringify(w.value)})`,
    );
  }
  row("seconds", s.seconds.toFixed(2));
  row("rows/s", num(Math.round(s.rows_per_second)));
  if (s.error) row("stopped", s.error);
  return lines.join("\n");
}

/**
 * One progress line: percent of bytes, rows/s, ETA.
 *
 * @example
 * ```ts
 * formatProgress({ bytesRead: 25, bytesTotal: 100, rowsRead: 1000, rowsLoaded: 900, rowsRejected: 100, seconds: 2 });
 * // " 25.0%  1,000 rows  500 rows/s  100 rejected  ETA 6s"
 * ```
 */
export function formatProgress(p: Progress): string {
  const rate = p.seconds > 0 ? p.rowsRead / p.seconds : 0;
  const counts = `${num(p.rowsRead)} rows  ${num(Math.round(rate))} rows/s  ${
    num(p.rowsRejected)
  } rejected`;
  if (p.bytesTotal === undefined) {
    // A pipe: no size, so no share and no ETA.
    return `${(p.bytesRead / 1e6).toFixed(1).padStart(7)} MB  ${counts}`;
  }
  const frac = p.bytesTotal > 0 ? Math.min(1, p.bytesRead / p.bytesTotal) : 1;
  const eta = frac > 0 && frac < 1 ? (p.seconds / frac) * (1 - frac) : 0;
  return `${(frac * 100).toFixed(1).padStart(5)}%  ${counts}  ETA ${eta.toFixed(0)}s`;
}
