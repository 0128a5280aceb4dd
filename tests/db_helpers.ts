/**
 * The database every test runs against: real PostgreSQL when `DATABASE_URL` is set (CI creates a
 * fresh database for it), otherwise a fresh embedded PGlite in a temporary folder.
 */
import type { Database, Queryable } from "../src/db/database.ts";
import { migrate } from "../src/db/migrate.ts";
import { openDatabase } from "../src/db/open.ts";

/** The real server under test, or undefined for the embedded backend. */
export const TEST_DATABASE_URL: string | undefined = Deno.env.get("DATABASE_URL") || undefined;

/** A migrated database and a temporary `DATA_DIR`, both cleaned up by `close()`. */
export interface TestDb {
  db: Database;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * Opens a migrated test database. With PGlite each call gets its own folder; with PostgreSQL all
 * callers share the one database, so tests must use unique names (users, tables).
 */
export async function openTestDb(): Promise<TestDb> {
  const dataDir = await Deno.makeTempDir({ prefix: "taskapi-test-" });
  const db = await openDatabase({ databaseUrl: TEST_DATABASE_URL, dataDir, poolSize: 4 });
  await migrate(db);
  return {
    db,
    dataDir,
    async close() {
      await db.close();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * A new, empty database: on PostgreSQL a database created for the caller (dropped by `drop()`),
 * with PGlite a new folder. `open()` opens one more handle on it, like one more replica (PGlite:
 * one process owns a folder, so call it once).
 */
export interface FreshDatabase {
  /** The new database's URL (PostgreSQL only). */
  url?: string;
  dataDir: string;
  open(options?: { poolSize?: number }): Promise<Database>;
  drop(): Promise<void>;
}

/** Creates a {@linkcode FreshDatabase} on the backend under test. */
export async function freshDatabase(): Promise<FreshDatabase> {
  const dataDir = await Deno.makeTempDir({ prefix: "taskapi-fresh-" });
  let url: string | undefined;
  let name: string | undefined;
  if (TEST_DATABASE_URL) {
    name = uniqueName("fresh");
    const admin = await openDatabase({ databaseUrl: TEST_DATABASE_URL, dataDir, poolSize: 1 });
    try {
      await admin.exec(`CREATE DATABASE ${name}`);
    } finally {
      await admin.close();
    }
    const u = new URL(TEST_DATABASE_URL);
    u.pathname = `/${name}`;
    url = u.href;
  }
  return {
    url,
    dataDir,
    open: (options = {}) =>
      openDatabase({ databaseUrl: url, dataDir, poolSize: options.poolSize ?? 4 }),
    async drop() {
      if (name) {
        const admin = await openDatabase({ databaseUrl: TEST_DATABASE_URL, dataDir, poolSize: 1 });
        try {
          await admin.exec(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        } finally {
          await admin.close();
        }
      }
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

/** A name no other test (or earlier run) uses: for usernames and table names. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

/** A user row of its own (a unique name, no usable password), straight in SQL; its id. */
export async function newUser(db: Queryable, prefix = "user"): Promise<number> {
  const [{ id }] = await db.query<{ id: number }>(
    "INSERT INTO users (username, username_key, password_hash) VALUES ($1, $1, 'x') RETURNING id",
    [uniqueName(prefix)],
  );
  return id;
}
