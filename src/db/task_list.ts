/**
 * Pages of a user's tasks: filtered by status and a search, sorted by any column with ties broken
 * by id, and positioned by offset (`page=`) or by keyset cursors (`after`, `before`, the end).
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
 * One round trip per page (two for a search whose tasks changed since it was last counted): the
 * total (and whether rows exist on the far side of a cursor) rides along as uncorrelated scalar
 * subqueries, which PostgreSQL runs once. Each shape of query (sort, direction, position,
 * filters) is one fixed SQL text under one statement name.
 *
 * PostgreSQL plans these statements afresh on every execution (their `LIMIT` is a parameter,
 * which makes its generic plan look dearer), so what the planner must weigh counts as much as what
 * runs: a search is written without an `ILIKE` pattern, and counts only when it must.
 *
 * @module
 */
import type { Queryable } from "./database.ts";
import { SearchCounts, searchCountsOf } from "./search_counts.ts";
import { COLUMNS, iso, type Task, type TaskStatus } from "./tasks.ts";

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

/** The API's text of a time (`iso`: milliseconds, cut) from its exact text (`exact`). */
const apiTime = (exactText: string) => `${exactText.slice(0, 23)}Z`;

function cursorOf(field: SortField, row: Row): Cursor {
  const key = field === "id" ? null : field === "title" || field === "status" ? row[field] : row.k!;
  return { field, key, id: row.id };
}

/** A statement ready to run: its text, parameters and name. */
interface Sql {
  name: string;
  text: string;
  params: unknown[];
}

/** `created_at` as exact text, for a cursor: microseconds, which the API's own format drops. */
const exact = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":"MI":"SS.US"Z"')`;

/**
 * The task columns for a sort by a time: that time only as its exact text `k` (the cursor's key),
 * which `toTask` cuts to the API's text, rather than formatted twice on every row.
 */
function keyedColumns(field: "created_at" | "updated_at"): string {
  const other = field === "created_at" ? "updated_at" : "created_at";
  return `id, title, description, status, ${exact(field)} AS k, ${iso(other)}`;
}

const FLIP = { ">": "<", "<": ">", ">=": "<=", "<=": ">=" } as const;
type Comparison = keyof typeof FLIP;

/** Builds the page and count statements of one list request; each shape has its own name. */
class ListStatement {
  readonly #request: TaskListRequest;
  /** Whether a search's statements count its matches (no total is remembered). */
  readonly #counting: boolean;
  /** `user_id = $1`, then the filters, over `#base` ($1 the user, $2 the statuses if any). */
  readonly #where: string;
  readonly #base: unknown[];
  readonly #shape: string;
  #params: unknown[] = [];

  constructor(userId: number, request: TaskListRequest, counting = true) {
    this.#request = request;
    this.#counting = counting;
    this.#params = [userId];
    const { statuses, search } = request.filter;
    const where = ["user_id = $1"];
    const shape = [request.sort.field, request.sort.descending ? "desc" : "asc"];
    if (statuses) {
      // One status as an equality, so that a (user_id, status, key, id) index walks in the
      // sort's order: `= ANY` of an array that may hold several cannot.
      const p = this.#param([...statuses]);
      where.push(
        statuses.length === 1 ? `status = (${p}::text[])[1]` : `status = ANY(${p}::text[])`,
      );
      shape.push(statuses.length === 1 ? "s1" : "s");
    }
    if (search !== undefined) {
      // What `ILIKE '%q%'` does in a UTF-8 database (it lowercases both sides, then matches),
      // with `%` and `_` literal by construction. ILIKE's pattern costs the planner: it tries
      // the pattern on both columns' statistics, which took longer than running the page.
      const p = this.#param(search);
      const has = (column: string) => `strpos(lower(${column}), lower(${p}::text)) > 0`;
      where.push(`(${has("title")} OR ${has("description")})`);
      shape.push(counting ? "qn" : "q");
    }
    this.#where = where.join(" AND ");
    this.#base = this.#params;
    this.#shape = shape.join("_");
  }

  /** Where the page starts. */
  get position(): PagePosition {
    return this.#request.position;
  }

