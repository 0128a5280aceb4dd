import assert from "node:assert/strict";
import { UsageError } from "../src/errors.ts";
import {
  defaultRejectsPath,
  inferFile,
  parseMaxRejects,
  withApplicationName,
} from "../src/etl/ingest.ts";
import { formatProgress, formatSummary, type IngestSummary } from "../src/etl/report.ts";
import { tempDir } from "./etl_helpers.ts";

Deno.test("--max-rejects: a count, a ratio or a percentage", () => {
  assert.deepEqual(parseMaxRejects("100"), { count: 100 });
  assert.deepEqual(parseMaxRejects("0"), { count: 0 });
  assert.deepEqual(parseMaxRejects("0.05"), { ratio: 0.05 });
  assert.deepEqual(parseMaxRejects(".5"), { ratio: 0.5 });
  assert.deepEqual(parseMaxRejects("5%"), { ratio: 0.05 });
  for (const bad of ["-1", "abc", "1.5", "150%", ""]) {
    assert.throws(() => parseMaxRejects(bad), UsageError, bad);
  }
});

Deno.test("default rejects path sits next to the input", () => {
  assert.equal(defaultRejectsPath("data/people.csv"), "data/people.rejects.csv");
  assert.equal(defaultRejectsPath("people.CSV"), "people.rejects.csv");
  assert.equal(defaultRejectsPath("people.txt"), "people.txt.rejects.csv");
});

Deno.test("the loader names its connections, unless the URL does", () => {
  const named = new URL(withApplicationName("postgres://u@h:5432/db", "ingest people"));
  assert.equal(named.searchParams.get("application_name"), "ingest people");
  const kept = new URL(
    withApplicationName("postgres://u@h/db?application_name=mine", "ingest people"),
  );
  assert.equal(kept.searchParams.get("application_name"), "mine");
});

const summary: IngestSummary = {
  file: "people.csv",
  table: "people",
  dry_run: false,
  resumed_after_records: 0,
  rows_read: 1_000_000,
  rows_loaded: 950_000,
  rows_rejected: 50_000,
  rejected_by_reason: { "age: not an integer": 20_000, "wrong number of fields": 30_000 },
  defaulted: { active: 12 },
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

Deno.test("infer: --sample bounds the records read; the delimiter is sniffed", async () => {
  const dir = await tempDir();
  try {
    const file = `${dir.path}/semi.csv`;
    // The first 3 records say integer; the 4th would make the column text.
    await Deno.writeTextFile(file, "n;label\n1;a\n2;b\n3;c\nfour;d\n");
    const sampled = await inferFile({ file, sample: 3 });
    assert.deepEqual(sampled.columns.map((c) => c.type), ["integer", "text"]);
    const all = await inferFile({ file });
    assert.deepEqual(all.columns.map((c) => c.type), ["text", "text"]);
    await assert.rejects(inferFile({ file, sample: 0 }), /--sample/);
  } finally {
    await dir.remove();
  }
});
