/**
 * Control characters never reach a log line raw. A request's path, a username or an error message
 * can carry a line feed (a forged log line follows it), an ESC (terminal escape sequences that
 * recolour, hide or rewrite what an operator sees), or a Unicode line separator or bidirectional
 * override. {@linkcode escapeRecord} rewrites each as a visible escape (`\n`, `\x1b`, `\u2028`)
 * in every string of a record, message and properties alike, before its formatter (text or JSON)
 * sees it.
 *
 * A `stack` property keeps its line breaks (stack traces are read by people), but every line after
 * the first starts with whitespace, so nothing in it can pass for a record of its own.
 *
 * @example
 * ```ts
 * escapeControl("GET /a\nFAKE [ERR] b"); // "GET /a\\nFAKE [ERR] b"
 * ```
 *
 * @module
 */
import type { LogRecord, TextFormatter } from "@logtape/logtape";

// C0 and C1 controls and DEL, the Unicode line and paragraph separators, and the bidirectional
// embeddings, overrides and isolates (which reorder how a line displays).
const CONTROL = /[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;
const CONTROLS = new RegExp(CONTROL.source, "gu");
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escapeOne(ch: string): string {
  const code = ch.codePointAt(0)!;
  return NAMED[ch] ??
    (code < 0x100
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`);
}

/**
 * `text` with every control character written as a visible escape.
 *
 * @example
 * ```ts
 * escapeControl("a\u001b[31mb"); // "a\\x1b[31mb"
 * ```
 */
export function escapeControl(text: string): string {
  return CONTROL.test(text) ? text.replace(CONTROLS, escapeOne) : text;
}

/** A stack trace: line breaks kept, each continuation line indented, everything else escaped. */
function escapeStack(stack: string): string {
  return stack.split(/\r?\n/).map((line, i) => {
    const escaped = escapeControl(line);
    return i === 0 || /^\s/.test(escaped) ? escaped : `    ${escaped}`;
  }).join("\n");
}

function escapeValue(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return escapeControl(value);
  if (value === null || typeof value !== "object" || depth > 4) return value;
  if (value instanceof Error) {
    return escapeProperties({ name: value.name, message: value.message, stack: value.stack });
  }
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v) => {
      const e = escapeValue(v, depth + 1);
      changed ||= e !== v;
      return e;
    });
    return changed ? out : value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  return escapeProperties(value as Record<string, unknown>, depth);
}

function escapeProperties(props: Record<string, unknown>, depth = 0): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(props)) {
    const escaped = key === "stack" && typeof value === "string"
      ? escapeStack(value)
      : escapeValue(value, depth + 1);
    const safeKey = escapeControl(key);
    if (escaped !== value || safeKey !== key) {
      out ??= { ...props };
      if (safeKey !== key) delete out[key];
      out[safeKey] = escaped;
    }
  }
  return out ?? props;
}

/**
 * The record with every string in its message and properties escaped; the same object when there
 * was nothing to escape (the common case costs a scan and no copy).
 *
 * @example
 * ```ts
 * const safe = escapeRecord(record);
 * ```
 */
export function escapeRecord(record: LogRecord): LogRecord {
  const message = escapeValue(record.message) as readonly unknown[];
  const rawMessage = typeof record.rawMessage === "string"
    ? escapeControl(record.rawMessage)
    : record.rawMessage;
  const properties = escapeProperties(record.properties);
  if (
    message === record.message && rawMessage === record.rawMessage &&
    properties === record.properties
  ) {
    return record;
  }
  return { ...record, message, rawMessage, properties };
}

/**
 * Wraps a formatter (text or JSON) so that it only ever sees escaped records.
 *
 * @example
 * ```ts
 * const format = escapingFormatter(getTextFormatter());
 * ```
 */
export function escapingFormatter(format: TextFormatter): TextFormatter {
  return (record) => format(escapeRecord(record));
}
