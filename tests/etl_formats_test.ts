/**
 * Date and time formats: patterns compiled and refused, values matched and checked against the
 * calendar (by hand and as round trips with fast-check), the schema's `format`, inference of a
 * format with a note when none decides, and loads on the test database (PGlite, or PostgreSQL
 * with DATABASE_URL).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { convertValue } from "../src/etl/convert.ts";
import { compileFormat, FormatError } from "../src/etl/date_format.ts";
import { inferColumn, inferFile, inferSchema, inferType } from "../src/etl/infer.ts";
import { ingest } from "../src/etl/ingest.ts";
import { parseSchema, resolveColumns, type Schema } from "../src/etl/schema.ts";
import { RowTransformer } from "../src/etl/transform.ts";
import { UsageError } from "../src/errors.ts";
import { openTestDb, uniqueName } from "./db_helpers.ts";
import { readRejects, tempDir } from "./etl_helpers.ts";

const conv = (type: "date" | "timestamp" | "timestamptz", format: string, raw: string) => {
  const r = convertValue(type, raw, { format });
  return typeof r === "string" ? r : `!${r.kind}`;
};

Deno.test("formats: the contract's patterns, real calendar dates only", () => {
  assert.equal(conv("date", "DD/MM/YYYY", "31/12/2023"), "2023-12-31");
  assert.equal(conv("date", "DD/MM/YYYY", " 5/3/2023 "), "2023-03-05"); // trimmed; 1 digit
  assert.equal(conv("date", "DD/MM/YYYY", "29/02/2024"), "2024-02-29");
  assert.equal(conv("date", "DD/MM/YYYY", "29/02/2023"), "!not a real calendar date");
  assert.equal(conv("date", "DD/MM/YYYY", "31/04/2023"), "!not a real calendar date");
  assert.equal(conv("date", "DD/MM/YYYY", "12/13/2023"), "!not a real calendar date");
  assert.equal(conv("date", "DD/MM/YYYY", "2023-12-31"), "!not a date (DD/MM/YYYY)");
  assert.equal(conv("date", "DD/MM/YYYY", "31/12/23"), "!not a date (DD/MM/YYYY)");
  assert.equal(conv("date", "DD/MM/YYYY", "031/12/2023"), "!not a date (DD/MM/YYYY)");
  assert.equal(conv("date", "MM/DD/YYYY", "12/31/2023"), "2023-12-31");
  assert.equal(conv("date", "MM/DD/YYYY", "31/12/2023"), "!not a real calendar date");
  assert.equal(conv("date", "YYYYMMDD", "20240229"), "2024-02-29");
  assert.equal(conv("date", "YYYYMMDD", "2024229"), "!not a date (YYYYMMDD)"); // digits are exact
  assert.equal(conv("date", "YYYYMMDD", "20230229"), "!not a real calendar date");
  assert.equal(conv("date", "DD.MM.YYYY", "01.02.2023"), "2023-02-01");
  assert.equal(conv("date", "DD-Mon-YYYY", "05-JAN-2023"), "2023-01-05");
  assert.equal(conv("date", "DD-Mon-YYYY", "05-jan-2023"), "2023-01-05");
  assert.equal(conv("date", "DD-Mon-YYYY", "05-Jn-2023"), "!not a date (DD-Mon-YYYY)");
  assert.equal(conv("date", "DD-Mon-YY", "05-Sep-69"), "2069-09-05");
  assert.equal(conv("date", "DD-Mon-YY", "05-Sep-70"), "1970-09-05");
  assert.equal(conv("date", "Month DD, YYYY", "February 29, 2024"), "2024-02-29");
  assert.equal(conv("date", "YYYY-MM-DD", "0000-01-01"), "!not a real calendar date");
  assert.equal(
    conv("timestamp", "YYYY-MM-DD HH24:MI:SS", "2023-01-05 23:59:60"),
    "2023-01-05 23:59:60",
  );
  assert.equal(
    conv("timestamp", "YYYY-MM-DD HH24:MI:SS", "2023-01-05 24:00:00"),
    "!not a timestamp (YYYY-MM-DD HH24:MI:SS)",
  );
  assert.equal(conv("timestamp", "MM/DD/YYYY HH24:MI", "1/5/2023 9:05"), "2023-01-05 09:05:00");
  assert.equal(conv("timestamp", "DD/MM/YYYY", "05/01/2023"), "2023-01-05 00:00:00");
  assert.equal(
    conv("timestamp", "MM/DD/YYYY HH12:MI AM", "1/5/2023 12:05 am"),
    "2023-01-05 00:05:00",
  );
  assert.equal(
    conv("timestamp", "MM/DD/YYYY HH12:MI AM", "1/5/2023 12:05 PM"),
    "2023-01-05 12:05:00",
  );
  assert.equal(
    conv("timestamp", "MM/DD/YYYY HH12:MI PM", "1/5/2023 1:05 PM"),
    "2023-01-05 13:05:00",
  );
  assert.equal(
    conv("timestamp", "MM/DD/YYYY HH12:MI AM", "1/5/2023 13:05 PM"),
    "!not a timestamp (MM/DD/YYYY HH12:MI AM)",
  );
  assert.equal(
    conv("timestamp", 'YYYY-MM-DD"T"HH24:MI:SS.FF', "2023-01-05T10:00:00.123456"),
    "2023-01-05 10:00:00.123456",
  );
  assert.equal(
    conv("timestamptz", "DD/MM/YYYY HH24:MI TZH:TZM", "05/01/2023 10:00 -05:30"),
    "2023-01-05 10:00:00-05:30",
  );
  // A timestamptz without an offset in its format is UTC, as everywhere (the load's TimeZone).
  assert.equal(
    conv("timestamptz", "DD/MM/YYYY HH24:MI", "05/01/2023 10:00"),
    "2023-01-05 10:00:00",
  );
});

Deno.test("formats: a bad pattern is refused with a message quoting it", () => {
  const refused = (pattern: string, type: "date" | "timestamp" | "timestamptz", re: RegExp) =>
    assert.throws(
      () => compileFormat(pattern, type),
      (e: Error) =>
        e instanceof FormatError && re.test(e.message) && e.message.includes(`"${pattern}"`),
    );
  refused("dd/mm/yyyy", "date", /unknown field "dd"/);
  refused("DD/MM/YYYYY", "date", /unknown field "Y"/);
  refused("DD/MM", "date", /needs a year, a month and a day/);
  refused("DD/MM/YYYY HH24:MI", "date", /use type timestamp/);
  refused("DD/MM/YYYY HH24:MI TZH", "timestamp", /use type timestamptz/);
  refused("DD/MM/YYYY/DD", "date", /"DD" twice/);
  refused("MM/DD/YYYY HH12:MI", "timestamp", /HH12 and AM go together/);
  refused('YYYY-MM-DD"T', "date", /unclosed quote/);
  refused("YYYY-MM-DD 12", "date", /digits must be quoted/);
  refused("YYYY-MM-DD SS", "timestamp", /SS needs MI/);
});

Deno.test("formats: a schema's format is checked when the schema is read", () => {
  const schema = (col: Record<string, unknown>) => () =>
    parseSchema({ columns: [{ name: "d", ...col }] }, 'schema file "s.json"');
  assert.throws(
    schema({ type: "date", format: "DD/MM/YYYYY" }),
    (e: Error) =>
      e instanceof UsageError &&
      e.message.startsWith('schema file "s.json": columns[0].format: unknown field "Y"') &&
      e.message.includes('"DD/MM/YYYYY"'),
  );
  assert.throws(
    schema({ type: "integer", format: "YYYYMMDD" }),
    /columns\[0\].format: only date, timestamp and timestamptz columns take a format; "d" is integer/,
  );
  assert.throws(schema({ type: "date", format: "" }), /columns\[0\].format/);
  assert.equal(schema({ type: "date", format: "YYYYMMDD" })().columns[0].format, "YYYYMMDD");
});

/** Renders a date as a pattern spells it (the test's own formatter, for round trips). */
function render(
  pattern: string,
  d: { y: number; m: number; d: number; h: number; mi: number; s: number },
) {
  const months = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
  ];
  const p2 = (n: number) => String(n).padStart(2, "0");
  return pattern
    .replace("YYYY", String(d.y).padStart(4, "0"))
    .replace("MM", p2(d.m))
    .replace("DD", p2(d.d))
    .replace("Mon", months[d.m - 1].toUpperCase())
    .replace("HH24", p2(d.h))
    .replace("MI", p2(d.mi))
    .replace("SS", p2(d.s));
}

