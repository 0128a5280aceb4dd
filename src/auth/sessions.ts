/**
 * Sessions: a login is the chain of tokens one `POST /login` starts, through every refresh. Every
 * token carries the login's id (`sid`). Refreshing rotates the refresh token; presenting one that
 * was already rotated ends the whole login (RFC 9700's reuse detection: either the client or a
 * thief replayed it, and the server cannot tell which). Logging out ends the whole login too,
 * access tokens included (see {@linkcode RevocationList}).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Clock } from "../clock.ts";
import type { ServerConfig } from "../config.ts";
import type { Database } from "../db/database.ts";
import { consumeRefreshToken, revokeLogin, storeRefreshToken } from "../db/logins.ts";
import { AppError } from "../errors.ts";
import type { RevocationList } from "./revocations.ts";
import type { TokenService, VerifiedToken } from "./tokens.ts";

/** What the session functions need. */
export interface SessionDeps {
  db: Database;
  tokens: TokenService;
  config: Pick<ServerConfig, "accessTokenTtlSeconds">;
  clock: Clock;
  revocations: RevocationList;
}

/** What a successful login or refresh answers. */
export interface Session {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
}

const audit = getLogger(["taskapi", "audit"]);

/**
 * Starts login `loginId` (a new random UUID) for `userId`: an access token and a refresh token.
 *
 * @example
 * ```ts
 * const session = await openSession(deps, user.id, crypto.randomUUID());
 * ```
 */
export async function openSession(
  deps: SessionDeps,
  userId: number,
  loginId: string,
): Promise<Session> {
  const access = await deps.tokens.sign(userId, loginId, "access");
  const next = await deps.tokens.sign(userId, loginId, "refresh");
  await storeRefreshToken(deps.db, { ...next, expiresAt: next.exp });
  return sessionOf(deps, access.token, next.token);
}

/**
 * Trades a refresh token for a new access token and a new refresh token of the same login; the
 * old one stops working (rotation). One presented after it was rotated ends the whole login.
 *
 * @example
 * ```ts
 * const session = await refresh(deps, bearerToken(c), client);
 * ```
 */
export async function refresh(
  deps: SessionDeps,
  refreshToken: string,
  client: string,
): Promise<Session> {
  const claims = await deps.tokens.verify(refreshToken, "refresh");
  // A login known to have ended is refused as such; only a token of a live login is a replay.
  await deps.revocations.check(claims);
  const access = await deps.tokens.sign(claims.userId, claims.loginId, "access");
  const next = await deps.tokens.sign(claims.userId, claims.loginId, "refresh");
  const outcome = await deps.db.transaction(async (tx) => {
    if (await consumeRefreshToken(tx, claims)) {
      await storeRefreshToken(tx, { ...next, expiresAt: next.exp });
      return "rotated";
    }
    // Used before, or its login ended elsewhere in the last second.
    return await revokeLogin(tx, claims, "refresh_reused", accessExpiry(deps)) ? "reused" : "ended";
  });
  if (outcome !== "rotated") deps.revocations.add(claims.loginId, accessExpiry(deps) * 1000);
  if (outcome === "ended") throw AppError.unauthorized("Token revoked: this login has ended");
  if (outcome === "reused") {
    audit.warn("refresh token reused: login {login_id} of user {user_id} ended ({client})", {
      event: "refresh_reused",
      user_id: claims.userId,
      login_id: claims.loginId,
      client,
    });
    throw AppError.unauthorized("Refresh token already used or revoked: this login has ended");
  }
  return sessionOf(deps, access.token, next.token);
}

/**
 * Ends the login a refresh token belongs to: all its refresh tokens, and its access tokens on
 * every process within about a second (at once on this one). Ending one already ended succeeds
 * too: the caller's wish, a dead login, holds either way.
 *
 * @example
 * ```ts
 * await logout(deps, bearerToken(c), client);
 * ```
 */
export async function logout(
  deps: SessionDeps,
  refreshToken: string,
  client: string,
): Promise<void> {
  const claims: VerifiedToken = await deps.tokens.verify(refreshToken, "refresh");
  const until = accessExpiry(deps);
  await revokeLogin(deps.db, claims, "logout", until);
  deps.revocations.add(claims.loginId, until * 1000);
  audit.info("logout: login {login_id} of user {user_id} ended ({client})", {
    event: "logout",
    user_id: claims.userId,
    login_id: claims.loginId,
    client,
  });
}

/** The last moment (seconds) an access token issued now could still be valid. */
function accessExpiry(deps: SessionDeps): number {
  return Math.ceil(deps.clock() / 1000) + deps.config.accessTokenTtlSeconds + 60;
}

function sessionOf(deps: SessionDeps, accessToken: string, refreshToken: string): Session {
  return {
    access_token: accessToken,
    token_type: "Bearer",
    expires_in: deps.config.accessTokenTtlSeconds,
    refresh_token: refreshToken,
  };
}
