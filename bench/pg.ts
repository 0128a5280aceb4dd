/**
 * PostgreSQL helpers for the benchmarks, all through the `psql`, `createdb` and `dropdb` clients
 * that come with PostgreSQL: start the server when it is not answering, create and drop fresh
 * databases, run SQL.
 *
 * Connection settings come from `PGHOST` (127.0.0.1), `PGPORT` (5432), `PGUSER` (postgres) and
 * `PGPASSWORD`, as for every libpq client.
 */
import { run, runOk, sleep } from "./proc.ts";

/** PostgreSQL's own background processes, shared by every database. */
export const POSTGRES_AUX = [
  "checkpointer",
  "background writer",
  "walwriter",
  "autovacuum",
  "logical replication",
  "stats collector",
  "main ", // the postmaster: "/usr/lib/postgresql/15/bin/postgres -D ..." has no database name
  "-D ",
];

/** The libpq environment every client here runs with. */
export function pgEnv(): Record<string, string> {
  const env: Record<string, string> = {
    PGHOST: Deno.env.get("PGHOST") ?? "127.0.0.1",
    PGPORT: Deno.env.get("PGPORT") ?? "5432",
    PGUSER: Deno.env.get("PGUSER") ?? "postgres",
  };
  const pw = Deno.env.get("PGPASSWORD");
  if (pw) env.PGPASSWORD = pw;
  return env;
}

/** `postgres://user[:pass]@host:port/db` for a database, for the server and the loader. */
export function databaseUrl(db: string): string {
  const e = pgEnv();
  const auth = e.PGPASSWORD
    ? `${encodeURIComponent(e.PGUSER)}:${encodeURIComponent(e.PGPASSWORD)}`
    : encodeURIComponent(e.PGUSER);
  return `postgres://${auth}@${e.PGHOST}:${e.PGPORT}/${db}`;
}

/** Starts the local cluster when nothing answers (as CI does), then waits up to 30 s. */
export async function ensurePostgres(): Promise<void> {
  const ready = async () => (await run("pg_isready", ["-q"], { env: pgEnv() })).code === 0;
  if (await ready()) return;
  console.error("PostgreSQL is not answering; trying to start the local cluster");
  const versions = [...Deno.readDirSync("/etc/postgresql")].map((e) => e.name).sort();
  if (versions.length > 0) {
    await run("pg_ctlcluster", [
      "--skip-systemctl-redirect",
      versions[versions.length - 1],
      "main",
      "start",
    ]);
  }
  for (let i = 0; i < 30; i++) {
    if (await ready()) return;
    await sleep(1000);
  }
  throw new Error("PostgreSQL does not answer at " + JSON.stringify(pgEnv()));
}

/** Runs SQL in `db` with psql (ON_ERROR_STOP) and returns unaligned, tuples-only output. */
export function psql(db: string, sql: string): Promise<string> {
  return runOk("psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql], {
    env: pgEnv(),
  });
}

/** Creates a fresh, uniquely named database and returns its name. */
export async function createDatabase(prefix: string): Promise<string> {
  const name = `${prefix}_${Date.now().toString(36)}_${Deno.pid}`;
  await runOk("createdb", [name], { env: pgEnv() });
  return name;
}

/** Drops a database, disconnecting whoever is still in it. Never throws. */
export async function dropDatabase(name: string): Promise<void> {
  const r = await run("dropdb", ["--if-exists", "--force", name], { env: pgEnv() });
  if (r.code !== 0) console.error(`could not drop database ${name}: ${r.stderr.trim()}`);
}

/** `SELECT version()`, short: "PostgreSQL 15.20". */
export async function serverVersion(): Promise<string> {
  const v = (await psql("postgres", "SHOW server_version")).trim();
  return `PostgreSQL ${v}`;
}
