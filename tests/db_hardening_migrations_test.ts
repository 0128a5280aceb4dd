/**
 * The hardening migrations (sql/020–029) on a database that already holds data from before them.
 */
import assert from "node:assert/strict";
import { migrate } from "../src/db/migrate.ts";
import { MIGRATIONS } from "../src/db/migrations.ts";
import { freshDatabase } from "./db_helpers.ts";

const before = (version: string) => MIGRATIONS.filter((m) => m.version < version);

Deno.test("migration 020: existing users get their canonical key; the index agrees", async () => {
  const fresh = await freshDatabase();
  const db = await fresh.open();
  try {
    await migrate(db, before("020"));
    await db.exec(
      `INSERT INTO users (username, password_hash)
       VALUES ('Alice', 'h'), ('BOB.smith', 'h'), ('x_Y-z', 'h')`,
    );
    // Where lower() folded differently (a Turkish locale's I -> ı), two names that are one today
    // could both exist; simulate that by dropping the old index.
    await db.exec("DROP INDEX users_username_lower_key");
    await db.exec("INSERT INTO users (username, password_hash) VALUES ('ALICE', 'h')");
    await migrate(db);
    const rows = await db.query<{ id: number; username: string; username_key: string }>(
      "SELECT id, username, username_key FROM users ORDER BY id",
    );
    assert.deepEqual(rows.map((r) => [r.username, r.username_key]), [
      ["Alice", "alice"],
      ["BOB.smith", "bob.smith"],
      ["x_Y-z", "x_y-z"],
      ["ALICE", `alice#${rows[3].id}`],
    ]);
    await assert.rejects(
      db.exec(
        "INSERT INTO users (username, username_key, password_hash) VALUES ('a', 'bob.smith', 'h')",
      ),
      /duplicate key|unique/i,
    );
  } finally {
    await db.close();
    await fresh.drop();
  }
});

Deno.test("migration 021: refresh tokens from before logins are dropped; deleting a user revokes", async () => {
  const fresh = await freshDatabase();
  const db = await fresh.open();
  try {
    await migrate(db, before("021"));
    const [{ id }] = await db.query<{ id: number }>(
      "INSERT INTO users (username, username_key, password_hash) VALUES ('a', 'a', 'h') RETURNING id",
    );
    await db.query(
      "INSERT INTO refresh_tokens (jti, user_id, expires_at) VALUES ($1, $2, now() + interval '1 day')",
      [crypto.randomUUID(), id],
    );
    await migrate(db);
    assert.deepEqual(await db.query("SELECT * FROM refresh_tokens"), []);
    await db.query("DELETE FROM users WHERE id = $1", [id]);
    const rows = await db.query<{ user_id: number; reason: string; login_id: string | null }>(
      "SELECT user_id, reason, login_id FROM token_revocations",
    );
    assert.deepEqual(rows, [{ user_id: id, reason: "user_deleted", login_id: null }]);
  } finally {
    await db.close();
    await fresh.drop();
  }
});
