/**
 * Reading the database's refusal of a row: whether an error is a row's fault (its values) rather
 * than the load's, which line of a COPY PostgreSQL blames, and the reason the rejects file gives.
 *
 * @example
 * ```ts
 * blamedLine({ where: 'COPY people, line 3, column age: "x"' }); // 3
 * refusal({ message: "value too long", where: "COPY t, line 2, column code: \"abcd\"" }); // "code: value too long"
 * ```
 *
 * @module
 */

/**
 * Errors a row's values can cause: data exceptions (22xxx), integrity violations (23xxx),
 * program limits such as a row too big (54xxx). Anything else (a dropped table, no privilege)
 * is no row's fault, and isolating would only reject every row.
 */
export function isRowError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && /^(22|23|54)/.test(code);
}

/** The 1-based row of a COPY that PostgreSQL blames, from `err.where` ("COPY t, line 3, ..."). */
export function blamedLine(err: unknown): number | undefined {
  const where = (err as { where?: unknown })?.where;
  if (typeof where !== "string") return undefined;
  const m = /\bline (\d+)/.exec(where);
  return m ? Number(m[1]) : undefined;
}

/** The database's reason for refusing a row, with the column it names when it names one. */
export function refusal(err: unknown): string {
  const e = err as { message?: string; where?: string };
  const column = typeof e.where === "string" ? /column (\S+?):/.exec(e.where)?.[1] : undefined;
  return (column ? `${column}: ` : "") + (e.message ?? String(err));
}
