/**
 * The OpenAPI 3.1 document: what every route shares (the error body, the bearer scheme, the error
 * answers with their examples) and `GET /openapi.json`. Each route describes itself where it is
 * defined, with the zod schemas that validate it, so the document cannot drift from the code.
 *
 * @module
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "./http.ts";

/** The name of the bearer security scheme, for routes' `security`. */
export const BEARER = "bearerAuth";

/** `security` for a route that needs an access token. */
export const bearerSecurity: Record<string, string[]>[] = [{ [BEARER]: [] }];

/** Every error answer: a human-readable `message`. */
export const ErrorBody = z.object({
  message: z.string().openapi({ description: "What went wrong, quoting the bad value" }),
  request_id: z.string().optional().openapi({
    description: "On a 500 only: finds the error's stack trace in the server's log",
  }),
}).openapi("Error");

/** The error answers the API gives, with what each means and an example. */
const ERRORS = {
  400: ["Malformed JSON, an invalid field, or an unknown or invalid query parameter", {
    message: 'Unknown field "tilte" (allowed: title, description, status)',
  }],
  401: ["Missing, invalid or expired token, or wrong credentials", {
    message: "Invalid or missing token",
  }],
  403: ["The user has MAX_TASKS_PER_USER tasks already", {
    message: "Task limit reached: at most 10000 tasks per user",
  }],
  404: ["No such task for this user (another user's task looks exactly like a missing one)", {
    message: "Task not found",
  }],
  409: ["The username is taken, in any letter case", {
    message: 'Username "testuser1" is already taken',
  }],
  412: ["`If-Match` does not match the task's current ETag: nothing was changed", {
    message: 'The task has changed: its ETag is now "7.3", not "7.2"',
  }],
  413: ["The request body is larger than `MAX_BODY_BYTES`", {
    message: "Request body is larger than 1048576 bytes",
  }],
  429: ["Too many requests; `Retry-After` says when to try again", {
    message: "Too many failed logins for this username; try again in 840 s",
  }],
  503: ["The database is unavailable; the server recovers by itself", {
    message: "Database unavailable, try again shortly",
  }],
} as const satisfies Record<number, readonly [string, { message: string }]>;

/** A status the API answers errors with. */
export type ErrorStatus = keyof typeof ERRORS;

const retryAfter = z.object({
  "Retry-After": z.string().regex(/^[1-9]\d*$/).openapi({
    description: "Whole seconds to wait",
    example: "840",
  }),
});

/** A `responses` entry of an error answer. */
export interface ErrorResponse {
  description: string;
  headers?: typeof retryAfter;
  content: { "application/json": { schema: typeof ErrorBody; example: { message: string } } };
}

/**
 * One error answer for `responses`, with the error body and an example message.
 *
 * @example
 * ```ts
 * responses: { 200: ok, 404: errorResponse("No such file", 'Not found: "x.js"') }
 * ```
 */
export function errorResponse(description: string, message: string): ErrorResponse {
  return {
    description,
    content: { "application/json": { schema: ErrorBody, example: { message } } },
  };
}

/**
 * The `responses` entries of the API's usual error statuses, each with its meaning and example.
 *
 * @example
 * ```ts
 * responses: { 200: ok, ...errorResponses(401, 404, 503) }
 * ```
 */
export function errorResponses<S extends ErrorStatus>(...statuses: S[]): Record<S, ErrorResponse> {
  const out = {} as Record<S, ErrorResponse>;
  for (const status of statuses) {
    const [description, example] = ERRORS[status];
    out[status] = errorResponse(description, example.message);
    if (status === 429) out[status].headers = retryAfter;
  }
  return out;
}

/**
 * `content` of a success answer that is only `{"message": text}`, a schema named `name`.
 *
 * @example
 * ```ts
 * responses: { 200: { description: "Deleted", content: messageContent("Task deleted", "Deleted") } }
 * ```
 */
export function messageContent<M extends string>(text: M, name: string) {
  return {
    "application/json": {
      schema: z.object({ message: z.literal(text) }).openapi(name, { example: { message: text } }),
    },
  };
}

/** What the document says about the API as a whole. */
const INFO = {
  title: "Task API",
  version: "1.0.0",
  description: [
    "Register, log in for a JWT access token, and keep your own tasks.",
    "",
    'Every request and answer body is JSON. Errors answer `{"message": ...}` with the status',
    "that says what happened. Protected routes take `Authorization: Bearer <access_token>`",
    "(from `POST /login`); `POST /refresh` and `POST /logout` take the refresh token instead.",
    "",
    "Single-task answers carry a strong `ETag`: send it back in `If-Match` on `PUT`, `PATCH` or",
    "`DELETE` to change the task only if nobody else has (412 otherwise), or in `If-None-Match` on",
    "`GET` for a 304 when it has not changed.",
  ].join("\n"),
};

/**
 * Adds `GET /openapi.json` to `app`: the OpenAPI 3.1 document of every route registered on it so
 * far and of itself. Call it after the other routes are mounted; the document is built once.
 *
 * @example
 * ```ts
 * app.route("/tasks", taskRoutes(deps));
 * serveOpenApi(app);
 * ```
 */
export function serveOpenApi(app: OpenAPIHono<AppEnv>): void {
  const route = createRoute({
    method: "get",
    path: "/openapi.json",
    tags: ["Documentation"],
    summary: "This document",
    description: "The OpenAPI 3.1 description of the API; import it into Postman or Insomnia.",
    responses: {
      200: {
        description: "The OpenAPI document",
        content: {
          "application/json": {
            schema: z.object({ openapi: z.string() }).passthrough().openapi({
              example: { openapi: "3.1.0" },
            }),
          },
        },
      },
    },
  });
  app.openAPIRegistry.registerComponent("securitySchemes", BEARER, {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "The access token from POST /login or POST /refresh",
  });
  let document: unknown;
  app.openapi(route, (c) => {
    document ??= app.getOpenAPI31Document({ openapi: "3.1.0", info: INFO });
    return c.json(document as { openapi: string }, 200);
  });
}
