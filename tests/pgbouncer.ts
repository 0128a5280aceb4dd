/**
 * Debian's PgBouncer in transaction mode in front of the test PostgreSQL (or any server), started
 * for a test or a bench run:
 * `pgbouncer -u postgres FILE.ini` when we are root (it refuses to run as root), plain
 * `pgbouncer FILE.ini` otherwise. `.ci/run` installs it with apt-get when missing.
 */
import { TEST_DATABASE_URL } from "./db_helpers.ts";

const CANDIDATES = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer", "/usr/local/bin/pgbouncer"];

/** A running PgBouncer. */
export interface PgBouncer {
  port: number;
  /** Its process id (the bench counts its CPU). */
  pid: number;
  /** `url` with its host and port replaced by the pooler's (the database name is kept). */
  through(url: string): string;
  /** Its log so far. */
  output(): string;
  stop(): Promise<void>;
}

/** Options for {@linkcode startPgBouncer}. */
export interface PgBouncerOptions {
  /** The server it pools (its database name is ignored). @default {TEST_DATABASE_URL} */
  target?: string;
  /** Server connections per database and user: fewer than clients, so they are shared. */
  poolSize?: number;
}

/** The pgbouncer binary's path, or undefined when there is none. */
export async function findPgBouncer(): Promise<string | undefined> {
  const fromEnv = Deno.env.get("PGBOUNCER");
  for (const path of fromEnv ? [fromEnv] : CANDIDATES) {
    if (await Deno.stat(path).then((s) => s.isFile, () => false)) return path;
  }
  return undefined;
}

/** Why the pooler tests cannot run here, or undefined when they can. */
export async function pgbouncerUnavailable(): Promise<string | undefined> {
  if (!TEST_DATABASE_URL) return "they need a real PostgreSQL (DATABASE_URL)";
  if (!await findPgBouncer()) {
    return `no pgbouncer binary (looked in ${CANDIDATES.join(", ")} and $PGBOUNCER; ` +
      "`.ci/run` installs Debian's with apt-get)";
  }
  return undefined;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

const decoder = new TextDecoder();

/** Starts PgBouncer (transaction mode) in front of `TEST_DATABASE_URL`'s server. */
export async function startPgBouncer(options: PgBouncerOptions = {}): Promise<PgBouncer> {
  const binary = await findPgBouncer();
  const targetUrl = options.target ?? TEST_DATABASE_URL;
  if (!binary || !targetUrl) throw new Error(await pgbouncerUnavailable());
  const target = new URL(targetUrl);
  const dir = await Deno.makeTempDir({ prefix: "taskapi-pgbouncer-" });
  // Readable by the postgres user it switches to.
  await Deno.chmod(dir, 0o755);
  const port = freePort();
  const server = [
    `host=${target.hostname}`,
    `port=${target.port || 5432}`,
    `user=${decodeURIComponent(target.username || "postgres")}`,
    target.password ? `password=${decodeURIComponent(target.password)}` : "",
  ].join(" ");
  // `auth_type = any`: every client logs in as the user given here, with its password.
  const ini = `[databases]
* = ${server}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = ${options.poolSize ?? 4}
max_client_conn = 1000
ignore_startup_parameters = extra_float_digits
server_reset_query =
`;
  const file = `${dir}/pgbouncer.ini`;
  await Deno.writeTextFile(file, ini, { mode: 0o644 });
  const root = Deno.uid() === 0;
  const child = new Deno.Command(binary, {
    args: root ? ["-u", "postgres", file] : [file],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  let wake = () => {};
  const read = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      wake();
    }
  };
  let ended = false;
  const reading = Promise.all([read(child.stdout), read(child.stderr)]).finally(() => {
    ended = true;
    wake();
  });
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
    await reading;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const timer = setTimeout(() => wake(), 15_000);
  const started = Date.now();
  try {
    while (!/listening on 127\.0\.0\.1:\d+/.test(text)) {
      if (ended || Date.now() - started >= 15_000) {
        await stop();
        throw new Error(`pgbouncer did not start:\n${text}`);
      }
      await new Promise<void>((resolve) => wake = resolve);
    }
  } finally {
    clearTimeout(timer);
  }
  return {
    port,
    pid: child.pid,
    through(url: string) {
      const u = new URL(url);
      u.hostname = "127.0.0.1";
      u.port = String(port);
      return u.href;
    },
    output: () => text,
    stop,
  };
}
