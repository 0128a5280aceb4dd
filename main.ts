/**
 * The HTTP server: configuration → logging → database → migrations → `Deno.serve`.
 *
 * On SIGTERM or SIGINT it drains: new requests answer 503, requests already in progress (bodies
 * still arriving included) finish, then the server and the database close and the process exits 0.
 *
 * ```sh
 * deno task serve                    # http://127.0.0.1:5000, embedded database under ./data
 * PORT=8080 DATABASE_URL=postgres://... JWT_SECRET=... deno task serve
 * ```
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { createApp } from "./src/app.ts";
import { loadServerConfig, type ServerConfig } from "./src/config.ts";
import type { Database } from "./src/db/database.ts";
import { migrate } from "./src/db/migrate.ts";
import { openDatabase } from "./src/db/open.ts";
import { DatabaseUnavailableError } from "./src/db/errors.ts";
import { ConfigError } from "./src/errors.ts";
import { closeLogging, errorFields, setupLogging } from "./src/log.ts";

// Signal to exit: 10 s allowed, so in-flight requests get 8 and closing the rest 2.
const DRAIN_MS = 8_000;
const CLOSE_MS = 1_500;
// Under 5 s, so a request against an unreachable database answers 503 in time.
const QUERY_TIMEOUT_MS = 4_000;

const SECRET_SOURCES: Record<ServerConfig["jwtSecretSource"], string> = {
  env: "JWT_SECRET from the environment",
  data_dir: "the secret stored in DATA_DIR/jwt_secret",
  generated: "a new random secret, saved with mode 0600 in DATA_DIR/jwt_secret",
};

const log = getLogger(["taskapi"]);

function fail(message: string): never {
  console.error(`taskapi: ${message}`);
  Deno.exit(1);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function start(): Promise<void> {
  // Listen from the first moment: a signal during start-up (before there is anything to drain)
  // still ends the process with 0, rather than the default kill.
  let stop = (_signal: string): Promise<void> => Deno.exit(0);
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => void stop(signal));
  }

  let config: ServerConfig;
  try {
    config = await loadServerConfig(Deno.env.toObject());
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  // Buffered: a write per request line is ~5% of the CPU under load; closeLogging flushes.
  await setupLogging({ level: config.logLevel, console: "stdout", bufferConsole: true });
  log.info("JWT signing key: {source}", { source: SECRET_SOURCES[config.jwtSecretSource] });

  let db: Database;
  try {
    db = await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      queryTimeoutMs: QUERY_TIMEOUT_MS,
      pooler: config.pooler,
    });
    const applied = await migrate(db);
    if (applied.length > 0) log.info("Applied migrations {applied}", { applied });
  } catch (err) {
    if (err instanceof DatabaseUnavailableError) fail(err.message);
    log.fatal("Cannot start: {stack}", errorFields(err));
    await closeLogging();
    fail((err as Error).message);
  }

  const app = createApp({ db, config });
  let draining = false;
  let inFlight = 0;

  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    onListen: ({ hostname, port }) => {
      log.info("Listening on http://{hostname}:{port} ({kind} database at {label})", {
        hostname,
        port,
        kind: db.kind,
        label: db.label,
      });
    },
    onError: (err) => {
      log.error("Unhandled server error: {stack}", errorFields(err));
      return Response.json({ message: "Internal Server Error" }, {
        status: 500,
        headers: { "X-Content-Type-Options": "nosniff" },
      });
    },
  }, async (request, info) => {
    if (draining) {
      return Response.json({ message: "Server is shutting down" }, {
        status: 503,
        headers: { "X-Content-Type-Options": "nosniff", "Connection": "close" },
      });
    }
    inFlight++;
    try {
      return await app.fetch(request, info);
    } finally {
      inFlight--;
    }
  });

  stop = async (signal: string) => {
    if (draining) return;
    draining = true;
    log.info("{signal}: finishing {inFlight} request(s), refusing new ones", { signal, inFlight });
    // Shutting down at once would cut off request bodies still arriving; wait for them first.
    const deadline = Date.now() + DRAIN_MS;
    while (inFlight > 0 && Date.now() < deadline) await sleep(20);
    if (inFlight > 0) log.warn("Gave up waiting for {inFlight} request(s)", { inFlight });
    await Promise.race([server.shutdown(), sleep(CLOSE_MS)]);
    await Promise.race([db.close(), sleep(CLOSE_MS)]).catch(() => {});
    log.info("Stopped");
    await closeLogging();
    Deno.exit(0);
  };
}

if (import.meta.main) await start();
