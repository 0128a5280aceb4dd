/**
 * Paging through lists: the keyset cursors that `Link` hands out (`after`, `before`) and the
 * RFC 8288 `Link` header itself, which keeps the list's filter and sort.
 *
 * A cursor is opaque to clients: base64url of `[sort field, key, id]`, the position of one row.
 * It is checked like any input: a cursor that was not made by this server, or for another sort, is
 * a 400 naming the parameter.
 *
 * @module
 */
import { type Cursor, SORT_FIELDS, type SortField, type TaskListPage } from "./db/task_list.ts";
import type { TaskListRequest } from "./db/task_list.ts";
import { TASK_STATUSES } from "./db/tasks.ts";
import { AppError } from "./errors.ts";

export const DEFAULT_PER_PAGE = 10;
export const MAX_PER_PAGE = 100;

/** The value of `before` that asks for the last page. */
export const END = "end";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The opaque text of a cursor, safe in a URL without escaping.
 *
 * @example
 * ```ts
 * encodeCursor({ field: "id", key: null, id: 5 }); // "WyJpZCIsbnVsbCw1XQ"
 * ```
 */
export function encodeCursor(cursor: Cursor): string {
  const json = JSON.stringify([cursor.field, cursor.key, cursor.id]);
  // Printable ASCII (every id cursor, most keys; JSON escapes control characters) is already the
  // bytes btoa wants: the UTF-8 pass is only for other text. Two cursors go into every page's Link.
  const binary = /^[ -~]*$/.test(json) ? json : String.fromCharCode(...encoder.encode(json));
  return btoa(binary).replace(/[+/=]/g, (c) => c === "+" ? "-" : c === "/" ? "_" : "");
}

/**
 * Reads the cursor in query parameter `name`, made for a list sorted by `field`. A 400 naming
 * the parameter when it is not a cursor of this server's, or was made for another sort.
 *
 * @example
 * ```ts
 * decodeCursor("WyJpZCIsbnVsbCw1XQ", "after", "id"); // { field: "id", key: null, id: 5 }
 * ```
 */
export function decodeCursor(raw: string, name: string, field: SortField): Cursor {
  const cursor = parseCursor(raw);
  if (!cursor) {
    throw AppError.badRequest(
      `${name} is not a valid cursor: ${
        JSON.stringify(raw.slice(0, 40))
      } (use the links of the Link header)`,
    );
  }
  if (cursor.field !== field) {
    throw AppError.badRequest(
      `${name} is a cursor for sort=${cursor.field}, not sort=${field}: ` +
        `drop ${name} to start the new sort from its first page`,
    );
  }
  return cursor;
}

function parseCursor(raw: string): Cursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,2000}$/.test(raw)) return undefined;
  let value: unknown;
  try {
    const binary = atob(raw.replaceAll("-", "+").replaceAll("_", "/"));
    value = JSON.parse(decoder.decode(Uint8Array.from(binary, (ch) => ch.charCodeAt(0))));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 3) return undefined;
  const [field, key, id] = value;
  if (!SORT_FIELDS.includes(field) || !Number.isInteger(id) || id < 1 || id > 2_147_483_647) {
    return undefined;
  }
  return validKey(field, key) ? { field, key, id } : undefined;
}

/** Whether `key` is a value the sort column can hold: what the SQL will compare it with. */
function validKey(field: SortField, key: unknown): boolean {
  switch (field) {
    case "id":
      return key === null;
    case "status":
      return TASK_STATUSES.includes(key as never);
    case "title":
      return typeof key === "string" && key.length <= 400 && key.isWellFormed() &&
        !key.includes("\0");
    case "created_at":
    case "updated_at": {
      if (typeof key !== "string") return false;
      if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(key)) return false;
      // A real instant: 2024-02-30 or 25:00 would make the database refuse the query.
      const ms = Date.parse(`${key.slice(0, 23)}Z`);
      return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 23) === key.slice(0, 23);
    }
  }
}

/**
 * The list's own query parameters, canonical: the filter and the sort as the server understood
 * them, then `per_page`. Links repeat these, never the request's raw text.
 */
function listParams(request: TaskListRequest): string {
  const { filter, sort, limit } = request;
  const parts: string[] = [];
  if (filter.statuses) parts.push(`status=${filter.statuses.join(",")}`);
  if (filter.search !== undefined) parts.push(`q=${encodeURIComponent(filter.search)}`);
  if (sort.field !== "id" || sort.descending) {
    parts.push(`sort=${sort.descending ? "-" : ""}${sort.field}`);
  }
  parts.push(`per_page=${limit}`);
  return parts.join("&");
}

/**
 * The `Link` header of a page: `first` and `last` always, `prev` when rows lie before the page,
 * `next` when rows lie after it. `prev` and `next` carry a cursor, `last` is `before=end`, so
 * following any of them walks an index instead of skipping rows by offset. `base` is the list's
 * path as a relative reference (or an absolute URL the operator configured), never built from
 * the request's `Host`.
 *
 * @example
 * ```ts
 * linkHeader("/tasks", request, page);
 * // </tasks?per_page=5>; rel="first", </tasks?per_page=5&after=WyJpZCIsbnVsbCw1XQ>;
 * // rel="next", </tasks?per_page=5&before=end>; rel="last"
 * ```
 */
export function linkHeader(base: string, request: TaskListRequest, page: TaskListPage): string {
  const list = `${base}?${listParams(request)}`;
  const link = (rel: string, position = "") => `<${list}${position}>; rel="${rel}"`;
  const links = [link("first")];
  if (page.hasBefore) {
    links.push(
      page.firstCursor
        ? link("prev", `&before=${encodeCursor(page.firstCursor)}`)
        : link("prev", `&before=${END}`), // an empty page past the end: the last page before it
    );
  }
  if (page.hasAfter) {
    links.push(
      page.lastCursor ? link("next", `&after=${encodeCursor(page.lastCursor)}`) : link("next"), // an empty page before the start: the first page after it
    );
  }
  links.push(link("last", `&before=${END}`));
  return links.join(", ");
}
