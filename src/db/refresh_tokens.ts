/**
 * Queries on `refresh_tokens`: a refresh token is valid only while its `jti` has a row here.
 *
 * @module
 */
import type { Queryable } from "./database.ts";

/**
 * Records a newly issued refresh token.
 *
 * @example
 * ```ts
 * await storeRefreshToken(db, { jti, userId, expiresAt: exp });
 * ```
 */
export async function storeRefreshToken(
  db: Queryable,
  token: { jti: string; userId: number; expiresAt: number },
): Promise<void> {
  await db.query(
    "INSERT INTO refresh_tokens (jti, user_id, expires_at) VALUES ($1, $2, to_timestamp($3))",
    [token.jti, token.userId, token.expiresAt],
  );
  // Expired rows are useless; sweeping now and then keeps the table small without a timer.
  if (Math.random() < 0.01) {
    await db.query("DELETE FROM refresh_tokens WHERE expires_at < now()");
  }
}

/**
 * Deletes a refresh token's row (rotation and logout). Returns false when it was already gone, so
 * of two concurrent refreshes with one token only one succeeds.
 *
 * @example
 * ```ts
 * if (!await consumeRefreshToken(db, { jti, userId })) throw AppError.unauthorized("Token revoked");
 * ```
 */
export async function consumeRefreshToken(
  db: Queryable,
  token: { jti: string; userId: number },
): Promise<boolean> {
  const rows = await db.query(
    "DELETE FROM refresh_tokens WHERE jti = $1 AND user_id = $2 AND expires_at > now() RETURNING jti",
    [token.jti, token.userId],
  );
  return rows.length > 0;
}
