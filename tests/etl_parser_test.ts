/** The CSV parser, the source around it (decoding, header, sample, second reads), the sniffer. */
import assert from "node:assert/strict";
import { CsvParser, RecordTooLongError, UNTERMINATED_QUOTE } from "../src/etl/csv_parser.ts";
import { CsvSource } from "../src/etl/csv_source.ts";
import { sniffDelimiter } from "../src/etl/sniff.ts";
import { firstInvalid, Utf8Chunks } from "../src/etl/utf8_input.ts";
import { EXIT_FAILED, exitCodeOf, InputError, LoadError } from "../src/errors.ts";
import { spectrumCases } from "./etl_helpers.ts";

const FIXTURES = new URL("./fixtures/etl/", import.meta.url);

interface Rec {
  fields: string[];
  line: number;
  flags: number;
}

/** Parses `text` fed in pieces of `step` bytes (0: all at once). */
function parse(text: string, step = 0, delimiter = ","): Rec[] {
  const out: Rec[] = [];
  const p: CsvParser = new CsvParser(
    { delimiter },
    (record, line, flags) => out.push({ fields: record.strings(), line, flags }),
  );
  const bytes = new TextEncoder().encode(text);
  if (step === 0) p.push(bytes);
  else for (let i = 0; i < bytes.length; i += step) p.push(bytes.slice(i, i + step));
  p.finish();
  return out;
}

Deno.test("parser: every csv-spectrum file parses to its expected JSON, whatever the chunking", async () => {
  const cases = await spectrumCases();
  assert.equal(cases.length, 12);
  for (const { name, csv, json } of cases) {
    for (const step of [0, 1, 2, 3, 7]) {
      const [header, ...rows] = parse(csv, step);
      const objects = rows.map((r) =>
        Object.fromEntries(header.fields.map((h, i) => [h, r.fields[i]]))
      );
      assert.deepEqual(objects, json, `${name} (step ${step})`);
    }
  }
});

Deno.test("parser: line numbers count newlines inside quoted fields", () => {
  const text = 'a,b\n1,"x\ny\nz"\n2,"p\r\nq"\n\n3,ok\n';
  for (const step of [0, 1, 4]) {
    const recs = parse(text, step);
    assert.deepEqual(recs.map((r) => r.line), [1, 2, 5, 8], `step ${step}`);
    assert.deepEqual(recs[1].fields, ["1", "x\ny\nz"]);
    assert.deepEqual(recs[2].fields, ["2", "p\r\nq"]);
  }
});

Deno.test("parser: a chunk parsed in steps gives the same records and lines", () => {
  const text = 'a,b\n1,"x\ny"\n2,z\r\n\n3,"q ""r"""\n4,last';
  const whole = parse(text);
  for (const step of [1, 2, 5, 9]) {
    const out: Rec[] = [];
    const p = new CsvParser(
      { delimiter: "," },
      (record, line, flags) => out.push({ fields: record.strings(), line, flags }),
    );
    // Two chunks, each parsed a few bytes at a time.
    for (const chunk of [text.slice(0, 13), text.slice(13)]) {
      p.begin(new TextEncoder().encode(chunk));
      while (!p.next(step));
    }
    p.finish();
    assert.deepEqual(out, whole, `step ${step}`);
  }
});

Deno.test("parser: stray quotes inside unquoted fields are kept literally", () => {
  const recs = parse('a,b,c\nO"Brien,5" tall,x"\n');
  assert.deepEqual(recs[1].fields, ['O"Brien', '5" tall', 'x"']);
});

Deno.test("parser: text after a closing quote is kept, escaped quotes unescaped", () => {
  assert.deepEqual(parse('"ab"cd,"e""f"\n')[0].fields, ["abcd", 'e"f']);
});

Deno.test("parser: CRLF, a last record without newline, empty fields, blank lines skipped", () => {
  const recs = parse("a,b\r\n1,\r\n\r\n,2\r\n3,4");
  assert.deepEqual(recs.map((r) => r.fields), [["a", "b"], ["1", ""], ["", "2"], ["3", "4"]]);
  assert.deepEqual(recs.map((r) => r.line), [1, 2, 4, 5]);
});

