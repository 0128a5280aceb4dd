/**
 * `--on-conflict update` merges with `MERGE` where that does exactly what `INSERT ... ON CONFLICT`
 * does (src/etl/merge_statement.ts), on the test database (PGlite, or PostgreSQL with
 * DATABASE_URL): a row already holding its values is not even locked, the counts are the same,
 * and a table whose triggers would see the difference keeps `ON CONFLICT`.
 */
import assert from "node:assert/strict";
import { ingest, type IngestOptions } from "../src/etl/ingest.ts";
import { mergeTarget } from "../src/etl/merge_statement.ts";
import type { Schema } from "../src/etl/schema.ts";
import { openTestDb, uniqueName } from "./db_helpers.ts";
import { tempDir } from "./etl_helpers.ts";

const SCHEMA: Schema = {
  columns: [
    { name: "id", type: "integer" },
    { name: "name", type: "text" },
  ],
};

/** Keys `from..to` named `v<id>` as a CSV file. */
async function csv(path: string, from: number, to: number): Promise<string> {
  const lines = ["id,name"];
  for (let id = from; id <= to; id++) lines.push(`${id},v${id}`);
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  return path;
}

Deno.test("upsert: update merges with MERGE where it may", async (t) => {
  const tdb = await openTestDb();
  const db = tdb.db;
  const dir = await tempDir();
  const load = (options: Omit<IngestOptions, "db">) =>
    ingest({ db, schema: SCHEMA, batchSize: 7, rejectsPath: `${dir.path}/r.csv`, ...options });
  try {
    const week1 = await csv(`${dir.path}/week1.csv`, 1, 20);
    const week2 = await csv(`${dir.path}/week2.csv`, 1, 25);

    await t.step(
      "a row that already holds its record's values is not locked, only read",
      async () => {
        const table = uniqueName("merge");
        assert.equal((await load({ file: week1, table, key: ["id"] })).exitCode, 0);
        const r = await load({ file: week2, table, key: ["id"], onConflict: "update" });
        assert.equal(r.exitCode, 0, r.error?.message ?? "");
        assert.equal(r.summary.rows_loaded, 25);
        assert.equal(r.summary.rows_updated, 20);
        assert.equal(r.summary.rows_unchanged, 20);
        // ON CONFLICT DO UPDATE ... WHERE locks the row even when its WHERE is false: xmax is set.
        const locked = await db.query<{ id: number }>(
          `SELECT id FROM "${table}" WHERE xmax::text <> '0' ORDER BY id`,
        );
        assert.deepEqual(locked, []);
      },
    );

    await t.step(
      "a batch holding a key twice merges with MERGE too, its last record winning",
      async () => {
        const table = uniqueName("twice");
        assert.equal((await load({ file: week1, table, key: ["id"] })).exitCode, 0);
        // Key 4 twice in the first batch of 7: first changed, then as it is.
        const lines = (await Deno.readTextFile(week2)).split("\n");
        lines.splice(2, 0, "4,changed");
        const file = `${dir.path}/twice.csv`;
        await Deno.writeTextFile(file, lines.join("\n"));
        const r = await load({ file, table, key: ["id"], onConflict: "update" });
        assert.equal(r.exitCode, 0, r.error?.message ?? "");
        assert.equal(r.summary.rows_loaded, 26);
        assert.equal(r.summary.rows_updated, 21, "20 existing keys and key 4's first record");
        assert.equal(r.summary.rows_unchanged, 20);
        const [four] = await db.query<{ name: string }>(`SELECT name FROM "${table}" WHERE id = 4`);
        assert.equal(four.name, "v4");
        const locked = await db.query<{ id: number }>(
          `SELECT id FROM "${table}" WHERE xmax::text <> '0' ORDER BY id`,
        );
        assert.deepEqual(locked, []);
      },
    );

    await t.step("a key of two columns, twice in a batch: its last record wins", async () => {
      const table = uniqueName("two");
      const pairs = `${dir.path}/pairs.csv`;
      await Deno.writeTextFile(pairs, "id,name\n1,a\n1,b\n2,a\n");
      const key = ["id", "name"];
      assert.equal((await load({ file: pairs, table, key })).exitCode, 0);
      const again = `${dir.path}/pairs2.csv`;
      await Deno.writeTextFile(again, "id,name\n1,a\n2,b\n1,a\n2,a\n");
      const r = await load({ file: again, table, key, onConflict: "update" });
      assert.equal(r.exitCode, 0, r.error?.message ?? "");
      assert.equal(r.summary.rows_loaded, 4);
      assert.equal(r.summary.rows_updated, 3, "(1,a) twice and (2,a)");
      const got = await db.query<{ id: number; name: string }>(
        `SELECT id, name FROM "${table}" ORDER BY id, name`,
      );
      assert.deepEqual(got.map((g) => `${g.id}${g.name}`), ["1a", "1b", "2a", "2b"]);
    });

    await t.step(
      "a table with a trigger of its own keeps ON CONFLICT's trigger calls",
      async () => {
        const table = uniqueName("trig");
        assert.equal((await load({ file: week1, table, key: ["id"] })).exitCode, 0);
        await db.exec(`CREATE TABLE "${table}_calls" (n integer)`);
        await db.exec(
          `CREATE FUNCTION "${table}_count"() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN INSERT INTO "${table}_calls" VALUES (NEW.id); RETURN NEW; END $$`,
        );
        await db.exec(
          `CREATE TRIGGER counted BEFORE INSERT ON "${table}"
           FOR EACH ROW EXECUTE FUNCTION "${table}_count"()`,
        );
        assert.equal((await mergeTarget(db, table)).relid, undefined);
        const r = await load({ file: week2, table, key: ["id"], onConflict: "update" });
        assert.equal(r.exitCode, 0, r.error?.message ?? "");
        assert.equal(r.summary.rows_updated, 20);
        // INSERT ... ON CONFLICT fires BEFORE INSERT for every record, updates included.
        const [{ n }] = await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM "${table}_calls"`,
        );
        assert.equal(n, 25);
      },
    );

    await t.step("MERGE is for plain tables: not partitioned ones", async () => {
      const plain = uniqueName("plain");
      await db.exec(`CREATE TABLE "${plain}" (id integer PRIMARY KEY, name text)`);
      assert.equal(typeof (await mergeTarget(db, plain)).relid, "number");
      const parted = uniqueName("parted");
      await db.exec(
        `CREATE TABLE "${parted}" (id integer PRIMARY KEY, name text) PARTITION BY RANGE (id)`,
      );
      await db.exec(
        `CREATE TABLE "${parted}_all" PARTITION OF "${parted}" FOR VALUES FROM (0) TO (1000)`,
      );
      assert.deepEqual(await mergeTarget(db, parted), { partitioned: true });
      const r = await load({ file: week2, table: parted, key: ["id"], onConflict: "update" });
      assert.equal(r.exitCode, 0, r.error?.message ?? "");
      assert.equal(r.summary.rows_loaded, 25);
      // The same keys again, one of them renamed: 25 over existing keys, 24 of them unchanged.
      const renamed = `${dir.path}/week3.csv`;
      await Deno.writeTextFile(renamed, (await Deno.readTextFile(week2)).replace("v25", "w25"));
      const again = await load({ file: renamed, table: parted, key: ["id"], onConflict: "update" });
      assert.equal(again.exitCode, 0, again.error?.message ?? "");
      assert.equal(again.summary.rows_updated, 25);
      assert.equal(again.summary.rows_unchanged, 24);
      const [w] = await db.query<{ name: string }>(`SELECT name FROM "${parted}" WHERE id = 25`);
      assert.equal(w.name, "w25");
    });
  } finally {
    await dir.remove();
    await tdb.close();
  }
});
