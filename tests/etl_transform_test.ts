import assert from "node:assert/strict";
import { convertValue } from "../src/etl/convert.ts";
import { CopyBuffer, copyEscape } from "../src/etl/copy_text.ts";
import { UsageError } from "../src/errors.ts";
import { columnNames, inferSchema, inferType, snakeCase } from "../src/etl/infer.ts";
import { parseSchema, resolveColumns, type Schema } from "../src/etl/schema.ts";
import { nullCheckFor, RAGGED, RowTransformer } from "../src/etl/transform.ts";

const ok = (type: Parameters<typeof convertValue>[0], raw: string) => {
  const r = convertValue(type, raw);
  assert.equal(
    typeof r,
    "string",
    `${type} ${JSON.stringify(raw)} should convert: ${JSON.stringify(r)}`,
  );
  return r;
};
const bad = (type: Parameters<typeof convertValue>[0], raw: string) => {
  const r = convertValue(type, raw);
  assert.notEqual(typeof r, "string", `${type} ${JSON.stringify(raw)} should be invalid`);
  return (r as { kind: string }).kind;
};

Deno.test("convert: integers and bigints, with ranges", () => {
  assert.equal(ok("integer", " 42 "), "42");
  assert.equal(ok("integer", "+7"), "+7");
  assert.equal(ok("integer", "-2147483648"), "-2147483648");
  assert.equal(ok("integer", "0002147483647"), "0002147483647");
  for (const v of ["25.5", "12x", "1e3", "", "-", "+", "1 2", "٣"]) {
    assert.equal(bad("integer", v), "not an integer");
  }
  assert.equal(bad("integer", "2147483648"), "out of range for integer");
  assert.equal(bad("integer", "-2147483649"), "out of range for integer");
  assert.equal(ok("bigint", "9223372036854775807"), "9223372036854775807");
  assert.equal(ok("bigint", "-9223372036854775808"), "-9223372036854775808");
  assert.equal(bad("bigint", "9223372036854775808"), "out of range for bigint");
});

Deno.test("convert: numeric and double reject NaN and Infinity", () => {
  for (const v of ["1", "-1.5", ".5", "5.", "1e3", "-2.5E-7", " 3.14 "]) ok("numeric", v);
  for (const v of ["NaN", "Infinity", "-Infinity", "1,5", "1.2.3", "e5", "0x10", ""]) {
    assert.equal(bad("numeric", v), "not a number");
    assert.equal(bad("double", v), "not a number");
  }
  assert.equal(bad("double", "1e400"), "out of range for double");
  assert.equal(ok("double", "1e300"), "1e300");
  assert.equal(ok("double", "1.7e308"), "1.7e308");
  assert.equal(bad("double", "-1.8e308"), "out of range for double");
  assert.equal(bad("double", "1" + "0".repeat(400)), "out of range for double");
  assert.equal(ok("double", "1E+5"), "1E+5");
});

Deno.test("convert: booleans in every spelling, any case; nothing else", () => {
  for (const v of ["true", "T", "yes", "Y", "1", " TRUE "]) assert.equal(ok("boolean", v), "t");
  for (const v of ["false", "f", "NO", "n", "0"]) assert.equal(ok("boolean", v), "f");
  for (const v of ["maybe", "2", "on", "tru", ""]) assert.equal(bad("boolean", v), "not a boolean");
});

Deno.test("convert: dates are real calendar dates in YYYY-MM-DD", () => {
  ok("date", "2024-02-29");
  ok("date", "0001-01-01");
  assert.equal(bad("date", "2023-02-30"), "not a real calendar date");
  assert.equal(bad("date", "1900-02-29"), "not a real calendar date");
  assert.equal(bad("date", "0000-01-01"), "not a real calendar date");
  for (const v of ["2023-1-5", "01/02/2023", "2023-01-05T10:00", "20230105"]) {
    assert.equal(bad("date", v), "not a date (YYYY-MM-DD)");
  }
});

Deno.test("convert: timestamps are ISO 8601 date and time", () => {
  for (
    const v of [
      "2023-01-05T10:00",
      "2023-01-05 10:00:00",
      "2023-01-05T10:00:00.123456Z",
      "2023-01-05T10:00:00+05:30",
      "2023-01-05T10:00:00-0800",
      "2023-01-05T24:00:00",
    ]
  ) {
    ok("timestamp", v);
    ok("timestamptz", v);
  }
  for (
    const v of [
      "2023-01-05",
      "2023-01-05T25:00",
      "2023-01-05T10:60",
      "2023-01-05T24:30",
      "yesterday",
    ]
  ) {
    bad("timestamptz", v);
  }
  assert.equal(bad("timestamp", "2023-02-30T10:00"), "not a real calendar date");
});

