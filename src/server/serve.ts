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
import type { Database } from "../db/database.ts";
import { DatabaseUnavailableError } from "../db/errors.ts";
import { migrate } from "../db/migrate.ts";
import { openDatabase } from "../db/open.ts";
import { ConfigError } from "../errors.ts";
import { closeLogging, errorFields, setupLogging } from "../log.ts";
import { CLOSE_MS, type Handler, HttpServer, sleep } from "./http_server.ts";

// Under 5 s, so a request against an unreachable database answers 503 in time.
const QUERY_TIMEOUT_MS = 4_000;

const SECRET_SOURCES: Record<ServerConfig["jwtSecretSource"], string> = {
  env: "JWT_SECRET from the environment",
  data_dir: "the secret stored in DATA_DIR/jwt_secret",
  generated: "a new random secret, saved with mode 0600 in DATA_DIR/jwt_secret",
};

const log = getLogger(["taskapi"]);

/** A start-up failure: one line on stderr, exit code 1. */
export class StartError extends Error {
  override name = "StartError";
}

/**
 * The first SIGTERM or SIGINT. Listening from the first moment: a signal during start-up (before
 * there is anything to drain) still ends the process with 0, rather than the default kill.
 */
export class Signals {
  #received?: string;
  #wake?: (signal: string) => void;
  readonly #early = () => Deno.exit(0);

  constructor() {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      Deno.addSignalListener(signal, () => this.#on(signal));
    }
  }

  #on(signal: string): void {
    if (this.#received) return;
    this.#received = signal;
    if (this.#wake) this.#wake(signal);
    else this.#early();
  }

  /** Resolves with the first signal; from now on a signal no longer exits at once. */
  next(): Promise<string> {
    if (this.#received) return Promise.resolve(this.#received);
    return new Promise((resolve) => this.#wake = resolve);
  }
}

/** Opens the configured database and migrates it; failures become a {@linkcode StartError}. */
export async function openServerDatabase(config: ServerConfig): Promise<Database> {
  let db: Database | undefined;
  try {
    db = await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      queryTimeoutMs: QUERY_TIMEOUT_MS,
      pooler: config.pooler,
    });
    const applied = await migrate(db);
    if (applied.length > 0) log.info("Applied migrations {applied}", { applied });
    return db;
  } catch (err) {
    await db?.close().catch(() => {});
    if (err instanceof DatabaseUnavailableError) throw new StartError(err.message, { cause: err });
    log.fatal("Cannot start: {stack}", errorFields(err));
    throw new StartError((err as Error).message, { cause: err });
  }
}

/**
 * A {@linkcode HttpServer} on `config`'s address; an address in use, or one not ours to take,
 * becomes a {@linkcode StartError} that says what to do.
 */
export function listen(
  handler: Handler,
  config: Pick<ServerConfig, "host" | "port">,
  options: { reusePort?: boolean },
  onListen?: (addr: Deno.NetAddr) => void,
): HttpServer {
  const where = `${config.host}:${config.port}`;
  try {
    return new HttpServer(handler, {
      hostname: config.host,
      port: config.port,
      reusePort: options.reusePort,
      onListen,
    });
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new StartError(
        `cannot listen on ${where}: the address is already in use (another server running? choose another PORT)`,
        { cause: err },
      );
    }
    if (
      err instanceof Deno.errors.AddrNotAvailable || err instanceof Deno.errors.PermissionDenied
    ) {
      throw new StartError(
        `cannot listen on ${where}: ${(err as Error).message} (check HOST and PORT)`,
        {
          cause: err,
        },
      );
    }
    throw err;
  }
}

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
  try {
    config = await loadServerConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`taskapi: ${err.message}`);
    return 1;
  }
  // Buffered: a write per request line is ~5% of the CPU under load; closeLogging flushes.
  await setupLogging({
    level: config.logLevel,
    console: "stdout",
    bufferConsole: true,
    format: config.logFormat,
  });
  log.info("JWT signing key: {source}", { source: SECRET_SOURCES[config.jwtSecretSource] });
  try {
    await serveOne(config, signals);
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
