/**
 * Reading `Authorization: Bearer <token>` and guarding routes with an access token.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { AppError } from "../errors.ts";
import type { Queryable } from "../db/database.ts";
import { userExists } from "../db/logins.ts";
import type { AuthedEnv } from "../http.ts";
import { hasEndpoint } from "../methods.ts";
import type { RevocationList } from "./revocations.ts";
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

/** What {@linkcode requireAccessToken} needs. */
export interface AccessDeps {
  db: Queryable;
  tokens: TokenService;
  revocations: RevocationList;
}

/**
 * Middleware that lets a request through only with a valid access token of a login that has not
 * ended, and sets `userId`. A request that matches no route passes untouched (it ends as the 404
 * or 405 it is).
 *
 * A deleted user's tokens are refused once the {@linkcode RevocationList} has read the deletion
 * (within a second); before that, any answer that found nothing for the user (a 404, an empty
 * list, a reference to a row that is gone) confirms that the user still exists, so even then a
 * deleted user gets a 401 and not an empty success. That costs a query on those answers only.
 *
 * Routes behind it are built with `protectedApp`, whose type says `userId` is set: a request
 * that reaches a handler has passed the check.
 *
 * @example
 * ```ts
 * const app = protectedApp(requireAccessToken({ db, tokens, revocations }));
 * app.get("/", (c) => c.json({ me: c.var.userId }));
 * ```
 */
export function requireAccessToken(deps: AccessDeps): MiddlewareHandler<AuthedEnv> {
  return async function requireAccessToken(c, next) {
    if (!hasEndpoint(c)) return await next();
    const claims = await deps.tokens.verify(bearerToken(c), "access");
    await deps.revocations.check(claims);
    c.set("userId", claims.userId);
    await next();
    if (foundNothing(c) && !await userExists(deps.db, claims.userId)) {
      const gone = AppError.unauthorized("User no longer exists");
      c.res = undefined;
      c.res = c.json({ message: gone.message }, 401, gone.headers);
    }
  };
}

function foundNothing(c: Context): boolean {
  const code = (c.error as { code?: unknown } | undefined)?.code;
  return c.res.status === 404 || c.res.headers.get("X-Total-Count") === "0" || code === "23503";
}
