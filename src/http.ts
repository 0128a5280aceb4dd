/**
 * What every route shares: the Hono environment types, the app factory whose validation answers
 * like the rest of the API, reading a JSON body whatever its `Content-Type`, field schemas whose
 * messages name the field, and the client's address.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { type Hook, OpenAPIHono, z } from "@hono/zod-openapi";
import { AppError } from "./errors.ts";

/** Hono's environment for this app. `Bindings` is what `Deno.serve` passes as its second argument. */
export type AppEnv = {
  Bindings: { remoteAddr?: Deno.Addr };
  Variables: { requestId: string; userId?: number };
};

/**
 * The environment behind `requireAccessToken`: `c.var.userId` is the caller's id, always set.
 * {@linkcode protectedApp} is the only way to get an app of this type, so the type and the guard
 * cannot come apart.
 */
export type AuthedEnv = {
  Bindings: AppEnv["Bindings"];
  Variables: { requestId: string; userId: number };
};

/**
 * Validation failures of a route's zod schemas (body, query, path) thrown as the API's own
 * errors, so that `app.onError` answers them like any other: a 400 whose `message` is the first
 * issue's (the schemas word their messages to name the field). A path parameter that does not
 * fit names nothing that exists: a 404.
 */
// deno-lint-ignore no-explicit-any
export const validationHook: Hook<any, any, any, any> = (result) => {
  if (result.success) return;
  const message = result.error.issues[0]?.message ?? "Invalid request";
  throw result.target === "param" ? AppError.notFound(message) : AppError.badRequest(message);
};

/**
 * A new router whose routes are described in the OpenAPI document (`app.openapi(route, handler)`)
 * and validated by the same zod schemas, failures answering through `app.onError`.
 *
 * @example
 * ```ts
 * const app = apiApp();
 * app.openapi(healthRoute, (c) => c.json({ status: "ok" }, 200));
 * ```
 */
export function apiApp<E extends AppEnv | AuthedEnv = AppEnv>(): OpenAPIHono<E> {
  return new OpenAPIHono<E>({ defaultHook: validationHook });
}

/**
 * A router for routes that need an access token: `guard` (the bearer check) runs before anything
 * else on every route added to it, and the handlers see `c.var.userId` as a number.
 *
 * @example
 * ```ts
 * const app = protectedApp(requireAccessToken(tokens));
 * app.openapi(listRoute, (c) => c.json(list(c.var.userId), 200));
 * ```
 */
export function protectedApp(guard: MiddlewareHandler<AuthedEnv>): OpenAPIHono<AuthedEnv> {
  const app = apiApp<AuthedEnv>();
  app.use(guard);
  return app;
}

/**
 * Route middleware: reads the request body as JSON whatever the `Content-Type` (curl's `-d` sends
 * form encoding by default) and hands it to the route's validator. Malformed JSON is a 400. The
 * body comes from Hono's cache, where the request guard left it checked; the validator reads only
 * JSON media types, so the request is re-labelled `application/json`.
 *
 * @example
 * ```ts
 * const route = createRoute({ method: "post", path: "/", middleware: [jsonBody], ... });
 * ```
 */
export const jsonBody: MiddlewareHandler = async (c, next) => {
  let data: unknown;
  try {
    data = JSON.parse(await c.req.text());
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    throw AppError.badRequest("Malformed JSON in request body");
  }
  c.req.bodyCache.json = Promise.resolve(data);
  const raw = c.req.raw;
  if (raw.headers.get("Content-Type") !== "application/json") {
    // The body is read (and cached): a new request needs only the headers.
    const headers = new Headers(raw.headers);
    headers.set("Content-Type", "application/json");
    c.req.raw = new Request(raw.url, { method: raw.method, headers, signal: raw.signal });
  }
  await next();
};

/**
 * A JSON object with exactly these fields: an unknown one is refused by name (a typo such as
 * "tilte" should not look like success), anything but an object is refused as such.
 *
 * @example
 * ```ts
 * const body = jsonObject({ title: textField("title", { min: 1, max: 200 }) });
 * ```
 */
export function jsonObject<S extends z.ZodRawShape>(shape: S): z.ZodObject<S, z.core.$strict> {
  const allowed = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === "unrecognized_keys") {
        const names = issue.keys.map((k) => `"${k}"`).join(", ");
        return `Unknown field${issue.keys.length > 1 ? "s" : ""} ${names} (allowed: ${allowed})`;
      }
      if (issue.code === "invalid_type") return "Request body must be a JSON object";
    },
  });
}

/**
 * A required string field, with messages that name it: "title is required", "title must be a
 * string".
 *
 * @example
 * ```ts
 * const username = requiredString("username").regex(/^\w+$/);
 * ```
 */
export function requiredString(name: string): z.ZodString {
  return z.string({
    error: (issue) =>
      issue.input === undefined ? `${name} is required` : `${name} must be a string`,
  });
}

