/**
 * The loader's failures, each carrying the exit code the contract gives it: 2 for bad usage or
 * an input that cannot be read, 1 for a load that failed.
 *
 * @example
 * ```ts
 * throw new UsageError(`unknown flag "--fast"`);
 * ```
 */

/** Exit codes of `cli.ts ingest` / `infer`. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export type ExitCode = typeof EXIT_OK | typeof EXIT_FAILED | typeof EXIT_USAGE;

/** Bad flags, a bad schema file, a table that does not match: exit 2, nothing loaded. */
export class UsageError extends Error {
  readonly exitCode: ExitCode = EXIT_USAGE;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** The input file is missing, unreadable, empty or not in its encoding: exit 2. */
export class InputError extends Error {
  readonly exitCode: ExitCode = EXIT_USAGE;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "InputError";
  }
}

/** The load started and could not finish (too many rejects, database trouble): exit 1. */
export class LoadError extends Error {
  readonly exitCode: ExitCode = EXIT_FAILED;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LoadError";
  }
}

/** The exit code for any error: the loader's own classes say theirs, anything else is 1. */
export function exitCodeOf(err: unknown): ExitCode {
  const code = (err as { exitCode?: unknown } | null)?.exitCode;
  return code === EXIT_USAGE || code === EXIT_FAILED ? code : EXIT_FAILED;
}
