/**
 * What starting a server takes, in one isolate or in each of `WORKERS`: the signals, the database
 * opened and migrated, the listening socket, and the one-line failures.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ServerConfig } from "../config.ts";
import type { Database } from "../db/database.ts";
import { DatabaseUnavailableError } from "../db/errors.ts";
import { migrate } from "../db/migrate.ts";
import { openDatabase } from "../db/open.ts";
import { errorFields } from "../log.ts";
import { type Handler, HttpServer } from "./http_server.ts";

/** Under 5 s, so a request against an unreachable database answers 503 in time. */
export const QUERY_TIMEOUT_MS = 4_000;

const log = getLogger(["taskapi"]);

/** A start-up failure: one line on stderr, exit code 1. */
export class StartError extends Error {
  override name = "StartError";
}

// Windows has no SIGTERM (adding a listener for it throws): Ctrl+C and Ctrl+Break there.
const STOP_SIGNALS: readonly Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT", "SIGBREAK"]
  : ["SIGTERM", "SIGINT"];

/**
 * The first SIGTERM or SIGINT. Listening from the first moment: a signal during start-up (before
 * there is anything to drain) still ends the process with 0, rather than the default kill.
 */
export class Signals {
  #received?: string;
  #wake?: (signal: string) => void;
  readonly #early = () => Deno.exit(0);

  constructor() {
    for (const signal of STOP_SIGNALS) {
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
