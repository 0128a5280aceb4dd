/**
 * Loading by key (`--key`, `--on-conflict error|update|ignore`) on the test database (PGlite, or
 * PostgreSQL with DATABASE_URL): the key becomes the primary key of a table ingest creates, an
 * existing table needs a unique index on it, and each mode ends with the rows a reference
 * computed here says, with small batches so that keys meet across batches and within them.
 */
import assert from "node:assert/strict";
import { EXIT_USAGE } from "../src/errors.ts";
import { ingest, type IngestOptions } from "../src/etl/ingest.ts";
import { formatSummary } from "../src/etl/summary.ts";
import type { Schema } from "../src/etl/schema.ts";
import { openTestDb, uniqueName } from "./db_helpers.ts";
import { readRejects, tempDir } from "./etl_helpers.ts";

const SCHEMA: Schema = {
  columns: [
    { name: "id", type: "integer" },
    { name: "name", type: "text" },
    { name: "score", type: "integer" },
  ],
};

/** Records `[id, name, score]` as a CSV file. */
async function csv(path: string, records: (string | number)[][]): Promise<string> {
  await Deno.writeTextFile(
    path,
    ["id,name,score", ...records.map((r) => r.join(","))].join("\n") + "\n",
  );
  return path;
}

/**
 * 42 records over 25 keys: keys 1..10 twice or three times (in the same batch of 7 and in
 * later ones), 21 three times (twice next to each other, at the end), the others once.
 */
function records(tag: string): (string | number)[][] {
  const out: (string | number)[][] = [];
  for (let i = 1; i <= 25; i++) out.push([i, `${tag}${i}a`, i]);
  for (let i = 1; i <= 10; i++) out.splice(i * 3, 0, [i, `${tag}${i}b`, 100 + i]);
  for (let i = 1; i <= 5; i++) out.push([i, `${tag}${i}c`, 200 + i]);
  out.push([21, `${tag}21x`, 321], [21, `${tag}21y`, 421]);
  return out;
}

