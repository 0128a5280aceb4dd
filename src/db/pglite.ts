/**
 * The embedded backend: PGlite (PostgreSQL compiled to WebAssembly) persisted in a folder. One
 * connection, in this process; COPY input goes through PGlite's virtual `/dev/blob` file.
 *
 * @example
 * ```ts
 * const db = await openPglite("./data");
 * await db.query("SELECT 1");
 * await db.close();
 * ```
 *
 * @module
 */
import { PGlite, types } from "@electric-sql/pglite";
import { type CopyData, type Database, inTransaction, type Session } from "./database.ts";
import { DataDirInUseError, lockDataDir, tightenDataDir } from "./data_dir.ts";
import { DatabaseUnavailableError } from "./errors.ts";

interface PgliteLike {
  query<T>(
    sql: string,
    params?: unknown[],
    options?: { blob?: Blob },
  ): Promise<{ rows: T[]; affectedRows?: number }>;
  exec(sql: string): Promise<unknown>;
}

/** Starts a top-level transaction: PGlite's own, which keeps other callers' queries out of it. */
type Begin = <T>(fn: (tx: PgliteLike) => Promise<T>) => Promise<T>;

// PGlite reaches COPY input only through its virtual /dev/blob file.
const FROM_STDIN = /FROM\s+STDIN/i;

function sessionOf(conn: PgliteLike, begin: Begin | undefined, depth = 0): Session {
  const session: Session = {
    async query<T>(sql: string, params?: unknown[]): Promise<T[]> {
      return (await conn.query<T>(sql, params)).rows;
    },
    async exec(sql: string): Promise<void> {
      await conn.exec(sql);
    },
    async copyFrom(sql: string, data: CopyData): Promise<number> {
      if (!FROM_STDIN.test(sql)) throw new Error(`COPY statement lacks FROM STDIN: ${sql}`);
      const parts: (string | Uint8Array)[] = [];
      if (Array.isArray(data)) parts.push(...data);
      else for await (const chunk of data as AsyncIterable<string | Uint8Array>) parts.push(chunk);
      const result = await conn.query(sql.replace(FROM_STDIN, "FROM '/dev/blob'"), [], {
        blob: new Blob(parts as BlobPart[]),
      });
      return result.affectedRows ?? 0;
    },
    transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T> {
      // Outside a transaction: PGlite's own. Inside one: a savepoint on the same connection.
      if (begin) return begin((tx) => fn(sessionOf(tx, undefined, 1)));
      return inTransaction(session, depth, () => fn(sessionOf(conn, undefined, depth + 1)));
    },
  };
  return session;
}

/** The folders a PGlite of this process has open. */
const openDirs = new Set<string>();

/**
 * Opens (creating when needed) the embedded PostgreSQL persisted under `dataDir`, which it locks
 * for this process (see `data_dir.ts`): another process's open fails with a `DataDirInUseError`.
 *
 * @example
 * ```ts
 * const db = await openPglite("./data");
 * await db.query("SELECT 1");
 * await db.close();
 * ```
 */
export async function openPglite(dataDir: string): Promise<Database> {
  // One process at a time (a DataDirInUseError otherwise), and nothing readable by others.
  const lock = await lockDataDir(dataDir);
  const dir = `${dataDir.replace(/\/+$/, "")}/pgdata`;
  // One PGlite per folder in this process too (the lock is shared within a process).
  const key = await Deno.realPath(dataDir);
  if (openDirs.has(key)) {
    lock.release();
    throw new DataDirInUseError(dataDir);
  }
  openDirs.add(key);
  let pglite: PGlite;
  try {
    await tightenDataDir(dataDir);
    pglite = await PGlite.create(dir, {
      // Same JS types as node-postgres gives: int8 and numeric as strings.
      parsers: { [types.INT8]: (v: string) => v, [types.NUMERIC]: (v: string) => v },
    });
    await tightenDataDir(dataDir);
  } catch (err) {
    openDirs.delete(key);
    lock.release();
    throw new DatabaseUnavailableError(
      `Cannot open the embedded database in ${dir}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const begin: Begin = (fn) => pglite.transaction((tx) => fn(tx as unknown as PgliteLike));
  const session = sessionOf(pglite as unknown as PgliteLike, begin);
  let closed = false;
  // After close the database is as gone as a stopped server: say so in the same way.
  const open = () => {
    if (closed) throw new DatabaseUnavailableError(`The embedded database in ${dir} is closed`);
  };
  // Calls under way: one runs on the connection, the others queue in PGlite (for /metrics).
  let active = 0;
  const counted = async <T>(run: () => Promise<T>): Promise<T> => {
    open();
    active++;
    try {
      return await run();
    } finally {
      active--;
    }
  };
  const db: Database = {
    kind: "pglite",
    label: dir,
    query: (sql, params) => counted(() => session.query(sql, params)),
    exec: (sql) => counted(() => session.exec(sql)),
    transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T> {
      return counted(() => session.transaction(fn));
    },
    // One connection only: a session is the database itself.
    withSession<T>(fn: (s: Session) => Promise<T>): Promise<T> {
      return fn(session);
    },
    async ping(): Promise<void> {
      open();
      await session.query("SELECT 1");
    },
    poolStats: () => ({ total: 1, idle: active === 0 ? 1 : 0, waiting: Math.max(active - 1, 0) }),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      try {
        await pglite.close();
        await tightenDataDir(dataDir);
      } finally {
        openDirs.delete(key);
        lock.release();
      }
    },
  };
  return db;
}
