/**
 * Log forging: control characters from a request never reach a log line raw, in the text format
 * and in JSON, in the message and in every property.
 */
import assert from "node:assert/strict";
import { getJsonLinesFormatter, getTextFormatter, type LogRecord } from "@logtape/logtape";
import { escapeControl, escapeRecord, escapingFormatter } from "../src/log_escape.ts";
import { errorFields } from "../src/log.ts";

// What a hostile path decodes to: a fake record after a line feed, a terminal escape, a Unicode
// line separator, a bidirectional override, a C1 control (CSI) and a carriage return.
const HOSTILE =
  "/tasks\n2026-01-01 00:00:00.000 +00:00 [ERR] taskapi: fake\u001b[2J\u2028x\u202Ey" +
  "\u009b31m\rz";

function record(message: string, properties: Record<string, unknown>): LogRecord {
  return {
    category: ["taskapi", "http"],
    level: "info",
    message: [message],
    rawMessage: message,
    timestamp: Date.UTC(2026, 0, 1),
    properties,
  };
}

// No C0/C1 control (a formatter's own final newline aside), no line or paragraph separator, no
// bidirectional control.
// deno-lint-ignore no-control-regex
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

Deno.test("log: escapeControl writes every control character as a visible escape", () => {
  assert.equal(escapeControl("a\nb\rc\td"), "a\\nb\\rc\\td");
  assert.equal(escapeControl("\u001b[31m\u0000\u007f\u009b"), "\\x1b[31m\\x00\\x7f\\x9b");
  assert.equal(escapeControl("\u2028\u2029\u202e\u2066"), "\\u2028\\u2029\\u202e\\u2066");
  const plain = "GET /tasks 200 1.2 ms émile 😀";
  assert.equal(escapeControl(plain), plain);
});

Deno.test("log: a hostile path cannot forge a line, in text or JSON", () => {
  const line = `GET ${HOSTILE} 404 1 ms request_id=r user_id=-`;
  const rec = record(line, { method: "GET", path: HOSTILE, status: 404, nested: { v: [HOSTILE] } });
  const formats = {
    text: escapingFormatter(getTextFormatter({ timestamp: "date-time-timezone", value: "bare" })),
    json: escapingFormatter(getJsonLinesFormatter({ properties: "flatten", message: "rendered" })),
    jsonNested: escapingFormatter(
      getJsonLinesFormatter({ properties: "nest:properties", message: "rendered" }),
    ),
  };
  for (const [name, format] of Object.entries(formats)) {
    const out = format(rec);
    assert.equal(out.split("\n").length, 2, `${name}: one line and its newline: ${out}`);
    assert.doesNotMatch(out.slice(0, -1), RAW, name);
    assert.match(out, /\\n2026-01-01/, name);
  }
  // JSON keeps the information: the escape is there to read.
  const parsed = JSON.parse(formats.json(rec));
  assert.equal(parsed.path, escapeControl(HOSTILE));
  assert.deepEqual(parsed.nested, { v: [escapeControl(HOSTILE)] });
});

Deno.test("log: a stack keeps its line breaks, but nothing in it starts a record", () => {
  const err = new Error(`bad input ${HOSTILE}`);
  const rec = record("Unhandled error: {stack}", errorFields(err));
  const safe = escapeRecord(rec);
  const stack = safe.properties.stack as string;
  const lines = stack.split("\n");
  assert.ok(lines.length > 2, "frames on their own lines");
  for (const l of lines.slice(1)) assert.match(l, /^\s/, `continuation line: ${l}`);
  assert.doesNotMatch(stack.replaceAll("\n", ""), RAW);
  // A record with nothing to escape is passed through as is.
  const clean = record("GET /tasks 200", { path: "/tasks" });
  assert.equal(escapeRecord(clean), clean);
});
