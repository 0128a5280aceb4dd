/**
 * Widening on the database (PGlite, or PostgreSQL with DATABASE_URL): with an inferred schema, a
 * value late in the file that does not fit its column's type widens the column in its batch's
 * transaction and the row loads; the summary lists each widening, the recorded schema follows,
 * and a given schema still rejects such values.
 */
import assert from "node:assert/strict";
import { findLoad } from "../src/db/load_state.ts";
import { ingest } from "../src/etl/ingest.ts";
import { inferFile } from "../src/etl/infer.ts";
import { FileInput } from "../src/etl/input.ts";
import { openTestDb, uniqueName } from "./db_helpers.ts";
import { tempDir } from "./etl_helpers.ts";

const REAL = new URL("./fixtures/real/", import.meta.url).pathname;

/** 30 records; the first 10 (the sample) fit integer, boolean, date, timestamp; later ones not. */
function widening(): string {
  const rows = ["id,n,flag,day,ts,label"];
  for (let i = 1; i <= 30; i++) {
    const two = (k: number) => String(k).padStart(2, "0");
    let n = String(i), flag = i % 2 ? "yes" : "no", day = `2023-01-${two(i % 28 + 1)}`;
    let ts = `2023-01-01T10:00:${two(i)}`;
    if (i === 12) n = "3000000000";
    if (i === 15) n = "2.5";
    if (i === 18) flag = "maybe";
    if (i === 21) day = "soon";
    if (i === 24) ts = "2023-01-01T10:00:00+02:00";
    if (i === 27) n = "lots";
    rows.push([i, n, flag, day, ts, "x"].join(","));
  }
  return rows.join("\n") + "\n";
}

const WIDENINGS = [
  { column: "n", from: "integer", to: "bigint", line: 13, value: "3000000000" },
  { column: "n", from: "bigint", to: "numeric", line: 16, value: "2.5" },
  { column: "flag", from: "boolean", to: "text", line: 19, value: "maybe" },
  { column: "day", from: "date", to: "text", line: 22, value: "soon" },
  {
    column: "ts",
    from: "timestamp",
    to: "timestamptz",
    line: 25,
    value: "2023-01-01T10:00:00+02:00",
  },
  { column: "n", from: "numeric", to: "text", line: 28, value: "lots" },
];

Deno.test("widening: an inferred column that a later value does not fit widens, and the row loads", async (t) => {
  const tdb = await openTestDb();
  const db = tdb.db;
  const dir = await tempDir();
  const file = `${dir.path}/w.csv`;
  await Deno.writeTextFile(file, widening());
  const types = async (table: string) =>
    Object.fromEntries(
      (await db.query<{ c: string; t: string }>(
        `SELECT column_name AS c, data_type AS t FROM information_schema.columns
          WHERE table_name = $1 ORDER BY ordinal_position`,
        [table],
      )).map((r) => [r.c, r.t]),
    );
  try {
    for (const batchSize of [5, 1000]) {
      await t.step(
        `batches of ${batchSize}: every row loads; the summary and the state list each widening`,
        async () => {
          const table = uniqueName("widen");
          const r = await ingest({
            db,
            file,
            table,
            sample: 10,
            batchSize,
            rejectsPath: `${dir.path}/r.csv`,
          });
          assert.equal(r.exitCode, 0, r.error?.message ?? "");
          assert.equal(r.summary.rows_loaded, 30);
          assert.equal(r.summary.rows_rejected, 0);
          assert.deepEqual(r.summary.widenings, WIDENINGS);
          assert.deepEqual(await types(table), {
            id: "integer",
            n: "text",
            flag: "text",
            day: "text",
            ts: "timestamp with time zone",
            label: "text",
          });
          const rows = await db.query<Record<string, string>>(
            `SELECT id, n, flag, day, to_char(ts AT TIME ZONE 'UTC', 'HH24:MI:SS') AS ts FROM "${table}"
            WHERE id IN (1, 12, 15, 18, 19, 21, 24, 27) ORDER BY id`,
          );
          // Rows loaded before a widening took PostgreSQL's cast (true); later ones load as written.
          assert.deepEqual(rows.map((x) => [x.n, x.flag, x.day, x.ts]), [
            ["1", "true", "2023-01-02", "10:00:01"],
            ["3000000000", "false", "2023-01-13", "10:00:12"],
            ["2.5", "true", "2023-01-16", "10:00:15"],
            ["18", "maybe", "2023-01-19", "10:00:18"],
            ["19", "yes", "2023-01-20", "10:00:19"],
            ["21", "yes", "soon", "10:00:21"],
            ["24", "no", "2023-01-25", "08:00:00"],
            ["lots", "yes", "2023-01-28", "10:00:27"],
          ]);
          using input = await FileInput.open(file);
          const state = await findLoad(db, { table, fingerprint: await input.fingerprint() });
          assert.equal(state?.schemaInferred, true);
          assert.deepEqual(state?.widenings, WIDENINGS);
          const recorded = (state?.schema as { columns: { name: string; type: string }[] }).columns;
          assert.deepEqual(recorded.map((c) => c.type), [
            "integer",
            "text",
            "text",
            "text",
            "timestamptz",
            "text",
          ]);
        },
      );
    }

    await t.step("a given schema still rejects such values; nothing widens", async () => {
      const table = uniqueName("given");
      const schema = await inferFile({ file, sample: 10 });
      const r = await ingest({ db, file, table, schema, rejectsPath: `${dir.path}/g.csv` });
      assert.equal(r.exitCode, 0, r.error?.message ?? "");
      assert.deepEqual(r.summary.widenings, []);
      assert.ok(r.summary.rows_rejected >= 5, JSON.stringify(r.summary.rejected_by_reason));
      assert.equal((await types(table)).n, "integer");
    });

    await t.step("a dry run lists the widenings and writes nothing", async () => {
      const r = await ingest({
        file,
        table: uniqueName("dry"),
        sample: 10,
        dryRun: true,
        rejectsPath: `${dir.path}/d.csv`,
      });
      assert.equal(r.exitCode, 0);
      assert.deepEqual(r.summary.widenings, WIDENINGS);
    });

    await t.step(
      "readr's challenge.csv: 1,000 integers, then doubles (readr guesses from 1,000 rows)",
      async () => {
        const table = uniqueName("challenge");
        const r = await ingest({
          db,
          file: `${REAL}readr-challenge.csv`,
          table,
          sample: 1000,
          rejectsPath: `${dir.path}/c.csv`,
        });
        assert.equal(r.exitCode, 0, r.error?.message ?? "");
        assert.equal(r.summary.rows_loaded, 2000);
        assert.deepEqual(r.summary.widenings, [
          { column: "x", from: "integer", to: "numeric", line: 1002, value: "0.23837975086644292" },
        ]);
        const [got] = await db.query<{ x: string; na: number; first: string; last: string }>(
          `SELECT sum(x)::text AS x, count(*) FILTER (WHERE y IS NULL)::int AS na,
                min(y) AS first, max(y) AS last FROM "${table}"`,
        );
        // Python: sum(Decimal(r[0])), sum(r[1] == "NA"), min/max of the other r[1]
        assert.deepEqual(got, {
          x: "2531184.7658467863220722346",
          na: 1000,
          first: "2010-01-03",
          last: "2023-09-06",
        });
      },
    );
  } finally {
    await dir.remove();
    await tdb.close();
  }
});
