/**
 * Widening, the transformer's side: with `widen`, a value that does not fit its column's
 * inferred type widens the column to the least type that takes it (integer → bigint → numeric →
 * text; double → numeric; timestamp → timestamptz; boolean, date → text), the row loads, and the
 * widening is reported once. Properties with fast-check: the type reached is the least that takes
 * every value, and all COPY text written before a widening is valid for the wider type. On the
 * test database (PGlite, or PostgreSQL with DATABASE_URL): the procedure phase 2 will run (COPY
 * the rows before a widening, ALTER TABLE, COPY the rest) loads every row.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { convertValue } from "../src/etl/convert.ts";
import { type ColumnType, quoteIdent, type Schema, sqlType } from "../src/etl/schema.ts";
import { RowTransformer } from "../src/etl/transform.ts";
import { widerTypes } from "../src/etl/widen.ts";
import { openTestDb, uniqueName } from "./db_helpers.ts";

function widening(type: ColumnType, format?: string) {
  const schema: Schema = { columns: [{ name: "v", type, ...(format ? { format } : {}) }] };
  return new RowTransformer({ schema, positions: [0], headerLength: 1, widen: true });
}

Deno.test("widen: the least type that takes the value, each widening reported once", () => {
  const t = widening("integer");
  assert.equal(t.apply(["42"], 2), "42\n");
  assert.deepEqual(t.takeWidenings(), []);
  assert.equal(t.apply(["3000000000"], 3), "3000000000\n");
  assert.deepEqual(t.takeWidenings(), [
    { column: 0, name: "v", from: "integer", to: "bigint", line: 3, value: "3000000000" },
  ]);
  assert.equal(t.apply(["-7"], 4), "-7\n");
  assert.deepEqual(t.takeWidenings(), []);
  assert.equal(t.apply(["2.5"], 5), "2.5\n");
  assert.equal(t.apply([" n/a "], 6), " n/a \n"); // text loads verbatim, untrimmed
  assert.deepEqual(t.takeWidenings().map((w) => [w.from, w.to, w.line, w.value]), [
    ["bigint", "numeric", 5, "2.5"],
    ["numeric", "text", 6, " n/a "],
  ]);
  assert.equal(t.apply(["NA"], 7), "\\N\n"); // null tokens stay null tokens
  assert.deepEqual(t.columns(), [{ name: "v", type: "text" }]);
  assert.equal(t.widenings.length, 3);
});

Deno.test("widen: every type's way up, straight to where the value fits", () => {
  const cases: [ColumnType, string | undefined, string, ColumnType][] = [
    ["integer", undefined, "99999999999999999999", "numeric"],
    ["integer", undefined, "1e3", "numeric"],
    ["integer", undefined, "007", "text"], // leading zeros: as inference would have kept it
    ["bigint", undefined, "0.5", "numeric"],
    ["double", undefined, "1e400", "numeric"],
    ["double", undefined, "two", "text"],
    ["numeric", undefined, "00.5", "text"],
    ["boolean", undefined, "maybe", "text"],
    ["date", undefined, "2023-02-30", "text"],
    ["date", "DD/MM/YYYY", "2023-01-05", "text"],
    ["timestamp", undefined, "2023-01-05T10:00:00+02:00", "timestamptz"],
    ["timestamp", undefined, "yesterday", "text"],
    ["timestamptz", undefined, "2023-01-05", "text"],
  ];
  for (const [from, format, value, to] of cases) {
    const t = widening(from, format);
    assert.notEqual(t.apply([value], 9), undefined, `${from} ${value}`);
    const [w] = t.takeWidenings();
    assert.deepEqual([w.from, w.to, w.format], [from, to, format], `${from} ${value}`);
    assert.equal(t.columns()[0].format, undefined);
  }
  assert.deepEqual(widerTypes("text"), []);
});

Deno.test("widen: several columns in one record; without widen the row is rejected as before", () => {
  const schema: Schema = {
    columns: [
      { name: "a", type: "integer" },
      { name: "b", type: "boolean" },
      { name: "c", type: "date" },
    ],
  };
  const t = new RowTransformer({ schema, positions: [0, 1, 2], headerLength: 3, widen: true });
  assert.equal(t.apply(["1.5", "maybe", "2023-01-05"], 8), "1.5\tmaybe\t2023-01-05\n");
  assert.deepEqual(t.takeWidenings().map((w) => `${w.name} ${w.from}→${w.to} @${w.line}`), [
    "a integer→numeric @8",
    "b boolean→text @8",
  ]);
  const strict = new RowTransformer({ schema, positions: [0, 1, 2], headerLength: 3 });
  assert.equal(strict.apply(["1.5", "maybe", "2023-01-05"]), undefined);
  assert.equal(strict.reason, 'a: not an integer: "1.5"; b: not a boolean: "maybe"');
  assert.equal(strict.apply(["007", "yes", "2023-01-05"]), "007\tt\t2023-01-05\n");
  // A ragged record is still rejected: widening is about values, not records.
  assert.equal(t.apply(["1", "yes"]), undefined);
  assert.equal(t.reasonKey, "wrong number of fields");
});

/** Each type's way up, as the issue orders it (timestamp takes offsets as timestamptz first). */
const WAY_UP: Record<string, ColumnType[]> = {
  integer: ["integer", "bigint", "numeric", "text"],
  double: ["double", "numeric", "text"],
  boolean: ["boolean", "text"],
  date: ["date", "text"],
  timestamp: ["timestamp", "timestamptz", "text"],
};
const STARTS = Object.keys(WAY_UP) as ColumnType[];
const NULLS = ["", "NA", "N/A", "null", "NULL", "None", "NaN", "-"];
const values = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }).map(String),
  fc.constantFrom("3000000000", "99999999999999999999", "007", "-0", "+5"),
  fc.constantFrom("1.5", "2e3", "1e400", ".5", "00.5"),
  fc.constantFrom("yes", "no", "t", "F", "maybe"),
  fc.constantFrom("2023-01-05", "2024-02-29", "2023-02-30"),
  fc.constantFrom("2023-01-05T10:00", "2023-01-05 10:00:00Z", "2023-01-05T10:00+05:30"),
  fc.string({ maxLength: 4 }),
);

