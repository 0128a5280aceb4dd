/**
 * The real server as a child process (`deno run cli.ts serve`), for tests over real sockets: it
 * starts on a free port, its output is kept and can be waited on.
 */
import { TEST_DATABASE_URL } from "./db_helpers.ts";

/** The one entry point. */
export const CLI: string = new URL("../cli.ts", import.meta.url).pathname;
/** `deno run` flags as `deno task serve` gives them (all permissions here). */
export const SERVE_FLAGS: readonly string[] = [
  "-A",
  "--unstable-no-legacy-abort",
  "--unstable-net",
];

const decoder = new TextDecoder();
const WAIT_MS = 120_000;

/** PATH, HOME and Deno's own folders: what a child needs, nothing else from our environment. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** A running server process. */
export interface Server {
  port: number;
  /** Its DATA_DIR. */
  dataDir: string;
  child: Deno.ChildProcess;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  /** Resolves with the match once the server's output matches `pattern` (120 s at most). */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  /** Kills it (SIGKILL) if still running, and removes its DATA_DIR. */
  stop(): Promise<void>;
}

/** Options for {@linkcode startServer}. */
export interface StartOptions {
  /** Extra environment; by default the test database (or a new DATA_DIR) and a JWT secret. */
  env?: Record<string, string>;
  /** Deno's arguments, when not `run -A ... cli.ts serve` (e.g. `task serve`). */
  args?: string[];
  /** Use this DATA_DIR (kept by `stop()`) instead of a new one. */
  dataDir?: string;
}

/** Starts `cli.ts serve` on a free port and waits until it says it listens. */
export async function startServer(options: StartOptions = {}): Promise<Server> {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "taskapi-live-" });
  const env: Record<string, string> = {
    ...baseEnv(),
    HOST: "127.0.0.1",
    PORT: "0",
    DATA_DIR: dataDir,
  };
  if (TEST_DATABASE_URL) {
    Object.assign(env, { DATABASE_URL: TEST_DATABASE_URL, JWT_SECRET: "x".repeat(40) });
  }
  Object.assign(env, options.env);
  const child = new Deno.Command(Deno.execPath(), {
    args: options.args ?? ["run", ...SERVE_FLAGS, CLI, "serve"],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  let ended = false;
  // Woken on every chunk of output and at its end.
  let wake = () => {};
  // Keep reading to the end, or a full pipe would block the server.
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      wake();
    }
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]).finally(() => {
    ended = true;
    wake();
  });
  // Generous: opening the embedded database takes 45 s when the whole suite runs on 2 busy cores.
  const waitFor = async (pattern: RegExp): Promise<RegExpExecArray> => {
    const timer = setTimeout(() => wake(), WAIT_MS);
    try {
      const started = Date.now();
      for (;;) {
        const m = pattern.exec(text);
        if (m) return m;
        if (ended || Date.now() - started >= WAIT_MS) {
          throw new Error(`no ${pattern} in the server's output:\n${text}`);
        }
        await new Promise<void>((resolve) => wake = resolve);
      }
    } finally {
      clearTimeout(timer);
    }
  };
  const stop = async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await drained;
    if (!options.dataDir) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  };
  let port: number;
  try {
    port = Number((await waitFor(/Listening on http:\/\/127\.0\.0\.1:(\d+)/))[1]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, dataDir, child, output: () => text, waitFor, stop };
}
