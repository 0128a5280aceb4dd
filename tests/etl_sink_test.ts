import assert from "node:assert/strict";
import type { CopyData, Database, Session } from "../src/db/database.ts";
import { DatabaseUnavailableError } from "../src/errors.ts";
import { blamedLine, loadBatch, type RefusedRow, tableDifferences } from "../src/etl/sink.ts";
import { parseSchema } from "../src/etl/schema.ts";

/**
 * A fake database whose COPY refuses any input holding "BAD", naming the line only when asked
 * to: enough to drive the isolation logic through both paths.
 */
function fakeDb(options: { namesLine: boolean; unavailable?: boolean }) {
  const committed: string[] = [];
  let copies = 0;
  const db = {
    kind: "postgres",
    label: "fake",
    async transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T> {
      const pending: string[] = [];
      let savepoint = 0;
      const tx: Session = {
        query: () => Promise.resolve([]),
        exec(sql: string) {
          if (sql.startsWith("SAVEPOINT")) savepoint = pending.length;
          if (sql.startsWith("ROLLBACK TO")) pending.length = savepoint;
          return Promise.resolve();
        },
        copyFrom(_sql: string, input: CopyData) {
          copies++;
          if (options.unavailable) throw new DatabaseUnavailableError("gone");
          const data = input as readonly (string | Uint8Array)[];
          const rows = data.flatMap((d) =>
            (typeof d === "string" ? d : new TextDecoder().decode(d)).split("\n").filter(Boolean)
          );
          const bad = rows.findIndex((r) => r.includes("BAD"));
          if (bad >= 0) {
            pending.push(...rows.slice(0, bad)); // a real COPY would have rolled these back too
            throw Object.assign(new Error(`bad value in "${rows[bad]}"`), {
              code: "22P02",
              where: options.namesLine ? `COPY t, line ${bad + 1}` : undefined,
            });
          }
          pending.push(...rows);
          return Promise.resolve(rows.length);
        },
      };
      const result = await fn(tx);
      committed.push(...pending);
      return result;
    },
  } as unknown as Database;
  return { db, committed, copies: () => copies };
}

for (const namesLine of [true, false]) {
  Deno.test(`sink: refused rows isolated ${namesLine ? "by err.where's line" : "by bisection"}`, async () => {
    const rows = Array.from(
      { length: 64 },
      (_, i) => [3, 17, 18, 63].includes(i) ? `BAD${i}` : `r${i}`,
    );
    const fake = fakeDb({ namesLine });
    let got: RefusedRow[] = [];
    const refused = await loadBatch(fake.db, {
      copySql: "COPY t FROM STDIN",
      data: [rows.join("\n") + "\n"],
      whole: () => Promise.resolve({ rows: rows.length, rowText: (i: number) => rows[i] + "\n" }),
      finalize: (_tx, r) => {
        got = r;
        return Promise.resolve();
      },
    });
    assert.deepEqual(refused.map((r) => r.index), [3, 17, 18, 63]);
    assert.deepEqual(got, refused);
    assert.match(refused[0].message, /bad value in "BAD3"/);
    assert.deepEqual(fake.committed, rows.filter((r) => !r.startsWith("BAD")));
    if (namesLine) assert.ok(fake.copies() <= 10, `copies: ${fake.copies()}`);
  });
}

Deno.test("sink: a lost connection is not isolated, it propagates", async () => {
  const fake = fakeDb({ namesLine: true, unavailable: true });
  await assert.rejects(
    loadBatch(fake.db, {
      copySql: "COPY t FROM STDIN",
      data: ["a\n"],
      whole: () => Promise.resolve({ rows: 1, rowText: () => "a\n" }),
      finalize: () => Promise.resolve(),
    }),
    DatabaseUnavailableError,
  );
  assert.equal(fake.copies(), 1);
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
