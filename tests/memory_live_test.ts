/**
 * Memory stays bounded under password hashing, however the server starts: the real server
 * process, its RSS read from /proc after 50 sequential and 50 concurrent logins. Without a fixed
 * glibc mmap threshold each freed 19 MiB Argon2id block is kept (hundreds of MiB after this).
 */
import assert from "node:assert/strict";
import { uniqueName } from "./db_helpers.ts";
import { type Server, startServer } from "./server_helpers.ts";

const REPO = new URL("..", import.meta.url).pathname;
// Growth allowed across the 100 logins: the logins' own rows and caches, not 19 MiB per hash.
const MAX_GROWTH_MIB = 100;

/** VmRSS of `pid`, MiB. */
function rss(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

/**
 * What `deno task serve` runs, without the task runner in between (a runner killed by a test
 * would leave the server behind): the task's environment assignments and its `deno` arguments.
 */
function serveTask(): { env: Record<string, string>; args: string[] } {
  const json = JSON.parse(Deno.readTextFileSync(`${REPO}deno.json`));
  const words = (json.tasks.serve as string).split(/\s+/);
  const env: Record<string, string> = {};
  while (/^\w+=/.test(words[0])) {
    const [name, value] = words.shift()!.split("=");
    env[name] = value;
  }
  assert.equal(words.shift(), "deno");
  return { env, args: words.map((w) => (w === "cli.ts" ? `${REPO}cli.ts` : w)) };
}

async function measure(server: Server): Promise<{ before: number; after: number[] }> {
  const pid = server.child.pid;
  const base = `http://127.0.0.1:${server.port}`;
  const user = { username: uniqueName("mem"), password: "securepassword" };
  const post = async (path: string) => {
    const res = await fetch(base + path, { method: "POST", body: JSON.stringify(user) });
    await res.body?.cancel();
    return res.status;
  };
  assert.equal(await post("/register"), 201);
  for (let i = 0; i < 4; i++) assert.equal(await post("/login"), 200);
  const before = rss(pid);
  for (let i = 0; i < 50; i++) assert.equal(await post("/login"), 200);
  const afterSequential = rss(pid);
  const statuses = await Promise.all(Array.from({ length: 50 }, () => post("/login")));
  // Two at a time and eight waiting: the rest is told to come back, never an error.
  assert.ok(statuses.every((s) => s === 200 || s === 503), statuses.join(" "));
  assert.ok(statuses.filter((s) => s === 200).length >= 10, statuses.join(" "));
  return { before, after: [afterSequential, rss(pid)] };
}

const ENV = {
  HASH_CONCURRENCY: "2",
  HASH_QUEUE: "8",
  AUTH_REQUESTS_PER_MINUTE: "0",
  LOGIN_MAX_FAILURES: "0",
  LOGIN_MAX_FAILURES_PER_USER: "0",
};

const task = serveTask();
const ways = [
  { how: "`deno run -A` (mallopt through FFI)", env: {}, args: undefined, line: /mallopt/ },
  { how: "`deno task serve` (its MALLOC_MMAP_THRESHOLD_)", ...task, line: /environment/ },
];

for (const { how, env, args, line } of ways) {
  Deno.test(`memory: RSS bounded after 50 sequential and 50 concurrent logins, ${how}`, async () => {
    const server = await startServer({ env: { ...ENV, ...env }, args });
    try {
      await server.waitFor(new RegExp(`large blocks are returned.*${line.source}`));
      const { before, after } = await measure(server);
      const growth = after.map((a) => Math.round(a - before));
      console.log(`RSS ${Math.round(before)} MiB, then +${growth.join(" MiB, +")} MiB`);
      for (const g of growth) assert.ok(g < MAX_GROWTH_MIB, `RSS grew ${g} MiB`);
    } finally {
      await server.stop();
    }
  });
}
