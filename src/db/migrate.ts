/**
 * Schema migrations: the numbered SQL files in `sql/` (compiled in, see `migrations.ts`), applied
 * in order, each in its own transaction and recorded in `schema_migrations`.
 *
 * Several processes may start at once (replicas, `WORKERS=N`, the loader next to the server), also
 * through a pooler in transaction mode, which may send two statements of one session to two
 * server connections. So the lock is transaction-scoped (`pg_advisory_xact_lock`, released by the
 * COMMIT or ROLLBACK itself), taken inside every migration's transaction, and a migration is
 * re-checked under it: whoever comes second finds it recorded and skips it.
 *
 * @example
 * ```ts
 * const applied = await migrate(db);
 * ```
 *
 * @module
 */
import type { Database, Session } from "./database.ts";
import { type Migration, MIGRATIONS } from "./migrations.ts";

export type { Migration };

// Arbitrary but fixed: every process of this project takes the same advisory lock.
const MIGRATION_LOCK = 7_270_736_901;

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version text PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/** Takes the migration lock until the end of `tx`'s transaction. */
async function lock(tx: Session): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
}

/** Applies `m` unless it is already recorded; true when this call applied it. */
function applyOne(db: Database, m: Migration): Promise<boolean> {
  return db.transaction(async (tx) => {
    await lock(tx);
    // Read after the lock: under READ COMMITTED this statement sees what the holder committed.
    const done = await tx.query("SELECT 1 FROM schema_migrations WHERE version = $1", [m.version]);
    if (done.length > 0) return false;
    try {
      await tx.exec(m.sql);
    } catch (err) {
      throw new Error(`Migration ${m.version}_${m.name}.sql failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
      m.version,
      m.name,
    ]);
    return true;
  });
}

/**
 * Applies the migrations not yet recorded, each in its own transaction under a transaction-scoped
 * advisory lock, so that processes starting at once never both apply one. Returns the versions
 * this call applied.
 *
 * @example
 * ```ts
 * const applied = await migrate(db);
 * console.log(applied.length ? `applied ${applied}` : "schema up to date");
 * ```
 */
export async function migrate(
  db: Database,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<string[]> {
  // CREATE TABLE IF NOT EXISTS is not safe against itself run concurrently: lock it too.
  await db.transaction(async (tx) => {
    await lock(tx);
    await tx.exec(CREATE_TABLE);
  });
  const recorded = new Set(
    (await db.query<{ version: string }>("SELECT version FROM schema_migrations"))
      .map((r) => r.version),
  );
  const applied: string[] = [];
  for (const m of migrations) {
    if (recorded.has(m.version)) continue;
    if (await applyOne(db, m)) applied.push(m.version);
  }
  return applied;
}
