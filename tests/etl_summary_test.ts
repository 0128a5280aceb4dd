/** The loader's summary and progress line, as people read them. */
import assert from "node:assert/strict";
import { formatProgress, formatSummary, type IngestSummary } from "../src/etl/summary.ts";

const summary: IngestSummary = {
  file: "people.csv",
  table: "people",
  dry_run: false,
  resumed_after_records: 0,
  preamble_lines: 0,
  comment_lines: 0,
  rows_read: 1_000_000,
  rows_loaded: 950_000,
  rows_rejected: 50_000,
  rows_ignored: 0,
  rows_updated: 0,
  rows_unchanged: 0,
  rejected_by_reason: { "age: not an integer": 20_000, "wrong number of fields": 30_000 },
  defaulted: { active: 12 },
  widenings: [],
  warnings: [],
  batches: 20,
  seconds: 2,
  rows_per_second: 500_000,
  rejects_file: "people.rejects.csv",
  total_rows_loaded: 950_000,
  total_rows_rejected: 50_000,
  exit_code: 0,
};

Deno.test("summary: rows read, loaded, rejected by reason, seconds, rows/s", () => {
  const text = formatSummary(summary);
  assert.match(text, /^rows read\s+1,000,000$/m);
  assert.match(text, /^rows loaded\s+950,000$/m);
  assert.match(text, /^rows rejected\s+50,000 {2}\(see people\.rejects\.csv\)$/m);
  // Reasons, most frequent first.
  assert.ok(text.indexOf("wrong number of fields") < text.indexOf("age: not an integer"));
  assert.match(text, /^defaulted\s+active: 12$/m);
  assert.match(text, /^seconds\s+2\.00$/m);
  assert.match(text, /^rows\/s\s+500,000$/m);
  assert.doesNotMatch(text, /resumed/);
  const resumed = formatSummary({ ...summary, resumed_after_records: 10, error: "boom" });
  assert.match(resumed, /^resumed after\s+10 records committed earlier$/m);
  assert.match(resumed, /^stopped\s+boom$/m);
});

Deno.test("summary: preamble, comments, keys ignored or updated, widenings, standard input", () => {
  const text = formatSummary({
    ...summary,
    file: "-",
    preamble_lines: 2,
    comment_lines: 1,
    rows_ignored: 30,
    rows_updated: 12,
    widenings: [{ column: "n", from: "integer", to: "bigint", line: 10_001, value: "3000000000" }],
  });
  assert.match(text, /^file\s+- \(standard input\)$/m);
  assert.match(text, /^preamble\s+2 lines skipped above the header$/m);
  assert.match(text, /^comments\s+1 line dropped$/m);
  assert.match(text, /^rows loaded\s+950,000 {2}\(12 over existing keys\)$/m);
  assert.match(
    formatSummary({ ...summary, rows_updated: 1_200, rows_unchanged: 1_100 }),
    /^rows loaded\s+950,000 {2}\(1,200 over existing keys, 1,100 of them unchanged\)$/m,
  );
  assert.match(text, /^rows ignored\s+30 {2}\(key already there\)$/m);
  assert.match(text, /^widened\s+n: integer → bigint at line 10001 \("3000000000"\)$/m);
  assert.doesNotMatch(formatSummary(summary), /preamble|comments|ignored|widened/);
});

Deno.test("progress: percent of bytes, rows/s, ETA", () => {
  const line = formatProgress({
    bytesRead: 25,
    bytesTotal: 100,
    rowsRead: 1000,
    rowsLoaded: 900,
    rowsRejected: 100,
    seconds: 2,
  });
  assert.match(line, /25\.0%/);
  assert.match(line, /500 rows\/s/);
  assert.match(line, /ETA 6s/);
});

Deno.test("progress: a pipe has no size: bytes read, no share, no ETA", () => {
  const line = formatProgress({
    bytesRead: 12_500_000,
    bytesTotal: undefined,
    rowsRead: 1000,
    rowsLoaded: 900,
    rowsRejected: 100,
    seconds: 2,
  });
  assert.match(line, /^ +12\.5 MB {2}1,000 rows {2}500 rows\/s {2}100 rejected$/);
});
