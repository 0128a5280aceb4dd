/**
 * The one error model of the server and the loader. Every failure the program expects is an
 * {@linkcode AppError}: it carries the HTTP status it answers with (where it can reach a client)
 * and the exit code the CLI ends with. `app.ts` turns errors into answers, `cli.ts` into exit
 * codes; nothing else decides either. This module imports nothing, so the data layer and the
 * loader can use it without depending on the web app.
 *
 * @example
 * ```ts
 * import { AppError, UsageError } from "./errors.ts";
 * throw AppError.notFound("Task not found"); // 404 over HTTP
 * throw new UsageError(`unknown flag "--fast"`); // exit 2 in the CLI
 * ```
 *
 * @module
 */

/** The load (or command) finished. */
export const EXIT_OK = 0;
/** The load started and could not finish. */
export const EXIT_FAILED = 1;
/** Bad usage, or an input that cannot be read: nothing was done. */
export const EXIT_USAGE = 2;
/** The exit codes of `cli.ts`. */
export type ExitCode = typeof EXIT_OK | typeof EXIT_FAILED | typeof EXIT_USAGE;

/** Options for {@linkcode AppError}. */
export interface AppErrorOptions {
  /** The HTTP status to answer with; absent for errors no client can cause (500). */
  status?: number;
  /** The CLI's exit code. @default {EXIT_FAILED} */
  exitCode?: ExitCode;
  /** Extra headers for the answer, e.g. `Retry-After`. */
  headers?: Record<string, string>;
  /** The error this one wraps, kept for the log's stack trace. */
  cause?: unknown;
}

/** An expected failure: what it answers over HTTP and how the CLI exits on it. */
export class AppError extends Error {
  /** The HTTP status this error answers with; undefined means the server's fault (500). */
  readonly status: number | undefined;
  /** The exit code of the CLI when this error ends a command. */
  readonly exitCode: ExitCode;
  /** Extra headers for the answer, e.g. `Retry-After`. */
  readonly headers: Record<string, string>;

  /** `message` is what the client or the user reads: it says what is wrong and quotes the value. */
  constructor(message: string, options: AppErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.status = options.status;
    this.exitCode = options.exitCode ?? EXIT_FAILED;
    this.headers = options.headers ?? {};
  }

  /** An answer with `status` and a JSON `message`. */
  static http(
    status: number,
    message: string,
    options?: { headers?: Record<string, string>; cause?: unknown },
  ): AppError {
    return new AppError(message, { status, ...options });
  }
  /** 400: malformed JSON, an invalid field or query parameter. */
  static badRequest(message: string): AppError {
    return AppError.http(400, message);
  }
  /** 401 with `WWW-Authenticate: Bearer`. */
  static unauthorized(message = "Invalid or missing token"): AppError {
    return AppError.http(401, message, { headers: { "WWW-Authenticate": "Bearer" } });
  }
  /** 404: missing, or someone else's. */
  static notFound(message = "Not found"): AppError {
    return AppError.http(404, message);
  }
  /** 409: e.g. a username already taken. */
  static conflict(message: string): AppError {
    return AppError.http(409, message);
  }
  /** 429 with `Retry-After` (whole seconds, at least 1). */
  static tooManyRequests(message: string, retryAfterSeconds: number): AppError {
    return AppError.http(429, message, {
      headers: { "Retry-After": String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    });
  }
}

/** Invalid configuration (environment or flags); the message quotes the bad value. Exit 2. */
export class ConfigError extends AppError {
  /** `message` names the setting and quotes its value (never a secret's). */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { exitCode: EXIT_USAGE, cause: options?.cause });
  }
}

/** Bad flags, a bad schema file, a table that does not match: exit 2, nothing loaded. */
export class UsageError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { exitCode: EXIT_USAGE, cause: options?.cause });
  }
}

/** The input file is missing, unreadable, empty or not in its encoding: exit 2. */
export class InputError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { exitCode: EXIT_USAGE, cause: options?.cause });
  }
}

/** The load started and could not finish (too many rejects, database trouble): exit 1. */
export class LoadError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { exitCode: EXIT_FAILED, cause: options?.cause });
  }
}

/** The exit code `err` carries: an {@linkcode AppError}'s own, 1 for anything else. */
export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof AppError ? err.exitCode : EXIT_FAILED;
}
