/**
 * `WORKERS=N` (N > 1): the main isolate migrates the database once, checks that the port is free,
 * then starts N module workers (`worker.ts`), each with its own database pool, listening on the
 * same port with `SO_REUSEPORT`. On Linux the kernel spreads new connections over the N sockets
 * (by a hash of the client's address and port; a keep-alive connection stays with its worker),
 * so one server uses N cores. Isolates were measured against N processes and
 * `deno serve --parallel` (BENCHMARKS.md): the same throughput, and one process to signal, to
 * log from and to sum `/metrics` in.
 *
 * The main isolate serves nothing: it relays SIGTERM/SIGINT (every worker drains), and answers a
 * worker's `/metrics` with the sum of all workers' registries.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ServerConfig } from "../config.ts";
import { aggregate, type MetricsSnapshot } from "../metrics.ts";
import { CLOSE_MS, DRAIN_MS, sleep } from "./http_server.ts";
import { openServerDatabase, type Signals, StartError } from "./start.ts";

/** What the main isolate tells a worker. */
export type ToWorker =
  | WorkerStart
  | { type: "snapshot"; id: number }
  | { type: "metrics"; id: number; text: string }
  | { type: "drain"; signal: string };

/** The first message: everything a worker needs. */
export interface WorkerStart {
  type: "start";
  index: number;
  config: ServerConfig;
  /** The port actually free (PORT=0 resolved). */
  port: number;
}

/** What a worker tells the main isolate. */
export type ToMain =
  | { type: "listening" }
  | { type: "failed"; message: string }
  | { type: "metrics"; id: number }
  | { type: "snapshot"; id: number; snapshot: MetricsSnapshot }
  | { type: "stopped" };

// A worker that has not sent its snapshot by then is left out of that scrape.
const SNAPSHOT_MS = 2_000;

const log = getLogger(["taskapi"]);

/**
 * Binds `host:port` without `SO_REUSEPORT` and lets go: fails when anything holds the port (a
 * second server with `WORKERS` > 1 would otherwise join the first one's sockets silently), and
 * resolves PORT=0 to a real port for the workers to share.
 */
function freePort(config: ServerConfig): number {
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ hostname: config.host, port: config.port });
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new StartError(
        `cannot listen on ${config.host}:${config.port}: the address is already in use (another server running? choose another PORT)`,
      );
    }
    throw new StartError(
      `cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`,
    );
  }
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The N workers and the requests between them. */
class WorkerPool {
  readonly #workers: Worker[] = [];
  readonly #stopped: Promise<void>[] = [];
  #snapshotAsked = 0;
  readonly #snapshots = new Map<
    number,
    { parts: MetricsSnapshot[]; done: () => void; left: number }
  >();
  /** Rejects when a worker dies after starting. */
  readonly crashed: Promise<never>;
  #crash!: (err: Error) => void;

  constructor(readonly config: ServerConfig, readonly port: number) {
    this.crashed = new Promise((_, reject) => this.#crash = reject);
    this.crashed.catch(() => {});
  }

  /** Starts every worker; resolves once all listen, throws a StartError when one cannot. */
  async start(): Promise<void> {
    const started: Promise<void>[] = [];
    for (let index = 0; index < this.config.workers; index++) {
      const worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
      const listening = Promise.withResolvers<void>();
      const stopped = Promise.withResolvers<void>();
      worker.onmessage = (event: MessageEvent<ToMain>) => {
        const m = event.data;
        if (m.type === "listening") listening.resolve();
        else if (m.type === "failed") listening.reject(new StartError(m.message));
        else if (m.type === "stopped") stopped.resolve();
        else if (m.type === "metrics") void this.#metrics(worker, m.id);
        else if (m.type === "snapshot") this.#snapshot(m.id, m.snapshot);
      };
      worker.onerror = (event) => {
        event.preventDefault();
        const err = new Error(`worker ${index} failed: ${event.message}`);
        listening.reject(new StartError(err.message));
        this.#crash(err);
        stopped.resolve();
      };
      this.#workers.push(worker);
      this.#stopped.push(stopped.promise);
      started.push(listening.promise);
      const config = { ...this.config, ...hashingShare(this.config, index) };
      const start: WorkerStart = { type: "start", index, config, port: this.port };
      worker.postMessage(start);
    }
    try {
      await Promise.all(started);
    } catch (err) {
      this.terminate();
      throw err;
    }
  }

  /** Asks every worker for its registry, sums them, and answers `asker`. */
  async #metrics(asker: Worker, id: number): Promise<void> {
    const key = ++this.#snapshotAsked;
    const { promise, resolve } = Promise.withResolvers<void>();
    const entry = { parts: [] as MetricsSnapshot[], done: resolve, left: this.#workers.length };
    this.#snapshots.set(key, entry);
    for (const w of this.#workers) w.postMessage({ type: "snapshot", id: key } satisfies ToWorker);
    await Promise.race([promise, sleep(SNAPSHOT_MS)]);
    this.#snapshots.delete(key);
    const text = await aggregate(entry.parts);
    asker.postMessage({ type: "metrics", id, text } satisfies ToWorker);
  }

  #snapshot(key: number, snapshot: MetricsSnapshot): void {
    const entry = this.#snapshots.get(key);
    if (!entry) return;
    entry.parts.push(snapshot);
    if (--entry.left === 0) entry.done();
  }

  /** Every worker drains; resolves once all stopped, or when time is up. */
  async drain(signal: string): Promise<void> {
    for (const w of this.#workers) w.postMessage({ type: "drain", signal } satisfies ToWorker);
    await Promise.race([Promise.all(this.#stopped), sleep(DRAIN_MS + CLOSE_MS)]);
    this.terminate();
  }

  terminate(): void {
    for (const w of this.#workers) w.terminate();
  }
}

/**
 * Serves from `config.workers` isolates until `signals` fires (then all drain), or until a worker
 * dies (then the others drain and this throws, for the exit code 1).
 */
export async function serveWorkers(config: ServerConfig, signals: Signals): Promise<void> {
  // Once here, rather than N workers queueing on the migration lock.
  const db = await openServerDatabase(config);
  const label = db.label;
  await db.close();
  const port = freePort(config);
  const pool = new WorkerPool(config, port);
  await pool.start();
  log.info(
    "Listening on http://{hostname}:{port} ({workers} workers, {kind} database at {label})",
    {
      hostname: config.host,
      port,
      workers: config.workers,
      kind: db.kind,
      label,
    },
  );
  const ended = await Promise.race([signals.next(), pool.crashed.catch((err: Error) => err)]);
  if (ended instanceof Error) {
    log.fatal("{error}; stopping the other workers", { error: ended.message });
    await pool.drain("worker failure");
    throw ended;
  }
  await pool.drain(ended);
}

/**
 * Worker `index`'s share of password hashing: HASH_CONCURRENCY and HASH_QUEUE are for the whole
 * process (the memory they bound is the process's), split as evenly as whole numbers go; every
 * worker can hash at least one at a time.
 */
export function hashingShare(
  config: Pick<ServerConfig, "hashConcurrency" | "hashQueue" | "workers">,
  index: number,
): { hashConcurrency: number; hashQueue: number } {
  const share = (total: number) =>
    Math.floor(total / config.workers) + (index < total % config.workers ? 1 : 0);
  return {
    hashConcurrency: Math.max(1, share(config.hashConcurrency)),
    hashQueue: share(config.hashQueue),
  };
}
