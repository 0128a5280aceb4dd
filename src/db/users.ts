/**
 * Queries on `users`. A user is found by `username_key`, the canonical form of the name
 * (`canonicalUsername` in `src/http.ts`, computed by the caller); `username` keeps the name as first
 * registered, for display.
 *
 * @module
 */
import type { Queryable } from "./database.ts";

/** What a login needs to know about a user. */
export interface LoginRow {
  id: number;
  password_hash: string;
}

/**
 * Adds a user. Returns the new id, or undefined when the canonical name is taken.
 *
 * @example
 * ```ts
 * const id = await insertUser(db, { username: "Alice", key: "alice", passwordHash });
 * if (id === undefined) throw AppError.conflict("Username already exists");
 * ```
 */
export async function insertUser(
  db: Queryable,
  user: { username: string; key: string; passwordHash: string },
): Promise<number | undefined> {
  const rows = await db.query<{ id: number }>(
    `INSERT INTO users (username, username_key, password_hash) VALUES ($1, $2, $3)
     ON CONFLICT DO NOTHING RETURNING id`,
    [user.username, user.key, user.passwordHash],
  );
  return rows[0]?.id;
}

/**
 * Finds a user by the canonical form of the name.
 *
 * @example
 * ```ts
 * const user = await findLogin(db, canonicalUsername("ALICE")); // the account registered as "Alice"
 * ```
 */
export async function findLogin(db: Queryable, key: string): Promise<LoginRow | undefined> {
  const rows = await db.query<LoginRow>(
    "SELECT id, password_hash FROM users WHERE username_key = $1",
    [key],
  );
  return rows[0];
}
