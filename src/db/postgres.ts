/**
 * The PostgreSQL backend: a node-postgres pool, COPY through `pg-copy-streams`. Every driver
 * error that means "cannot reach the database" becomes a {@linkcode DatabaseUnavailableError}
 * here, where it happens.
 *
 * @example
 * ```ts
 * const db = await openPostgres({ url: "postgres://postgres@127.0.0.1:5432/test" });
 * await db.transaction(async (tx) => await tx.query("SELECT 1"));
 * await db.close();
 * ```
 *
 * @module
 */
// @ts-types="@types/pg"
import pg from "pg";
// @ts-types="@types/pg-copy-streams"
import { from as copyFromStream } from "pg-copy-streams";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type CopyData,
  type Database,
  inTransaction,
  type PoolStats,
  type QueryOptions,
  type Session,
} from "./database.ts";
import { DatabaseUnavailableError, isConnectionError } from "./errors.ts";

/** Options for {@linkcode openPostgres}. */
export interface PostgresOptions {
  /** `postgres://user:pass@host:port/db` */
  url: string;
  /**
   * Pool size; the server wants several, the loader two.
   * @default {10}
   */
  max?: number;
  /**
   * A query that takes longer fails; 0 means no limit (the loader's COPY).
   * @default {0}
   */
  queryTimeoutMs?: number;
  /**
   * How long to wait for a connection before the database counts as down (ms).
   * @default {3000}
   */
  connectTimeoutMs?: number;
  /**
   * `"transaction"`: `url` is a pooler in transaction mode, which may run each transaction on
   * another server connection; statement names are then dropped (a statement prepared on one
   * server connection is unknown, or already there, on the next).
   * @default {"none"}
   */
  pooler?: "none" | "transaction";
  /**
   * Names the connections in `pg_stat_activity`, unless the URL already does.
   * @default {none}
   */
  applicationName?: string;
}

/**
 * The URL with `application_name` set, which names its connections in `pg_stat_activity`;
 * unchanged when it already has one (or does not parse).
 *
 * @example
 * ```ts
 * withApplicationName("postgres://u@h:5432/db", "ingest people");
 * // "postgres://u@h:5432/db?application_name=ingest+people"
 * ```
 */
export function withApplicationName(url: string, name: string): string {
  try {
    const u = new URL(url);
    if (!u.searchParams.has("application_name")) {
      u.searchParams.set("application_name", name.slice(0, 63));
    }
    return u.toString();
  } catch {
    return url;
  }
}

/** Describes a URL without its password, for logs and error messages. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return "the database (unparsable DATABASE_URL)";
  }
}

function unavailable(label: string, err: unknown): never {
  if (err instanceof DatabaseUnavailableError) throw err;
  if (isConnectionError(err)) {
    throw new DatabaseUnavailableError(
      `Database unavailable at ${label}: ${(err as Error).message || (err as Error).name}`,
      { cause: err },
    );
  }
  throw err;
}

/** What every statement on one pool shares. */
interface PoolContext {
  label: string;
  /** Whether `QueryOptions.name` is honoured: not through a transaction-mode pooler. */
  named: boolean;
}

/**
 * A node-postgres query config: named (prepared per connection) when `options.name` is given and
 * names are allowed, else the unnamed statement (parsed on every execution).
 */
function queryConfig(
  ctx: PoolContext,
  sql: string,
  params: unknown[] | undefined,
  options?: QueryOptions,
) {
  return ctx.named && options?.name !== undefined
    ? { name: options.name, text: sql, values: params }
    : { text: sql, values: params };
}

function sessionOf(client: pg.PoolClient, ctx: PoolContext, depth = 0): Session {
  const { label } = ctx;
  const session: Session = {
    async query<T>(sql: string, params?: unknown[], options?: QueryOptions): Promise<T[]> {
      try {
        return (await client.query(queryConfig(ctx, sql, params, options))).rows as T[];
      } catch (err) {
        unavailable(label, err);
      }
    },
    async exec(sql: string): Promise<void> {
      try {
        await client.query(sql);
      } catch (err) {
        unavailable(label, err);
      }
    },
    async copyFrom(sql: string, data: CopyData): Promise<number> {
      const stream = client.query(copyFromStream(sql));
      try {
        await pipeline(Readable.from(data, { objectMode: false }), stream);
      } catch (err) {
        unavailable(label, err);
      }
      return Number(stream.rowCount ?? 0);
    },
    transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T> {
      return inTransaction(session, depth, () => fn(sessionOf(client, ctx, depth + 1)));
    },
  };
  return session;
}

/**
 * Opens a pooled node-postgres connection to a real server and checks that it answers.
 *
 * @example
 * ```ts
 * const db = await openPostgres({ url: "postgres://postgres@127.0.0.1:5432/test" });
 * await db.query("SELECT 1");
 * await db.close();
 * ```
 */
export async function openPostgres(options: PostgresOptions): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: options.applicationName === undefined
      ? options.url
      : withApplicationName(options.url, options.applicationName),
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 3000,
    query_timeout: options.queryTimeoutMs || undefined,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  // An idle client whose server went away emits here; without a listener the process dies.
  pool.on("error", () => {});
  // Once per client, not per checkout: listeners added on every checkout pile up on reused clients.
  pool.on("connect", (client) => client.on("error", () => {}));
  const db = new PostgresDatabase(pool, {
    label: describeUrl(options.url),
    named: options.pooler !== "transaction",
  });
  await db.ping();
  return db;
}

/** A node-postgres pool as a {@linkcode Database}: what a lost or closed connection answers. */
class PostgresDatabase implements Database {
  readonly kind = "postgres" as const;
  readonly label: string;
  readonly #pool: pg.Pool;
  readonly #ctx: PoolContext;
  #closed = false;

  constructor(pool: pg.Pool, ctx: PoolContext) {
    this.#pool = pool;
    this.#ctx = ctx;
    this.label = ctx.label;
  }

  async query<T>(sql: string, params?: unknown[], options?: QueryOptions): Promise<T[]> {
    this.#open();
    try {
      return (await this.#pool.query(queryConfig(this.#ctx, sql, params, options))).rows as T[];
    } catch (err) {
      unavailable(this.label, err);
    }
  }

  async exec(sql: string): Promise<void> {
    this.#open();
    try {
      await this.#pool.query(sql);
    } catch (err) {
      unavailable(this.label, err);
    }
  }

  transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T> {
    return this.#withClient((session) => session.transaction(fn));
  }

  withSession<T>(fn: (session: Session) => Promise<T>): Promise<T> {
    return this.#withClient(fn);
  }

  async ping(): Promise<void> {
    await this.query("SELECT 1");
  }

  poolStats(): PoolStats {
    const pool = this.#pool;
    return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  /** A closed pool is as gone as a stopped server: say so in the same way (503, not 500). */
  #open(): void {
    if (this.#closed) {
      throw new DatabaseUnavailableError(`The connection pool to ${this.label} is closed`);
    }
  }

  /** `fn` on one checked-out connection; a client that lost its connection is not reused. */
  async #withClient<T>(fn: (session: Session) => Promise<T>): Promise<T> {
    this.#open();
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      unavailable(this.label, err);
    }
    try {
      const result = await fn(sessionOf(client, this.#ctx));
      client.release();
      return result;
    } catch (err) {
      client.release(err instanceof DatabaseUnavailableError ? err : undefined);
      throw err;
    }
  }
}
