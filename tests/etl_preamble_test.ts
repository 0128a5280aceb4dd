/**
 * Preambles: title lines and `#` comments above the header are found and skipped (the parser's
 * `skipLines`, the sniffer's `findHeader`), `--skip-lines` forces their number, `--comment`
 * drops comment lines anywhere; `_line` stays the physical line. End to end on the test database
 * (PGlite, or PostgreSQL with DATABASE_URL).
 */
import assert from "node:assert/strict";
import { CsvParser } from "../src/etl/csv_parser.ts";
import { CsvSource } from "../src/etl/csv_source.ts";
import { ingest } from "../src/etl/ingest.ts";
import { findHeader } from "../src/etl/sniff.ts";
import { openTestDb, uniqueName } from "./db_helpers.ts";
import { readRejects, tempDir } from "./etl_helpers.ts";

/** Parses `text` in pieces of `step` bytes with the options; records and their lines. */
function parse(text: string, step: number, options: { skipLines?: number; comment?: string }) {
  const out: [number, string[]][] = [];
  const p = new CsvParser({ delimiter: ",", ...options }, (r, line) => {
    out.push([line, r.strings()]);
  });
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i += step) p.push(bytes.slice(i, i + step));
  p.finish();
  return { records: out, comments: p.commentLines };
}

Deno.test("parser: skipLines drops that many physical lines, whatever they hold; lines still count", () => {
  const text = 'Title, "unbalanced\n\n# note\na,b\n1,"x\ny"\n2,z';
  for (const step of [1, 2, 3, 5, 100]) {
    const { records } = parse(text, step, { skipLines: 3 });
    assert.deepEqual(records, [[4, ["a", "b"]], [5, ["1", "x\ny"]], [7, ["2", "z"]]], `${step}`);
  }
});

Deno.test("parser: comment lines are dropped where a record would start, not inside quotes", () => {
  const text = 'a,b\n// one\n1,"x\n// kept: inside quotes"\n//two\r\n/,not a comment\n2,y\n//';
  for (const step of [1, 2, 3, 7, 100]) {
    const { records, comments } = parse(text, step, { comment: "//" });
    assert.deepEqual(records, [
      [1, ["a", "b"]],
      [3, ["1", "x\n// kept: inside quotes"]],
      [6, ["/", "not a comment"]],
      [7, ["2", "y"]],
    ], `step ${step}`);
    assert.equal(comments, 3, `step ${step}`);
  }
  // Without the option, the same lines are records.
  assert.equal(parse(text, 100, {}).records.length, 7);
});

Deno.test("findHeader: title lines and # comments above the header, and what is not a preamble", () => {
  // matplotlib's Stocks.csv starts like this.
  assert.deepEqual(findHeader("# Data source: https://x\nDate,IBM\n1990-01-01,10.9\n"), {
    skip: 1,
    delimiter: ",",
  });
  assert.deepEqual(findHeader("Sales 2023\n\nregion;units\nnorth;3\n"), {
    skip: 2,
    delimiter: ";",
  });
  assert.deepEqual(findHeader('"Report, quoted"\r\nid\tname\r\n1\tAda\r\n'), {
    skip: 1,
    delimiter: "\t",
  });
  // A one-column file keeps its first line as its header, even with a comma further down.
  assert.deepEqual(findHeader("name\nAda\nhi, there\nBob\n"), { skip: 0, delimiter: "," });
  assert.deepEqual(findHeader("# one column\nname\nAda\n"), { skip: 1, delimiter: "," });
  // Rows shorter than the header are no reason to move it (distro-info's debian.csv).
  assert.deepEqual(findHeader("a,b,c,d\n1,2\n3,4\n"), { skip: 0, delimiter: "," });
  // A title with a delimiter in it is two fields: the contract's rule leaves it the header.
  assert.equal(findHeader("Sales, 2023\nregion,units,price\nn,1,2\n").skip, 0);
  // The delimiter given counts fields; lines of the comment prefix are never the header.
  assert.deepEqual(findHeader("a,b\nx;y\n1;2\n", { delimiter: ";" }), { skip: 1, delimiter: ";" });
  assert.equal(findHeader("% c,d\nx,y\n1,2\n", { comment: "%" }).skip, 1);
  // The last line without its line break counts only when the text is all of the input.
  assert.equal(findHeader("Title\na,b").skip, 0);
  assert.equal(findHeader("Title\na,b", { complete: true }).skip, 1);
});

