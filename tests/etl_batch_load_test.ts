/**
 * One batch into the real test database: its COPY, the isolation of rows the database refuses
 * (by the line PostgreSQL names, or by bisection), and its commit writing rejects and load state
 * in the same transaction.
 */
import assert from "node:assert/strict";
import type { CopyData, Database, Session } from "../src/db/database.ts";
import { DatabaseUnavailableError } from "../src/db/errors.ts";
import { findLoad, startLoad } from "../src/db/load_state.ts";
import { type Batch, BatchPool } from "../src/etl/batch.ts";
import { type BatchCommit, noProgress } from "../src/etl/batch_commit.ts";
import { blamedLine, loadBatch } from "../src/etl/batch_load.ts";
import { CsvSource } from "../src/etl/csv_source.ts";
import { RejectsWriter } from "../src/etl/rejects.ts";
import { parseSchema } from "../src/etl/schema.ts";
import { tableDifferences } from "../src/etl/target_table.ts";
import { openTestDb, uniqueName } from "./db_helpers.ts";
import { readRejects, tempDir } from "./etl_helpers.ts";

/**
 * The real test database, optionally with the line number taken out of COPY errors, so that
 * isolation has to fall back on bisection.
 */
function withoutLines(db: Database): Database {
  const strip = (s: Session): Session => ({
    ...s,
    query: s.query.bind(s),
    exec: s.exec.bind(s),
    async copyFrom(sql: string, data: CopyData) {
      try {
        return await s.copyFrom(sql, data);
      } catch (err) {
        if (err && typeof err === "object") delete (err as { where?: string }).where;
        throw err;
      }
    },
  });
  return {
    ...db,
    kind: db.kind,
    label: db.label,
    query: db.query.bind(db),
    exec: db.exec.bind(db),
    ping: db.ping.bind(db),
    close: db.close.bind(db),
    transaction: (fn) => db.transaction((tx) => fn(strip(tx))),
    withSession: (fn) => db.withSession((s) => fn(strip(s))),
  };
}

/** A sealed batch of one-column rows, row `i` from line `i + 2` of a CSV with header `v`. */
function batchOf(values: readonly number[]): Batch {
  const b = new BatchPool().take();
  values.forEach((v, i) => {
    b.out.put(`${v}\n`);
    b.lines.push(i + 2);
    b.records++;
    b.lastLine = i + 2;
  });
  b.final = true;
  b.seal({});
  return b;
}

for (const namesLine of [true, false]) {
  Deno.test(`batch load: refused rows isolated ${namesLine ? "by err.where's line" : "by bisection"}, written as rejects with the load state`, async () => {
    const t = await openTestDb();
    const dir = await tempDir();
    const table = uniqueName("batch");
    try {
      await t.db.exec(`CREATE TABLE ${table} (v integer CHECK (v >= 0))`);
      const values = Array.from({ length: 64 }, (_, i) => [3, 17, 18, 63].includes(i) ? -i : i);
      const csv = `${dir.path}/in.csv`;
      await Deno.writeTextFile(csv, ["v", ...values].join("\n") + "\n");
      using input = await CsvSource.open({ path: csv });
      using rejects = await RejectsWriter.open({
        path: `${dir.path}/rejects.csv`,
        header: input.header,
        delimiter: ",",
      });
      const key = { table, fingerprint: uniqueName("fp") };
      await startLoad(t.db, {
        ...key,
        filePath: csv,
        fileSize: 0,
        schema: {},
        schemaInferred: false,
        rejectsPath: rejects.path,
      });
      const batch = batchOf(values);
      const commit: BatchCommit = {
        batch,
        before: noProgress(),
        to: { rejects, key, input },
      };
      const db = namesLine ? t.db : withoutLines(t.db);
      const progress = await loadBatch(db, {
        copySql: `COPY ${table} (v) FROM STDIN`,
        data: batch.allCopyText(),
        whole: () => batch.whole(),
      }, Promise.resolve(commit));
      assert.equal(progress.rowsLoaded, 60);
      assert.equal(progress.rowsRejected, 4);
      const { rows } = await readRejects(rejects.path);
      assert.deepEqual(rows.map((r) => [r.v, r._line]), [
        ["-3", "5"],
        ["-17", "19"],
        ["-18", "20"],
        ["-63", "65"],
      ]);
      assert.match(rows[0]._reason, /^database refused: .*check constraint/);
      const loaded = await t.db.query<{ v: number }>(`SELECT v FROM ${table} ORDER BY v`);
      assert.deepEqual(loaded.map((r) => r.v), values.filter((v) => v >= 0));
      const state = await findLoad(t.db, key);
      assert.equal(state?.status, "complete");
      assert.equal(state?.rowsRejected, 4);
      assert.equal(state?.rejectsBytes, (await Deno.stat(rejects.path)).size);
    } finally {
      await t.db.exec(`DROP TABLE IF EXISTS ${table}`);
      await t.close();
      await dir.remove();
    }
  });
}

Deno.test("batch load: a lost connection is not isolated, it propagates", async () => {
  const t = await openTestDb();
  const table = uniqueName("batch_gone");
  await t.db.exec(`CREATE TABLE ${table} (v integer)`);
  await t.close(); // the database is gone before the batch loads
  const batch = batchOf([1]);
  await assert.rejects(
    loadBatch(t.db, {
      copySql: `COPY ${table} (v) FROM STDIN`,
      data: batch.allCopyText(),
      whole: () => batch.whole(),
    }, new Promise<BatchCommit>(() => {})),
    DatabaseUnavailableError,
  );
});

Deno.test("batch load: blamedLine reads PostgreSQL's COPY context", () => {
  assert.equal(blamedLine({ where: 'COPY people, line 12, column age: "x"' }), 12);
  assert.equal(blamedLine({ where: "SQL statement" }), undefined);
  assert.equal(blamedLine(new Error("x")), undefined);
});

Deno.test("target table: an existing table may have more columns, if they can be left out", () => {
  const schema = parseSchema({
    columns: [{ name: "a", type: "integer" }, { name: "b", type: "text" }],
  });
  const col = (name: string, type: string, notNull = false, hasDefault = false) => ({
    name,
    type,
    not_null: notNull,
    has_default: hasDefault,
  });
  assert.deepEqual(
    tableDifferences([
      col("id", "bigint", true, true),
      col("a", "bigint"),
      col("b", "character varying(20)"),
      col("c", "text"),
    ], schema),
    [],
  );
  assert.deepEqual(tableDifferences([col("a", "date"), col("z", "text", true)], schema), [
    'column "a" is date, the schema says integer',
    'no column "b"',
    'column "z" is NOT NULL without a default and not in the schema',
  ]);
});
