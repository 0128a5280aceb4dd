/**
 * Sliding-window rate limits kept in `auth_limit_hits`, so every server process on the database
 * counts together and the counts survive restarts.
 *
 * @module
 */
import type { Database } from "./database.ts";

/** A limit: at most `limit` hits for `key` within `windowSeconds`; 0 for either turns it off. */
export interface LimitRule {
  key: string;
  limit: number;
  windowSeconds: number;
}

/** Outcome of {@linkcode takeHit}: the hit's id (to undo it), or how long until one is free. */
export type HitResult =
  | { allowed: true; id?: string }
  | { allowed: false; retryAfterSeconds: number };

// Two-key advisory locks live apart from the one-key lock that migrations take.
const LOCK_NAMESPACE = 727_073_690;

/**
 * Counts a hit for `rule.key` unless the key already has `rule.limit` hits in the window. Only
 * counted hits use up the limit, so a refused client is free again as soon as its oldest hit ages
 * out. A per-key lock makes concurrent hits (from any process) count exactly.
 *
 * @example
 * ```ts
 * const hit = await takeHit(db, { key: "ip:10.0.0.1", limit: 60, windowSeconds: 60 });
 * if (!hit.allowed) throw AppError.tooManyRequests("Too many requests", hit.retryAfterSeconds);
 * ```
 */
export async function takeHit(db: Database, rule: LimitRule): Promise<HitResult> {
  if (rule.limit <= 0 || rule.windowSeconds <= 0) return { allowed: true };
  const result = await db.transaction(async (tx): Promise<HitResult> => {
    await tx.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [LOCK_NAMESPACE, rule.key]);
    await tx.query("DELETE FROM auth_limit_hits WHERE key = $1 AND expires_at <= now()", [
      rule.key,
    ]);
    // The limit-th newest hit, if there is one, is the one that must age out first.
    const full = await tx.query<{ retry: number }>(
      `SELECT ceil(extract(epoch FROM expires_at - now()))::int AS retry
       FROM auth_limit_hits WHERE key = $1
       ORDER BY expires_at DESC OFFSET $2 LIMIT 1`,
      [rule.key, rule.limit - 1],
    );
    if (full.length > 0) return { allowed: false, retryAfterSeconds: Math.max(1, full[0].retry) };
    const rows = await tx.query<{ id: string }>(
      `INSERT INTO auth_limit_hits (key, expires_at)
       VALUES ($1, now() + make_interval(secs => $2)) RETURNING id::text AS id`,
      [rule.key, rule.windowSeconds],
    );
    return { allowed: true, id: rows[0].id };
  });
  // Keys that never come back would keep their rows forever; sweep now and then, no timer.
  if (Math.random() < 0.01) {
    await db.query("DELETE FROM auth_limit_hits WHERE expires_at <= now()").catch(() => {});
  }
  return result;
}

/**
 * Takes back a hit counted by {@linkcode takeHit}, e.g. a login attempt that turned out right.
 *
 * @example
 * ```ts
 * if (hit.allowed) await undoHit(db, hit.id);
 * ```
 */
export async function undoHit(db: Database, id: string | undefined): Promise<void> {
  if (id === undefined) return;
  await db.query("DELETE FROM auth_limit_hits WHERE id = $1", [id]);
}