Deno.test("widen property: the least type that takes every value, and earlier text stays valid", () => {
  fc.assert(
    fc.property(fc.constantFrom(...STARTS), fc.array(values, { maxLength: 12 }), (start, vs) => {
      const t = widening(start);
      const lines: string[] = [];
      for (const v of vs) {
        const line = t.apply([v]);
        assert.notEqual(line, undefined, `${start} ${JSON.stringify(v)}`);
        lines.push(line!.slice(0, -1));
      }
      const final = t.columns()[0].type;
      // The first type on the way up (the order, written out here) that takes them all.
      const fits = (type: ColumnType, v: string) =>
        type === "text" || NULLS.includes(v.trim()) ||
        typeof convertValue(type, v, { plain: true }) === "string";
      const least = WAY_UP[start].find((type) => vs.every((v) => fits(type, v)));
      assert.equal(final, least, JSON.stringify(vs));
      // Earlier COPY text stays valid: every line written is input the final type accepts.
      for (const l of lines) {
        if (l === "\\N" || final === "text") continue;
        assert.equal(typeof convertValue(final, l), "string", `${final} ${l}`);
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("widen: COPY before a widening, ALTER TABLE, COPY the rest: every row loads (both backends)", async () => {
  const tdb = await openTestDb();
  const db = tdb.db;
  try {
    const schema: Schema = {
      columns: [
        { name: "n", type: "integer" },
        { name: "ok", type: "boolean" },
        { name: "at", type: "timestamp" },
      ],
    };
    const rows = [
      ["1", "yes", "2023-01-05T10:00"],
      ["2", "no", "2023-01-05 11:00:00"],
      ["3000000000", "t", "2023-01-05T12:00:00+02:00"],
      ["4.5", "maybe", "2023-01-05T13:00"],
      ["5", "f", "soon"],
    ];
    const t = new RowTransformer({ schema, positions: [0, 1, 2], headerLength: 3, widen: true });
    const table = uniqueName("widen");
    const cols = schema.columns.map((c) => `${quoteIdent(c.name)} ${sqlType(c.type)}`);
    await db.exec(`CREATE TABLE "${table}" (${cols.join(", ")})`);
    let pending: string[] = [];
    await db.transaction(async (tx) => {
      await tx.exec("SET LOCAL TimeZone = 'UTC'");
      for (const [i, r] of rows.entries()) {
        const text = t.apply(r, i + 2)!;
        const widened = t.takeWidenings();
        if (widened.length > 0) {
          // What phase 2's pipeline does: end the COPY before this row, widen, go on.
          if (pending.length) await tx.copyFrom(`COPY "${table}" FROM STDIN`, [pending.join("")]);
          pending = [];
          for (const w of widened) {
            await tx.exec(
              `ALTER TABLE "${table}" ALTER COLUMN ${quoteIdent(w.name)} TYPE ${sqlType(w.to)} ` +
                `USING ${quoteIdent(w.name)}::${sqlType(w.to)}`,
            );
          }
        }
        pending.push(text);
      }
      await tx.copyFrom(`COPY "${table}" FROM STDIN`, [pending.join("")]);
    });
    assert.deepEqual(t.columns().map((c) => c.type), ["numeric", "text", "text"]);
    // Rows loaded before a widening take PostgreSQL's cast (true, a UTC timestamp); later ones
    // load as they are written in the file.
    const got = await db.query<Record<string, string>>(
      `SELECT n::text, ok, at FROM "${table}" ORDER BY "${table}".n`,
    );
    assert.deepEqual(got, [
      { n: "1", ok: "true", at: "2023-01-05 10:00:00+00" },
      { n: "2", ok: "false", at: "2023-01-05 11:00:00+00" },
      { n: "4.5", ok: "maybe", at: "2023-01-05 13:00:00+00" },
      { n: "5", ok: "f", at: "soon" },
      { n: "3000000000", ok: "true", at: "2023-01-05 10:00:00+00" },
    ]);
  } finally {
    await tdb.close();
  }
});
