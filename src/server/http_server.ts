/**
 * `Deno.serve` with a graceful drain: once {@linkcode HttpServer.drain} starts, new requests answer
 * 503 while requests already being received or handled finish; then the listener closes.
 *
 * @example
 * ```ts
 * const server = new HttpServer(app.fetch, { hostname: "127.0.0.1", port: 5000 });
 * await server.finished; // after server.drain("SIGTERM") from a signal listener
 * ```
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { errorFields } from "../log.ts";

/** How long requests in flight get to finish, and how long the close itself may take. */
export const DRAIN_MS = 8_000;
export const CLOSE_MS = 1_500;

/** What the server calls for each request: `app.fetch`, with the connection's info. */
export type Handler = (
  request: Request,
  info: Deno.ServeHandlerInfo,
) => Response | Promise<Response>;

/** Options for {@linkcode HttpServer}. */
export interface HttpServerOptions {
  hostname: string;
  port: number;
  /** Share the port with other sockets that set it too (Linux `SO_REUSEPORT`; `WORKERS` > 1). */
  reusePort?: boolean;
  /** Called once listening, with the address actually bound (port 0 picks one). */
  onListen?: (addr: Deno.NetAddr) => void;
}

const log = getLogger(["taskapi"]);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Plain answers for when the app itself cannot give one. */
function plain(message: string, status: number, extra: Record<string, string> = {}): Response {
  return Response.json({ message }, {
    status,
    headers: { "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", ...extra },
  });
}

/** One listening socket and the requests in flight on it. */
export class HttpServer {
  #draining = false;
  #inFlight = 0;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  /** The address bound (resolves once listening). */
  readonly listening: Promise<Deno.NetAddr>;

  constructor(handler: Handler, options: HttpServerOptions) {
    const { promise, resolve } = Promise.withResolvers<Deno.NetAddr>();
    this.listening = promise;
    this.#server = Deno.serve({
      hostname: options.hostname,
      port: options.port,
      reusePort: options.reusePort,
      onListen: (addr) => {
        options.onListen?.(addr);
        resolve(addr);
      },
      onError: (err) => {
        log.error("Unhandled server error: {stack}", errorFields(err));
        return plain("Internal Server Error", 500);
      },
    }, (request, info) => this.#handle(handler, request, info));
  }

  /** Requests being received or handled right now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  async #handle(handler: Handler, request: Request, info: Deno.ServeHandlerInfo) {
    if (this.#draining) return plain("Server is shutting down", 503, { "Connection": "close" });
    this.#inFlight++;
    try {
      return await handler(request, info);
    } finally {
      this.#inFlight--;
    }
  }

  /**
   * Refuses new requests (503), waits up to {@linkcode DRAIN_MS} for those in flight (bodies
   * still arriving included), then closes the listener. Logs `"<signal>: finishing N request(s)"`.
   */
  async drain(signal: string): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    const inFlight = this.#inFlight;
    log.info("{signal}: finishing {inFlight} request(s), refusing new ones", { signal, inFlight });
    // Shutting down at once would cut off request bodies still arriving; wait for them first.
    const deadline = Date.now() + DRAIN_MS;
    while (this.#inFlight > 0 && Date.now() < deadline) await sleep(20);
    if (this.#inFlight > 0) {
      log.warn("Gave up waiting for {inFlight} request(s)", { inFlight: this.#inFlight });
    }
    await Promise.race([this.#server.shutdown(), sleep(CLOSE_MS)]);
  }
}
