/**
 * `cli.ts serve`: configuration → logging → database → migrations → {@linkcode HttpServer}, then
 * a graceful stop on SIGTERM or SIGINT (new requests answer 503, requests in flight finish, the
 * database closes, exit code 0 within 10 s).
 *
 * @example
 * ```sh
 * deno task serve                    # http://127.0.0.1:5000, embedded database under ./data
 * PORT=8080 DATABASE_URL=postgres://... JWT_SECRET=... deno run -A cli.ts serve
 * ```
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { createApp } from "../app.ts";
import { type Env, loadServerConfig, type ServerConfig } from "../config.ts";
import { DataDirInUseError, type DataDirLock, lockDataDir } from "../db/data_dir.ts";
import { ConfigError, EXIT_USAGE } from "../errors.ts";
import { closeLogging, setupLogging } from "../log.ts";
import { CLOSE_MS, type HttpServer, sleep } from "./http_server.ts";
import { listen, openServerDatabase, Signals, StartError } from "./start.ts";
import { serveWorkers } from "./workers.ts";
import { boundMallocArenas, type MallocTuning } from "../memory.ts";

const SECRET_SOURCES: Record<ServerConfig["jwtSecretSource"], string> = {
  env: "JWT_SECRET from the environment",
  data_dir: "the secret stored in DATA_DIR/jwt_secret",
  generated: "a new random secret, saved with mode 0600 in DATA_DIR/jwt_secret",
};

const log = getLogger(["taskapi"]);

/** Serves the app on `config`'s address until `signals` fires; then drains and closes. */
async function serveOne(config: ServerConfig, signals: Signals): Promise<void> {
  const db = await openServerDatabase(config);
  const app = createApp({ db, config });
  let server: HttpServer;
  try {
    server = listen(app.fetch, config, {}, ({ hostname, port }) => {
      log.info("Listening on http://{hostname}:{port} ({kind} database at {label})", {
        hostname,
        port,
        kind: db.kind,
        label: db.label,
      });
    });
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
  await server.drain(await signals.next());
  await Promise.race([db.close(), sleep(CLOSE_MS)]).catch(() => {});
}

/**
 * Runs the server from `env` until SIGTERM or SIGINT; resolves with the exit code (0 after a
 * graceful stop, 1 when it cannot start, with one line on stderr saying why).
 *
 * @example
 * ```ts
 * Deno.exit(await serve(Deno.env.toObject()));
 * ```
 */
export async function serve(env: Env): Promise<number> {
  const signals = new Signals();
  let config: ServerConfig;
  // The embedded database's folder is locked first: a second process stops before it reads or
  // creates anything there (its secret included).
  let dataDirLock: DataDirLock | undefined;
  try {
    config = await loadServerConfig(env, {
      beforeSecret: async (settings) => {
        if (!settings.databaseUrl) dataDirLock = await lockDataDir(settings.dataDir);
      },
    });
  } catch (err) {
    dataDirLock?.release();
    if (!(err instanceof ConfigError || err instanceof DataDirInUseError)) throw err;
    console.error(`taskapi: ${err.message}`);
    return err instanceof DataDirInUseError ? EXIT_USAGE : 1;
  }
  try {
    return await serveConfigured(env, config, signals);
  } finally {
    dataDirLock?.release();
  }
}

async function serveConfigured(env: Env, config: ServerConfig, signals: Signals): Promise<number> {
  // Buffered: a write per request line is ~5% of the CPU under load; closeLogging flushes.
  await setupLogging({
    level: config.logLevel,
    console: "stdout",
    bufferConsole: true,
    format: config.logFormat,
  });
  log.info("JWT signing key: {source}", { source: SECRET_SOURCES[config.jwtSecretSource] });
  logMallocTuning(boundMallocArenas(env));
  try {
    if (config.workers > 1) await serveWorkers(config, signals);
    else await serveOne(config, signals);
  } catch (err) {
    if (!(err instanceof StartError)) throw err;
    await closeLogging();
    console.error(`taskapi: ${err.message}`);
    return 1;
  }
  log.info("Stopped");
  await closeLogging();
  return 0;
}

/** One line on how memory stays bounded under password hashing; a warning when it does not. */
function logMallocTuning(how: MallocTuning): void {
  if (how === "environment" || how === "mallopt") {
    log.info("Memory: large blocks are returned to the OS ({how})", { how });
  } else if (how === "no-ffi-permission") {
    log.warn(
      "Memory: set MALLOC_MMAP_THRESHOLD_=1048576 in the environment (or allow FFI), or glibc " +
        "keeps every freed 19 MiB password-hashing block",
    );
  }
}
