/**
 * PostgreSQL through its own clients (`psql`, `createdb`, `dropdb`), with libpq's settings:
 * `PGHOST` (default 127.0.0.1), `PGPORT` (5432), `PGUSER` (postgres), `PGPASSWORD`.
 *
 * @module
 */
import { type CpuRole, registerUndo, run, runOk } from "./proc.ts";

/** PostgreSQL's own background processes; the postmaster (`postgres -D ...`) has no database. */
const AUX =
  "checkpointer|background writer|walwriter|autovacuum|logical replication|stats collector";
/**
 * The CPU roles of PostgreSQL: `db`'s backends with the background processes every database
 * shares, and the other databases' backends (someone else's tests on a shared machine).
 */
export const postgresRoles = (db: string): CpuRole[] => [
  { name: "postgres", comm: "postgres", cmdline: [` ${db} `, ...AUX.split("|"), "main ", "-D "] },
  { name: "postgres (other dbs)", comm: "postgres" },
];

/** The libpq environment every client here runs with. */
export function pgEnv(): Record<string, string> {
  const get = (name: string, dflt: string) => Deno.env.get(name) ?? dflt;
  const pw = Deno.env.get("PGPASSWORD");
  return {
    PGHOST: get("PGHOST", "127.0.0.1"),
    PGPORT: get("PGPORT", "5432"),
    PGUSER: get("PGUSER", "postgres"),
    ...(pw ? { PGPASSWORD: pw } : {}),
  };
}

/** `postgres://user[:pass]@host:port/db`, for the server and the loader. */
export function databaseUrl(db: string): string {
  const e = pgEnv();
  const pw = e.PGPASSWORD ? `:${encodeURIComponent(e.PGPASSWORD)}` : "";
  return `postgres://${encodeURIComponent(e.PGUSER)}${pw}@${e.PGHOST}:${e.PGPORT}/${db}`;
}

/** Runs SQL in `db` (a name or a URL) with psql (ON_ERROR_STOP); unaligned, tuples-only output. */
export const psql = (db: string, sql: string) =>
  runOk("psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql], pgEnv());

/** Why PostgreSQL cannot be used, in one line, or undefined when it answers. */
export async function postgresProblem(): Promise<string | undefined> {
  if ((await run("pg_isready", ["-q"], pgEnv())).code === 0) return undefined;
  return `PostgreSQL does not answer at ${pgEnv().PGHOST}:${pgEnv().PGPORT} (start it: pg_ctlcluster 15 main start)`;
}

/** Runs `fn` on a fresh, uniquely named database, dropped afterwards (also when interrupted). */
export async function withDatabase<T>(prefix: string, fn: (db: string) => Promise<T>): Promise<T> {
  const db = `${prefix}_${Date.now().toString(36)}_${Deno.pid}`;
  await runOk("createdb", [db], pgEnv());
  const drop = async () => {
    const r = await run("dropdb", ["--if-exists", "--force", db], pgEnv());
    if (r.code !== 0) console.error(`could not drop database ${db}: ${r.stderr.trim()}`);
  };
  const undo = registerUndo(drop);
  try {
    return await fn(db);
  } finally {
    undo.release();
    await drop();
  }
}
