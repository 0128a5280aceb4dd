/**
 * Registration, login and refresh-token sessions: what the auth routes call.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Clock } from "../clock.ts";
import type { ServerConfig } from "../config.ts";
import { takeHits, undoHits } from "../db/auth_limits.ts";
import type { Database } from "../db/database.ts";
import { consumeRefreshToken, storeRefreshToken } from "../db/refresh_tokens.ts";
import { findLogin, insertUser } from "../db/users.ts";
import { AppError } from "../errors.ts";
import { canonicalUsername, USERNAME_PATTERN } from "../http.ts";
import { hashPassword, verifyPassword } from "./password.ts";
import type { TokenService } from "./tokens.ts";

/** What the account functions need. */
export interface AccountDeps {
  db: Database;
  tokens: TokenService;
  config: Pick<
    ServerConfig,
    | "accessTokenTtlSeconds"
    | "loginMaxFailures"
    | "loginMaxFailuresPerUser"
    | "loginWindowSeconds"
  >;
  /** The clock the rate-limit windows are measured with. */
  clock: Clock;
}

/** Username and password, as the client sent them. */
export interface Credentials {
  username: string;
  password: string;
}

/**
 * Authentication events, one structured line each (`event`, `username`, `user_id`, `client`...),
 * at info: who logged in or failed to, lockouts, registrations. Never a password or a token.
 */
const audit = getLogger(["taskapi", "audit"]);

/** What a successful login or refresh answers. */
export interface Session {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
}

/**
 * Creates an account. A 409 when the name is taken in its canonical form (any letter case, any
 * Unicode variant).
 *
 * @example
 * ```ts
 * await register(deps, { username: "testuser1", password: "securepassword" }, "192.0.2.1");
 * ```
 */
export async function register(
  deps: AccountDeps,
  creds: Credentials,
  client: string,
): Promise<number> {
  const passwordHash = await hashPassword(creds.password);
  const key = canonicalUsername(creds.username);
  const id = await insertUser(deps.db, { username: creds.username, key, passwordHash });
  if (id === undefined) throw AppError.conflict(`Username "${creds.username}" is already taken`);
  audit.info("registered {username} as user {user_id} from {client}", {
    event: "registered",
    username: key,
    user_id: id,
    client,
  });
  return id;
}

/**
 * Checks credentials and opens a session. `creds.username` is already canonical
 * (`loginNameField`). An unknown user, a name outside the rules and a wrong password answer the
 * same 401 after the same work (a password hash). Failures count per username and client address
 * (`LOGIN_MAX_FAILURES`: one address cannot lock the user out for everyone else) and per username
 * across addresses (`LOGIN_MAX_FAILURES_PER_USER`: guessing spread over many addresses still
 * stops). Each attempt counts as a failure until it succeeds, so concurrent guesses cannot slip
 * past a limit; past one even the right password gets a 429.
 *
 * @example
 * ```ts
 * const { access_token } = await login(deps, { username: "testuser1", password: "pw" }, "192.0.2.1");
 * ```
 */
export async function login(
  deps: AccountDeps,
  creds: Credentials,
  client: string,
): Promise<Session> {
  const { db, config } = deps;
  const username = creds.username;
  const valid = USERNAME_PATTERN.test(username);
  // A name that can never log in is still counted (the same work), by a bounded key that no valid
  // name has (valid names have at most 50 characters, all of them allowed ones).
  const name = valid ? username : username.slice(0, 64);
  const window = config.loginWindowSeconds;
  const hit = await takeHits(db, [
    { key: `login:${name}@${client}`, limit: config.loginMaxFailures, windowSeconds: window },
    { key: `login:${name}`, limit: config.loginMaxFailuresPerUser, windowSeconds: window },
  ], deps.clock());
  if (!hit.allowed) {
    const perAddress = hit.rule.key.includes("@");
    audit.info("login locked for {username} from {client} ({scope})", {
      event: "login_locked",
      username: name,
      client,
      scope: perAddress ? "username_and_address" : "username",
      retry_after: hit.retryAfterSeconds,
    });
    throw AppError.tooManyRequests(
      `Too many failed logins for this username${
        perAddress ? " from this address" : ""
      }; try again in ${hit.retryAfterSeconds} s`,
      hit.retryAfterSeconds,
    );
  }
  // A name no one can register is never looked up; the hash below still costs what it always does.
  const user = valid ? await findLogin(db, username) : undefined;
  const ok = await verifyPassword(creds.password, user?.password_hash);
  if (!ok || !user) {
    audit.info("login failed for {username} from {client}: {reason}", {
      event: "login_failed",
      username: name,
      client,
      reason: !valid ? "invalid_name" : user ? "wrong_password" : "unknown_user",
    });
    throw AppError.http(401, "Invalid username or password");
  }
  await undoHits(db, hit.ids);
  const session = await openSession(deps, user.id);
  audit.info("login succeeded for {username} (user {user_id}) from {client}", {
    event: "login_succeeded",
    username,
    user_id: user.id,
    client,
  });
  return session;
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
