/**
 * The one error type the HTTP layer maps to answers, and the CLI to exit codes.
 *
 * @example
 * ```ts
 * import { AppError } from "./errors.ts";
 * throw AppError.notFound("Task not found");
 * ```
 */
export class AppError extends Error {
  /** HTTP status this error answers with. */
  readonly status: number;
  /** Extra headers for the answer, e.g. `Retry-After`. */
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    message: string,
    options?: { headers?: Record<string, string>; cause?: unknown },
  ) {
    super(message, { cause: options?.cause });
    this.name = "AppError";
    this.status = status;
    this.headers = options?.headers ?? {};
  }

  static badRequest(message: string): AppError {
    return new AppError(400, message);
  }
  static unauthorized(message = "Invalid or missing token"): AppError {
    return new AppError(401, message, { headers: { "WWW-Authenticate": "Bearer" } });
  }
  static notFound(message = "Not found"): AppError {
    return new AppError(404, message);
  }
  static conflict(message: string): AppError {
    return new AppError(409, message);
  }
  static tooManyRequests(message: string, retryAfterSeconds: number): AppError {
    return new AppError(429, message, {
      headers: { "Retry-After": String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    });
  }
}

/** Raised when the database cannot be reached; answers 503 over HTTP, exit 1 in the CLI. */
export class DatabaseUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatabaseUnavailableError";
  }
}

/** Raised for invalid configuration (environment or flags); the message quotes the bad value. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}
