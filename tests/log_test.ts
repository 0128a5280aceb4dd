/**
 * The server's buffered console: lines wait for one write, but none is lost when the process
 * closes its logging, exits or crashes.
 */
import assert from "node:assert/strict";

const LOG = new URL("../src/log.ts", import.meta.url).href;

/** Runs a script that logs five lines through a buffered stdout console, then ends as `ending`. */
async function run(ending: string): Promise<{ code: number; lines: string[] }> {
  const script = `
    import { getLogger } from "npm:@logtape/logtape@2.4.2";
    import { closeLogging, setupLogging } from ${JSON.stringify(LOG)};
    await setupLogging({ level: "info", console: "stdout", bufferConsole: true });
    const log = getLogger(["taskapi"]);
    for (let i = 1; i <= 5; i++) log.info("line " + i);
    ${ending}
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  return { code: out.code, lines: text.split("\n").filter((l) => l.includes("[INF]")) };
}

for (
  const [name, ending, code] of [
    ["closeLogging", "await closeLogging();", 0],
    ["Deno.exit", "Deno.exit(0);", 0],
    ["the end of the program", "", 0],
    ["an uncaught error", "setTimeout(() => { throw new Error('boom'); }, 1);", 1],
  ] as const
) {
  Deno.test(`log: buffered console lines are all written on ${name}`, async () => {
    const r = await run(ending);
    assert.equal(r.code, code);
    assert.deepEqual(r.lines.map((l) => l.replace(/^.*taskapi: /, "")), [
      "line 1",
      "line 2",
      "line 3",
      "line 4",
      "line 5",
    ]);
  });
}

Deno.test("log: LOG_FORMAT=json writes one JSON object per line, control characters escaped", async () => {
  const script = `
    import { getLogger } from "npm:@logtape/logtape@2.4.2";
    import { closeLogging, setupLogging } from ${JSON.stringify(LOG)};
    await setupLogging({ level: "info", console: "stdout", bufferConsole: true, format: "json" });
    const log = getLogger(["taskapi", "http"]);
    log.info("GET /tasks 200 1.5 ms", { method: "GET", path: "/tasks", status: 200 });
    log.warn("odd {value}", { value: "a\\r\\nb\\u001b[31mc" });
    await closeLogging();
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const lines = text.trimEnd().split("\n");
  assert.equal(lines.length, 2, text);
  assert.ok(!text.includes("\r") && !text.includes("\x1b"), "no raw CR or ESC");
  const [request, odd] = lines.map((l) => JSON.parse(l));
  assert.equal(request.message, "GET /tasks 200 1.5 ms");
  assert.equal(request.level, "INFO");
  assert.equal(request.logger, "taskapi.http");
  assert.deepEqual([request.method, request.path, request.status], ["GET", "/tasks", 200]);
  assert.ok(!Number.isNaN(Date.parse(request["@timestamp"])));
  // Escaped visibly, as in the text format (src/log_escape.ts), then JSON-encoded.
  assert.equal(odd.value, "a\\r\\nb\\x1b[31mc");
});
