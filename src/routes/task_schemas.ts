/**
 * The zod schemas of the task routes: what they validate (bodies, the path's id, conditional
 * headers) and what they answer, with the examples the OpenAPI document shows. The messages name
 * the field and quote the bad value.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import { TASK_STATUSES } from "../db/tasks.ts";
import { jsonObject, textField } from "../http.ts";

const EXAMPLE_TASK = {
  id: 7,
  title: "Write the report",
  description: "Two pages, with the figures from March.",
  status: "in_progress",
  created_at: "2025-03-01T09:30:00.000Z",
  updated_at: "2025-03-02T14:05:12.345Z",
} as const;

/** A task's status. */
export const TaskStatusSchema = z.enum(TASK_STATUSES, {
  error: (issue) =>
    `status must be one of ${TASK_STATUSES.join(", ")}, got ${
      JSON.stringify(issue.input)?.slice(0, 40)
    }`,
}).openapi({ description: "`pending` (the default), `in_progress` or `completed`" });

const title = textField("title", { min: 1, max: 200 })
  .refine((s) => s.trim() !== "", "title must not be blank")
  .openapi({ pattern: "\\S", description: "1 to 200 characters, not only spaces" });
const description = textField("description", { min: 0, max: 10_000 })
  .openapi({ description: "Up to 10,000 characters" });

/** A timestamp as the API writes it: ISO 8601, UTC, milliseconds. */
const timestamp = z.iso.datetime();

/** A task as the API shows it. */
export const TaskSchema = z.object({
  id: z.int().min(1).openapi({ example: 7 }),
  title: z.string(),
  description: z.string(),
  status: TaskStatusSchema,
  created_at: timestamp,
  updated_at: timestamp,
}).openapi("Task", { example: EXAMPLE_TASK });

/** `POST /tasks`: a title, and optionally a description and a status. */
export const NewTaskSchema = jsonObject({
  title,
  description: description.optional(),
  status: TaskStatusSchema.optional(),
}).openapi("NewTask", {
  example: { title: "Write the report", description: "Two pages, with the figures from March." },
});

/** `PUT` or `PATCH /tasks/{id}`: any of the fields, at least one; the others keep their value. */
export const TaskChangesSchema = jsonObject({
  title: title.optional(),
  description: description.optional(),
  status: TaskStatusSchema.optional(),
}).refine(
  (b) => b.title !== undefined || b.description !== undefined || b.status !== undefined,
  "Nothing to update: give at least one of title, description, status",
).openapi("TaskChanges", { minProperties: 1, example: { status: "completed" } });

/** The path of a single task. An id that is not a positive int4 names no task: a 404. */
export const TaskIdParams = z.object({
  id: z.string({ error: "Task not found" })
    .regex(/^[1-9]\d{0,9}$/, "Task not found")
    .refine((s) => Number(s) <= 2_147_483_647, "Task not found")
    .openapi({
      param: { name: "id", in: "path", description: "The task's id" },
      example: "7",
    }),
});

const etagExample = '"7.2"';

/** `ETag` on every answer that carries one task. */
export const EtagHeader = z.object({
  ETag: z.string().openapi({
    description: "The task's strong entity tag: changes with every change to the task",
    example: etagExample,
  }),
});

/** `If-None-Match` on `GET /tasks/{id}`. */
export const IfNoneMatchHeaders = z.object({
  "If-None-Match": z.string().optional().openapi({
    description: "ETags you have; 304 when one is the task's current ETag (or `*`)",
    example: etagExample,
  }),
});

/** `If-Match` on `PUT`, `PATCH` and `DELETE /tasks/{id}`. */
export const IfMatchHeaders = z.object({
  "If-Match": z.string().optional().openapi({
    description: "Change the task only if its current ETag is one of these (or `*`); 412 if not",
    example: etagExample,
  }),
});

/** `POST /tasks` answers the new task, and its id on its own (the contract's shape). */
export const CreatedSchema = z.object({
  message: z.literal("Task created successfully"),
  id: z.int().min(1),
  task: TaskSchema,
}).openapi("TaskCreated", {
  example: { message: "Task created successfully", id: 7, task: EXAMPLE_TASK },
});

/** `PUT` / `PATCH` answer the task as it now is. */
export const UpdatedSchema = z.object({
  message: z.literal("Task updated successfully"),
  task: TaskSchema,
}).openapi("TaskUpdated", {
  example: { message: "Task updated successfully", task: EXAMPLE_TASK },
});

/** `GET /tasks` answers one page: an array of tasks. */
export const TaskPageSchema = z.array(TaskSchema).openapi("TaskPage", {
  example: [EXAMPLE_TASK],
});

/** Headers of a page of tasks. */
export const PageHeaders = z.object({
  "X-Total-Count": z.string().regex(/^\d+$/).openapi({
    description: "How many tasks match the filter, on every page",
    example: "23",
  }),
  Link: z.string().openapi({
    description: "RFC 8288 links to the `first`, `prev`, `next` and `last` pages, keeping the " +
      "filter and sort; `prev` is absent on the first page, `next` on the last. They page with " +
      "keyset cursors (`after`, `before`), so following them never skips rows by offset.",
    example: '</tasks?per_page=5>; rel="first", </tasks?per_page=5&after=WyJpZCIsbnVsbCw1XQ>; ' +
      'rel="next", </tasks?per_page=5&before=end>; rel="last"',
  }),
});
