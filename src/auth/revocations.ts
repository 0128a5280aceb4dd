/**
 * Which access tokens no longer count, without a database round trip per request: the logins
 * ended (logout, a replayed refresh token) and the users deleted, read from `token_revocations`
 * into memory and read again when the copy is more than {@linkcode REVOCATION_MAX_AGE_MS} old.
 * So a revocation made by any process holds on every process within about a second, and costs
 * one query per second per process (the request that finds the copy stale waits for it; the
 * others in the meantime share it). Revocations made here hold here at once.
 *
 * Chosen over a check inside each request's own statement (which every task query would have to
 * carry) and a lookup per request (a round trip each).
 *
 * @example
 * ```ts
 * const revocations = new RevocationList(db, Date.now);
 * await revocations.check(claims); // throws a 401 when the login was ended or the user deleted
 * ```
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Database } from "../db/database.ts";
import { readRevocations } from "../db/logins.ts";
import { AppError } from "../errors.ts";

/** How old the in-memory copy may be before a request reads the table again. */
export const REVOCATION_MAX_AGE_MS = 1000;

/** The revoked logins and users, as this process last read them. */
export class RevocationList {
  /** Login id → until when (ms) its access tokens are refused. */
  readonly #logins = new Map<string, number>();
  /** User id → until when (ms) their access tokens are refused. */
  readonly #users = new Map<number, number>();
  /** The newest `revoked_at` read, as the database wrote it; null before the first read. */
  #since: string | null = null;
  /** When (by the clock) the last read started. */
  #readAt = -Infinity;
  #reading?: Promise<void>;

  constructor(readonly db: Database, readonly clock: Clock) {}

  /**
   * Throws a 401 when the token's login was ended or its user deleted; reads the table first
   * when the copy is stale.
   */
  async check(token: { userId: number; loginId: string }): Promise<void> {
    if (this.clock() - this.#readAt > REVOCATION_MAX_AGE_MS) await this.refresh();
    if (this.#users.has(token.userId)) throw AppError.unauthorized("User no longer exists");
    if (this.#logins.has(token.loginId)) {
      throw AppError.unauthorized("Token revoked: this login has ended");
    }
  }

  /** Records a revocation made by this process, so that it holds here at once. */
  add(loginId: string, expiresAtMs: number): void {
    this.#logins.set(loginId, expiresAtMs);
  }

  /** Reads what was revoked since the last read (concurrent callers share one read). */
  refresh(): Promise<void> {
    this.#reading ??= this.#read().finally(() => this.#reading = undefined);
    return this.#reading;
  }

  async #read(): Promise<void> {
    const started = this.clock();
    const fresh = await readRevocations(this.db, this.#since, started);
    for (const r of fresh) {
      if (r.loginId !== null) this.#logins.set(r.loginId, r.expiresAt);
      if (r.userId !== null && r.loginId === null) this.#users.set(r.userId, r.expiresAt);
      this.#since = r.revokedAt;
    }
    for (const map of [this.#logins, this.#users] as Map<unknown, number>[]) {
      for (const [key, until] of map) if (until <= started) map.delete(key);
    }
    this.#readAt = started;
  }
}
