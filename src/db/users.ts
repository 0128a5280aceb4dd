/**
 * Queries on `users`. Usernames are unique case-insensitively (a unique index on `lower(username)`)
 * and stored as first registered.
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
 * Adds a user. Returns the new id, or undefined when the username is taken in any letter case.
 *
 * @example
 * ```ts
 * const id = await insertUser(db, { username: "alice", passwordHash: await hashPassword(pw) });
 * if (id === undefined) throw AppError.conflict("Username already exists");
 * ```
 */
export async function insertUser(
  db: Queryable,
  user: { username: string; passwordHash: string },
): Promise<number | undefined> {
  const rows = await db.query<{ id: number }>(
    "INSERT INTO users (username, password_hash) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id",
    [user.username, user.passwordHash],
  );
  return rows[0]?.id;
}

/**
 * Finds a user by username, in any letter case.
 *
 * @example
 * ```ts
 * const user = await findLogin(db, "Alice"); // the account registered as "alice"
 * ```
 */
export async function findLogin(db: Queryable, username: string): Promise<LoginRow | undefined> {
  const rows = await db.query<LoginRow>(
    "SELECT id, password_hash FROM users WHERE lower(username) = lower($1)",
    [username],
  );
  return rows[0];
}
