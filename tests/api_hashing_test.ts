/**
 * Password hashing runs at most HASH_CONCURRENCY at a time with a short queue; past it, 503 with
 * Retry-After, and the refused attempt is no failed login.
 */
import assert from "node:assert/strict";
import { HashQueue } from "../src/auth/hash_queue.ts";
import { createApp } from "../src/app.ts";
import { hashingShare } from "../src/server/workers.ts";
import { apiSuite, randomAddress, wrap } from "./api_helpers.ts";
import { uniqueName } from "./db_helpers.ts";

const test = apiSuite("api: password hashing capacity");

/** A hash that ends when the test says so. */
function gate() {
  const { promise, resolve } = Promise.withResolvers<void>();
  return { promise, open: () => resolve() };
}

Deno.test("hash queue: at most `concurrency` at once, in order, then 503", async () => {
  const queue = new HashQueue({ concurrency: 2, queue: 3 });
  const order: number[] = [];
  let running = 0;
  let peak = 0;
  const gates = Array.from({ length: 5 }, gate);
  const runs = gates.map((g, i) =>
    queue.run(async () => {
      running++;
      peak = Math.max(peak, running);
      order.push(i);
      await g.promise;
      running--;
      return i;
    })
  );
  await Promise.resolve();
  assert.deepEqual([queue.running, queue.waiting], [2, 3]);
  await assert.rejects(queue.run(() => Promise.resolve(9)), (err: Error & { status?: number }) => {
    assert.equal(err.status, 503);
    return true;
  });
  for (const g of gates) g.open();
  assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3, 4]);
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
  assert.equal(peak, 2);
  assert.deepEqual([queue.running, queue.waiting], [0, 0]);
  // A failed hash frees its slot too.
  await assert.rejects(queue.run(() => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(queue.running, 0);
});

test("full: login and register answer 503 with Retry-After; the login is not counted", async (api) => {
  const hashing = new HashQueue({ concurrency: 1, queue: 1 });
  const config = { ...api.config, loginMaxFailures: 1 };
  const local = wrap(
    createApp({ db: api.db, config, clock: api.clock.now, hashing }),
    api.db,
    config,
    async () => {},
    api.clock,
  );
  const user = { username: uniqueName("cap"), password: "securepassword" };
  assert.equal((await local.call("POST", "/register", { body: user })).status, 201);
  const held = [gate(), gate()];
  const holders = held.map((g) => hashing.run(() => g.promise));
  const from = randomAddress();
  for (
    const [path, body] of [["/login", user], ["/register", {
      ...user,
      username: "x" + user.username,
    }]]
  ) {
    const res = await local.call("POST", path as string, { from, body });
    assert.equal(res.status, 503, path as string);
    assert.equal(res.headers.get("Retry-After"), "1");
    assert.match(res.body.message, /try again/);
  }
  for (const g of held) g.open();
  await Promise.all(holders);
  // With LOGIN_MAX_FAILURES=1, a counted refusal would have locked this out.
  assert.equal((await local.call("POST", "/login", { from, body: user })).status, 200);
});

Deno.test("WORKERS share HASH_CONCURRENCY and HASH_QUEUE: the limits are the process's", () => {
  const shares = (hashConcurrency: number, hashQueue: number, workers: number) =>
    Array.from(
      { length: workers },
      (_, i) => hashingShare({ hashConcurrency, hashQueue, workers }, i),
    );
  assert.deepEqual(shares(5, 20, 2), [
    { hashConcurrency: 3, hashQueue: 10 },
    { hashConcurrency: 2, hashQueue: 10 },
  ]);
  assert.deepEqual(shares(4, 16, 4).map((s) => s.hashConcurrency), [1, 1, 1, 1]);
  // Fewer slots than workers: each worker still hashes one at a time.
  assert.deepEqual(shares(1, 4, 2).map((s) => s.hashConcurrency), [1, 1]);
});
