/**
 * Sliding-window rate limits kept in `auth_limit_hits`, so every server process on the database
 * counts together and the counts survive restarts.
 *
 * Each check is one short transaction whose locks are transaction-scoped advisory locks, so it
 * holds no state on its connection and works through a pooler in transaction mode. Times come
 * from the caller's clock (a parameter), not from the database's `now()`: tests move that clock
 * instead of sleeping, and every statement of one check agrees on the instant.
 *
 * @module
 */
import { sqlTime } from "../clock.ts";
import type { Database, Queryable } from "./database.ts";

/** A limit: at most `limit` hits for `key` within `windowSeconds`; 0 for either turns it off. */
export interface LimitRule {
  key: string;
  limit: number;
  windowSeconds: number;
}

/** Outcome of {@linkcode takeHits}: the hits' ids (to undo them), or the rule that refused. */
export type HitResult =
  | { allowed: true; ids: string[] }
  | { allowed: false; retryAfterSeconds: number; rule: LimitRule };

// Two-key advisory locks live apart from the one-key lock that migrations take.
const LOCK_NAMESPACE = 727_073_690;

/**
 * Counts one hit for every rule's key, unless a key already has its rule's `limit` hits in the
 * window: then nothing is counted and the answer names the rule that refused, with the time until
 * its oldest counted hit ages out (the longest wait, when several refuse). Only counted hits use up
 * a limit, so a refused client is free again as soon as that hit ages out. Per-key locks make
 * concurrent hits (from any process) count exactly.
 *
 * @example
 * ```ts
 * const hit = await takeHits(db, [{ key: "ip:10.0.0.1", limit: 60, windowSeconds: 60 }], Date.now());
 * if (!hit.allowed) throw AppError.tooManyRequests("Too many requests", hit.retryAfterSeconds);
 * ```
 */
export async function takeHits(
  db: Database,
  rules: readonly LimitRule[],
  nowMs: number,
): Promise<HitResult> {
  const active = rules.filter((r) => r.limit > 0 && r.windowSeconds > 0);
  if (active.length === 0) return { allowed: true, ids: [] };
  const keys = active.map((r) => r.key);
  const now = sqlTime(nowMs);
  const result = await db.transaction(async (tx): Promise<HitResult> => {
    // In key order, so two checks sharing keys can never wait for each other in a cycle.
    await tx.query(
      "SELECT pg_advisory_xact_lock($1, hashtext(k)) FROM unnest($2::text[]) AS k ORDER BY k",
      [LOCK_NAMESPACE, keys],
    );
    const full = await fullKeys(tx, active, now);
    if (full.length > 0) {
      const worst = full.reduce((a, b) => (b.retry > a.retry ? b : a));
      return {
        allowed: false,
        retryAfterSeconds: Math.max(1, worst.retry),
        rule: active.find((r) => r.key === worst.key)!,
      };
    }
    const rows = await tx.query<{ id: string }>(
      `INSERT INTO auth_limit_hits (key, expires_at)
       SELECT k, $1::timestamptz + make_interval(secs => w)
       FROM unnest($2::text[], $3::int[]) AS r(k, w)
       RETURNING id::text AS id`,
      [now, keys, active.map((r) => r.windowSeconds)],
    );
    return { allowed: true, ids: rows.map((r) => r.id) };
  });
  // Keys that never come back would keep their rows forever; sweep now and then, no timer.
  if (Math.random() < 0.01) {
    await db.query("DELETE FROM auth_limit_hits WHERE expires_at <= $1::timestamptz", [now])
      .catch(() => {});
  }
  return result;
}

/**
 * The keys already at their limit, and in how many seconds each frees a hit: the limit-th newest
 * live hit of a key is the one that must age out first. Expired hits of these keys go on the way.
 */
async function fullKeys(
  tx: Queryable,
  rules: readonly LimitRule[],
  now: string,
): Promise<{ key: string; retry: number }[]> {
  return await tx.query<{ key: string; retry: number }>(
    `WITH gone AS (
       DELETE FROM auth_limit_hits WHERE key = ANY($1::text[]) AND expires_at <= $3::timestamptz
     ), live AS (
       SELECT key, expires_at,
              row_number() OVER (PARTITION BY key ORDER BY expires_at DESC) AS n
       FROM auth_limit_hits
       WHERE key = ANY($1::text[]) AND expires_at > $3::timestamptz
     )
     SELECT live.key, ceil(extract(epoch FROM live.expires_at - $3::timestamptz))::int AS retry
     FROM live JOIN unnest($1::text[], $2::int[]) AS r(key, lim) ON r.key = live.key
     WHERE live.n = r.lim`,
    [rules.map((r) => r.key), rules.map((r) => r.limit), now],
  );
}

/**
 * Takes back hits counted by {@linkcode takeHits}, e.g. login attempts that turned out right.
 *
 * @example
 * ```ts
 * if (hit.allowed) await undoHits(db, hit.ids);
 * ```
 */
export async function undoHits(db: Queryable, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query("DELETE FROM auth_limit_hits WHERE id = ANY($1::bigint[])", [ids]);
}
