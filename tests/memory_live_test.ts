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

/** The server's own process: the child itself, or the deno the task runner started. */
function serverPid(child: Deno.ChildProcess): number {
  const cmdline = (pid: number) => Deno.readTextFileSync(`/proc/${pid}/cmdline`);
  if (cmdline(child.pid).includes("cli.ts")) return child.pid;
  for (const task of Deno.readDirSync(`/proc/${child.pid}/task`)) {
    const children = Deno.readTextFileSync(`/proc/${child.pid}/task/${task.name}/children`);
    for (const pid of children.trim().split(/\s+/).filter(Boolean).map(Number)) {
      if (cmdline(pid).includes("cli.ts")) return pid;
    }
  }
  throw new Error("no server process under the task runner");
}

async function measure(server: Server, pid: number): Promise<{ before: number; after: number[] }> {
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

for (
  const [how, args, line] of [
    ["`deno run -A` (mallopt through FFI)", undefined, /large blocks are returned.*mallopt/],
    ["`deno task serve` (MALLOC_MMAP_THRESHOLD_)", ["task", "--cwd", REPO, "serve"], /environment/],
  ] as const
) {
  Deno.test(`memory: RSS bounded after 50 sequential and 50 concurrent logins, ${how}`, async () => {
    const server = await startServer({ env: ENV, args: args && [...args] });
    // Under the task runner the server is a grandchild: it must not outlive the test.
    const pid = serverPid(server.child);
    try {
      await server.waitFor(line);
      const { before, after } = await measure(server, pid);
      const growth = after.map((a) => Math.round(a - before));
      console.log(`RSS ${Math.round(before)} MiB, then +${growth.join(" MiB, +")} MiB`);
      for (const g of growth) assert.ok(g < MAX_GROWTH_MIB, `RSS grew ${g} MiB`);
    } finally {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* already gone */ }
      await server.stop();
    }
  });
}
