/**
 * The small database interface the server and the loader share. Two backends implement it:
 * node-postgres (`pg`) for a real server and PGlite for the embedded default. The same SQL runs
 * on both.
 *
 * @example
 * ```ts
 * import { openDatabase } from "./open.ts";
 * const db = await openDatabase({ dataDir: "./data" });
 * const rows = await db.query<{ one: number }>("SELECT 1 AS one");
 * await db.close();
 * ```
 *
 * @module
 */
import { DatabaseUnavailableError } from "./errors.ts";

/** How to run one statement; every field is optional. */
export interface QueryOptions {
  /**
   * Names the statement, so that a real server parses and plans it once per connection and then
   * only binds and executes it (a prepared statement). Only for fixed SQL on hot paths: one name
   * always goes with one SQL text. PGlite, a single in-process connection, ignores it, and so does
   * the PostgreSQL backend behind a transaction-mode pooler (`DATABASE_POOLER=transaction`).
   */
  name?: string;
}

/** Anything that runs SQL: the pool, a session, or a transaction. */
export interface Queryable {
  /** Runs one parameterised statement and returns its rows. */
  query<T = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    options?: QueryOptions,
  ): Promise<T[]>;
  /** Runs one or more statements with no parameters (migrations, DDL). */
  exec(sql: string): Promise<void>;
}

/** COPY input: chunks of COPY text, all at hand or produced as the COPY runs. */
export type CopyData =
  | readonly (string | Uint8Array)[]
  | AsyncIterable<string | Uint8Array>;

/** One connection held for a while: a transaction or a session. */
export interface Session extends Queryable {
  /**
   * Runs `COPY ... FROM STDIN` with `data` as its input and returns the rows copied.
   * `sql` must contain `FROM STDIN`. `data` may be an async iterable, so that rows stream to
   * the server while they are produced (PGlite collects it first).
   */
  copyFrom(sql: string, data: CopyData): Promise<number>;
  /**
   * Runs `fn` in a transaction on this connection: `BEGIN` … `COMMIT` at the top, a savepoint
   * when this session is already inside a transaction. Committed (or released) when `fn`
   * resolves, rolled back (to the savepoint) when it throws; the error is rethrown.
   */
  transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T>;
}

/** Which backend a {@linkcode Database} is: a PostgreSQL server, or the embedded PGlite. */
export type BackendKind = "postgres" | "pglite";

/** The connections a database handle holds right now. */
export interface PoolStats {
  /** Connections open (in use plus idle). */
  total: number;
  /** Open and not in use. */
  idle: number;
  /** Callers waiting for a connection. */
  waiting: number;
}

/** A database handle: a pool on a PostgreSQL server, or the embedded PGlite. */
export interface Database extends Queryable {
  /** Which backend this is. */
  readonly kind: BackendKind;
  /** Where the data lives, safe to print: host:port/db or the data folder, never a password. */
  readonly label: string;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` on one connection outside any transaction. Behind a transaction-mode pooler only each
   * transaction is sure of one server connection: keep nothing (locks, settings, prepared
   * statements) on the session between transactions.
   */
  withSession<T>(fn: (session: Session) => Promise<T>): Promise<T>;
  /** Resolves when the database answers; throws `DatabaseUnavailableError` when it does not. */
  ping(): Promise<void>;
  /** The connections held right now, for `/metrics`. */
  poolStats(): PoolStats;
  /** Closes every connection; later calls fail with `DatabaseUnavailableError`. */
  close(): Promise<void>;
}

/**
 * `fn` between BEGIN and COMMIT (depth 0) or inside a savepoint (deeper). On a lost connection
 * nothing is sent: ROLLBACK would wait out another timeout, and the server rolls back a
 * transaction whose connection is gone anyway.
 */
export async function inTransaction<T>(
  s: Pick<Session, "exec">,
  depth: number,
  fn: () => Promise<T>,
): Promise<T> {
  const savepoint = `sp_${depth}`;
  await s.exec(depth === 0 ? "BEGIN" : `SAVEPOINT ${savepoint}`);
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    if (!(err instanceof DatabaseUnavailableError)) {
      await s.exec(depth === 0 ? "ROLLBACK" : `ROLLBACK TO SAVEPOINT ${savepoint}`).catch(() => {});
      if (depth > 0) await s.exec(`RELEASE SAVEPOINT ${savepoint}`).catch(() => {});
    }
    throw err;
  }
  await s.exec(depth === 0 ? "COMMIT" : `RELEASE SAVEPOINT ${savepoint}`);
  return result;
}