Deno.test("parser: an unterminated quote at the end of input is flagged", () => {
  const recs = parse('a,b\n1,"never\nclosed\n');
  assert.equal(recs.length, 2);
  assert.equal(recs[1].flags & UNTERMINATED_QUOTE, UNTERMINATED_QUOTE);
  assert.deepEqual(recs[1].fields, ["1", "never\nclosed\n"]);
});

Deno.test("parser: other delimiters", () => {
  assert.deepEqual(parse("a;b\n1;'x,y'\n", 0, ";")[1].fields, ["1", "'x,y'"]);
  assert.deepEqual(parse('a\tb\n1\t"x\ty"\n', 0, "\t")[1].fields, ["1", "x\ty"]);
});

Deno.test("parser: a record longer than its limit stops the parse with exit 1, naming its line", () => {
  const p = new CsvParser({ delimiter: ",", maxRecordBytes: 16 }, () => {});
  p.push("a,b\n1,2\n");
  assert.throws(
    () => p.push('3,"an unbalanced quote that goes on\nand on'),
    (err: Error) =>
      err instanceof RecordTooLongError && err instanceof LoadError &&
      exitCodeOf(err) === EXIT_FAILED &&
      /record starting at line 3 is longer than 16 bytes/.test(err.message),
  );
});

Deno.test("sniffDelimiter: picks the most frequent candidate outside quotes", () => {
  assert.equal(sniffDelimiter("a;b;c\n1,2;3"), ";");
  assert.equal(sniffDelimiter("a\tb\n"), "\t");
  assert.equal(sniffDelimiter('"x,y,z"|b|c\n'), "|");
  assert.equal(sniffDelimiter("single\n"), ",");
});

async function readAll(
  path: string | URL,
  options: { encoding?: string; chunkSize?: number } = {},
) {
  const src = await CsvSource.open({
    path: path instanceof URL ? path.pathname : path,
    ...options,
  });
  const rows: { fields: string[]; line: number }[] = [];
  await src.stream((record, line) => rows.push({ fields: record.strings(), line }));
  return { header: src.header, rows, delimiter: src.delimiter };
}

Deno.test("source: BOM stripped, CRLF handled", async () => {
  const { header, rows } = await readAll(new URL("bom_crlf.csv", FIXTURES));
  assert.deepEqual(header, ["a", "b"]);
  assert.deepEqual(rows.map((r) => r.fields), [["1", "x"], ["2", "y\r\nz"]]);
  assert.deepEqual(rows.map((r) => r.line), [2, 3]);
});

Deno.test("source: latin1 decodes; invalid UTF-8 names its line", async () => {
  const { rows } = await readAll(new URL("latin1.csv", FIXTURES), { encoding: "latin1" });
  assert.deepEqual(rows[0].fields, ["José", "Zürich"]);
  await assert.rejects(
    readAll(new URL("invalid_utf8.csv", FIXTURES)),
    (err: Error) => err instanceof InputError && /line 5/.test(err.message),
  );
  // Same with tiny chunks: the bad bytes land in a later read.
  await assert.rejects(
    readAll(new URL("invalid_utf8.csv", FIXTURES), { chunkSize: 8 }),
    (err: Error) => err instanceof InputError && /line 5/.test(err.message),
  );
});