/**
 * What is wrong with a piece of client text that PostgreSQL cannot store or that is not text at
 * all, naming it: a NUL character (PostgreSQL's text refuses it) or a lone surrogate (half of a
 * UTF-16 pair, which has no UTF-8 form and would be stored as U+FFFD). Undefined when it is fine.
 * Every string a client sends goes through this, in the zod fields below and in the request guard.
 *
 * @example
 * ```ts
 * textProblem("title", "a\u0000b"); // "title must not contain a NUL character (U+0000)"
 * textProblem("title", "fine");     // undefined
 * ```
 */
export function textProblem(name: string, text: string): string | undefined {
  if (text.includes("\0")) return `${name} must not contain a NUL character (U+0000)`;
  if (!text.isWellFormed()) {
    return `${name} must not contain a lone surrogate (half of a UTF-16 pair, not a character)`;
  }
  return undefined;
}

/**
 * A required string field that PostgreSQL can store: see {@linkcode textProblem}.
 *
 * @example
 * ```ts
 * const body = z.strictObject({ note: safeString("note") });
 * ```
 */
export function safeString(name: string): z.ZodString {
  return requiredString(name).superRefine((s, ctx) => {
    const problem = textProblem(name, s);
    if (problem) ctx.addIssue({ code: "custom", message: problem, abort: true });
  });
}

/**
 * A required string field whose length, counted in characters (code points, as PostgreSQL counts
 * them, so an emoji is one), is within `min` and `max`, and that PostgreSQL can store (no NUL, no
 * lone surrogate). JSON Schema's `minLength` and `maxLength` count code points too, so the OpenAPI
 * document states the same limits.
 *
 * @example
 * ```ts
 * const body = z.strictObject({ title: textField("title", { min: 1, max: 200 }) });
 * ```
 */
export function textField(name: string, limits: { min: number; max: number }): z.ZodString {
  const length = (s: string) => s.length > limits.max * 2 ? Infinity : [...s].length;
  const short = limits.min === 1
    ? `${name} must not be empty`
    : `${name} must be at least ${limits.min} characters`;
  return safeString(name)
    .refine((s) => s.length >= limits.min && length(s) >= limits.min, short)
    .refine((s) => length(s) <= limits.max, `${name} must be at most ${limits.max} characters`)
    .openapi({ minLength: limits.min, maxLength: limits.max });
}

/**
 * Usernames: 3–50 ASCII letters, digits, `_`, `.` or `-`. One account per
 * {@linkcode canonicalUsername}: `Alice`, `ALICE` and `ａｌｉｃｅ` are one name.
 */
export const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,50}$/;

/**
 * The one canonical form of a username, used for uniqueness, lookup and the login limits alike:
 * NFKC (compatibility forms such as fullwidth letters or the Kelvin sign become the letters they
 * stand for), then lower case. JavaScript computes it, once; the database only compares it, so no
 * collation or locale (PostgreSQL's `lower()` folds `I` to `ı` under a Turkish locale) can make two
 * places disagree. A name whose canonical form is not a valid username can never log in.
 *
 * @example
 * ```ts
 * canonicalUsername("ＡＬＩＣＥ"); // "alice"
 * canonicalUsername("\u212Aim"); // "kim" (KELVIN SIGN)
 * ```
 */
export function canonicalUsername(name: string): string {
  return name.normalize("NFKC").toLowerCase();
}

/**
 * The username to register: a valid username as typed (kept for display), a 400 otherwise.
 *
 * @example
 * ```ts
 * const body = z.strictObject({ username: usernameField(), password: passwordField() });
 * ```
 */
export function usernameField(): z.ZodString {
  return safeString("username").regex(USERNAME_PATTERN, {
    error: (issue) =>
      `username ${
        JSON.stringify(String(issue.input).slice(0, 60))
      } is invalid: use 3 to 50 letters, digits, "_", "." or "-"`,
  }).openapi({
    description: "3 to 50 letters, digits, `_`, `.` or `-`; one account per name in any case",
  });
}

/**
 * The username to log in with, as its {@linkcode canonicalUsername}. Only what is not text at all
 * (a number, a NUL, a lone surrogate) is a 400 here; any other name outside the rules, however
 * long or short, fails later like a wrong password, after the same work.
 *
 * @example
 * ```ts
 * const body = z.strictObject({ username: loginNameField(), password: z.string() });
 * ```
 */
export function loginNameField(): z.ZodPipe<z.ZodString, z.ZodTransform<string, string>> {
  return safeString("username").transform(canonicalUsername);
}

/**
 * The connection's remote address: the client, or the nearest reverse proxy
 * (`ClientAddresses` in `client_address.ts` finds the client behind trusted proxies).
 *
 * @example
 * ```ts
 * const peer = clientAddress(c); // "192.0.2.1"
 * ```
 */
export function clientAddress(c: Context<AppEnv> | Context<AuthedEnv>): string {
  const addr = c.env?.remoteAddr;
  return addr && "hostname" in addr ? addr.hostname : "unknown";
}
