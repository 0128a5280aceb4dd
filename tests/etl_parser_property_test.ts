/**
 * The byte parser against a reference model of the CSV rules, on random text cut into random
 * chunks: the same records, the same lines, the same flags. The model is the rules written
 * plainly over a whole string (slow, obvious); the parser works on bytes, in chunks, in steps.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { CsvParser, UNTERMINATED_QUOTE } from "../src/etl/csv_parser.ts";

interface Rec {
  fields: string[];
  line: number;
  flags: number;
}

/** The CSV rules, plainly: see the module documentation of csv_parser.ts. */
function reference(text: string, delim: string): Rec[] {
  const out: Rec[] = [];
  const n = text.length;
  let p = 0;
  let line = 1;
  const endsField = (i: number) => text[i] === "\n" || text.startsWith(delim, i);
  while (p < n) {
    if (text[p] === "\n") {
      p++;
      line++;
      continue;
    }
    if (text[p] === "\r" && text[p + 1] === "\n") {
      p += 2;
      line++;
      continue;
    }
    const fields: string[] = [];
    let extra = 0;
    let flags = 0;
    for (;;) {
      if (p >= n) {
        fields.push("");
        break;
      }
      if (text[p] !== '"') {
        let i = p;
        while (i < n && !endsField(i)) i++;
        if (i < n && text[i] !== "\n") {
          fields.push(text.slice(p, i));
          p = i + delim.length;
          continue;
        }
        fields.push(text.slice(p, i > p && text[i - 1] === "\r" ? i - 1 : i));
        p = i + 1;
        break;
      }
      let j = p + 1;
      let val = "";
      let close = -1;
      for (;;) {
        const k = text.indexOf('"', j);
        if (k === -1) break;
        if (text[k + 1] === '"') {
          val += text.slice(j, k + 1);
          j = k + 2;
          continue;
        }
        val += text.slice(j, k);
        close = k;
        break;
      }
      if (close === -1) {
        val += text.slice(j);
        for (const ch of text.slice(p)) if (ch === "\n") extra++;
        fields.push(val);
        flags |= UNTERMINATED_QUOTE;
        p = n;
        break;
      }
      for (const ch of text.slice(p, close)) if (ch === "\n") extra++;
      const r = close + 1;
      if (r >= n) {
        fields.push(val);
        p = r;
        break;
      }
      if (text.startsWith(delim, r)) {
        fields.push(val);
        p = r + delim.length;
        continue;
      }
      if (text[r] === "\n") {
        fields.push(val);
        p = r + 1;
        break;
      }
      if (text[r] === "\r" && (r + 1 >= n || text[r + 1] === "\n")) {
        fields.push(val);
        p = r + 2;
        break;
      }
      let i = r;
      while (i < n && !endsField(i)) i++;
      const atDelim = i < n && text[i] !== "\n";
      fields.push(val + text.slice(r, !atDelim && i > r && text[i - 1] === "\r" ? i - 1 : i));
      if (atDelim) {
        p = i + delim.length;
        continue;
      }
      p = i + 1;
      break;
    }
    out.push({ fields, line, flags });
    line += 1 + extra;
  }
  return out;
}

/** The parser on `text`'s bytes, cut at `cuts`, each chunk parsed in steps of `step` bytes. */
function parse(text: string, delim: string, cuts: number[], step: number): Rec[] {
  const out: Rec[] = [];
  const p = new CsvParser(
    { delimiter: delim },
    (r, line, flags) => out.push({ fields: r.strings(), line, flags }),
  );
  const bytes = new TextEncoder().encode(text);
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...at, bytes.length]) {
    if (to <= from) continue;
    // A fresh copy per chunk, as a reader hands over: the parser may rewrite what it read.
    p.begin(bytes.slice(from, to));
    while (!p.next(step));
    from = to;
  }
  p.finish();
  return out;
}

const pieces = ["a", "b", " ", ",", ";", '"', '""', "\n", "\r", "\r\n", "é", "€", "😀", "§", "x"];
const csvText = fc.array(fc.constantFrom(...pieces), { maxLength: 60 }).map((a) => a.join(""));

Deno.test("parser property: bytes, chunks and steps agree with the reference rules", () => {
  for (const delim of [",", ";", "§", "€"]) {
    fc.assert(
      fc.property(
        csvText,
        fc.array(fc.nat(200), { maxLength: 6 }),
        fc.integer({ min: 1, max: 9 }),
        (text, cuts, step) => {
          assert.deepEqual(parse(text, delim, cuts, step), reference(text, delim));
        },
      ),
      { numRuns: 400 },
    );
  }
});

Deno.test("parser: a multi-byte delimiter, whole or cut between chunks", () => {
  const text = 'a§b\n1§"x§y"§z\n';
  const want = [
    { fields: ["a", "b"], line: 1, flags: 0 },
    { fields: ["1", "x§y", "z"], line: 2, flags: 0 },
  ];
  for (let cut = 0; cut < 20; cut++) assert.deepEqual(parse(text, "§", [cut], 3), want);
});
