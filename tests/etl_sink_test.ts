import assert from "node:assert/strict";
import type { CopyData, Database, Session } from "../src/db/database.ts";
import { DatabaseUnavailableError } from "../src/db/errors.ts";
import { blamedLine, loadBatch, type RefusedRow, tableDifferences } from "../src/etl/sink.ts";
import { parseSchema } from "../src/etl/schema.ts";
import { openTestDb, uniqueName } from "./db_helpers.ts";

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

for (const namesLine of [true, false]) {
  Deno.test(`sink: refused rows isolated ${namesLine ? "by err.where's line" : "by bisection"}`, async () => {
    const t = await openTestDb();
    const table = uniqueName("sink");
    try {
      await t.db.exec(`CREATE TABLE ${table} (v integer CHECK (v >= 0))`);
      const values = Array.from({ length: 64 }, (_, i) => [3, 17, 18, 63].includes(i) ? -i : i);
      const db = namesLine ? t.db : withoutLines(t.db);
      let got: RefusedRow[] = [];
      const refused = await loadBatch(db, {
        copySql: `COPY ${table} (v) FROM STDIN`,
        data: [values.join("\n") + "\n"],
        whole: () =>
          Promise.resolve({ rows: values.length, rowText: (i: number) => `${values[i]}\n` }),
        finalize: (_tx, r) => {
          got = r;
          return Promise.resolve();
        },
      });
      assert.deepEqual(refused.map((r) => r.index), [3, 17, 18, 63]);
      assert.deepEqual(got, refused);
      assert.match(refused[0].message, /check constraint/);
      const rows = await t.db.query<{ v: number }>(`SELECT v FROM ${table} ORDER BY v`);
      assert.deepEqual(rows.map((r) => r.v), values.filter((v) => v >= 0));
    } finally {
      await t.db.exec(`DROP TABLE IF EXISTS ${table}`);
      await t.close();
    }
  });
}

Deno.test("sink: a lost connection is not isolated, it propagates", async () => {
  const t = await openTestDb();
  const table = uniqueName("sink_gone");
  await t.db.exec(`CREATE TABLE ${table} (v integer)`);
  await t.close(); // the database is gone before the batch loads
  await assert.rejects(
    loadBatch(t.db, {
      copySql: `COPY ${table} (v) FROM STDIN`,
      data: ["1\n"],
      whole: () => Promise.resolve({ rows: 1, rowText: () => "1\n" }),
      finalize: () => Promise.resolve(),
    }),
    DatabaseUnavailableError,
  );
});

Deno.test("sink: blamedLine reads PostgreSQL's COPY context", () => {
  assert.equal(blamedLine({ where: 'COPY people, line 12, column age: "x"' }), 12);
  assert.equal(blamedLine({ where: "SQL statement" }), undefined);
  assert.equal(blamedLine(new Error("x")), undefined);
});

Deno.test("sink: an existing table may have more columns, if they can be left out", () => {
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
