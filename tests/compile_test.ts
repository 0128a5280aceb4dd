/**
 * `deno task compile`'s executable, run for real from a folder with no source tree: `infer`,
 * `ingest` (the SQL migrations come from inside the binary) and `serve` (SIGTERM, exit 0).
 *
 * `deno compile` needs Deno's runtime (denort), which it downloads on first use and caches in
 * DENO_DIR. Where that download cannot happen (no internet, as on the machine this was written
 * on) and no runtime is cached, the tests are skipped with a line saying so; pointing DENORT_BIN
 * at the ordinary `deno` binary is no way round it (the result then runs as plain `deno`).
 */
import assert from "node:assert/strict";
import { TEST_DATABASE_URL, uniqueName } from "./db_helpers.ts";
import { baseEnv } from "./server_helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const decoder = new TextDecoder();

/** Compiles the binary into a temporary folder; a skip reason when no runtime can be had. */
async function compile(): Promise<{ binary: string; dir: string } | { skip: string }> {
  const dir = await Deno.makeTempDir({ prefix: "taskapi-compile-" });
  const binary = `${dir}/taskapi`;
  // The task's own command line, with the output moved out of the source tree.
  const task = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)).tasks.compile as string;
  const args = task.replace(/^deno compile /, "").replace("dist/taskapi", binary).split(/\s+/);
  const out = await new Deno.Command(Deno.execPath(), { args: ["compile", ...args], cwd: ROOT })
    .output();
  const stderr = decoder.decode(out.stderr);
  if (out.code !== 0) {
    await Deno.remove(dir, { recursive: true });
    const download = /error sending request for url \((https:\/\/[^)]*denort[^)]*)\)/.exec(stderr);
    if (download) {
      return {
        skip: `deno compile could not download its runtime (${download[1]}): no internet here ` +
          "and none cached in DENO_DIR; DENORT_BIN=$(which deno) would only make a plain deno",
      };
    }
    throw new Error(`deno compile failed:\n${stderr}`);
  }
  return { binary, dir };
}

const compiled = await compile();
const skip = "skip" in compiled ? compiled.skip : undefined;
if (skip) console.log(`compiled binary tests skipped: ${skip}`);

/** Runs the binary in `cwd` (a folder with no sources) with a clean environment. */
function run(args: string[], cwd: string, env: Record<string, string> = {}) {
  if (!("binary" in compiled)) throw new Error("not compiled");
  return new Deno.Command(compiled.binary, {
    args,
    cwd,
    env: { ...baseEnv(), ...env },
    clearEnv: true,
  }).output();
}

Deno.test({
  name: "compiled: one binary infers, ingests (migrations inside) and serves, from an empty folder",
  ignore: skip !== undefined,
  async fn() {
    if (!("binary" in compiled)) return;
    const cwd = await Deno.makeTempDir({ prefix: "taskapi-bin-" });
    try {
      await Deno.writeTextFile(`${cwd}/people.csv`, "id,name,age\n1,Ada,36\n2,Linus,x\n");
      const help = await run(["--help"], cwd);
      assert.match(decoder.decode(help.stdout), /serve[\s\S]*ingest[\s\S]*infer/);

      const infer = await run(["infer", "people.csv"], cwd);
      assert.equal(infer.code, 0, decoder.decode(infer.stderr));
      assert.equal(JSON.parse(decoder.decode(infer.stdout)).columns.length, 3);

      const db: Record<string, string> = TEST_DATABASE_URL
        ? { DATABASE_URL: TEST_DATABASE_URL }
        : {};
      const table = uniqueName("compiled");
      const ingest = await run(["ingest", "people.csv", "--table", table], cwd, {
        DATA_DIR: `${cwd}/data`,
        ...db,
      });
      assert.equal(ingest.code, 0, decoder.decode(ingest.stderr));
      assert.match(decoder.decode(ingest.stdout), /loaded/);

      const serve = new Deno.Command(compiled.binary, {
        args: ["serve"],
        cwd,
        env: {
          ...baseEnv(),
          PORT: "0",
          DATA_DIR: `${cwd}/served`,
          ...db,
          JWT_SECRET: "x".repeat(40),
        },
        clearEnv: true,
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      let text = "";
      const reader = serve.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let port: string | undefined;
      while (!port) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`serve ended:\n${text}`);
        text += value;
        port = /Listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(text)?.[1];
      }
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
      serve.kill("SIGTERM");
      assert.equal((await serve.status).code, 0);
      while (!(await reader.read()).done) { /* drain */ }
    } finally {
      await Deno.remove(cwd, { recursive: true }).catch(() => {});
      await Deno.remove(compiled.dir, { recursive: true }).catch(() => {});
    }
  },
});
