/**
 * The middleware that gives every request an id, puts the headers every answer carries, and logs
 * one line per request (method, path, status, milliseconds, request id, user id).
 *
 * @example
 * ```ts
 * import { getLogger } from "@logtape/logtape";
 * import { apiApp } from "./http.ts";
 * import { requestLog } from "./request_log.ts";
 *
 * const app = apiApp();
 * app.use(requestLog(getLogger(["taskapi", "http"])));
 * ```
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./http.ts";

// A client's own X-Request-Id is kept when it is safe to echo and to log.
const REQUEST_ID = /^[\w.-]{1,128}$/;

// LogTape reads `{name}` as a placeholder; `{{` and `}}` are literal braces.
const escapeBraces = (text: string) => text.replaceAll("{", "{{").replaceAll("}", "}}");

/** The request-id, header and log-line middleware, logging to `log`. */
export function requestLog(log: Logger): MiddlewareHandler<AppEnv> {
  return async function requestLog(c, next) {
    const start = performance.now();
    const given = c.req.header("X-Request-Id");
    const requestId = given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    c.set("requestId", requestId);
    await next();
    c.res.headers.set("X-Request-Id", requestId);
    c.res.headers.set("X-Content-Type-Options", "nosniff");
    // Tokens and task data must not be kept by a browser or a shared cache; an answer that may be
    // cached (a static asset) says so itself.
    if (!c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
    // Never the headers or the body: they carry tokens and passwords. The line is built here
    // rather than from a template: this runs on every request, and templates inspect each value.
    const ms = Math.round((performance.now() - start) * 10) / 10;
    const userId = c.var.userId ?? "-";
    const line = `${c.req.method} ${c.req.path} ${c.res.status} ${ms} ms ` +
      `request_id=${requestId} user_id=${userId}`;
    log.info(line.includes("{") || line.includes("}") ? escapeBraces(line) : line, {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms,
      requestId,
      userId,
    });
  };
}
