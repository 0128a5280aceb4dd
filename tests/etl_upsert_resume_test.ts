/**
 * A keyed load (`--key id --on-conflict update`) killed with SIGKILL mid-way, then resumed, ends
 * with exactly the table and the rejects of an unbroken one. On a server a keyed load keeps two
 * batches in flight (src/etl/pipeline.ts): the next one is staged while the one before merges, and
 * their commits must still leave a prefix of the file loaded.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Database } from "../src/db/database.ts";
import { migrate } from "../src/db/migrate.ts";
import { openDatabase } from "../src/db/open.ts";
import { ingest } from "../src/etl/ingest.ts";
import { createStatement } from "../src/etl/target_table.ts";
import { TEST_DATABASE_URL, uniqueName } from "./db_helpers.ts";
import { cli, env, GEN_SCHEMA, interruptedLoad, killMidLoad } from "./etl_cli_helpers.ts";
import { tempDir } from "./etl_helpers.ts";

const ROWS = 60_000;

/** A table for the generated file keyed by `id`, already holding every other id ("old" rows). */
async function halfFull(db: Database, table: string): Promise<void> {
  await db.exec(createStatement(table, GEN_SCHEMA, ["id"]));
  await db.exec(
    `INSERT INTO "${table}" (id, email) SELECT g, 'old' FROM generate_series(1, ${ROWS}, 2) g`,
  );
}

/** Every row of `table`, as one digest, and how many there are. */
async function contents(db: Database, table: string) {
  const [row] = await db.query<{ n: number; old: number; digest: string }>(
    `SELECT count(*)::int AS n, count(*) FILTER (WHERE email = 'old')::int AS old,
            md5(string_agg(t::text, E'\\n' ORDER BY id)) AS digest
       FROM "${table}" t`,
  );
  return row;
}

Deno.test("cli: a keyed update load killed mid-way resumes to exactly the table and rejects of an unbroken one", async () => {
  const dir = await tempDir();
  const table = uniqueName("killed_keyed");
  const reference = uniqueName("unbroken_keyed");
  const open = () =>
    openDatabase({ databaseUrl: TEST_DATABASE_URL, dataDir: dir.path, poolSize: 2 });
  let db: Database | undefined;
  try {
    const { file, rejects, args } = await interruptedLoad(dir.path, table, ROWS);
    const keyed = [...args, "--key", "id", "--on-conflict", "update"];
    // The embedded database takes one process at a time: closed while the CLI runs.
    db = await open();
    await migrate(db);
    await halfFull(db, table);
    await halfFull(db, reference);
    await db.close();
    db = undefined;

    await killMidLoad(keyed, dir.path, rejects);
    const resumed = await cli([...keyed, "--resume"], env(dir.path));
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /resumed after\s+[\d,]+ records/);

    db = await open();
    const referenceRejects = `${dir.path}/unbroken.rejects.csv`;
    const unbroken = await ingest({
      db,
      file,
      schema: GEN_SCHEMA,
      table: reference,
      rejectsPath: referenceRejects,
      batchSize: 1000,
      key: ["id"],
      onConflict: "update",
    });
    assert.equal(unbroken.exitCode, 0, unbroken.error?.message ?? "");
    assert.ok(unbroken.summary.rows_updated > 10_000, JSON.stringify(unbroken.summary));
    const got = await contents(db, table);
    assert.deepEqual(got, await contents(db, reference));
    // Odd ids whose record was rejected keep their old row; every other odd id was updated.
    assert.ok(got.old < 0.1 * (ROWS / 2), `${got.old} rows still old`);
    assert.equal(await Deno.readTextFile(rejects), await Deno.readTextFile(referenceRejects));
  } finally {
    await db?.close();
    await dir.remove();
  }
});
