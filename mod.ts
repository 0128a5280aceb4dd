/**
 * taskapi as a library: the HTTP API's app factory and server, the database layer it shares with
 * the loader, and the CSV → PostgreSQL loader's public functions.
 *
 * @example Serve the API from your own program
 * ```ts
 * import { createApp, loadServerConfig, migrate, openDatabase } from "./mod.ts";
 *
 * const config = await loadServerConfig(Deno.env.toObject());
 * const db = await openDatabase(config);
 * await migrate(db);
 * Deno.serve({ port: config.port }, createApp({ db, config }).fetch);
 * ```
 *
 * @example Load a CSV file
 * ```ts
 * import { ingest } from "./mod.ts";
 *
 * const result = await ingest({ file: "people.csv", table: "people", dataDir: "./data" });
 * console.log(result.exitCode, result.summary?.rows_loaded);
 * ```
 *
 * @module
 */
import { type AppDeps, createApp as createHonoApp } from "./src/app.ts";

export type { AppDeps };

/** The API: a fetch handler for `Deno.serve`, and `request()` to call it without a socket. */
export interface TaskApp {
  /** Answers one request; `info` (from `Deno.serve`) gives the client's address. */
  fetch(request: Request, info?: Deno.ServeHandlerInfo): Response | Promise<Response>;
  /** Answers a request built from `input` and `init`, as `fetch` would, without a socket. */
  request(input: string | URL | Request, init?: RequestInit): Response | Promise<Response>;
}

/**
 * Builds the API over an open, migrated database (a Hono app underneath).
 *
 * @example
 * ```ts
 * const app = createApp({ db, config });
 * Deno.serve({ hostname: config.host, port: config.port }, app.fetch);
 * ```
 */
export function createApp(deps: AppDeps): TaskApp {
  return createHonoApp(deps);
}
export {
  createTokenService,
  type SignedToken,
  type TokenService,
  type TokenServiceOptions,
  type TokenType,
  type VerifiedToken,
} from "./src/auth/tokens.ts";
export {
  AppError,
  type AppErrorOptions,
  ConfigError,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  type ExitCode,
} from "./src/errors.ts";
export {
  databaseFrom,
  type DatabaseSettings,
  type Env,
  type LoadOptions,
  loadServerConfig,
  type LogFormat,
  type LogLevel,
  type Pooler,
  type SecuritySettings,
  type ServerConfig,
} from "./src/config.ts";
export type { Clock } from "./src/clock.ts";
export { HashQueue, type HashQueueOptions } from "./src/auth/hash_queue.ts";
export type { Cidr, IpBytes } from "./src/client_address.ts";
export { serve } from "./src/server/serve.ts";
export {
  Metrics,
  type MetricsMiddleware,
  type MetricsOptions,
  type MetricsSnapshot,
  type MetricsSource,
} from "./src/metrics.ts";
export { openDatabase, type OpenOptions } from "./src/db/open.ts";
export type {
  BackendKind,
  CopyData,
  Database,
  PoolStats,
  Queryable,
  QueryOptions,
  Session,
} from "./src/db/database.ts";
export { DatabaseUnavailableError } from "./src/db/errors.ts";
export { migrate } from "./src/db/migrate.ts";
export { type Migration, MIGRATIONS } from "./src/db/migrations.ts";
export {
  ingest,
  type IngestOptions,
  type IngestResult,
  type MaxRejects,
} from "./src/etl/ingest.ts";
export { inferFile, type InferFileOptions, type InferSourceOptions } from "./src/etl/infer.ts";
export {
  COLUMN_TYPES,
  type ColumnSpec,
  type ColumnType,
  parseSchema,
  readSchemaFile,
  type Schema,
} from "./src/etl/schema.ts";
export {
  formatSummary,
  type IngestSummary,
  type Progress,
  type WideningNote,
} from "./src/etl/summary.ts";
export { ON_CONFLICT, type OnConflict } from "./src/etl/upsert.ts";
