/**
 * Registration and login: what `POST /register` and `POST /login` call.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Clock } from "../clock.ts";
import type { ServerConfig } from "../config.ts";
import { takeHits, undoHits } from "../db/auth_limits.ts";
import type { Database } from "../db/database.ts";
import { findLogin, insertUser } from "../db/users.ts";
import { AppError } from "../errors.ts";
import { canonicalUsername, USERNAME_PATTERN } from "../http.ts";
import { hashPassword, verifyPassword } from "./password.ts";
import type { HashQueue } from "./hash_queue.ts";
import type { RevocationList } from "./revocations.ts";
import { openSession, type Session } from "./sessions.ts";
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
  /** The logins ended, for this process. */
  revocations: RevocationList;
  /** The cap on concurrent password hashes. */
  hashing: HashQueue;
}

/** Username and password, as the client sent them. */
export interface Credentials {
  username: string;
  password: string;
}

/**
 * Authentication events, one structured line each (`event`, `username`, `user_id`, `client`...),
 * at info: who logged in or failed to, lockouts, registrations, logouts, replayed refresh tokens.
 * Never a password or a token.
 */
export const audit = getLogger(["taskapi", "audit"]);

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
  const passwordHash = await deps.hashing.run(() => hashPassword(creds.password));
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
  let ok: boolean;
  try {
    ok = await deps.hashing.run(() => verifyPassword(creds.password, user?.password_hash));
  } catch (err) {
    // No capacity to check it: the attempt did not happen, so it is no failure either.
    await undoHits(db, hit.ids);
    throw err;
  }
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
  const loginId = crypto.randomUUID();
  const session = await openSession(deps, user.id, loginId);
  audit.info("login succeeded for {username} (user {user_id}) from {client}", {
    event: "login_succeeded",
    username,
    user_id: user.id,
    login_id: loginId,
    client,
  });
  return session;
}
