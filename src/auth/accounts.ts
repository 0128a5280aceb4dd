/**
 * Registration, login and refresh-token sessions: what the auth routes call.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { ServerConfig } from "../config.ts";
import { takeHits, undoHits } from "../db/auth_limits.ts";
import type { Database } from "../db/database.ts";
import { consumeRefreshToken, storeRefreshToken } from "../db/refresh_tokens.ts";
import { findLogin, insertUser } from "../db/users.ts";
import { AppError } from "../errors.ts";
import { hashPassword, verifyPassword } from "./password.ts";
import type { TokenService } from "./tokens.ts";

/** What the account functions need. */
export interface AccountDeps {
  db: Database;
  tokens: TokenService;
  config: Pick<ServerConfig, "accessTokenTtlSeconds" | "loginMaxFailures" | "loginWindowSeconds">;
  /** The clock the rate-limit windows are measured with. */
  clock: Clock;
}

/** Username and password, as the client sent them. */
export interface Credentials {
  username: string;
  password: string;
}

/** What a successful login or refresh answers. */
export interface Session {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
}

/**
 * Creates an account. A 409 when the username is taken, in any letter case.
 *
 * @example
 * ```ts
 * await register(deps, { username: "testuser1", password: "securepassword" });
 * ```
 */
export async function register(deps: AccountDeps, creds: Credentials): Promise<number> {
  const passwordHash = await hashPassword(creds.password);
  const id = await insertUser(deps.db, { username: creds.username, passwordHash });
  if (id === undefined) throw AppError.conflict(`Username "${creds.username}" is already taken`);
  return id;
}

/**
 * Checks credentials and opens a session. Unknown user and wrong password answer the same 401 after
 * the same work. Each attempt counts as a failure for its username until it succeeds, so concurrent
 * guesses cannot slip past the limit; past the limit even the right password gets a 429.
 *
 * @example
 * ```ts
 * const { access_token } = await login(deps, { username: "testuser1", password: "securepassword" });
 * ```
 */
export async function login(deps: AccountDeps, creds: Credentials): Promise<Session> {
  const { db, config } = deps;
  const hit = await takeHits(db, [{
    key: `login:${creds.username.toLowerCase()}`,
    limit: config.loginMaxFailures,
    windowSeconds: config.loginWindowSeconds,
  }], deps.clock());
  if (!hit.allowed) {
    throw AppError.tooManyRequests(
      `Too many failed logins for this username; try again in ${hit.retryAfterSeconds} s`,
      hit.retryAfterSeconds,
    );
  }
  const user = await findLogin(db, creds.username);
  const ok = await verifyPassword(creds.password, user?.password_hash);
  if (!ok || !user) throw AppError.http(401, "Invalid username or password");
  await undoHits(db, hit.ids);
  return await openSession(deps, user.id);
}

/**
 * Trades a refresh token for a new access token and a new refresh token; the old one stops working
 * (rotation), so a stolen refresh token is good for one use at most.
 *
 * @example
 * ```ts
 * const session = await refresh(deps, bearerToken(c));
 * ```
 */
export async function refresh(deps: AccountDeps, refreshToken: string): Promise<Session> {
  const claims = await deps.tokens.verify(refreshToken, "refresh");
  const access = await deps.tokens.sign(claims.userId, "access");
  const next = await deps.tokens.sign(claims.userId, "refresh");
  await deps.db.transaction(async (tx) => {
    if (!await consumeRefreshToken(tx, claims)) {
      throw AppError.unauthorized("Refresh token revoked or already used");
    }
    await storeRefreshToken(tx, { jti: next.jti, userId: next.userId, expiresAt: next.exp });
  });
  return sessionOf(deps, access.token, next.token);
}

/**
 * Revokes a refresh token. Revoking one that is already revoked succeeds too: the caller's wish,
 * a dead token, holds either way.
 *
 * @example
 * ```ts
 * await logout(deps, bearerToken(c));
 * ```
 */
export async function logout(deps: AccountDeps, refreshToken: string): Promise<void> {
  const claims = await deps.tokens.verify(refreshToken, "refresh");
  await consumeRefreshToken(deps.db, claims);
}

async function openSession(deps: AccountDeps, userId: number): Promise<Session> {
  const access = await deps.tokens.sign(userId, "access");
  const next = await deps.tokens.sign(userId, "refresh");
  await storeRefreshToken(deps.db, { jti: next.jti, userId, expiresAt: next.exp });
  return sessionOf(deps, access.token, next.token);
}

function sessionOf(deps: AccountDeps, accessToken: string, refreshToken: string): Session {
  return {
    access_token: accessToken,
    token_type: "Bearer",
    expires_in: deps.config.accessTokenTtlSeconds,
    refresh_token: refreshToken,
  };
}
