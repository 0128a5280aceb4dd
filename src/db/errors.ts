/**
 * The database's own errors. The drivers (`postgres.ts`, `pglite.ts`) turn every "cannot reach
 * the database" failure into a {@linkcode DatabaseUnavailableError} at the point it happens, so
 * nothing above them needs to recognise driver errors: the app answers it with 503, the CLI
 * exits 1.
 *
 * @example
 * ```ts
 * try {
 *   await db.query("SELECT 1");
 * } catch (err) {
 *   if (err instanceof DatabaseUnavailableError) console.error("database down:", err.message);
 * }
 * ```
 *
 * @module
 */
import { AppError, EXIT_FAILED } from "../errors.ts";

/** The database cannot be reached (down, refused, timed out, closed): 503, or exit 1. */
export class DatabaseUnavailableError extends AppError {
  /** `message` says where and why; `cause` is the driver's own error. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, {
      status: 503,
      exitCode: EXIT_FAILED,
      headers: { "Retry-After": "5" },
      cause: options?.cause,
    });
  }
}

/**
 * Whether a driver error means "cannot reach the database": SQLSTATE class 08, a server shutting
 * down or starting, a socket error, or node-postgres's own timeouts. For the drivers only.
 */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") {
    if (code.startsWith("08")) return true; // connection_exception class
    if (code === "57P01" || code === "57P02" || code === "57P03") return true; // shutdown / starting
    if (
      /^E(CONNREFUSED|CONNRESET|TIMEDOUT|NOTFOUND|HOSTUNREACH|NETUNREACH|PIPE|AI_AGAIN)$/.test(code)
    ) {
      return true;
    }
  }
  const msg = err.message;
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|connection is closed|Client has encountered a connection error|Connection refused|ECONNREFUSED|ECONNRESET/i
    .test(msg);
}
