/**
 * The query of `GET /tasks`: its zod schema (what the route validates and the OpenAPI document
 * describes) and what it asks the database for. Every parameter is optional and given at most
 * once; an unknown one or a bad value is a 400 naming it.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import {
  type PagePosition,
  SORT_FIELDS,
  type SortField,
  type TaskListRequest,
} from "../db/task_list.ts";
import { TASK_STATUSES, type TaskStatus } from "../db/tasks.ts";
import { AppError } from "../errors.ts";
import { textProblem } from "../http.ts";
import { decodeCursor, DEFAULT_PER_PAGE, END, MAX_PER_PAGE } from "../pagination.ts";

const MAX_SEARCH = 200;

/** A query parameter given at most once. */
function once(name: string, hint = "") {
  return z.string({ error: () => `${name} must be given at most once${hint}` });
}

const quoted = (input: unknown) => JSON.stringify(String(input).slice(0, 40));

function wholeNumber(name: string, min: number, max: number) {
  return once(name)
    .refine((raw) => {
      const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
      return n >= min && n <= max;
    }, {
      error: (issue) =>
        `${name} must be a whole number from ${min} to ${max}, got ${quoted(issue.input)}`,
    })
    .transform(Number);
}

const statusList = once("status", ": list several statuses comma-separated in one")
  .refine((raw) => raw.split(",").every((s) => TASK_STATUSES.includes(s as TaskStatus)), {
    error: (issue) =>
      `status must be one or more of ${TASK_STATUSES.join(", ")}, comma-separated, got ${
        quoted(issue.input)
      }`,
  })
  .transform((raw) => [...new Set(raw.split(",") as TaskStatus[])]);

const search = once("q")
  .refine((s) => s.length > 0, "q must not be empty")
  .refine((s) => [...s].length <= MAX_SEARCH, `q must be at most ${MAX_SEARCH} characters`)
  // The request guard refuses these for every parameter; q goes to the database, so again here.
  .superRefine((s, ctx) => {
    const problem = textProblem("q", s);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

const SORTS = SORT_FIELDS.flatMap((f) => [f, `-${f}`]);
const sort = once("sort")
  .refine((raw) => SORTS.includes(raw), {
    error: (issue) =>
      `sort must be one of ${SORT_FIELDS.join(", ")}, optionally prefixed by "-", got ${
        quoted(issue.input)
      }`,
  });

/** `GET /tasks`'s query parameters. */
export const ListQuerySchema = z.strictObject({
  page: wholeNumber("page", 1, Number.MAX_SAFE_INTEGER).optional().openapi({
    pattern: "^[1-9][0-9]*$",
    description: "Page number, from 1. Pages past the end are empty (200 with the headers).",
    example: "2",
  }),
  per_page: wholeNumber("per_page", 1, MAX_PER_PAGE).optional().openapi({
    pattern: "^([1-9][0-9]?|100)$",
    description: `Tasks per page, 1 to ${MAX_PER_PAGE} (default ${DEFAULT_PER_PAGE})`,
    example: "5",
  }),
  status: statusList.optional().openapi({
    pattern: `^(${TASK_STATUSES.join("|")})(,(${TASK_STATUSES.join("|")}))*$`,
    description: `Only tasks in these statuses: one or more of ${
      TASK_STATUSES.join(", ")
    }, comma-separated`,
    example: "pending,in_progress",
  }),
  q: search.optional().openapi({
    minLength: 1,
    maxLength: MAX_SEARCH,
    description: "Only tasks whose title or description contains this text, in any letter " +
      "case (`%` and `_` are literal). The total is then counted by scanning the matching tasks, " +
      "once per change of the caller's tasks (remembered in between).",
    example: "report",
  }),
  sort: sort.optional().openapi({
    enum: SORTS,
    description:
      `Order by ${
        SORT_FIELDS.join(", ")
      }; a leading \`-\` for descending. Ties are broken by id in the same direction. ` +
      "`status` sorts alphabetically (completed, in_progress, pending). Default `id`.",
    example: "-created_at",
  }),
  after: once("after").optional().openapi({
    description: "A cursor from a `next` link: the page after that task. Not with `page`.",
    example: "WyJpZCIsbnVsbCw1XQ",
  }),
  before: once("before").optional().openapi({
    description: "A cursor from a `prev` link: the page before that task; `end` for the last " +
      "page. Not with `page`.",
    example: END,
  }),
}, {
  error: (issue) => {
    if (issue.code === "unrecognized_keys") {
      const names = issue.keys.map((k) => `"${k}"`).join(", ");
      return `Unknown query parameter${issue.keys.length > 1 ? "s" : ""} ${names} (allowed: ` +
        "page, per_page, status, q, sort, after, before)";
    }
  },
});

/** The validated query. */
export type ListQuery = z.output<typeof ListQuerySchema>;

/**
 * What a validated query asks the database for. Paging one way at a time: `page`, `after` and
 * `before` exclude each other (a 400).
 *
 * @example
 * ```ts
 * listRequest({ status: ["completed"], sort: "-created_at", before: "end" });
 * ```
 */
export function listRequest(query: ListQuery): TaskListRequest {
  const given = (["page", "after", "before"] as const).filter((k) => query[k] !== undefined);
  if (given.length > 1) {
    throw AppError.badRequest(`${given.join(" and ")} cannot be combined: page one way at a time`);
  }
  const raw = query.sort ?? "id";
  const field = raw.replace(/^-/, "") as SortField;
  let position: PagePosition;
  const limit = query.per_page ?? DEFAULT_PER_PAGE;
  if (query.after !== undefined) {
    position = { kind: "after", cursor: decodeCursor(query.after, "after", field) };
  } else if (query.before === END) {
    position = { kind: "end" };
  } else if (query.before !== undefined) {
    position = { kind: "before", cursor: decodeCursor(query.before, "before", field) };
  } else {
    position = { kind: "offset", offset: ((query.page ?? 1) - 1) * limit };
  }
  return {
    filter: { statuses: query.status, search: query.q },
    sort: { field, descending: raw.startsWith("-") },
    limit,
    position,
  };
}
