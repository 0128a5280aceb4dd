/**
 * Opens the database the configuration names: a PostgreSQL server when a URL is given, the
 * embedded PGlite database otherwise. Both answer to the same {@linkcode Database} interface.
 *
 * @example
 * ```ts
 * const db = await openDatabase({ databaseUrl: Deno.env.get("DATABASE_URL"), dataDir: "./data" });
 * await db.close();
 * ```
 *
 * @module
 */
import type { Database } from "./database.ts";

/** Options for {@linkcode openDatabase}. */
export interface OpenOptions {
  /** A real PostgreSQL server; when absent, the embedded database under `dataDir`. */
  databaseUrl?: string;
  /** Where the embedded database lives. */
  dataDir: string;
  /**
   * Pool size for a real server.
   * @default {10}
   */
  poolSize?: number;
  /**
   * Per-query limit for a real server (ms); 0 for none.
   * @default {0}
   */
  queryTimeoutMs?: number;
  /**
   * `"transaction"` when `databaseUrl` is a pooler in transaction mode: no named statements.
   * @default {"none"}
   */
  pooler?: "none" | "transaction";
  /**
   * Names a real server's connections in `pg_stat_activity` (unless the URL does).
   * @default {none}
   */
  applicationName?: string;
}

/**
 * Opens the database the configuration names: PostgreSQL when a URL is given, PGlite otherwise.
 *
 * @example
 * ```ts
 * const db = await openDatabase({ databaseUrl: Deno.env.get("DATABASE_URL"), dataDir: "./data" });
 * ```
 */
export async function openDatabase(options: OpenOptions): Promise<Database> {
  // Each backend's module is loaded only when it is used: a process on a server never loads
  // PGlite's WebAssembly, nor one on the embedded database the pg driver (see bench/findings.md).
  if (options.databaseUrl) {
    const { openPostgres } = await import("./postgres.ts");
    return openPostgres({
      url: options.databaseUrl,
      max: options.poolSize,
      queryTimeoutMs: options.queryTimeoutMs,
      pooler: options.pooler,
      applicationName: options.applicationName,
    });
  }
  const { openPglite } = await import("./pglite.ts");
  return openPglite(options.dataDir);
}
