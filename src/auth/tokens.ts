/**
 * Access and refresh tokens: HS256 JWTs signed with `hono/jwt`. Each carries `sub` (the user id),
 * `sid` (the login it belongs to: every token one `POST /login` starts, through every refresh),
 * `iat`, `exp`, `jti` and a `typ` claim, so an access token is never taken for a refresh token nor
 * the reverse.
 *
 * @module
 */
import { sign, verify } from "hono/jwt";
import { type Clock, systemClock } from "../clock.ts";
import { AppError } from "../errors.ts";

/** Which of the two kinds a token is. */
export type TokenType = "access" | "refresh";

/** What a verified token says. */
export interface VerifiedToken {
  /** The `sub` claim: whose token it is. */
  userId: number;
  /** The login (`sid`) this token belongs to. */
  loginId: string;
  /** The token's own id (`jti`). */
  jti: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

/** A freshly signed token with the claims the caller may need to store. */
export interface SignedToken extends VerifiedToken {
  /** The compact JWT to hand to the client. */
  token: string;
}

/** Options for {@linkcode createTokenService}. */
export interface TokenServiceOptions {
  /** The HMAC secret, at least 32 bytes (the config checks it). */
  secret: string;
  /** How long an access token lives. */
  accessTtlSeconds: number;
  /** How long a refresh token lives. */
  refreshTtlSeconds: number;
  /** What "now" is, for `iat`, `exp` and the expiry check. @default {systemClock} */
  clock?: Clock;
}

/** Signs and verifies the two token types with one key. */
export interface TokenService {
  /** A new token of `type` for `userId` in login `loginId`, with a fresh `jti`. */
  sign(userId: number, loginId: string, type: TokenType): Promise<SignedToken>;
  /** Throws a 401 {@linkcode AppError} unless `token` is a valid, unexpired token of `type`. */
  verify(token: string, type: TokenType): Promise<VerifiedToken>;
}

const ALG = "HS256";
const MAX_INT4 = 2_147_483_647;
// How far ahead of ours another server's clock may be when it issues a token.
const CLOCK_SKEW_SECONDS = 60;
const VERIFIED_CACHE_SIZE = 10_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Creates the token service. The HMAC key is imported once, here, not on every request.
 *
 * @example
 * ```ts
 * const tokens = createTokenService({ secret, accessTtlSeconds: 3600, refreshTtlSeconds: 86400 });
 * const { token } = await tokens.sign(42, crypto.randomUUID(), "access");
 * const { userId } = await tokens.verify(token, "access"); // 42
 * ```
 */
export function createTokenService(options: TokenServiceOptions): TokenService {
  return new HmacTokenService(options);
}

/** {@linkcode TokenService} with one HMAC key, and the access tokens it has already checked. */
class HmacTokenService implements TokenService {
  readonly #key: Promise<CryptoKey>;
  readonly #ttl: Record<TokenType, number>;
  readonly #clock: Clock;
  // Access tokens already verified, until they expire. WebCrypto's HMAC verify was the largest
  // single cost of an authenticated request in profiles; a token string seen and checked before
  // needs no second signature check. Revocation is checked apart, on every request.
  readonly #verified = new Map<string, VerifiedToken>();

  constructor(options: TokenServiceOptions) {
    this.#key = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(options.secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    this.#ttl = { access: options.accessTtlSeconds, refresh: options.refreshTtlSeconds };
    this.#clock = options.clock ?? systemClock;
  }

  async sign(userId: number, loginId: string, type: TokenType): Promise<SignedToken> {
    const iat = Math.floor(this.#clock() / 1000);
    const exp = iat + this.#ttl[type];
    const jti = crypto.randomUUID();
    const claims = { sub: String(userId), sid: loginId, iat, exp, jti, typ: type };
    const token = await sign(claims, await this.#key, ALG);
    return { token, userId, loginId, jti, exp };
  }

  async verify(token: string, type: TokenType): Promise<VerifiedToken> {
    const verified = this.#verified;
    const cached = type === "access" ? verified.get(token) : undefined;
    if (cached && cached.exp > this.#clock() / 1000) return cached;
    if (cached) verified.delete(token);
    let claims: Record<string, unknown>;
    try {
      // Pinning the algorithm refuses `alg: none` and any other algorithm. The times are checked
      // by checkClaims, against the injected clock.
      claims = await verify(token, await this.#key, {
        alg: ALG,
        exp: false,
        nbf: false,
        iat: false,
      });
    } catch {
      throw AppError.unauthorized("Invalid token");
    }
    const result = checkClaims(claims, type, this.#ttl[type], this.#clock() / 1000);
    if (type === "access") {
      // Bounded: drop the oldest entry (Maps keep insertion order) rather than grow forever.
      if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
      verified.set(token, result);
    }
    return result;
  }
}

/**
 * The claims of a token whose signature is good, checked for a token of `type` living at most
 * `ttl` seconds, at `now` (seconds); a 401 {@linkcode AppError} naming what is wrong otherwise.
 */
function checkClaims(
  claims: Record<string, unknown>,
  type: TokenType,
  ttl: number,
  now: number,
): VerifiedToken {
  // A token without `exp` would never expire.
  if (typeof claims.exp !== "number") throw AppError.unauthorized("Invalid token: no expiry");
  if (claims.exp <= now) throw AppError.unauthorized("Token expired");
  if (claims.typ !== type) {
    throw AppError.unauthorized(
      type === "access"
        ? "Invalid token: a refresh token is not an access token"
        : "Invalid token: not a refresh token",
    );
  }
  // User ids are int4: a larger `sub` names nobody (and PostgreSQL would refuse it).
  const sub = claims.sub;
  const userId = typeof sub === "string" && /^[1-9]\d{0,9}$/.test(sub) ? Number(sub) : 0;
  if (userId > MAX_INT4 || userId < 1 || typeof claims.jti !== "string") {
    throw AppError.unauthorized("Invalid token");
  }
  // Tokens from before logins were tracked have no `sid`: they cannot be revoked, so refuse them.
  if (typeof claims.sid !== "string" || !UUID.test(claims.sid)) {
    throw AppError.unauthorized("Invalid token: no login; log in again");
  }
  // A token living longer than configured was not issued by this configuration (a leaked key,
  // or a lifetime since shortened): refuse it rather than honour the longer life.
  const iat = claims.iat;
  if (typeof iat !== "number" || claims.exp - iat > ttl || iat > now + CLOCK_SKEW_SECONDS) {
    throw AppError.unauthorized("Invalid token: lifetime longer than configured");
  }
  return { userId, loginId: claims.sid, jti: claims.jti, exp: claims.exp };
}
