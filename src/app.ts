/**
 * The HTTP API as a Hono app: middleware every answer goes through, the routes, and the one place
 * errors become answers.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { getLogger } from "@logtape/logtape";
import { HashQueue } from "./auth/hash_queue.ts";
import { RevocationList } from "./auth/revocations.ts";
import { createTokenService, type TokenService } from "./auth/tokens.ts";
import { ClientAddresses } from "./client_address.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { ServerConfig } from "./config.ts";
import type { Database } from "./db/database.ts";
import { DatabaseUnavailableError } from "./db/errors.ts";
import { AppError } from "./errors.ts";
import { apiApp, type AppEnv } from "./http.ts";
import { AllowedMethods } from "./methods.ts";
import { Metrics, type MetricsSource } from "./metrics.ts";
import { serveOpenApi } from "./openapi.ts";
import { guardRequest } from "./request_guard.ts";
import { errorFields } from "./log.ts";
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

// A client's own X-Request-Id is kept when it is safe to echo and to log.
const REQUEST_ID = /^[\w.-]{1,128}$/;

// LogTape reads `{name}` as a placeholder; `{{` and `}}` are literal braces.
const escapeBraces = (text: string) => text.replaceAll("{", "{{").replaceAll("}", "}}");

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

  app.use(async function requestLog(c, next) {
    const start = performance.now();
    const given = c.req.header("X-Request-Id");
    const requestId = given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    c.set("requestId", requestId);
    await next();
    c.res.headers.set("X-Request-Id", requestId);
    c.res.headers.set("X-Content-Type-Options", "nosniff");
    // Tokens and task data must not be kept by a browser or a shared cache; an answer that may be
    // cached (a static asset) says so itself.
    if (!c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
    // Never the headers or the body: they carry tokens and passwords. The line is built here
    // rather than from a template: this runs on every request, and templates inspect each value.
    const ms = Math.round((performance.now() - start) * 10) / 10;
    const userId = c.var.userId ?? "-";
    const line = `${c.req.method} ${c.req.path} ${c.res.status} ${ms} ms ` +
      `request_id=${requestId} user_id=${userId}`;
    log.info(line.includes("{") || line.includes("}") ? escapeBraces(line) : line, {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms,
      requestId,
      userId,
    });
  });

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

  const allowed = new AllowedMethods(() => app.routes);
  app.notFound((c) => {
    const allow = allowed.of(c.req.path);
    if (allow === undefined) {
      return c.json({ message: `Not found: ${c.req.method} ${c.req.path}` }, 404);
    }
    return c.json(
      { message: `Method ${c.req.method} not allowed on ${c.req.path} (allowed: ${allow})` },
      405,
      { Allow: allow },
    );
  });

  app.onError((err, c) => {
    if (err instanceof DatabaseUnavailableError) {
      log.warn("Database unavailable on {method} {path} request_id={requestId}: {error}", {
        method: c.req.method,
        path: c.req.path,
        requestId: c.var.requestId,
        ...errorFields(err),
      });
      return c.json(
        { message: "Database unavailable, try again shortly" },
        503,
        err.headers,
      );
    }
    if (err instanceof AppError && err.status !== undefined) {
      return c.json({ message: err.message }, err.status as ContentfulStatusCode, err.headers);
    }
    if (err instanceof HTTPException) {
      return c.json({ message: err.message || "Request failed" }, err.status);
    }
    const sqlState = dataErrorState(err);
    if (sqlState) {
      // A value the routes' validation let through and PostgreSQL refused: the client's input,
      // so a 400 (without the database's words); logged, because a validation rule is missing.
      log.warn("Database refused a value on {method} {path} request_id={requestId}: {error}", {
        method: c.req.method,
        path: c.req.path,
        requestId: c.var.requestId,
        sqlState,
        ...errorFields(err),
      });
      return c.json({ message: "Invalid value in request: the database refused it" }, 400);
    }
    log.error("Unhandled error on {method} {path} request_id={requestId}: {stack}", {
      method: c.req.method,
      path: c.req.path,
      requestId: c.var.requestId,
      ...errorFields(err),
    });
    return c.json({ message: "Internal Server Error", request_id: c.var.requestId }, 500);
  });

  return app;
}

/**
 * The SQLSTATE of a PostgreSQL error that a client's value caused: class 22 (data exception: out
 * of range, invalid text, NUL, ...) or 23503 (a reference to a row that is gone). Undefined for
 * anything else.
 */
function dataErrorState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return undefined;
  return /^22[0-9A-Z]{3}$/.test(code) || code === "23503" ? code : undefined;
}