Deno.test("upsert: --key and --on-conflict, on the database", async (t) => {
  const tdb = await openTestDb();
  const db = tdb.db;
  const dir = await tempDir();
  const load = (options: Omit<IngestOptions, "db">) =>
    ingest({ db, schema: SCHEMA, batchSize: 7, rejectsPath: `${dir.path}/r.csv`, ...options });
  const rows = (table: string) =>
    db.query<{ id: number; name: string; score: number }>(
      `SELECT id, name, score FROM "${table}" ORDER BY id`,
    );
  /** The table's rows after `recs` go in over `before` with `mode`, computed here. */
  const expect = (before: (string | number)[][], recs: (string | number)[][], mode: string) => {
    const byKey = new Map<number, (string | number)[]>(before.map((r) => [Number(r[0]), r]));
    for (const r of recs) {
      if (!byKey.has(Number(r[0])) || mode === "update") byKey.set(Number(r[0]), r);
    }
    return [...byKey.values()].sort((a, b) => Number(a[0]) - Number(b[0]))
      .map(([id, name, score]) => ({ id: Number(id), name: String(name), score: Number(score) }));
  };
  try {
    const old = Array.from({ length: 20 }, (_, k) => [2 * k + 1, `old${2 * k + 1}`, -1]);
    const oldFile = await csv(`${dir.path}/old.csv`, old);
    const file = await csv(`${dir.path}/new.csv`, records("n"));

    for (const mode of ["update", "ignore"] as const) {
      await t.step(`${mode}: into a table holding every other key, in batches of 7`, async () => {
        const table = uniqueName(mode);
        assert.equal((await load({ file: oldFile, table, key: ["id"] })).exitCode, 0);
        const r = await load({ file, table, key: ["id"], onConflict: mode });
        assert.equal(r.exitCode, 0, r.error?.message ?? "");
        assert.deepEqual(await rows(table), expect(old, records("n"), mode));
        const s = r.summary;
        assert.equal(s.rows_read, 42);
        assert.equal(s.rows_rejected, 0);
        // 25 keys, 13 of them already there (odd keys up to 25); 17 records repeat a key.
        if (mode === "update") {
          assert.equal(s.rows_loaded, 42);
          assert.equal(s.rows_updated, 42 - 12);
          assert.equal(s.rows_ignored, 0);
        } else {
          assert.equal(s.rows_loaded, 12);
          assert.equal(s.rows_ignored, 30);
        }
      });
    }

    await t.step(
      "error (the default): each conflict rejected once with the database's reason",
      async () => {
        const table = uniqueName("err");
        assert.equal((await load({ file: oldFile, table, key: ["id"] })).exitCode, 0);
        const rejectsPath = `${dir.path}/err.rejects.csv`;
        const r = await load({ file, table, key: ["id"], rejectsPath });
        assert.equal(r.exitCode, 0, r.error?.message ?? "");
        assert.deepEqual(await rows(table), expect(old, records("n"), "ignore"));
        assert.equal(r.summary.rows_loaded, 12);
        assert.equal(r.summary.rows_rejected, 30);
        const { rows: rejected } = await readRejects(rejectsPath);
        assert.equal(rejected.length, 30);
        assert.equal(new Set(rejected.map((x) => x._line)).size, 30, "each once");
        assert.ok(
          rejected.every((x) =>
            x._reason ===
              `database refused: duplicate key value violates unique constraint "${table}_pkey"`
          ),
          rejected[0]._reason,
        );
        // In line order, and only records whose key came earlier (in the table or the file).
        assert.deepEqual(
          rejected.map((x) => Number(x._line)),
          [...rejected.map((x) => Number(x._line))].sort((a, b) => a - b),
        );
      },
    );

    await t.step(
      "the key is the primary key of a table ingest creates; a missing key rejects the row",
      async () => {
        const table = uniqueName("pk");
        const f = await csv(`${dir.path}/pk.csv`, [[1, "a", 1], ["", "no key", 2]]);
        const r = await load({
          file: f,
          table,
          key: ["id"],
          rejectsPath: `${dir.path}/pk.rejects.csv`,
        });
        assert.deepEqual(r.summary.rejected_by_reason, { "id: required value missing": 1 });
        const [pk] = await db.query<{ def: string }>(
          `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'`,
          [`"${table}"`],
        );
        assert.equal(pk.def, "PRIMARY KEY (id)");
      },
    );

    await t.step(
      "an existing table needs a unique index on exactly the key (exit 2 otherwise)",
      async () => {
        const table = uniqueName("noidx");
        await db.exec(`CREATE TABLE "${table}" (id integer, name text, score integer)`);
        await db.exec(`CREATE UNIQUE INDEX ON "${table}" (name, score)`);
        const r = await load({ file, table, key: ["id"], onConflict: "update" });
        assert.equal(r.exitCode, EXIT_USAGE);
        assert.match(
          r.error!.message,
          new RegExp(`table "${table}" has no unique index on exactly \\(id\\)`),
        );
        assert.match(r.error!.message, /its unique indexes are on \(name, score\)/);
        assert.match(r.error!.message, new RegExp(`CREATE UNIQUE INDEX ON "${table}" \\("id"\\)`));
        // A two-column key matches an index on its columns in any order; headers name columns too.
        const two = await load({ file, table, key: ["score", "name"], onConflict: "ignore" });
        assert.equal(two.exitCode, 0, two.error?.message ?? "");
        assert.equal(two.summary.rows_loaded, 42);
      },
    );

    await t.step("bad flags are usage errors (exit 2)", async () => {
      for (
        const [options, message] of [
          [{ onConflict: "update" }, /--on-conflict needs --key/],
          [
            { key: ["id"], onConflict: "merge" },
            /--on-conflict must be one of error, update, ignore, got "merge"/,
          ],
          [{ key: ["nope"] }, /--key "nope" is not a column of the schema \(id, name, score\)/],
          [{ key: ["id", "id"] }, /--key names "id" twice/],
        ] as [Partial<IngestOptions>, RegExp][]
      ) {
        const r = await load({ file, table: uniqueName("bad"), ...options });
        assert.equal(r.exitCode, EXIT_USAGE, JSON.stringify(options));
        assert.match(r.error!.message, message);
      }
    });

    await t.step(
      "update: a row the table's CHECK refuses is rejected with its reason; the rest merges",
      async () => {
        const table = uniqueName("check");
        await db.exec(
          `CREATE TABLE "${table}" (id integer PRIMARY KEY, name text, score integer CHECK (score < 150))`,
        );
        const rejectsPath = `${dir.path}/check.rejects.csv`;
        const r = await load({ file, table, key: ["id"], onConflict: "update", rejectsPath });
        assert.equal(r.exitCode, 0, r.error?.message ?? "");
        // Scores over 150: the five "c" records (201..205), each its key's last record, and both
        // later records of key 21: each key keeps its last record that the table takes.
        const { rows: rejected } = await readRejects(rejectsPath);
        assert.deepEqual(
          rejected.map((x) => x.score),
          ["201", "202", "203", "204", "205", "321", "421"],
        );
        assert.ok(rejected.every((x) => /^database refused: .*check constraint/.test(x._reason)));
        assert.equal(r.summary.rows_loaded, 35);
        const got = await rows(table);
        assert.equal(got.length, 25);
        assert.deepEqual(got.slice(0, 2), [{ id: 1, name: "n1b", score: 101 }, {
          id: 2,
          name: "n2b",
          score: 102,
        }]);
        assert.deepEqual(got[20], { id: 21, name: "n21a", score: 21 });
      },
    );

    await t.step(
      "update: a row already holding its record's values is left as it is, counted unchanged",
      async () => {
        // Last week's file, then this week's: keys 1..15 as they were (key 3 also once changed,
        // then back), 16..20 changed, 21..25 new, and key 30 refused by the CHECK in batch 2 (its
        // batch goes through the row-by-row path). Batches of 7.
        const table = uniqueName("same");
        await db.exec(
          `CREATE TABLE "${table}" (id integer PRIMARY KEY, name text, score integer CHECK (score < 500))`,
        );
        const week1 = Array.from({ length: 20 }, (_, k) => [k + 1, `v${k + 1}`, k + 1]);
        const f1 = await csv(`${dir.path}/week1.csv`, week1);
        assert.equal((await load({ file: f1, table, key: ["id"] })).exitCode, 0);
        const xmin = async () =>
          new Map(
            (await db.query<{ id: number; x: string }>(
              `SELECT id, xmin::text AS x FROM "${table}"`,
            )).map((r) => [r.id, r.x]),
          );
        const before = await xmin();
        const week2 = Array.from({ length: 25 }, (_, k) => {
          const id = k + 1;
          return [id, `v${id}`, id >= 16 && id <= 20 ? id + 100 : id];
        });
        week2.splice(2, 0, [3, "changed", 999]);
        week2.splice(9, 0, [30, "bad", 600]);
        const f2 = await csv(`${dir.path}/week2.csv`, week2);
        const rejectsPath = `${dir.path}/same.rejects.csv`;
        const r = await load({ file: f2, table, key: ["id"], onConflict: "update", rejectsPath });
        assert.equal(r.exitCode, 0, r.error?.message ?? "");
        assert.equal(r.summary.rows_rejected, 1);
        assert.equal(r.summary.rows_loaded, 26);
        assert.equal(r.summary.rows_updated, 21, "20 existing keys and key 3's first record");
        assert.equal(r.summary.rows_unchanged, 15);
        assert.match(formatSummary(r.summary), /21 over existing keys, 15 of them unchanged/);
        const after = await xmin();
        for (let id = 1; id <= 15; id++) assert.equal(after.get(id), before.get(id), `key ${id}`);
        for (let id = 16; id <= 20; id++) {
          assert.notEqual(after.get(id), before.get(id), `key ${id}`);
        }
        assert.deepEqual(
          await rows(table),
          week2.filter((w) => w[0] !== 30 && w[1] !== "changed").map(([id, name, score]) => ({
            id: Number(id),
            name: String(name),
            score: Number(score),
          })).sort((a, b) => a.id - b.id),
        );
      },
    );
  } finally {
    await dir.remove();
    await tdb.close();
  }
});
