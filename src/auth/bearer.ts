/**
 * Reading `Authorization: Bearer <token>` and guarding routes with an access token.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { AppError } from "../errors.ts";
import type { AppEnv } from "../http.ts";
import { hasEndpoint } from "../methods.ts";
import type { TokenService } from "./tokens.ts";

/**
 * The token from `Authorization: Bearer <token>`; a 401 when the header is missing or uses
 * another scheme.
 *
 * @example
 * ```ts
 * const token = bearerToken(c); // "eyJhbGciOi..."
 * ```
 */
export function bearerToken(c: Context): string {
  const header = c.req.header("Authorization");
  if (!header) throw AppError.unauthorized("Missing Authorization header");
  const m = /^Bearer +([^\s]+) *$/i.exec(header);
  if (!m) throw AppError.unauthorized("Authorization header must be 'Bearer <token>'");
  return m[1];
}

/**
 * Middleware that lets a request through only with a valid access token, and sets `userId`.
 *
 * @example
 * ```ts
 * app.use("/tasks/*", requireAccessToken(tokens));
 * app.get("/tasks", (c) => c.json({ me: c.get("userId") }));
 * ```
 */
export function requireAccessToken(tokens: TokenService): MiddlewareHandler<AppEnv> {
  return async function requireAccessToken(c, next) {
    // No route for this method and path: let it end as the 404 or 405 it is.
    if (!hasEndpoint(c)) return await next();
    const { userId } = await tokens.verify(bearerToken(c), "access");
    c.set("userId", userId);
    await next();
  };
}