  /**
   * The page, nearest rows first: `limit + 1` of them (one more tells whether the list goes on),
   * or `limit` from the end. Past a cursor, `edge` says whether anything lies on its other side.
   */
  page(): Sql {
    const { position, limit, sort } = this.#request;
    this.#params = [...this.#base];
    const columns = [
      sort.field === "created_at" || sort.field === "updated_at"
        ? keyedColumns(sort.field)
        : COLUMNS,
    ];
    columns.push(...this.#total());
    const where = [this.#where];
    let backwards = false;
    let tail = "";
    if (position.kind === "offset") {
      tail = ` OFFSET ${this.#param(position.offset)}`;
    } else if (position.kind === "end") {
      backwards = true;
    } else {
      backwards = position.kind === "before";
      const [past, edge] = this.#cursorConditions(position.cursor, backwards ? "<" : ">");
      where.push(past);
      columns.push(`EXISTS (SELECT 1 FROM tasks WHERE ${this.#where} AND ${edge}) AS edge`);
    }
    const rows = position.kind === "end" ? limit : limit + 1;
    return this.#sql(
      `page_${position.kind}`,
      `SELECT ${columns.join(", ")} FROM tasks WHERE ${where.join(" AND ")} ` +
        `ORDER BY ${this.#order(backwards)} LIMIT ${this.#param(rows)}${tail}`,
    );
  }

  /**
   * The total (a search's always counted: a page is empty rarely), and past a cursor whether rows
   * lie on its other side, without a page.
   */
  count(): Sql {
    const { position } = this.#request;
    this.#params = [...this.#base];
    const columns = this.#total(true);
    if (position.kind === "after" || position.kind === "before") {
      const [, edge] = this.#cursorConditions(
        position.cursor,
        position.kind === "after" ? ">" : "<",
      );
      columns.push(`EXISTS (SELECT 1 FROM tasks WHERE ${this.#where} AND ${edge}) AS edge`);
    }
    return this.#sql(`count_${position.kind}`, `SELECT ${columns.join(", ")}`);
  }

  /**
   * The total's columns: the sum of the user's `task_totals` shards; for a search, the list's
   * version `v`, and its count unless a total is remembered (the caller compares the versions).
   */
  #total(counting = this.#counting): string[] {
    if (this.#request.filter.search !== undefined) {
      const version =
        "(SELECT coalesce(sum(changes), 0)::text FROM task_totals WHERE user_id = $1) AS v";
      if (!counting) return [version];
      return [version, `(SELECT count(*)::int FROM tasks WHERE ${this.#where}) AS total`];
    }
    // $2 is the statuses, when given (see the constructor).
    const sum = this.#request.filter.statuses
      ? "CASE WHEN 'pending' = ANY($2::text[]) THEN pending ELSE 0 END + " +
        "CASE WHEN 'in_progress' = ANY($2::text[]) THEN in_progress ELSE 0 END + " +
        "CASE WHEN 'completed' = ANY($2::text[]) THEN completed ELSE 0 END"
      : "pending + in_progress + completed";
    return [`coalesce((SELECT sum(${sum})::int FROM task_totals WHERE user_id = $1), 0) AS total`];
  }

  /**
   * `(key, id)` past the cursor in the sort's order (`>` after it, `<` before it), and the
   * condition for the other side, the cursor's own row included.
   */
  #cursorConditions(cursor: Cursor, past: ">" | "<"): [string, string] {
    const { field, descending } = this.#request.sort;
    const id = `${this.#param(cursor.id)}::int`;
    let left = "id", right = id;
    if (field !== "id") {
      const type = field === "created_at" || field === "updated_at" ? "timestamptz" : "text";
      left = `(${field}, id)`;
      right = `(${this.#param(cursor.key)}::${type}, ${id})`;
    }
    const op = (c: Comparison) => descending ? FLIP[c] : c;
    const other = past === ">" ? "<=" : ">=";
    return [`${left} ${op(past)} ${right}`, `${left} ${op(other)} ${right}`];
  }

  #order(backwards: boolean): string {
    const { field, descending } = this.#request.sort;
    const dir = descending !== backwards ? " DESC" : "";
    // Qualified: a bare created_at would name the output column, the API's text with
    // milliseconds, and sort by that instead of walking the index.
    return field === "id" ? `id${dir}` : `tasks.${field}${dir}, id${dir}`;
  }

  #param(value: unknown): string {
    this.#params.push(value);
    return `$${this.#params.length}`;
  }

  #sql(kind: string, text: string): Sql {
    return { name: `tasks_list_${kind}_${this.#shape}`, text, params: this.#params };
  }
}
