import type { Database } from "./database.ts";
import { openPglite } from "./pglite.ts";
import { openPostgres } from "./postgres.ts";

/** Options for {@linkcode openDatabase}. */
export interface OpenOptions {
  /** A real PostgreSQL server; when absent, the embedded database under `dataDir`. */
  databaseUrl?: string;
  /** Where the embedded database lives. */
  dataDir: string;
  /** Pool size for a real server. */
  poolSize?: number;
  /** Per-query limit for a real server (ms); 0 for none. */
  queryTimeoutMs?: number;
  /** `"transaction"` when `databaseUrl` is a pooler in transaction mode: no named statements. */
  pooler?: "none" | "transaction";
}

/**
 * Opens the database the configuration names: PostgreSQL when a URL is given, PGlite otherwise.
 *
 * @example
 * ```ts
 * const db = await openDatabase({ databaseUrl: Deno.env.get("DATABASE_URL"), dataDir: "./data" });
 * ```
 */
export function openDatabase(options: OpenOptions): Promise<Database> {
  if (options.databaseUrl) {
    return openPostgres({
      url: options.databaseUrl,
      max: options.poolSize,
      queryTimeoutMs: options.queryTimeoutMs,
      pooler: options.pooler,
    });
  }
  return openPglite(options.dataDir);
}
