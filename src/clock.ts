/**
 * The server's notion of "now", passed in rather than read from `Date.now()` where time decides an
 * answer (token expiry, rate-limit windows, revocation freshness), so that tests can move it.
 *
 * @example
 * ```ts
 * import { type Clock, systemClock } from "./clock.ts";
 * const clock: Clock = systemClock;
 * const seconds = Math.floor(clock() / 1000);
 * ```
 *
 * @module
 */

/** Milliseconds since the Unix epoch. */
export type Clock = () => number;

/**
 * The real clock.
 *
 * @example
 * ```ts
 * const now = systemClock(); // e.g. 1735689600000
 * ```
 */
export const systemClock: Clock = () => Date.now();

/**
 * A clock value as SQL text for a `timestamptz` parameter: the same on every backend, unlike a
 * `Date`, which each driver serialises its own way.
 *
 * @example
 * ```ts
 * await db.query("SELECT $1::timestamptz", [sqlTime(clock())]);
 * ```
 */
export function sqlTime(ms: number): string {
  return new Date(ms).toISOString();
}
