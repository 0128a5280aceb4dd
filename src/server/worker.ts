/**
 * One isolate of `WORKERS` > 1: opens its own pool on the database, builds the app, listens on the
 * shared port with `SO_REUSEPORT`, and drains when the main isolate says so. Its `/metrics`
 * answer comes from the main isolate, which sums every worker's registry.
 *
 * Started by `workers.ts` as a module worker; it reads nothing but its messages.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import type { MiddlewareHandler } from "hono";
import { getLogger } from "@logtape/logtape";
import { createApp } from "../app.ts";
import type { Database } from "../db/database.ts";
import { openDatabase } from "../db/open.ts";
import { closeLogging, errorFields, setupLogging } from "../log.ts";
import { Metrics, type MetricsSource } from "../metrics.ts";
import { CLOSE_MS, type HttpServer, sleep } from "./http_server.ts";
import { listen, QUERY_TIMEOUT_MS } from "./start.ts";
import type { ToMain, ToWorker, WorkerStart } from "./workers.ts";

const log = getLogger(["taskapi"]);

function post(message: ToMain): void {
  self.postMessage(message);
}

/**
 * `/metrics` of a worker: this isolate counts its own requests, and the text comes from the main
 * isolate, which sums every worker's registry (this one's too).
 */
class SummedMetrics implements MetricsSource {
  readonly middleware: MiddlewareHandler;
  #asked = 0;
  readonly #answers = new Map<number, (text: string) => void>();

  constructor(readonly own: Metrics) {
    this.middleware = own.middleware;
  }

  text(): Promise<string> {
    const id = ++this.#asked;
    const { promise, resolve } = Promise.withResolvers<string>();
    this.#answers.set(id, resolve);
    post({ type: "metrics", id });
    return promise;
  }

  /** The main isolate's answer to request `id`. */
  answer(id: number, text: string): void {
    this.#answers.get(id)?.(text);
    this.#answers.delete(id);
  }
}

/** This isolate's server and what it holds. */
class WorkerServer {
  private constructor(
    readonly db: Database,
    readonly metrics: SummedMetrics,
    readonly server: HttpServer,
  ) {}

  static async start(start: WorkerStart): Promise<WorkerServer> {
    const { config } = start;
    await setupLogging({
      level: config.logLevel,
      console: "stdout",
      bufferConsole: true,
      format: config.logFormat,
    });
    const db = await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      queryTimeoutMs: QUERY_TIMEOUT_MS,
      pooler: config.pooler,
    });
    const metrics = new SummedMetrics(new Metrics({ db }));
    const app = createApp({ db, config, metrics });
    let server: HttpServer;
    try {
      server = listen(app.fetch, { host: config.host, port: start.port }, { reusePort: true });
    } catch (err) {
      await db.close().catch(() => {});
      throw err;
    }
    await server.listening;
    return new WorkerServer(db, metrics, server);
  }

  async on(message: ToWorker): Promise<void> {
    if (message.type === "snapshot") {
      post({ type: "snapshot", id: message.id, snapshot: await this.metrics.own.snapshot() });
    } else if (message.type === "metrics") {
      this.metrics.answer(message.id, message.text);
    } else if (message.type === "drain") {
      await this.server.drain(message.signal);
      await Promise.race([this.db.close(), sleep(CLOSE_MS)]).catch(() => {});
      // Buffered lines would die with the isolate.
      await closeLogging();
      post({ type: "stopped" });
    }
  }
}

let worker: WorkerServer | undefined;
self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === "start") {
    try {
      worker = await WorkerServer.start(message);
      post({ type: "listening" });
    } catch (err) {
      log.error("Worker {index} cannot start: {stack}", {
        index: message.index,
        ...errorFields(err),
      });
      await closeLogging();
      post({ type: "failed", message: (err as Error).message });
    }
    return;
  }
  await worker?.on(message);
};
