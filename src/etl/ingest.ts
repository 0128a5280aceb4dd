/**
 * The loader, as a function: `cli.ts ingest` parses flags and calls {@linkcode ingest}; tests
 * call it directly. A load is a plan ({@linkcode prepareLoad}: options, input, schema,
 * database, table, load state, rejects file) run by a pipeline ({@linkcode LoadPipeline}: read →
 * transform → seal → load → commit, batch by batch), and summed up at the end.
 *
 * @example
 * ```ts
 * const { exitCode, summary } = await ingest({ file: "people.csv", table: "people" });
 * console.log(exitCode, summary.rows_loaded);
 * ```
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { forgetLoad, type LoadProgress } from "../db/load_state.ts";
import { EXIT_OK, type ExitCode, exitCodeOf, LoadError } from "../errors.ts";
import { errorFields } from "../log.ts";
import { noProgress } from "./batch_commit.ts";
import type { IngestOptions } from "./ingest_options.ts";
import { type LoadPlan, prepareLoad } from "./load_plan.ts";
import { judgeLoss } from "./loss.ts";
import { LoadPipeline } from "./pipeline.ts";
import { defaultRejectsPath } from "./rejects.ts";
import { DEFAULT_TABLE, quoteTable } from "./schema.ts";
import type { IngestSummary } from "./summary.ts";

export type { IngestOptions } from "./ingest_options.ts";
export { DEFAULT_BATCH_SIZE } from "./ingest_options.ts";
export type { MaxRejects } from "./batch_commit.ts";

/** What {@linkcode ingest} returns: the exit code the CLI uses, and the summary. */
export interface IngestResult {
  /** 0 done (rejects allowed), 1 the load failed, 2 bad usage or unreadable input. */
  exitCode: ExitCode;
  /** What was read, loaded and rejected, as the CLI prints it. */
  summary: IngestSummary;
  /** What stopped the load, when something did. */
  error?: Error;
}

const log = getLogger(["ingest"]);

/**
 * Loads a CSV file into a table. Never throws for a failed load: the result carries the exit
 * code (0 done, 1 failed, 2 bad usage or unreadable input), the summary and the error.
 *
 * @example
 * ```ts
 * const r = await ingest({ file: "people.csv", table: "people", resume: true });
 * if (r.exitCode !== 0) console.error(r.error?.message);
 * ```
 */
export async function ingest(options: IngestOptions): Promise<IngestResult> {
  const started = performance.now();
  let plan: LoadPlan | undefined;
  let pipeline: LoadPipeline | undefined;
  let exitCode: ExitCode = EXIT_OK;
  let error: Error | undefined;
  const warnings: string[] = [];
  try {
    await using prepared = await prepareLoad(options);
    plan = prepared;
    if (!plan.complete) {
      pipeline = new LoadPipeline(plan);
      await pipeline.load();
      await judge(options, plan, pipeline, warnings);
    }
  } catch (err) {
    error = err instanceof Error ? err : new Error(String(err));
    exitCode = exitCodeOf(error);
    log.error("ingest of {file} failed: {error}", { file: options.file, ...errorFields(error) });
  }
  const summary = summarize(options, plan, pipeline, (performance.now() - started) / 1000);
  summary.warnings = warnings;
  summary.exit_code = exitCode;
  if (error) summary.error = error.message;
  const counts = "{rows_read} read, {rows_loaded} loaded, {rows_rejected} rejected";
  log.info(`${error ? "summary" : "done"}: ${counts}`, { ...summary });
  return { exitCode, summary, error };
}

/**
 * No silent loss (see `loss.ts`): a load that rejected every record it read throws a
 * {@linkcode LoadError} naming the likely cause, and is forgotten (it loaded nothing, so a
 * corrected run needs neither --resume nor --replace); a lossy one adds a warning.
 */
async function judge(
  options: IngestOptions,
  plan: LoadPlan,
  pipeline: LoadPipeline,
  warnings: string[],
): Promise<void> {
  const done = pipeline.committed;
  const verdict = judgeLoss({
    recordsRead: done.recordsDone,
    rowsRejected: done.rowsRejected,
    rejectedByReason: done.rejectedByReason,
    fieldCounts: pipeline.fieldCounts,
    header: plan.source.header,
    headerLine: plan.source.preambleLines + 1,
    delimiter: plan.source.delimiter,
    schemaGiven: options.schema !== undefined || options.schemaFile !== undefined,
    allowed: options.maxRejects !== undefined,
  });
  if (verdict.warning) {
    log.warning("{warning}", { warning: verdict.warning });
    warnings.push(verdict.warning);
  }
  if (verdict.error) {
    if (plan.db) await forgetFailed(plan);
    throw new LoadError(
      `${verdict.error}; see ${plan.targets.rejects.path}${
        plan.db ? " (nothing of this load is kept: run it again once fixed)" : ""
      }`,
    );
  }
}

/** Forgets a load that loaded nothing: its record, and its table when this run made it empty. */
async function forgetFailed(plan: LoadPlan): Promise<void> {
  const db = plan.db!;
  await forgetLoad(db, plan.targets.key);
  if (!plan.tableCreated) return;
  const table = quoteTable(plan.table);
  const [{ empty }] = await db.query<{ empty: boolean }>(
    `SELECT NOT EXISTS (SELECT 1 FROM ${table}) AS empty`,
  );
  if (empty) await db.exec(`DROP TABLE ${table}`);
}

/** Counts of `after` that `before` had not: what this run added. */
function countsSince(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const n = v - (before[k] ?? 0);
    if (n > 0) out[k] = n;
  }
  return out;
}

/** The summary of this run: what its pipeline committed beyond what the plan started from. */
function summarize(
  options: IngestOptions,
  plan: LoadPlan | undefined,
  pipeline: LoadPipeline | undefined,
  seconds: number,
): IngestSummary {
  const start: LoadProgress = plan?.start ?? noProgress();
  const done = pipeline?.committed ?? start;
  const rowsRead = done.recordsDone - start.recordsDone;
  return {
    file: options.file,
    table: plan?.table ?? options.table ?? options.schema?.table ?? DEFAULT_TABLE,
    dry_run: options.dryRun === true,
    resumed_after_records: start.recordsDone,
    preamble_lines: plan?.source.preambleLines ?? 0,
    comment_lines: plan?.source.commentLines ?? 0,
    rows_read: rowsRead,
    rows_loaded: done.rowsLoaded - start.rowsLoaded,
    rows_rejected: done.rowsRejected - start.rowsRejected,
    rows_ignored: done.rowsIgnored - start.rowsIgnored,
    rows_updated: done.rowsUpdated - start.rowsUpdated,
    rows_unchanged: done.rowsUnchanged - start.rowsUnchanged,
    rejected_by_reason: countsSince(start.rejectedByReason, done.rejectedByReason),
    defaulted: pipeline?.defaulted ?? {},
    widenings: done.widenings.slice(start.widenings.length),
    warnings: [],
    batches: done.batches - start.batches,
    seconds,
    rows_per_second: seconds > 0 ? rowsRead / seconds : 0,
    rejects_file: options.rejectsPath ?? defaultRejectsPath(options.file),
    total_rows_loaded: done.rowsLoaded,
    total_rows_rejected: done.rowsRejected,
    exit_code: EXIT_OK,
  };
}
