/**
 * The first thing every request meets after the request log: what arrives from the client is
 * checked once, here, before any route sees it, so that no route can forget a check.
 *
 * - `Host` must be a host name or address with an optional port (RFC 9112 asks for a 400
 *   otherwise). Deno builds the request URL from it, so a `Host` such as `a/b` or `a?b` would
 *   otherwise change the path or the query string the app routes on.
 * - Query parameters must be text PostgreSQL can store: no NUL, no lone surrogate, no invalid
 *   UTF-8 (400 naming the parameter).
 * - The body is read whole, up front: at most `maxBytes` (413, with or without `Content-Length`),
 *   with no pause of `timeoutMs` between its parts and complete within {@linkcode TOTAL_FACTOR}
 *   times that of the request's start (408: a client cannot hold a request open by sending
 *   nothing, or a byte at a time), as valid UTF-8, with no NUL or lone surrogate in any JSON string
 *   (400 naming the field). A client that leaves mid-body is an ordinary event: the request ends
 *   with 499 (nginx's "client closed request") and the request log's line at info, never an
 *   error. Routes then read the body from Hono's cache (`c.req.text()`, `c.req.json()`, zod
 *   validators alike).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { AppError } from "./errors.ts";
import { type AppEnv, textProblem } from "./http.ts";

/** Options for {@linkcode guardRequest}. */
export interface GuardOptions {
  /** Larger bodies answer 413. */
  maxBytes: number;
  /**
   * A body that stalls this long (nothing arrives) answers 408; so does one not complete
   * {@linkcode TOTAL_FACTOR} times this long after the request started.
   */
  timeoutMs: number;
}

/** How many stall timeouts a whole body may take (60 s with the default 10 s). */
export const TOTAL_FACTOR = 6;

// A reg-name (letters, digits, `-._~`) or an IP literal in brackets, then an optional port.
const HOST = /^(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });
const lenientUtf8 = new TextDecoder("utf-8");

/** The client closed the connection before its body was complete. */
export class ClientGoneError extends AppError {
  constructor(cause: unknown) {
    super("The client closed the connection before sending the whole body", {
      status: 499,
      cause,
    });
  }
}

/**
 * The middleware. Mount it right after the request log, before any route.
 *
 * @example
 * ```ts
 * app.use(guardRequest({ maxBytes: 1024 * 1024, timeoutMs: 10_000 }));
 * ```
 */
export function guardRequest(options: GuardOptions): MiddlewareHandler<AppEnv> {
  return async function guardRequest(c, next) {
    const started = performance.now();
    const host = c.req.header("host");
    if (host !== undefined && !HOST.test(host)) {
      throw AppError.badRequest("Invalid Host header: expected a host name or address and a port");
    }
    // Only a query with escapes can hold a NUL, a surrogate or a broken UTF-8 sequence.
    if (c.req.url.includes("%")) checkQuery(c.req.url);
    const body = c.req.raw.body;
    if (body) {
      const declared = c.req.header("content-length");
      if (
        declared !== undefined && !c.req.raw.headers.has("transfer-encoding") &&
        Number(declared) > options.maxBytes
      ) {
        throw tooLarge(options.maxBytes);
      }
      const deadline = started + options.timeoutMs * TOTAL_FACTOR;
      const bytes = await readBody(body, options.maxBytes, options.timeoutMs, deadline);
      const text = decodeBody(bytes);
      // Hono reads bodies through this cache: c.req.text(), c.req.json() and validators.
      const cache = c.req.bodyCache as Record<string, Promise<unknown>>;
      cache.text = Promise.resolve(text);
    }
    await next();
  };
}

function tooLarge(maxBytes: number): AppError {
  return AppError.http(413, `Request body is larger than ${maxBytes} bytes`);
}

/**
 * Reads a body whole: at most `maxBytes`, with no pause of `stallMs`, complete by `deadline` (a
 * `performance.now()` time).
 */
