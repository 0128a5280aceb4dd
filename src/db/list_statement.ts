/**
 * The SQL of one list page (`task_list.ts`): the page itself, and the statement that reads only
 * the total when a page is empty. The total (and whether rows exist on the far side of a cursor)
 * rides along as uncorrelated scalar subqueries, which PostgreSQL runs once. Each shape of query
 * (sort, direction, position, filters) is one fixed SQL text under one statement name.
 *
 * PostgreSQL plans these statements afresh on every execution (their `LIMIT` is a parameter,
 * which makes its generic plan look dearer), so what the planner must weigh counts as much as what
 * runs: a search is written without an `ILIKE` pattern, and counts only when it must.
 *
 * @example
 * ```ts
 * const sql = new ListStatement(userId, firstPage(10)).page();
 * const rows = await db.query(sql.text, sql.params, sql);
 * ```
 *
 * @module
 */
import type { Cursor, PagePosition, TaskListRequest } from "./task_list.ts";
import { COLUMNS, iso } from "./tasks.ts";

/** A statement ready to run: its text, parameters and name. */
export interface Sql {
  /** The prepared statement's name: one per shape of query. */
  name: string;
  /** The SQL text, the same for every request of the shape. */
  text: string;
  /** `$1`, `$2`, ... in order. */
  params: unknown[];
}

/** `created_at` as exact text, for a cursor: microseconds, which the API's own format drops. */
const exact = (column: string): string =>
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
export class ListStatement {
  readonly #request: TaskListRequest;
  /** Whether a search's statements count its matches (no total is remembered). */
  readonly #counting: boolean;
  /** `user_id = $1`, then the filters, over `#base` ($1 the user, $2 the statuses if any). */
  readonly #where: string;
  readonly #base: unknown[];
  readonly #shape: string;
  #params: unknown[] = [];

  /**
   * The statements of `request` for `userId`; `counting` false when a search's total is remembered
   * (the page then reads the list's version instead of a count).
   */
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