/** The calendar as JavaScript's Date keeps it (proleptic Gregorian, like PostgreSQL). */
function isRealDate(y: number, m: number, d: number): boolean {
  const date = new Date(0);
  date.setUTCFullYear(y, m - 1, d);
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

const PATTERNS = [
  "DD/MM/YYYY",
  "MM/DD/YYYY",
  "YYYYMMDD",
  "DD.MM.YYYY",
  "DD-Mon-YYYY",
  "YYYY/MM/DD",
];
// Biased to the calendar's edges: century and leap years, the last days of months.
const dates = fc.record({
  y: fc.oneof(
    fc.integer({ min: 1, max: 9999 }),
    fc.constantFrom(1, 4, 100, 200, 300, 400, 1600, 1700, 1900, 2000, 2023, 2024, 2100, 9996),
  ),
  m: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.constant(2)),
  d: fc.oneof(fc.integer({ min: 1, max: 31 }), fc.integer({ min: 28, max: 31 })),
  h: fc.integer({ min: 0, max: 23 }),
  mi: fc.integer({ min: 0, max: 59 }),
  s: fc.integer({ min: 0, max: 59 }),
});

Deno.test("formats property: every real date round-trips to ISO; every impossible one is named", () => {
  fc.assert(
    fc.property(dates, fc.constantFrom(...PATTERNS), (d, pattern) => {
      const iso = `${String(d.y).padStart(4, "0")}-${String(d.m).padStart(2, "0")}-${
        String(d.d).padStart(2, "0")
      }`;
      const time = `${String(d.h).padStart(2, "0")}:${String(d.mi).padStart(2, "0")}:${
        String(d.s).padStart(2, "0")
      }`;
      const real = isRealDate(d.y, d.m, d.d);
      assert.equal(
        conv("date", pattern, render(pattern, d)),
        real ? iso : "!not a real calendar date",
      );
      const tsPattern = `${pattern} HH24:MI:SS`;
      assert.equal(
        conv("timestamp", tsPattern, render(tsPattern, d)),
        real ? `${iso} ${time}` : "!not a real calendar date",
      );
    }),
    { numRuns: 3000 },
  );
});

