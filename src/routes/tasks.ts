/**
 * `/tasks`: create, list (paginated), read, update (`PUT` and `PATCH` alike) and delete the
 * caller's tasks.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { z } from "zod";
import { requireAccessToken } from "../auth/bearer.ts";
import type { RevocationList } from "../auth/revocations.ts";
import type { TokenService } from "../auth/tokens.ts";
import type { Database } from "../db/database.ts";
import {
  deleteTask,
  findTask,
  insertTask,
  listTasks,
  TASK_STATUSES,
  updateTask,
} from "../db/tasks.ts";
import { AppError } from "../errors.ts";
import { type AppEnv, readJson, textField } from "../http.ts";
import { linkHeader, parsePageRequest } from "../pagination.ts";

const title = textField("title", { min: 1, max: 200 })
  .refine((s) => s.trim() !== "", "title must not be blank");
const description = textField("description", { min: 0, max: 10_000 });
const status = z.enum(TASK_STATUSES, {
  error: (issue) =>
    `status must be one of ${TASK_STATUSES.join(", ")}, got ${
      JSON.stringify(issue.input)?.slice(0, 40)
    }`,
});

// Unknown fields are refused rather than ignored: a typo such as "tilte" should not look like
// success.
const createBody = z.strictObject({
  title,
  description: description.optional(),
  status: status.optional(),
});
const updateBody = z.strictObject({
  title: title.optional(),
  description: description.optional(),
  status: status.optional(),
}).refine(
  (b) => b.title !== undefined || b.description !== undefined || b.status !== undefined,
  "Nothing to update: give at least one of title, description, status",
);

// Path ids that are not positive int4 values cannot name a task: a 404 like a missing one.
function taskId(raw: string): number {
  const n = /^[1-9]\d{0,9}$/.test(raw) ? Number(raw) : 0;
  if (n < 1 || n > 2_147_483_647) throw AppError.notFound("Task not found");
  return n;
}

/** What {@linkcode taskRoutes} needs. */
export interface TaskRouteDeps {
  db: Database;
  tokens: TokenService;
  revocations: RevocationList;
  /** `PUBLIC_URL`, for absolute `Link` references; relative ones without it. */
  publicUrl?: string;
}

/**
 * The task routes, to mount at `/tasks`. Every one needs an access token.
 *
 * @example
 * ```ts
 * app.route("/tasks", taskRoutes({ db, tokens }));
 * ```
 */
export function taskRoutes(deps: TaskRouteDeps): Hono<AppEnv> {
  const { db, publicUrl } = deps;
  const app = new Hono<AppEnv>();
  app.use(requireAccessToken(deps));

  app.post("/", async (c) => {
    const task = await insertTask(db, c.var.userId!, await readJson(c, createBody));
    c.header("Location", `/tasks/${task.id}`);
    return c.json({ message: "Task created successfully", id: task.id, task }, 201);
  });

  app.get("/", async (c) => {
    const page = parsePageRequest(c.req.query());
    const { tasks, total } = await listTasks(db, c.var.userId!, {
      limit: page.perPage,
      offset: (page.page - 1) * page.perPage,
    });
    c.header("X-Total-Count", String(total));
    const url = c.req.url;
    const query = url.includes("?") ? url.slice(url.indexOf("?") + 1) : "";
    c.header("Link", linkHeader(c.req.path, query, { ...page, total, base: publicUrl }));
    return c.json(tasks);
  });

  app.get("/:id", async (c) => {
    const task = await findTask(db, c.var.userId!, taskId(c.req.param("id")));
    if (!task) throw AppError.notFound("Task not found");
    return c.json(task);
  });

  const update = async (c: Context<AppEnv, "/:id">) => {
    const id = taskId(c.req.param("id"));
    const task = await updateTask(db, c.var.userId!, id, await readJson(c, updateBody));
    if (!task) throw AppError.notFound("Task not found");
    return c.json({ message: "Task updated successfully", task });
  };
  app.put("/:id", update);
  app.patch("/:id", update);

  app.delete("/:id", async (c) => {
    if (!await deleteTask(db, c.var.userId!, taskId(c.req.param("id")))) {
      throw AppError.notFound("Task not found");
    }
    return c.json({ message: "Task deleted successfully" });
  });

  return app;
}