Deno.test("source: records parsed along with the header are not lost, across chunk sizes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines = ["id,text"];
    for (let i = 1; i <= 500; i++) lines.push(`${i},"row ${i}\nsecond line, with comma"`);
    await Deno.writeTextFile(`${dir}/x.csv`, lines.join("\n") + "\n");
    for (const chunkSize of [5, 64, 4096, 1 << 20]) {
      const { rows } = await readAll(`${dir}/x.csv`, { chunkSize });
      assert.equal(rows.length, 500);
      assert.deepEqual(rows[499], {
        fields: ["500", "row 500\nsecond line, with comma"],
        line: 1000,
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("source: a sample is read ahead, and still streamed once, in order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines = ["id,text"];
    for (let i = 1; i <= 3000; i++) lines.push(`${i},"row ${i}\nsecond line"`);
    await Deno.writeTextFile(`${dir}/x.csv`, lines.join("\n") + "\n");
    using src = await CsvSource.open({ path: `${dir}/x.csv`, chunkSize: 4096 });
    const sample = await src.sample(1000);
    assert.equal(sample.length, 1000);
    assert.deepEqual(sample[999], ["1000", "row 1000\nsecond line"]);
    const rows: [string, number][] = [];
    let slices = 0;
    await src.stream((record, line) => rows.push([record.field(0), line]), () => {
      slices++;
    });
    assert.equal(rows.length, 3000);
    assert.deepEqual(rows[0], ["1", 2]);
    assert.deepEqual(rows[2999], ["3000", 6000]);
    // The records read ahead are handed over in slices too: the consumer's back-pressure holds.
    assert.ok(slices > 1000 / 32, `${slices} slices`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("source: recordsAt reads chosen records again, by their first line", async () => {
  using src = await CsvSource.open({ path: `${FIXTURES.pathname}defects.csv` });
  const found = await src.recordsAt([3, 10]);
  assert.deepEqual([...found.keys()], [3, 10]);
  assert.deepEqual(found.get(3)?.[0], "2");
  assert.deepEqual(found.get(10)?.[1], "Multi\nLine, Name");
});

Deno.test("source: missing, empty, directory and unknown encoding", async () => {
  await assert.rejects(readAll("/nonexistent/x.csv"), /file not found: "\/nonexistent\/x.csv"/);
  await assert.rejects(readAll(new URL("empty.csv", FIXTURES)), /is empty: no header row/);
  await assert.rejects(readAll(FIXTURES.pathname), /is a directory/);
  await assert.rejects(
    readAll(new URL("empty.csv", FIXTURES), { encoding: "klingon" }),
    /unknown encoding "klingon"/,
  );
  for (const delimiter of ['"', "\n", "ab"]) {
    await assert.rejects(
      CsvSource.open({ path: `${FIXTURES.pathname}defects.csv`, delimiter }),
      /--delimiter must be one character other than a quote or a line break/,
    );
  }
});

Deno.test("firstInvalid: finds the bad byte", () => {
  const enc = new TextEncoder();
  assert.equal(firstInvalid(enc.encode("héllo")), 6);
  assert.equal(firstInvalid(new Uint8Array([0x61, 0xff, 0x61])), 1);
  assert.equal(firstInvalid(new Uint8Array([0x61, 0xc3])), 1); // cut short
  assert.equal(firstInvalid(new Uint8Array([0x61, 0xed, 0xa0, 0x80])), 1); // a surrogate
  assert.equal(firstInvalid(new Uint8Array([0xc0, 0x80])), 0); // overlong
});

Deno.test("utf-8 chunks: checked in place, BOM dropped, characters split across chunks", () => {
  const bytes = new TextEncoder().encode("\ufeffé,😀\nx€\n");
  for (let step = 1; step <= bytes.length; step++) {
    const u = new Utf8Chunks("utf-8");
    const parts: number[] = [];
    for (let i = 0; i < bytes.length; i += step) {
      const r = u.next(bytes.subarray(i, i + step));
      assert.equal(r.bad, -1, `step ${step} at ${i}`);
      parts.push(...r.bytes);
    }
    assert.equal(u.end().bad, -1);
    assert.equal(new TextDecoder().decode(new Uint8Array(parts)), "é,😀\nx€\n", `step ${step}`);
  }
  // Not a BOM: the bytes stay.
  const u = new Utf8Chunks("utf-8");
  assert.deepEqual([...u.next(new Uint8Array([0xef])).bytes], []);
  assert.equal(u.next(new Uint8Array([0xbb, 0x41])).bad, 0);
  // Invalid bytes, in a chunk or split over two; a file that ends inside a character.
  assert.equal(new Utf8Chunks("utf-8").next(new Uint8Array([0x61, 0x0a, 0xff])).bad, 2);
  const v = new Utf8Chunks("utf-8");
  assert.equal(v.next(new Uint8Array([0x61, 0xe2])).bad, -1);
  assert.equal(v.next(new Uint8Array([0x28, 0x61])).bad, 0);
  const w = new Utf8Chunks("utf-8");
  w.next(new Uint8Array([0x61, 0xe2, 0x82]));
  assert.equal(w.end().bad, 0);
  // Other encodings are decoded and written as UTF-8.
  const l = new Utf8Chunks("latin1");
  assert.equal(new TextDecoder().decode(l.next(new Uint8Array([0x4a, 0xe9])).bytes), "Jé");
});