Deno.test("infer: a format when exactly one fits; a day over 12 decides; else text and a note", () => {
  assert.deepEqual(inferColumn(["05/01/2023", "25/12/2023"]), {
    type: "date",
    format: "DD/MM/YYYY",
  });
  assert.deepEqual(inferColumn(["01/05/2023", "12/25/2023"]), {
    type: "date",
    format: "MM/DD/YYYY",
  });
  const ambiguous = inferColumn(["05/01/2023", "06/02/2023"]);
  assert.equal(ambiguous.type, "text");
  assert.equal(ambiguous.format, undefined);
  assert.match(ambiguous.note!, /DD\/MM\/YYYY and MM\/DD\/YYYY \(no day over 12 in 2 values\)/);
  // Mixed orders fit neither: text, nothing to say.
  assert.deepEqual(inferColumn(["25/01/2023", "01/25/2023"]), { type: "text" });
  assert.deepEqual(inferColumn(["31.12.2023", "1.2.2024"]), { type: "date", format: "DD.MM.YYYY" });
  assert.deepEqual(inferColumn(["05-JAN-2023", "17-Feb-2023"]), {
    type: "date",
    format: "DD-Mon-YYYY",
  });
  assert.deepEqual(inferColumn(["May 5, 2023"]), { type: "date", format: "Mon DD, YYYY" });
  assert.deepEqual(inferColumn(["Jan 1 2000", "Feb 29 2000"]), {
    type: "date",
    format: "Mon DD YYYY",
  });
  assert.deepEqual(inferColumn(["January 5, 2023", "May 1, 2023"]), {
    type: "date",
    format: "Month DD, YYYY",
  });
  assert.deepEqual(inferColumn(["13/01/2023 14:30", "01/02/2023 09:05"]), {
    type: "timestamp",
    format: "DD/MM/YYYY HH24:MI",
  });
  assert.deepEqual(inferColumn(["2023-01-05 1:05 PM"]), {
    type: "timestamp",
    format: "YYYY-MM-DD HH12:MI AM",
  });
  // An impossible date anywhere: no format fits.
  assert.deepEqual(inferColumn(["31/12/2023", "30/02/2023"]), { type: "text" });
  // Eight digits stay numbers; ISO 8601 needs no format.
  assert.equal(inferType(["20230105", "20231231"]), "integer");
  assert.deepEqual(inferColumn(["20230105"]), { type: "integer" });
  assert.deepEqual(inferColumn(["2023-01-05"]), { type: "date" });
  assert.deepEqual(inferColumn(["2023-01-05T10:00"]), { type: "timestamp" });
  const notes: string[] = [];
  const s = inferSchema({
    header: ["When", "Day"],
    sample: [["05/01/2023", "13/01/2023"], ["06/02/2023", "NA"]],
    onNote: (n) => notes.push(n),
  });
  assert.deepEqual(s.columns.map((c) => [c.type, c.format]), [
    ["text", undefined],
    ["date", "DD/MM/YYYY"],
  ]);
  assert.equal(notes.length, 1);
  assert.match(notes[0], /^column "when" \("When"\): every value fits DD\/MM\/YYYY and MM\/DD/);
});

