/**
 * Schema migrations: the numbered SQL files in `sql/`, applied in order, each in its own
 * transaction and recorded in `schema_migrations`.
 *
 * @example
 * ```ts
 * const applied = await migrate(db);
 * ```
 *
 * @module
 */
import type { Database } from "./database.ts";

/** One numbered SQL file from `sql/`. */
export interface Migration {
  version: string;
  name: string;
  sql: string;
}

// Arbitrary but fixed: every process of this project takes the same advisory lock.
const MIGRATION_LOCK = 7_270_736_901;
const SQL_DIR = new URL("../../sql/", import.meta.url);

/** Reads `sql/NNN_name.sql` files in version order. */
export async function readMigrations(dir: URL = SQL_DIR): Promise<Migration[]> {
  const out: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const m = /^(\d+)_(.+)\.sql$/.exec(entry.name);
    if (!entry.isFile || !m) continue;
    out.push({
      version: m[1],
      name: m[2],
      sql: await Deno.readTextFile(new URL(entry.name, dir)),
    });
  }
  return out.sort((a, b) => Number(a.version) - Number(b.version));
}

/**
 * Applies the migrations not yet recorded, each in its own transaction, under an advisory lock so
 * that two processes starting at once never both apply one. Returns the versions applied.
 *
 * @example
 * ```ts
 * const applied = await migrate(db);
 * console.log(applied.length ? `applied ${applied}` : "schema up to date");
 * ```
 */
export async function migrate(db: Database, migrations?: Migration[]): Promise<string[]> {
  const all = migrations ?? await readMigrations();
  return await db.withSession(async (s) => {
    await s.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    try {
      await s.exec(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
           version text PRIMARY KEY,
           name text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const done = new Set(
        (await s.query<{ version: string }>("SELECT version FROM schema_migrations"))
          .map((r) => r.version),
      );
      const applied: string[] = [];
      for (const m of all) {
        if (done.has(m.version)) continue;
        try {
          await s.transaction(async (tx) => {
            await tx.exec(m.sql);
            await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
              m.version,
              m.name,
            ]);
          });
        } catch (err) {
          throw new Error(
            `Migration ${m.version}_${m.name}.sql failed: ${(err as Error).message}`,
            {
              cause: err,
            },
          );
        }
        applied.push(m.version);
      }
      return applied;
    } finally {
      await s.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => {});
    }
  });
}
