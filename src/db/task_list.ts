/**
 * Pages of a user's tasks: filtered by status and a search, sorted by any column with ties broken
 * by id, and positioned by offset (`page=`) or by keyset cursors (`after`, `before`, the end).
 * The SQL of each page is built by `list_statement.ts`.
 *
 * What a page costs does not grow with the user's task count, except for a search:
 * - the total comes from `task_totals` (kept by triggers, sql/030 and sql/032), at most 16 rows
 *   per user, unless a search is given: then it is counted by scanning the user's matching tasks,
 *   once per version of the user's list (`search_counts.ts`). While a total is remembered, the
 *   page's statement reads the list's version instead of counting; only when the version moved is
 *   the page read again with its count, so that page and total come from one snapshot;
 * - a cursor page walks the sort's index (sql/031) from the cursor and stops after a page, the
 *   last page walks it backwards from the end; only `page=N` pays an `OFFSET`.
 *
 * One round trip per page (two for a search whose tasks changed since it was last counted).
 *
 * @module
 */
import type { Queryable } from "./database.ts";
import { ListStatement } from "./list_statement.ts";
import { SearchCounts, searchCountsOf } from "./search_counts.ts";
import type { Task, TaskStatus } from "./tasks.ts";

/** The columns a list may be sorted by. */
export const SORT_FIELDS = ["id", "created_at", "updated_at", "title", "status"] as const;
export type SortField = (typeof SORT_FIELDS)[number];

/** A sort: one column, ascending or descending; ties are broken by id in the same direction. */
export interface TaskSort {
  field: SortField;
  descending: boolean;
}

/** Which of the user's tasks to list. */
export interface TaskFilter {
  /** Only these statuses; undefined for all. */
  statuses?: readonly TaskStatus[];
  /** A case-insensitive substring of the title or the description, taken literally. */
  search?: string;
}

/**
 * A position in a sorted list: the sort column's value and the id of a row. `key` is the column's
 * value as text (timestamps as ISO 8601 with microseconds, exact), null when sorting by id.
 */
export interface Cursor {
  field: SortField;
  key: string | null;
  id: number;
}

/** Where a page starts. */
export type PagePosition =
  | { kind: "offset"; offset: number }
  | { kind: "after"; cursor: Cursor }
  | { kind: "before"; cursor: Cursor }
  /** The last page, as long as `offset` paging would make it (`total % limit` rows, or `limit`). */
  | { kind: "end" };

/** What to list. */
export interface TaskListRequest {
  filter: TaskFilter;
  sort: TaskSort;
  limit: number;
  position: PagePosition;
}

/** One page, what the whole list counts, and whether rows lie before and after the page. */
export interface TaskListPage {
  tasks: Task[];
  total: number;
  hasBefore: boolean;
  hasAfter: boolean;
  /** Cursors of the first and last task on the page (undefined when it is empty). */
  firstCursor?: Cursor;
  lastCursor?: Cursor;
}

/**
 * What a plain `GET /tasks?per_page=N` asks for: every task in id order, from the start.
 *
 * @example
 * ```ts
 * const { tasks, total } = await listTasks(db, userId, firstPage(10));
 * ```
 */
export function firstPage(limit: number): TaskListRequest {
  return {
    filter: {},
    sort: { field: "id", descending: false },
    limit,
    position: { kind: "offset", offset: 0 },
  };
}

/** `v` is a searched list's version; `total` is absent when the statement did not count. */
type Row = Omit<Task, "created_at" | "updated_at"> & {
  /** Absent when sorting by it: then `k` holds it (`keyedColumns`). */
  created_at?: string;
  updated_at?: string;
  k?: string;
  total?: number;
  edge?: boolean;
  v?: string;
};

// ids are int4: no user has 2^31 tasks, so a larger offset is past the end without asking.
const MAX_OFFSET = 2 ** 31;

/**
 * One page of a user's tasks.
 *
 * @example
 * ```ts
 * const page = await listTasks(db, userId, {
 *   filter: { statuses: ["completed"], search: "report" },
 *   sort: { field: "created_at", descending: true },
 *   limit: 10,
 *   position: { kind: "offset", offset: 0 },
 * });
 * ```
 */
export async function listTasks(
  db: Queryable,
  userId: number,
  request: TaskListRequest,
): Promise<TaskListPage> {
  const { position, limit, filter } = request;
  const searched = filter.search === undefined ? undefined : {
    counts: searchCountsOf(db),
    key: SearchCounts.key(userId, filter.statuses, filter.search),
  };
  const known = searched?.counts.get(searched.key);
  // With a remembered total, the statement reads the list's version instead of counting.
  let { rows, head } = await fetchPage(db, new ListStatement(userId, request, !known));
  if (head.total === undefined && head.v !== known!.version) {
    // The tasks changed since that count: the page again, with its count, so that page and
    // total come from one snapshot.
    ({ rows, head } = await fetchPage(db, new ListStatement(userId, request)));
  }
  const total = head.total ?? known!.count;
  if (searched && head.total !== undefined) {
    searched.counts.set(searched.key, { version: head.v!, count: head.total });
  }
  if (rows.length === 0) {
    return {
      tasks: [],
      total,
      hasBefore: position.kind === "offset" ? position.offset > 0 : Boolean(head.edge),
      hasAfter: position.kind === "before" ? Boolean(head.edge) : false,
    };
  }
  let page: Row[];
  let hasBefore: boolean, hasAfter: boolean;
  switch (position.kind) {
    case "offset":
      page = rows.slice(0, limit);
      [hasBefore, hasAfter] = [position.offset > 0, rows.length > limit];
      break;
    case "after":
      page = rows.slice(0, limit);
      [hasBefore, hasAfter] = [Boolean(rows[0].edge), rows.length > limit];
      break;
    case "before":
      page = rows.slice(0, limit).reverse();
      [hasBefore, hasAfter] = [rows.length > limit, Boolean(rows[0].edge)];
      break;
    case "end": {
      const size = ((total - 1) % limit) + 1;
      page = rows.slice(0, size).reverse();
      [hasBefore, hasAfter] = [total > size, false];
      break;
    }
  }
  const field = request.sort.field;
  return {
    tasks: page.map(toTask),
    total,
    hasBefore,
    hasAfter,
    firstCursor: cursorOf(field, page[0]),
    lastCursor: cursorOf(field, page[page.length - 1]),
  };
}

/**
 * A page's rows and the row its total rides on: the first, or when the page is empty, the row of
 * a statement that reads only the total and the edge.
 */
async function fetchPage(db: Queryable, statement: ListStatement): Promise<{
  rows: Row[];
  head: Row;
}> {
  const position = statement.position;
  const page = position.kind === "offset" && position.offset >= MAX_OFFSET
    ? undefined
    : statement.page();
  const rows = page ? await db.query<Row>(page.text, page.params, page) : [];
  if (rows.length > 0) return { rows, head: rows[0] };
  const count = statement.count();
  const [head] = await db.query<Row>(count.text, count.params, count);
  return { rows, head };
}

function toTask(r: Row): Task {
  return {
    id: r.id,
    title: r.title,
    description: r.description,
    status: r.status,
    created_at: r.created_at ?? apiTime(r.k!),
    updated_at: r.updated_at ?? apiTime(r.k!),
  };
}

/** The API's text of a time (`iso`: milliseconds, cut) from its exact text (`list_statement.ts`). */
const apiTime = (exactText: string) => `${exactText.slice(0, 23)}Z`;

function cursorOf(field: SortField, row: Row): Cursor {
  const key = field === "id" ? null : field === "title" || field === "status" ? row[field] : row.k!;
  return { field, key, id: row.id };
}