Deno.test("copy text: escapes backslash, tab, newline, CR; UTF-8 bytes", () => {
  assert.equal(copyEscape("a\\b\tc\nd\re"), "a\\\\b\\tc\\nd\\re");
  const plain = "nothing to do";
  assert.equal(copyEscape(plain), plain);
  const out = new CopyBuffer(2);
  out.putEscaped("é\t😀\\");
  out.put("\\N");
  out.byte(10);
  assert.equal(new TextDecoder().decode(out.bytes()), "é\\t😀\\\\\\N\n");
});

Deno.test("null tokens: compared after trimming, case-sensitively", () => {
  const isNull = nullCheckFor(["", "NA", "N/A", "null", "NULL", "None", "NaN", "-"]);
  for (const v of ["", "NA", "N/A", "null", "NULL", "None", "NaN", "-"]) assert.ok(isNull(v), v);
  for (const v of ["na", "Null", "none", "0", "--", "NAN", "long value"]) assert.ok(!isNull(v), v);
  assert.ok(!nullCheckFor([])(""));
});

const schema: Schema = parseSchema({
  table: "people",
  columns: [
    { name: "id", type: "integer", required: true },
    { name: "name", source: "Full Name", type: "text" },
    { name: "active", type: "boolean", default: false },
    { name: "note", type: "text", null_tokens: [] },
    { name: "score", type: "numeric", default: 0, required: true },
  ],
});

Deno.test("transform: null tokens match after trimming; text without tokens stays verbatim", () => {
  const t = new RowTransformer({
    schema,
    positions: resolveColumns(schema, ["id", "Full Name", "active", "note", "score"]),
    headerLength: 5,
  });
  assert.equal(t.apply(["3", " NA ", "\t-", " ", " N/A "]), "3\t\\N\tf\t \t0\n");
  assert.deepEqual(t.defaulted(), { active: 1, score: 1 });
});

Deno.test("transform: stages in order, COPY text out, every decision counted", () => {
  const header = ["id", "Full Name", "active", "note", "score"];
  const t = new RowTransformer({
    schema,
    positions: resolveColumns(schema, header),
    headerLength: 5,
  });
  assert.equal(t.apply(["1", " Ada\t", "yes", "None", " 2.5 "]), "1\t Ada\\t\tt\tNone\t2.5\n");
  // Null tokens: NULL for name, the default for active and score; `null_tokens: []` keeps None.
  assert.equal(t.apply(["2", "NA", "-", "", "N/A"]), "2\t\\N\tf\t\t0\n");
  assert.deepEqual(t.defaulted(), { active: 1, score: 1 });
  assert.equal(t.apply([" ", "x", "y", "z", "1"]), undefined);
  assert.equal(t.reason, 'id: required value missing: " "');
  assert.equal(t.reasonKey, "id: required value missing");
  assert.equal(t.apply(["12x", "x", "maybe", "z", "1"]), undefined);
  assert.equal(t.reason, 'id: not an integer: "12x"; active: not a boolean: "maybe"');
  assert.equal(t.reasonKey, "id: not an integer");
  assert.equal(t.apply(["1", "2"]), undefined);
  assert.equal(t.reasonKey, RAGGED);
  assert.equal(t.reason, "expected 5 fields, found 2");
  // Rejected rows do not count their defaults.
  assert.deepEqual(t.defaulted(), { active: 1, score: 1 });
});

Deno.test("transform: a null token the type would read stays a null token; spaces are trimmed", () => {
  // Columns whose null tokens are valid values of their type ("0", "1900-01-01", "f") and
  // columns whose tokens are not: each value reads the same whichever way the column is checked.
  const s = parseSchema({
    null_tokens: ["", "-", "0"],
    columns: [
      { name: "n", type: "integer", default: 7 },
      { name: "d", type: "date", null_tokens: ["", "1900-01-01"] },
      { name: "b", type: "boolean", null_tokens: ["", " f "] },
      { name: "x", type: "double", null_tokens: ["", "NA"] },
      { name: "t", type: "timestamp", null_tokens: ["", "never"] },
    ],
  });
  const t = new RowTransformer({
    schema: s,
    positions: resolveColumns(s, ["n", "d", "b", "x", "t"]),
    headerLength: 5,
  });
  assert.equal(
    t.apply(["0", "1900-01-01", "f", " NA ", "never"]),
    "7\t\\N\t\\N\t\\N\t\\N\n",
  );
  assert.equal(
    t.apply([" 05 ", " 2023-01-05\t", "\u00a0t\u3000", "1e3 ", " 2023-01-05T10:00 "]),
    "05\t2023-01-05\tt\t1e3\t2023-01-05T10:00\n",
  );
  assert.equal(t.apply(["-", "", " ", "", ""]), "7\t\\N\t\\N\t\\N\t\\N\n");
  assert.equal(t.apply(["00", "x", "t", "1", ""]), undefined);
  assert.equal(t.reason, 'd: not a date (YYYY-MM-DD): "x"');
});

