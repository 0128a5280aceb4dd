/**
 * Running the loader's CLI from tests (spawned, with the test database's environment), and the
 * interrupted-load scaffolding: a generated file with defects, waiting for its rejects to appear,
 * and comparing the result with an unbroken load of the same file.
 */
import assert from "node:assert/strict";
import { migrate } from "../src/db/migrate.ts";
import { openDatabase } from "../src/db/open.ts";
import { ingest } from "../src/etl/ingest.ts";
import type { Schema } from "../src/etl/schema.ts";
import { TEST_DATABASE_URL, uniqueName } from "./db_helpers.ts";
import { writeCsv } from "./etl_gen.ts";

export const CLI = new URL("../cli.ts", import.meta.url).pathname;

export interface Run {
  code: number;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export function env(dataDir: string): Record<string, string> {
  const e: Record<string, string> = { DATA_DIR: dataDir, NO_COLOR: "1" };
  if (TEST_DATABASE_URL) e.DATABASE_URL = TEST_DATABASE_URL;
  return e;
}

/** Runs the CLI with the test's environment on top of this process's. */
export function cli(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  return run(args, { env: extraEnv, clearEnv: false });
}

/** Runs the CLI with JWT_SECRET and DATABASE_URL removed from the environment. */
export function cliBare(
  args: string[],
  extraEnv: Record<string, string> = {},
  cwd?: string,
): Promise<Run> {
  return run(args, { env: extraEnv, clearEnv: true, cwd });
}

export async function run(
  args: string[],
  options: { env: Record<string, string>; clearEnv: boolean; cwd?: string },
): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { NO_COLOR: "1", ...options.env },
    clearEnv: options.clearEnv,
    cwd: options.cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return decoded(out);
}

/** A finished process's exit and output, as text. */
export function decoded(out: Deno.CommandOutput): Run {
  const dec = new TextDecoder();
  return {
    code: out.code,
    signal: out.signal,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

export const GEN_SCHEMA: Schema = {
  columns: [
    { name: "id", type: "integer", required: true },
    { name: "first_name", source: "First Name", type: "text" },
    { name: "email", type: "text" },
    { name: "age", type: "integer" },
    { name: "score", type: "numeric" },
    { name: "ratio", type: "double" },
    { name: "active", type: "boolean" },
    { name: "signup_date", type: "date" },
    { name: "last_login", type: "timestamptz" },
    { name: "zip", type: "text" },
    { name: "notes", type: "text" },
    { name: "big", type: "bigint" },
  ],
};

export async function lineCount(path: string): Promise<number> {
  try {
    const bytes = await Deno.readFile(path);
    let n = 0;
    for (const b of bytes) if (b === 10) n++;
    return n;
  } catch {
    return 0;
  }
}

/** A generated file with 5% defects, its schema file, and the loader's arguments for it. */
export async function interruptedLoad(dir: string, table: string, rows = 60_000) {
  const file = `${dir}/big.csv`;
  await writeCsv({ path: file, rows, defectRate: 0.05, seed: 7 });
  const schemaFile = `${dir}/schema.json`;
  await Deno.writeTextFile(schemaFile, JSON.stringify(GEN_SCHEMA));
  const rejects = `${dir}/${table}.rejects.csv`;
  const args = [
    "ingest",
    file,
    "--schema",
    schemaFile,
    "--table",
    table,
    "--batch-size",
    "1000",
    "--rejects",
    rejects,
    "--log-file",
    `${dir}/ingest.log`,
    "--quiet",
  ];
  return { file, rejects, args };
}

/** Waits until the rejects file has `lines` lines: rejects are written as each batch commits. */
export async function untilRejects(path: string, lines: number): Promise<boolean> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await lineCount(path) >= lines) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}

/**
 * Starts `ingest ARGS` in its own process and kills it (SIGKILL, like a crash) once the rejects
 * file has `lines` lines, that is, a few batches in; fails the test if it ended before that.
 */
export async function killMidLoad(
  args: string[],
  dataDir: string,
  rejects: string,
  lines = 250,
): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: env(dataDir),
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reached = await untilRejects(rejects, lines);
  child.kill("SIGKILL");
  const status = await child.status;
  await child.stderr.cancel();
  assert.ok(
    reached && status.signal === "SIGKILL",
    `not killed mid-load: ${JSON.stringify(status)}`,
  );
}

/**
 * Loads `file` again without interruption into another table and checks that `table` and
 * `rejects` hold exactly the same: every valid row once, every rejected record once, in order.
 */
export async function assertSameAsUnbroken(
  dataDir: string,
  file: string,
  table: string,
  rejects: string,
): Promise<void> {
  const refTable = uniqueName("unbroken");
  const db = await openDatabase({ databaseUrl: TEST_DATABASE_URL, dataDir, poolSize: 2 });
  try {
    await migrate(db);
    const refRejects = `${dataDir}/unbroken.rejects.csv`;
    const ref = await ingest({
      db,
      file,
      schema: GEN_SCHEMA,
      table: refTable,
      rejectsPath: refRejects,
      batchSize: 1000,
    });
    assert.equal(ref.exitCode, 0, ref.error?.message ?? "");
    assert.ok(ref.summary!.rows_rejected > 1000);
    const counts = async (t: string) =>
      (await db.query<{ n: number; ids: number; sum: string }>(
        `SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids, sum(id)::text AS sum FROM "${t}"`,
      ))[0];
    const got = await counts(table);
    assert.deepEqual(got, await counts(refTable));
    assert.equal(got.n, got.ids, "no duplicates");
    assert.equal(got.n, ref.summary!.rows_loaded);
    assert.equal(await Deno.readTextFile(rejects), await Deno.readTextFile(refRejects));
  } finally {
    await db.close();
  }
}
