/**
 * The HTTP API as a Hono app: middleware every answer goes through, the routes, and the one place
 * errors become answers.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { getLogger } from "@logtape/logtape";
import { HashQueue } from "./auth/hash_queue.ts";
import { RevocationList } from "./auth/revocations.ts";
import { createTokenService, type TokenService } from "./auth/tokens.ts";
import { ClientAddresses } from "./client_address.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { ServerConfig } from "./config.ts";
import type { Database } from "./db/database.ts";
import { errorAnswer, notFoundAnswer } from "./error_answer.ts";
import { apiApp, type AppEnv } from "./http.ts";
import { AllowedMethods } from "./methods.ts";
import { Metrics, type MetricsSource } from "./metrics.ts";
import { serveOpenApi } from "./openapi.ts";
import { guardRequest } from "./request_guard.ts";
import { requestLog } from "./request_log.ts";
import { authRoutes } from "./routes/auth.ts";
import { serveDocs } from "./routes/docs.ts";
import { serveOperations } from "./routes/operations.ts";
import { taskRoutes } from "./routes/tasks.ts";

/** What {@linkcode createApp} needs. */
export interface AppDeps {
  /** The database every route uses (migrated). */
  db: Database;
  /** The validated settings, from `loadServerConfig` or built by hand. */
  config: ServerConfig;
  /** Defaults to one built from `config`; tests pass their own to forge tokens. */
  tokens?: TokenService;
  /** What "now" is for tokens and rate limits. @default {systemClock} */
  clock?: Clock;
  /**
   * Where `GET /metrics` comes from (unless `config.metrics` is false). Defaults to this app's
   * own {@linkcode Metrics}; with several isolates, one whose text sums them all.
   */
  metrics?: MetricsSource;
  /** The cap on password hashing; defaults to one from `config` (tests pass theirs to fill it). */
  hashing?: HashQueue;
}

/**
 * Builds the app. Serve it with `Deno.serve(app.fetch)`: the connection info Deno passes becomes
 * `c.env`, where the rate limits find the client's address.
 *
 * @example
 * ```ts
 * const app = createApp({ db, config });
 * Deno.serve({ port: config.port }, app.fetch);
 * ```
 */
export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const { db, config } = deps;
  const clock = deps.clock ?? systemClock;
  const tokens = deps.tokens ?? createTokenService({
    secret: config.jwtSecret,
    accessTtlSeconds: config.accessTokenTtlSeconds,
    refreshTtlSeconds: config.refreshTokenTtlSeconds,
    clock,
  });
  const log = getLogger(["taskapi", "http"]);
  const app = apiApp();
  const metrics = config.metrics ? deps.metrics ?? new Metrics({ db }) : undefined;
  // First, so that it counts and times every answer, errors included.
  if (metrics) app.use(metrics.middleware);

  app.use(requestLog(log));

  // Host, query and body are checked here, once, before any route sees them.
  app.use(guardRequest({
    maxBytes: config.maxBodyBytes,
    timeoutMs: config.bodyTimeoutSeconds * 1000,
  }));

  // Every route is an OpenAPI route: validated by the zod schemas that also describe it.
  serveOperations(app, { db, metrics });

  const addresses = new ClientAddresses(config.trustedProxies);
  const revocations = new RevocationList(db, clock);
  const hashing = deps.hashing ??
    new HashQueue({ concurrency: config.hashConcurrency, queue: config.hashQueue });
  app.route("/", authRoutes({ db, tokens, config, clock, addresses, revocations, hashing }));
  app.route(
    "/tasks",
    taskRoutes({
      db,
      tokens,
      revocations,
      publicUrl: config.publicUrl,
      maxTasksPerUser: config.maxTasksPerUser,
    }),
  );
  serveDocs(app);
  serveOpenApi(app); // after the others: it describes every route registered on app

  app.notFound(notFoundAnswer(new AllowedMethods(() => app.routes)));
  app.onError(errorAnswer(log));

  return app;
}
