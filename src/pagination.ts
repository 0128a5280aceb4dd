/**
 * Page numbers from the query string, and the RFC 8288 `Link` header that describes the pages.
 *
 * @module
 */
import { AppError } from "./errors.ts";

/** A validated page request. */
export interface PageRequest {
  page: number;
  perPage: number;
}

export const DEFAULT_PER_PAGE = 10;
export const MAX_PER_PAGE = 100;

function whole(name: string, raw: string, min: number, max: number): number {
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) {
    throw AppError.badRequest(
      `${name} must be a whole number from ${min} to ${max}, got ${
        JSON.stringify(raw.slice(0, 40))
      }`,
    );
  }
  return n;
}

/**
 * Reads `page` (from 1) and `per_page` (1–100, default 10). Anything else is a 400, never clamped.
 *
 * @example
 * ```ts
 * parsePageRequest({ page: "2", per_page: "5" }); // { page: 2, perPage: 5 }
 * ```
 */
export function parsePageRequest(query: { page?: string; per_page?: string }): PageRequest {
  return {
    page: query.page === undefined ? 1 : whole("page", query.page, 1, Number.MAX_SAFE_INTEGER),
    perPage: query.per_page === undefined
      ? DEFAULT_PER_PAGE
      : whole("per_page", query.per_page, 1, MAX_PER_PAGE),
  };
}

/** The last page number; 1 when there is nothing, so `first` and `last` always exist. */
export function lastPage(total: number, perPage: number): number {
  return Math.max(1, Math.ceil(total / perPage));
}

/**
 * The `Link` header for page `page` of `total` items: `first` and `last` always, `prev` unless on
 * page 1, `next` unless on or past the last page. Other query parameters are kept, first. The
 * references are relative to the request (`</tasks?page=2&per_page=5>`, RFC 8288 resolves them
 * against the request's URL) unless `base` gives the API's public URL: the request's own `Host`
 * is never used, so a forged one cannot end up in a link.
 *
 * @example
 * ```ts
 * linkHeader("/tasks", "page=2&per_page=5", { page: 2, perPage: 5, total: 23 });
 * // </tasks?page=1&per_page=5>; rel="first", </tasks?page=1&per_page=5>; rel="prev",
 * // </tasks?page=3&per_page=5>; rel="next", </tasks?page=5&per_page=5>; rel="last"
 * ```
 */
export function linkHeader(
  path: string,
  query: string,
  options: PageRequest & { total: number; base?: string },
): string {
  const { page, perPage, total } = options;
  const last = lastPage(total, perPage);
  // One parse per request, then plain strings: this runs on every GET /tasks.
  const params = new URLSearchParams(query);
  params.delete("page");
  params.delete("per_page");
  const kept = params.toString();
  const target = `${options.base ?? ""}${encodeURI(path)}?${kept ? `${kept}&` : ""}page=`;
  const link = (n: number, rel: string) => `<${target}${n}&per_page=${perPage}>; rel="${rel}"`;
  const links = [link(1, "first")];
  if (page > 1) links.push(link(page - 1, "prev"));
  if (page < last) links.push(link(page + 1, "next"));
  links.push(link(last, "last"));
  return links.join(", ");
}