async function readBody(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  stallMs: number,
  deadline: number,
): Promise<Uint8Array> {
  const reader = body.getReader();
  let timedOut = false;
  let lastChunk = performance.now();
  // One timer per body, not one per chunk: when it fires early (a chunk came since it was set) it
  // sets itself again for what is left. Setting and clearing a timer per chunk was ~10% of the
  // server's CPU for a POST (two setTimeout and three clearTimeout for a one-chunk body).
  const due = () => Math.min(lastChunk + stallMs, deadline);
  const expire = () => {
    const left = due() - performance.now();
    if (left > 0) {
      timer = setTimeout(expire, left);
      return;
    }
    timedOut = true;
    // Cancelling the reader ends a read that is waiting for bytes that do not come.
    reader.cancel().catch(() => {});
  };
  let timer: ReturnType<typeof setTimeout> = setTimeout(expire, Math.max(0, due() - lastChunk));
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (err) {
        if (timedOut) break;
        throw new ClientGoneError(err);
      }
      if (result.done) break;
      size += result.value.length;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge(maxBytes);
      }
      chunks.push(result.value);
      lastChunk = performance.now();
    }
  } finally {
    clearTimeout(timer);
  }
  if (timedOut) {
    throw AppError.http(408, "Request body not received in time", {
      headers: { Connection: "close" },
    });
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** The body as text: valid UTF-8, and no NUL or lone surrogate in a JSON string. */
function decodeBody(bytes: Uint8Array): string {
  let text: string;
  try {
    text = fatalUtf8.decode(bytes);
  } catch {
    // Which field? Decode leniently (U+FFFD for each bad sequence) and look for it.
    const lenient = lenientUtf8.decode(bytes);
    const where = findString(lenient, (s) => s.includes("\uFFFD"));
    throw AppError.badRequest(
      where ? `${where} is not valid UTF-8` : "Request body is not valid UTF-8",
    );
  }
  // A NUL or a surrogate can only come from a \u escape; most bodies have none.
  if (text.includes("\\u") && /\\u(?:0000|[dD][89abAB])/.test(text)) {
    const where = findString(text, (s) => textProblem("", s) !== undefined);
    if (where) throw AppError.badRequest(textProblem(where, where.value)!);
  }
  return text;
}

type Found = string & { value: string };

/**
 * The path (`title`, `tags[2]`, `a.b`) of the first string in a JSON text that `bad` flags, keys
 * included, with the string itself as `value`; undefined when the text is not JSON (the route
 * then says "Malformed JSON") or nothing is flagged.
 */
function findString(text: string, bad: (s: string) => boolean): Found | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  const found = (path: string, value: string) =>
    Object.assign(path || "the request body", { value }) as Found;
  // A loop with its own stack, not recursion: JSON.parse takes nesting far deeper than the call
  // stack does, and `[[[...` ten thousand deep must be a 400 like any other bad body.
  const stack: [unknown, string][] = [[data, ""]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === "string") {
      if (bad(value)) return found(path, value);
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    // Children pushed last-first, so the first bad string in document order is the one named.
    const children: [unknown, string][] = [];
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) children.push([value[i], `${path}[${i}]`]);
    } else {
      for (const [key, child] of Object.entries(value)) {
        const name = path ? `${path}.${key}` : key;
        if (bad(key)) return found(`the field name ${JSON.stringify(name)}`, key);
        children.push([child, name]);
      }
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
  return undefined;
}

/** Every query parameter must decode to text PostgreSQL can store. */
function checkQuery(url: string): void {
  const q = url.indexOf("?");
  if (q < 0) return;
  for (const part of url.slice(q + 1).split("&")) {
    const eq = part.indexOf("=");
    const rawName = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? "" : part.slice(eq + 1);
    const name = decodeQuery(rawName, undefined);
    const value = decodeQuery(rawValue, name);
    const problem = textProblem(`query parameter ${JSON.stringify(name)}`, name) ??
      textProblem(`query parameter ${JSON.stringify(name)}`, value);
    if (problem) throw AppError.badRequest(problem);
  }
}

/**
 * Decodes like Hono does (a `%` that starts no escape stays as it is), except that escapes which
 * are not UTF-8 (`%FF`, an encoded surrogate) are a 400 instead of being kept raw.
 */
function decodeQuery(raw: string, name: string | undefined): string {
  const text = raw.replaceAll("+", " ");
  if (!text.includes("%")) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (escapes) => {
      try {
        return decodeURIComponent(escapes);
      } catch {
        const what = name === undefined
          ? "a query parameter name"
          : `query parameter ${JSON.stringify(name)}`;
        throw AppError.badRequest(`${what} is not valid UTF-8`);
      }
    });
  }
}