Deno.test("schema: zod errors name the field and quote the value", () => {
  const bad = (input: unknown) => {
    try {
      parseSchema(input, "s.json");
    } catch (err) {
      assert.ok(err instanceof UsageError);
      return err.message;
    }
    assert.fail("no error");
  };
  assert.match(
    bad({ columns: [{ name: "a", type: "int" }] }),
    /columns\[0\]\.type: expected one of text, integer.*got "int"/,
  );
  assert.match(bad({ columns: [{ type: "text" }] }), /columns\[0\]\.name/);
  assert.match(
    bad({ columns: [{ name: "a", type: "text", requried: true }] }),
    /columns\[0\]: unknown field "requried"/,
  );
  assert.match(bad({ columns: [] }), /^s\.json: columns: /);
  assert.match(
    bad({ columns: [{ name: "a", type: "text" }, { name: "a", type: "text" }] }),
    /columns\[1\]\.name: "a" is used twice/,
  );
  assert.match(
    bad({ columns: [{ name: "a", type: "text", position: 0 }] }),
    /columns\[0\]\.position/,
  );
  assert.throws(
    () =>
      new RowTransformer({
        schema: parseSchema({ columns: [{ name: "n", type: "integer", default: "x" }] }),
        positions: [0],
        headerLength: 1,
      }),
    /default "x" is not an integer/,
  );
});

Deno.test("schema: columns find their fields by position, source, or name", () => {
  const s = parseSchema({
    columns: [
      { name: "b", type: "text" },
      { name: "x", source: " A ", type: "text" },
      { name: "second_a", source: "A", position: 3, type: "text" },
    ],
  });
  assert.deepEqual(resolveColumns(s, ["A", "b", "A"]), [1, 0, 2]);
  assert.throws(
    () => resolveColumns(parseSchema({ columns: [{ name: "zz", type: "text" }] }), ["a"]),
    /no field "zz" in the header/,
  );
  assert.throws(
    () =>
      resolveColumns(parseSchema({ columns: [{ name: "zz", position: 4, type: "text" }] }), ["a"]),
    /position 4/,
  );
});

Deno.test("infer: safe snake_case names, duplicates numbered, empty headers by position", () => {
  assert.equal(snakeCase("Cost Total $"), "cost_total");
  assert.equal(snakeCase("firstName"), "first_name");
  assert.equal(snakeCase("HTTPServer ID"), "http_server_id");
  assert.equal(snakeCase("Café Crème"), "cafe_creme");
  assert.equal(snakeCase("2023 Sales"), "_2023_sales");
  assert.equal(snakeCase("%%%"), "");
  assert.deepEqual(columnNames(["Name", "name", "NAME", "", "名前"]), [
    "name",
    "name_2",
    "name_3",
    "column_4",
    "column_5",
  ]);
  const s = inferSchema({
    header: ["Name", "Name", "", "Zip"],
    sample: [["a", "b", "c", "01234"]],
  });
  assert.deepEqual(s.columns.map((c) => [c.name, c.source, c.position]), [
    ["name", "Name", 1],
    ["name_2", "Name", 2],
    ["column_3", "", 3],
    ["zip", "Zip", undefined],
  ]);
  assert.equal(s.table, "processed_data");
});

Deno.test("infer: tricky columns", () => {
  assert.equal(inferType(["01234", "98765"]), "text"); // zip codes keep their zeros
  assert.equal(inferType(["0", "1", "1", "0"]), "integer"); // never boolean
  assert.equal(inferType(["yes", "no", "1"]), "boolean");
  assert.equal(inferType(["true", "F", "Y"]), "boolean");
  assert.equal(inferType(["1", "-20", "+3"]), "integer");
  assert.equal(inferType(["1", "3000000000"]), "bigint");
  assert.equal(inferType(["1", "99999999999999999999"]), "numeric");
  assert.equal(inferType(["1.5", "2", "-0.25"]), "numeric");
  assert.equal(inferType(["1.5e3", "2"]), "double");
  assert.equal(inferType(["00.5"]), "text");
  assert.equal(inferType(["2023-01-05", "2024-02-29"]), "date");
  assert.equal(inferType(["2023-02-30"]), "text");
  assert.equal(inferType(["01/02/2023"]), "text"); // ambiguous: never a date
  assert.equal(inferType(["2023-01-05T10:00:00", "2023-01-05 11:00"]), "timestamp");
  assert.equal(inferType(["2023-01-05T10:00:00Z", "2023-01-05T11:00"]), "timestamptz");
  assert.equal(inferType(["2023-01-05", "2023-01-05T10:00"]), "text");
  assert.equal(inferType(["1", "two"]), "text");
  assert.equal(inferType([]), "text");
  // Null tokens are ignored; a column of only nulls is text.
  const s = inferSchema({
    header: ["n", "empty"],
    sample: [["1", ""], ["NA", "NULL"], ["3", "-"], ["ragged"]],
  });
  assert.deepEqual(s.columns.map((c) => c.type), ["integer", "text"]);
});
