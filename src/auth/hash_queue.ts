/**
 * A cap on password hashing: each Argon2id hash holds 19 MiB and a core for tens of
 * milliseconds, so unbounded concurrent logins exhaust memory (40 at once took a server from
 * 514 MiB to 1.2 GiB). At most `concurrency` hashes run at once; up to `queue` more wait their
 * turn, in order; past that the answer is 503 with `Retry-After` at once, a capacity answer that
 * costs nothing.
 *
 * @example
 * ```ts
 * const hashing = new HashQueue({ concurrency: 2, queue: 8 });
 * const phc = await hashing.run(() => hashPassword("securepassword"));
 * ```
 *
 * @module
 */
import { AppError } from "../errors.ts";

/** Options for {@linkcode HashQueue}. */
export interface HashQueueOptions {
  /** Hashes running at once (`HASH_CONCURRENCY`). */
  concurrency: number;
  /** Hashes waiting at most (`HASH_QUEUE`); one more is a 503. */
  queue: number;
}

/** Runs hashes `concurrency` at a time, with a short queue. */
export class HashQueue {
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  /** A queue with `options.concurrency` slots and room for `options.queue` waiting. */
  constructor(readonly options: HashQueueOptions) {}

  /** Hashes running now. */
  get running(): number {
    return this.#running;
  }

  /** Hashes waiting now. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `hash` when a slot is free; a 503 when the queue is full. */
  async run<T>(hash: () => Promise<T>): Promise<T> {
    if (this.#running < this.options.concurrency) this.#running++;
    else if (this.#waiting.length < this.options.queue) {
      // The slot is handed over by the hash that ends (the count stays as it is).
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      throw AppError.http(503, "Too many logins in progress; try again in a second", {
        headers: { "Retry-After": "1" },
      });
    }
    try {
      return await hash();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