Deno.test("source: the header below a preamble, even when the input arrives a few bytes at a time", async () => {
  const dir = await tempDir();
  try {
    const path = `${dir.path}/p.csv`;
    await Deno.writeTextFile(path, "# generated\nQuarterly figures\n\nq;n\n1;10\n2;20\n");
    for (const chunkSize of [3, 16, 65536]) {
      using src = await CsvSource.open({ path, chunkSize });
      const rows: [number, string[]][] = [];
      await src.stream((r, line) => rows.push([line, r.strings()]));
      assert.deepEqual(src.header, ["q", "n"], `chunk ${chunkSize}`);
      assert.equal(src.delimiter, ";");
      assert.equal(src.preambleLines, 3);
      assert.deepEqual(rows, [[5, ["1", "10"]], [6, ["2", "20"]]]);
      // A second read finds the same records by their physical line.
      assert.deepEqual([...(await src.recordsAt([6])).entries()], [[6, ["2", "20"]]]);
    }
    // Forced: the first line is the header.
    using forced = await CsvSource.open({ path, skipLines: 0 });
    assert.deepEqual(forced.header, ["# generated"]);
    await assert.rejects(CsvSource.open({ path, comment: "" }), /--comment/);
  } finally {
    await dir.remove();
  }
});

Deno.test("ingest: preambles and comments on the database; _line stays physical", async (t) => {
  const tdb = await openTestDb();
  const dir = await tempDir();
  const load = (file: string, extra: Record<string, unknown> = {}) => {
    const table = uniqueName("pre");
    const rejectsPath = `${dir.path}/${table}.rejects.csv`;
    return ingest({ db: tdb.db, file, table, rejectsPath, ...extra }).then((r) => ({
      r,
      table,
      rejectsPath,
    }));
  };
  try {
    const file = `${dir.path}/report.csv`;
    await Deno.writeTextFile(
      file,
      "# Data source: somewhere\nMonthly report\n\nid,amount\n1,10\n2,20,extra\n# not data\n3,30\n",
    );

    await t.step(
      "detected: 3 lines skipped, the reject's _line is its line in the file",
      async () => {
        const { r, table, rejectsPath } = await load(file);
        assert.equal(r.exitCode, 0, r.error?.message ?? "");
        assert.equal(r.summary.preamble_lines, 3);
        assert.equal(r.summary.rows_read, 4);
        assert.equal(r.summary.rows_loaded, 2);
        const rejects = await readRejects(rejectsPath);
        assert.deepEqual(rejects.header, ["id", "amount", "_line", "_reason"]);
        assert.deepEqual(rejects.rows.map((x) => [x.id, x._line]), [["2", "6"], [
          "# not data",
          "7",
        ]]);
        const rows = await tdb.db.query(`SELECT id, amount FROM "${table}" ORDER BY id`);
        assert.deepEqual(rows, [{ id: 1, amount: 10 }, { id: 3, amount: 30 }]);
      },
    );

    await t.step("--comment drops comment lines everywhere, and counts them", async () => {
      const { r, rejectsPath } = await load(file, { comment: "#" });
      assert.equal(r.exitCode, 0, r.error?.message ?? "");
      assert.equal(r.summary.preamble_lines, 3);
      assert.equal(r.summary.comment_lines, 1);
      assert.equal(r.summary.rows_read, 3);
      const rejects = await readRejects(rejectsPath);
      assert.deepEqual(rejects.rows.map((x) => [x.id, x._line]), [["2", "6"]]);
    });

    await t.step("--skip-lines forces the header's place", async () => {
      // One line skipped: "Monthly report" is the header, a single column of text.
      const { r, table } = await load(file, { skipLines: 1, schema: undefined });
      assert.equal(r.summary.preamble_lines, 1);
      const cols = await tdb.db.query<{ n: string }>(
        `SELECT column_name AS n FROM information_schema.columns WHERE table_name = $1`,
        [table],
      );
      assert.deepEqual(cols.map((c) => c.n), ["monthly_report"]);
      assert.equal(r.summary.rows_read, 5);
      await assert.rejects(
        load(file, { skipLines: -1 }).then((x) => {
          throw x.r.error;
        }),
        /--skip-lines must be a whole number, 0 or more, got "-1"/,
      );
    });
  } finally {
    await dir.remove();
    await tdb.close();
  }
});