Deno.test("infer: a file's sample typed on its bytes (as ingest does) gives what its strings give", async () => {
  // Values near every rule's edge: spaces trim() removes (and ones it keeps), null tokens with
  // spaces around them, leading zeros, exponents, booleans in any case, dates with and without a
  // format, offsets, non-ASCII text.
  const pool = [
    ...["", " ", "NA", " NA ", "null", "-", "\u3000NA\u00a0", "N/A", "None"],
    ...["0", "1", "007", "-0", "+5", "12", "2147483648", "9223372036854775808", "1e5", "1.5E-3"],
    ...[".5", "5.", "00.5", "TRUE", "yes", "No", "t", "F", "Y", "maybe", "ÿes", "\u212Aey"],
    ...["2023-01-05", "2023-02-30", " 2023-01-05\t", "2023-01-05T10:00", "2023-01-05 10:00Z"],
    ...["2023-01-05T10:00:00+02:00", "05/01/2023", "13/01/2023", "May 5, 2023", "Jan 1 2000"],
    ...["05-JAN-2023", "31.12.2023", "13/01/2023 14:30", "2023-01-05 1:05 PM", "Ma\u00ffy 5"],
    ...["café", "x\u2028", "\u00a012\u00a0", "\u2000 7", "1\u3000", "\ufeff3"],
  ];
  const value = fc.constantFrom(...pool);
  const quote = (v: string) => `"${v.replaceAll('"', '""')}"`;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(value, { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 12 }),
      async (rows) => {
        const dir = await tempDir();
        try {
          const header = ["a", "b", "c"];
          const path = `${dir.path}/s.csv`;
          const lines = [header, ...rows].map((r) => r.map(quote).join(","));
          await Deno.writeTextFile(path, lines.join("\n") + "\n");
          assert.deepEqual(await inferFile({ file: path }), inferSchema({ header, sample: rows }));
        } finally {
          await dir.remove();
        }
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("transform: a formatted column writes ISO text and names its format when it rejects", () => {
  const schema: Schema = parseSchema({
    columns: [{ name: "d", type: "date", format: "DD/MM/YYYY", default: "01/01/2000" }],
  });
  const t = new RowTransformer({
    schema,
    positions: resolveColumns(schema, ["d"]),
    headerLength: 1,
  });
  assert.equal(t.apply(["31/12/2023"]), "2023-12-31\n");
  assert.equal(t.apply(["NA"]), "2000-01-01\n"); // the default is read with the format too
  assert.equal(t.apply(["2023-12-31"]), undefined);
  assert.equal(t.reason, 'd: not a date (DD/MM/YYYY): "2023-12-31"');
  assert.equal(t.reasonKey, "d: not a date (DD/MM/YYYY)");
});

Deno.test("ingest: formatted dates and times load as dates and times (both backends)", async () => {
  const tdb = await openTestDb();
  const dir = await tempDir();
  try {
    const file = `${dir.path}/dates.csv`;
    await Deno.writeTextFile(
      file,
      "id,day,us,compact,stamp\n" +
        "1,31/12/2023,12/31/2023,20231231,05-JAN-2023 14:30\n" +
        "2,29/02/2024,2/29/2024,20240229,17-feb-2023 09:05\n" +
        "3,29/02/2023,2/28/2023,20230228,17-Feb-2023 09:05\n",
    );
    const schema: Schema = {
      columns: [
        { name: "id", type: "integer" },
        { name: "day", type: "date", format: "DD/MM/YYYY" },
        { name: "us", type: "date", format: "MM/DD/YYYY" },
        { name: "compact", type: "date", format: "YYYYMMDD" },
        { name: "stamp", type: "timestamptz", format: "DD-Mon-YYYY HH24:MI" },
      ],
    };
    const table = uniqueName("dates");
    const rejectsPath = `${dir.path}/rejects.csv`;
    const r = await ingest({ db: tdb.db, file, table, schema, rejectsPath });
    assert.equal(r.exitCode, 0, r.error?.message ?? "");
    assert.equal(r.summary?.rows_loaded, 2);
    const rows = await tdb.db.query<Record<string, string>>(
      `SELECT id, day::text, us::text, compact::text,
              to_char(stamp AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS stamp
       FROM "${table}" ORDER BY id`,
    );
    assert.deepEqual(rows, [
      {
        id: 1,
        day: "2023-12-31",
        us: "2023-12-31",
        compact: "2023-12-31",
        stamp: "2023-01-05 14:30",
      },
      {
        id: 2,
        day: "2024-02-29",
        us: "2024-02-29",
        compact: "2024-02-29",
        stamp: "2023-02-17 09:05",
      },
    ]);
    const rejected = await readRejects(rejectsPath);
    assert.equal(rejected.rows.length, 1);
    assert.equal(rejected.rows[0]._line, "4");
    assert.equal(rejected.rows[0]._reason, 'day: not a real calendar date: "29/02/2023"');
  } finally {
    await dir.remove();
    await tdb.close();
  }
});
