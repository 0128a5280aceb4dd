/**
 * `405 Method Not Allowed` with `Allow`, for a path the app knows under other methods. The
 * methods come from the app's own route table (`app.routes`), so a route added anywhere, by any
 * means (`app.get`, a sub-app, an OpenAPI route), is accounted for without a list kept by hand.
 *
 * @example
 * ```ts
 * const allowed = new AllowedMethods(() => app.routes);
 * allowed.of("/tasks/7"); // "GET, HEAD, PUT, PATCH, DELETE"
 * allowed.of("/nowhere"); // undefined
 * ```
 *
 * @module
 */
import type { Context } from "hono";
import { matchedRoutes } from "hono/route";
import { TrieRouter } from "hono/router/trie-router";

/** A route as Hono lists it; `"ALL"` is middleware (`app.use`). */
interface RouteEntry {
  method: string;
  path: string;
}

/** Which methods a path answers, from the app's routes (read once, at the first question). */
export class AllowedMethods {
  #router?: TrieRouter<string>;
  #methods: string[] = [];

  /** `routes` is read lazily: by the first request every route is registered. */
  constructor(readonly routes: () => readonly RouteEntry[]) {}

  /** The methods `path` answers, as an `Allow` value; undefined when it answers none. */
  of(path: string): string | undefined {
    const router = this.#router ?? this.#build();
    const allowed = this.#methods.filter((m) => router.match(m, path)[0].length > 0);
    if (allowed.length === 0) return undefined;
    // Hono answers HEAD with the GET route.
    if (allowed.includes("GET") && !allowed.includes("HEAD")) allowed.splice(1, 0, "HEAD");
    return allowed.join(", ");
  }

  #build(): TrieRouter<string> {
    const router = new TrieRouter<string>();
    const methods = new Set<string>();
    for (const { method, path } of this.routes()) {
      if (method === "ALL") continue;
      router.add(method, path, method);
      methods.add(method);
    }
    const order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    this.#methods = [...methods].sort((a, b) =>
      (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99)
    );
    this.#router = router;
    return router;
  }
}

/**
 * Whether a route (not only middleware) matched this request's method and path. Middleware that
 * guards routes (authentication) lets a request that matches none through, so that it ends as the
 * 404 or 405 it is rather than a 401.
 *
 * @example
 * ```ts
 * if (!hasEndpoint(c)) return await next();
 * ```
 */
export function hasEndpoint(c: Context): boolean {
  return matchedRoutes(c).some((r) => r.method !== "ALL");
}
