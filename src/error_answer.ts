/**
 * The one place an error becomes an answer: the app's `onError` handler, and the 404/405 for a
 * path or method no route takes.
 *
 * @example
 * ```ts
 * import { getLogger } from "@logtape/logtape";
 * import { apiApp } from "./http.ts";
 * import { errorAnswer } from "./error_answer.ts";
 *
 * const app = apiApp();
 * app.onError(errorAnswer(getLogger(["taskapi", "http"])));
 * ```
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { DatabaseUnavailableError } from "./db/errors.ts";
import { AppError } from "./errors.ts";
import type { AppEnv } from "./http.ts";
import { errorFields } from "./log.ts";
import type { AllowedMethods } from "./methods.ts";

const where = (c: Context<AppEnv>) => ({
  method: c.req.method,
  path: c.req.path,
  requestId: c.var.requestId,
});

/**
 * Maps what a handler threw to an answer: the database unavailable → 503, an {@linkcode AppError}
 * → its status, Hono's `HTTPException` → its status, a value PostgreSQL refused → 400, anything
 * else → 500 with the request id (the stack goes to the log, never to the client).
 */
export function errorAnswer(log: Logger): ErrorHandler<AppEnv> {
  return (err, c) => {
    if (err instanceof DatabaseUnavailableError) {
      log.warn("Database unavailable on {method} {path} request_id={requestId}: {error}", {
        ...where(c),
        ...errorFields(err),
      });
      return c.json({ message: "Database unavailable, try again shortly" }, 503, err.headers);
    }
    if (err instanceof AppError && err.status !== undefined) {
      return c.json({ message: err.message }, err.status as ContentfulStatusCode, err.headers);
    }
    if (err instanceof HTTPException) {
      return c.json({ message: err.message || "Request failed" }, err.status);
    }
    const sqlState = dataErrorState(err);
    if (sqlState) {
      // A value the routes' validation let through and PostgreSQL refused: the client's input,
      // so a 400 (without the database's words); logged, because a validation rule is missing.
      log.warn("Database refused a value on {method} {path} request_id={requestId}: {error}", {
        ...where(c),
        sqlState,
        ...errorFields(err),
      });
      return c.json({ message: "Invalid value in request: the database refused it" }, 400);
    }
    log.error("Unhandled error on {method} {path} request_id={requestId}: {stack}", {
      ...where(c),
      ...errorFields(err),
    });
    return c.json({ message: "Internal Server Error", request_id: c.var.requestId }, 500);
  };
}

/** 405 with `Allow` for a known path and a wrong method, 404 for a path no route takes. */
export function notFoundAnswer(allowed: AllowedMethods): NotFoundHandler<AppEnv> {
  return (c) => {
    const allow = allowed.of(c.req.path);
    if (allow === undefined) {
      return c.json({ message: `Not found: ${c.req.method} ${c.req.path}` }, 404);
    }
    return c.json(
      { message: `Method ${c.req.method} not allowed on ${c.req.path} (allowed: ${allow})` },
      405,
      { Allow: allow },
    );
  };
}

/**
 * The SQLSTATE of a PostgreSQL error that a client's value caused: class 22 (data exception: out
 * of range, invalid text, NUL, ...) or 23503 (a reference to a row that is gone). Undefined for
 * anything else.
 */
function dataErrorState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return undefined;
  return /^22[0-9A-Z]{3}$/.test(code) || code === "23503" ? code : undefined;
}
