/**
 * Queries on logins: `refresh_tokens` (a refresh token is valid only while its `jti` has a row,
 * which names its login) and `token_revocations` (logins and users whose access tokens are
 * refused until they would have expired anyway).
 *
 * @module
 */
import { sqlTime } from "../clock.ts";
import type { Queryable } from "./database.ts";

/** A refresh token as stored. */
export interface RefreshRow {
  jti: string;
  userId: number;
  loginId: string;
  /** Expiry, seconds since the epoch. */
  expiresAt: number;
}

/**
 * Records a newly issued refresh token.
 *
 * @example
 * ```ts
 * await storeRefreshToken(db, { jti, userId, loginId, expiresAt: exp });
 * ```
 */
export async function storeRefreshToken(db: Queryable, token: RefreshRow): Promise<void> {
  await db.query(
    `INSERT INTO refresh_tokens (jti, user_id, login_id, expires_at)
     VALUES ($1, $2, $3, to_timestamp($4))`,
    [token.jti, token.userId, token.loginId, token.expiresAt],
  );
  // Expired rows are useless; sweeping now and then keeps the table small without a timer.
  if (Math.random() < 0.01) {
    await db.query("DELETE FROM refresh_tokens WHERE expires_at < now()");
  }
}

/**
 * Deletes a refresh token's row (rotation). Returns false when it was already gone: used before,
 * or its login ended. Of two concurrent refreshes with one token only one gets true.
 *
 * @example
 * ```ts
 * if (!await consumeRefreshToken(tx, claims)) await revokeLogin(tx, claims, "refresh_reused", ttl);
 * ```
 */
export async function consumeRefreshToken(
  db: Queryable,
  token: { jti: string; userId: number; loginId: string },
): Promise<boolean> {
  const rows = await db.query(
    `DELETE FROM refresh_tokens
     WHERE jti = $1 AND user_id = $2 AND login_id = $3 AND expires_at > now()
     RETURNING jti`,
    [token.jti, token.userId, token.loginId],
  );
  return rows.length > 0;
}

/**
 * Ends a login: its refresh tokens are deleted, and its access tokens listed as revoked until
 * `accessExpiresAt` (seconds since the epoch; the last moment one of them can be valid). Returns
 * false when the login had already been ended (nothing new is listed then).
 *
 * @example
 * ```ts
 * await revokeLogin(db, { userId, loginId }, "logout", nowSeconds + accessTtl);
 * ```
 */
export async function revokeLogin(
  db: Queryable,
  login: { userId: number; loginId: string },
  reason: string,
  accessExpiresAt: number,
): Promise<boolean> {
  await db.query("DELETE FROM refresh_tokens WHERE login_id = $1", [login.loginId]);
  const rows = await db.query(
    `INSERT INTO token_revocations (login_id, user_id, reason, expires_at)
     SELECT $1, $2, $3, to_timestamp($4)
     WHERE NOT EXISTS (SELECT 1 FROM token_revocations WHERE login_id = $1)
     RETURNING id`,
    [login.loginId, login.userId, reason, accessExpiresAt],
  );
  return rows.length > 0;
}

/** A revocation as read back. */
export interface Revocation {
  loginId: string | null;
  userId: number | null;
  /** Until when it matters, ms since the epoch. */
  expiresAt: number;
  /** When it was made, as the database's text (passed back as the next read's start). */
  revokedAt: string;
}

/**
 * The revocations still in force made since `since` (a `revokedAt` from an earlier read, less a
 * minute of overlap for transactions that committed late), or all of them when `since` is null.
 *
 * @example
 * ```ts
 * const fresh = await readRevocations(db, lastSeen, Date.now());
 * ```
 */
export async function readRevocations(
  db: Queryable,
  since: string | null,
  nowMs: number,
): Promise<Revocation[]> {
  const rows = await db.query<{
    login_id: string | null;
    user_id: number | null;
    expires_ms: string;
    revoked_at: string;
  }>(
    `SELECT login_id, user_id, (extract(epoch FROM expires_at) * 1000)::bigint::text AS expires_ms,
            revoked_at::text AS revoked_at
     FROM token_revocations
     WHERE revoked_at > coalesce($1::timestamptz - interval '60 seconds', '-infinity')
       AND expires_at > $2::timestamptz
     ORDER BY revoked_at`,
    [since, sqlTime(nowMs)],
  );
  return rows.map((r) => ({
    loginId: r.login_id,
    userId: r.user_id,
    expiresAt: Number(r.expires_ms),
    revokedAt: r.revoked_at,
  }));
}

/**
 * Whether the user still exists.
 *
 * @example
 * ```ts
 * if (!await userExists(db, userId)) throw AppError.unauthorized("User no longer exists");
 * ```
 */
export async function userExists(db: Queryable, userId: number): Promise<boolean> {
  const rows = await db.query("SELECT 1 FROM users WHERE id = $1", [userId]);
  return rows.length > 0;
}
