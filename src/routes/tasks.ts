/**
 * `/tasks`: create, list (filtered, sorted, paged), read, update (`PUT` and `PATCH` alike) and
 * delete the caller's tasks. Every route needs an access token. Each route is described by the
 * zod schemas that validate it (`task_schemas.ts`, `task_query.ts`), which also make the OpenAPI
 * document.
 *
 * @module
 */
import { createRoute, type OpenAPIHono, type RouteHandler, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { requireAccessToken } from "../auth/bearer.ts";
import type { RevocationList } from "../auth/revocations.ts";
import type { TokenService } from "../auth/tokens.ts";
import type { Database } from "../db/database.ts";
import { listTasks } from "../db/task_list.ts";
import {
  deleteTask,
  findTask,
  insertTask,
  type Task,
  updateTask,
  type VersionedTask,
  type WriteResult,
} from "../db/tasks.ts";
import { AppError } from "../errors.ts";
import { ifMatchVersions, noneMatchHits, taskEtag } from "../etag.ts";
import { type AuthedEnv, jsonBody, protectedApp } from "../http.ts";
import { bearerSecurity, errorResponses, messageContent } from "../openapi.ts";
import { linkHeader } from "../pagination.ts";
import { ListQuerySchema, listRequest } from "./task_query.ts";
import {
  CreatedSchema,
  EtagHeader,
  IfMatchHeaders,
  IfNoneMatchHeaders,
  NewTaskSchema,
  PageHeaders,
  TaskChangesSchema,
  TaskIdParams,
  TaskPageSchema,
  TaskSchema,
  UpdatedSchema,
} from "./task_schemas.ts";

const common = { tags: ["Tasks"], security: bearerSecurity };
const json = <S>(schema: S) => ({ "application/json": { schema } });
const jsonRequest = <S>(schema: S, description: string) => ({
  required: true,
  description,
  content: json(schema),
});

const createTaskRoute = createRoute({
  ...common,
  method: "post",
  path: "/",
  summary: "Create a task",
  middleware: [jsonBody] as const,
  request: { body: jsonRequest(NewTaskSchema, "The new task; unknown fields are refused") },
  responses: {
    201: {
      description: "Created; `Location` is the task's URL",
      headers: EtagHeader.extend({
        Location: z.string().openapi({ description: "The task's path", example: "/tasks/7" }),
      }),
      content: json(CreatedSchema),
    },
    ...errorResponses(400, 401, 403, 413, 503),
  },
});

const listTasksRoute = createRoute({
  ...common,
  method: "get",
  path: "/",
  summary: "List tasks, a page at a time",
  description: "The caller's tasks, filtered, sorted and paged. `X-Total-Count` counts every " +
    "task that matches the filter; `Link` leads to the other pages with the same filter and " +
    "sort. `page=N` still works, but following `Link` (keyset cursors) costs the same on any " +
    "page, however many tasks there are.",
  request: { query: ListQuerySchema },
  responses: {
    200: { description: "One page of tasks", headers: PageHeaders, content: json(TaskPageSchema) },
    ...errorResponses(400, 401, 503),
  },
});

const getTaskRoute = createRoute({
  ...common,
  method: "get",
  path: "/{id}",
  summary: "Read a task",
  request: { params: TaskIdParams, headers: IfNoneMatchHeaders },
  responses: {
    200: { description: "The task", headers: EtagHeader, content: json(TaskSchema) },
    304: { description: "Not modified: `If-None-Match` has the current ETag", headers: EtagHeader },
    ...errorResponses(401, 404, 503),
  },
});

const updateResponses = {
  200: {
    description: "Updated: the task as it now is",
    headers: EtagHeader,
    content: json(UpdatedSchema),
  },
  ...errorResponses(400, 401, 404, 412, 413, 503),
};

function updateRoute(method: "put" | "patch") {
  return createRoute({
    ...common,
    method,
    path: "/{id}",
    summary: method === "put" ? "Update a task" : "Update a task (same as PUT)",
    description: "Changes the fields given; the others keep their value. With `If-Match`, only " +
      "if the task is still at that ETag (checked by the update itself).",
    middleware: [jsonBody] as const,
    request: {
      params: TaskIdParams,
      headers: IfMatchHeaders,
      body: jsonRequest(TaskChangesSchema, "At least one field; unknown fields are refused"),
    },
    responses: updateResponses,
  });
}
const putTaskRoute = updateRoute("put");
const patchTaskRoute = updateRoute("patch");

const deleteTaskRoute = createRoute({
  ...common,
  method: "delete",
  path: "/{id}",
  summary: "Delete a task",
  description: "With `If-Match`, only if the task is still at that ETag.",
  request: { params: TaskIdParams, headers: IfMatchHeaders },
  responses: {
    200: {
      description: "Deleted",
      content: messageContent("Task deleted successfully", "TaskDeleted"),
    },
    ...errorResponses(401, 404, 412, 503),
  },
});

/** What {@linkcode taskRoutes} needs. */
export interface TaskRouteDeps {
  db: Database;
  tokens: TokenService;
  revocations: RevocationList;
  /** `PUBLIC_URL`, for absolute `Link` references; relative ones without it. */
  publicUrl?: string;
  /** `MAX_TASKS_PER_USER`: past it `POST /tasks` answers 403. 0 or absent: no limit. */
  maxTasksPerUser?: number;
}

/** The task as the API shows it, without its version; sets its ETag on the answer. */
function withEtag(c: Context, row: VersionedTask): Task {
  const { version, ...task } = row;
  c.header("ETag", taskEtag(task.id, version));
  return task;
}

/** The task a write touched, or the error that says why it touched none. */
function written(result: WriteResult, id: number): VersionedTask {
  if (result.kind === "missing") throw AppError.notFound("Task not found");
  if (result.kind === "stale") {
    const now = taskEtag(id, result.version);
    throw AppError.http(
      412,
      `The task has changed: its ETag is now ${now}, not one in If-Match (nothing was changed)`,
      { headers: { ETag: now } },
    );
  }
  return result.task;
}

/**
 * The task routes, to mount at `/tasks`. Every one needs an access token.
 *
 * @example
 * ```ts
 * app.route("/tasks", taskRoutes({ db, tokens, revocations }));
 * ```
 */
export function taskRoutes(deps: TaskRouteDeps): OpenAPIHono<AuthedEnv> {
  const { db, publicUrl } = deps;
  const app = protectedApp(requireAccessToken(deps));
  // Links name the list by its mount point, never by the request's Host.
  const listPath = `${publicUrl ?? ""}/tasks`;

  app.openapi(createTaskRoute, async (c) => {
    const max = deps.maxTasksPerUser ?? 0;
    const inserted = await insertTask(db, c.var.userId, c.req.valid("json"), max);
    if (!inserted) {
      throw AppError.http(403, `Task limit reached: at most ${max} tasks per user`);
    }
    const task = withEtag(c, inserted);
    c.header("Location", `/tasks/${task.id}`);
    return c.json({ message: "Task created successfully" as const, id: task.id, task }, 201);
  });

  app.openapi(listTasksRoute, async (c) => {
    const request = listRequest(c.req.valid("query"));
    const page = await listTasks(db, c.var.userId, request);
    c.header("X-Total-Count", String(page.total));
    c.header("Link", linkHeader(listPath, request, page));
    return c.json(page.tasks, 200);
  });

  app.openapi(getTaskRoute, async (c) => {
    const row = await findTask(db, c.var.userId, Number(c.req.valid("param").id));
    if (!row) throw AppError.notFound("Task not found");
    const task = withEtag(c, row);
    if (noneMatchHits(c.req.header("If-None-Match"), taskEtag(row.id, row.version))) {
      return c.body(null, 304);
    }
    return c.json(task, 200);
  });

  const update: RouteHandler<typeof putTaskRoute | typeof patchTaskRoute, AuthedEnv> = async (
    c,
  ) => {
    const id = Number(c.req.valid("param").id);
    const ifMatch = ifMatchVersions(c.req.header("If-Match"), id);
    const result = await updateTask(db, c.var.userId, id, c.req.valid("json"), ifMatch);
    const task = withEtag(c, written(result, id));
    return c.json({ message: "Task updated successfully" as const, task }, 200);
  };
  app.openapi(putTaskRoute, update);
  app.openapi(patchTaskRoute, update);

  app.openapi(deleteTaskRoute, async (c) => {
    const id = Number(c.req.valid("param").id);
    const ifMatch = ifMatchVersions(c.req.header("If-Match"), id);
    written(await deleteTask(db, c.var.userId, id, ifMatch), id);
    return c.json({ message: "Task deleted successfully" as const }, 200);
  });

  return app;
}
