/**
 * What `deno task bench` measures, in one place: the API's servers, users, scenarios and ratios,
 * and the targets (the loader's inputs, runs, ratios and targets are in loader_scenarios.ts).
 * bench/run.ts says how to add to each.
 *
 * @module
 */
import { firstPage, listTasks } from "../src/db/task_list.ts";
import { insertTask } from "../src/db/tasks.ts";
import {
  type ApiContext,
  type ApiPlan,
  type ApiScenario,
  type HttpTarget,
  PASSWORD,
  usernameOf,
} from "./api_bench.ts";
import { pgbenchScript } from "./load_gen.ts";
import { LOADER_TARGETS } from "./loader_scenarios.ts";
import { fmt, fmtMs } from "./stats.ts";
import { atLeast, ratioOf, type Target } from "./targets.ts";

export { LOADER_PLAN } from "./loader_scenarios.ts";
export type { Target } from "./targets.ts";

/** The body `POST /tasks` sends, and pgbench's INSERT (recorded from `insertTask` with it). */
const POST_BODY = { title: "Benchmark task", description: "Created by the benchmark" };
const LOGIN_BODY = { username: usernameOf("login"), password: PASSWORD };
/** No rate limits or lockouts: the load is the point. */
// The POST round inserts far more than a user's default 10,000 tasks: a limit that high still runs
// the quota check on every insert, without answering 403.
const API_ENV = {
  LOGIN_MAX_FAILURES: "0",
  AUTH_REQUESTS_PER_MINUTE: "0",
  MAX_TASKS_PER_USER: "1000000000",
};
/** A two-statement page: not what the API runs, kept to compare with its one statement. */
const SPLIT_PAGE = (uid: number) =>
  pgbenchScript([
    {
      sql: "SELECT id, title, description, status, created_at, updated_at FROM tasks " +
        "WHERE user_id = $1 ORDER BY id LIMIT $2 OFFSET $3",
      params: [uid, 10, 0],
    },
    { sql: "SELECT count(*)::int AS total FROM tasks WHERE user_id = $1", params: [uid] },
  ]);

const PROTOCOL_LABELS = {
  extended: "extended",
  simple: "simple protocol",
  prepared: "prepared (the API's protocol)",
};

const wrk = (id: string, label: string, http: HttpTarget, secondary = false): ApiScenario => ({
  id,
  label,
  http,
  secondary,
});
/** pgbench of one script in the three protocols; `prepared` is the API's (named statements). */
const pgbench = (what: string, label: string, script: (c: ApiContext) => Promise<string>) =>
  (["extended", "simple", "prepared"] as const).map((protocol): ApiScenario => ({
    id: `pgbench_${what}_${protocol}`,
    label: `${label}, ${PROTOCOL_LABELS[protocol]}`,
    secondary: protocol !== "prepared",
    pgbench: { protocol, script },
  }));

/**
 * Lists that cost the same at 10,000 tasks as at 100 (issue 10): the plain first page, the last
 * page (`before=end`, what `Link`'s `last` says) and a filtered, searched, sorted page, for users
 * with 100 and 10,000 tasks (seeded titles "Task N", so `q=7` matches about a third of them).
 * `page=1000` is the last page by OFFSET, kept to show what the cursor saves.
 */
const LIST_PAGES = {
  plain: ["`GET /tasks?per_page=10`", "/tasks?per_page=10"],
  last: ["last page (`before=end`)", "/tasks?per_page=10&before=end"],
  filtered: [
    "`status=completed&sort=-created_at&q=7`",
    "/tasks?status=completed&sort=-created_at&q=7&per_page=10",
  ],
} as const;
const LIST_SCENARIOS: ApiScenario[] = [
  ...(["list100", "list10k"] as const).flatMap((user) =>
    Object.entries(LIST_PAGES).map(([page, [label, path]]) =>
      wrk(
        `${user}_${page}`,
        `API ${label}, ${user === "list100" ? "100" : "10,000"} tasks`,
        { server: "api", path, user },
      )
    )
  ),
  wrk("list10k_offset_last", "API last page by `page=1000` (OFFSET 9990), 10,000 tasks", {
    server: "api",
    path: "/tasks?per_page=10&page=1000",
    user: "list10k",
  }, true),
];
const LIST_RATIOS = [
  ...(["list100", "list10k"] as const).flatMap((user) =>
    Object.keys(LIST_PAGES).filter((page) => `${user}_${page}` !== "list100_plain").map((page) => ({
      label: `list: ${page}, ${user === "list100" ? "100" : "10,000"} tasks ÷ plain, 100 tasks`,
      of: `${user}_${page}`,
      to: "list100_plain",
    }))
  ),
  {
    label: "list: page=1000 by OFFSET ÷ plain, 100 tasks",
    of: "list10k_offset_last",
    to: "list100_plain",
  },
];

export const API_PLAN: ApiPlan = {
  servers: {
    api: { args: ["cli.ts", "serve"], env: () => API_ENV },
    api_workers2: { args: ["cli.ts", "serve"], env: () => ({ ...API_ENV, WORKERS: "2" }) },
    // DATABASE_POOLER=transaction straight to PostgreSQL: unnamed statements, and nothing else.
    api_unnamed: {
      args: ["cli.ts", "serve"],
      env: () => ({ ...API_ENV, DATABASE_POOLER: "transaction" }),
    },
    api_pgbouncer: { args: ["cli.ts", "serve"], env: () => API_ENV, pooler: true },
    bare: { args: ["bench/bare_server.ts"] },
    bare_pg: {
      args: ["bench/bare_server.ts"],
      env: (c) => ({ BARE_PG_USER_ID: `${c.users.get.id}` }),
    },
  },
  users: {
    get: { tasks: 1000 },
    post: { tasks: 0 },
    login: { tasks: 0 },
    list100: { tasks: 100 },
    list10k: { tasks: 10_000 },
  },
  scenarios: [
    ...LIST_SCENARIOS,
    wrk("api_get", "API `GET /tasks?page=1&per_page=10` (1,000 tasks)", {
      server: "api",
      path: "/tasks?page=1&per_page=10",
      user: "get",
    }),
    wrk("api_get_workers2", "API `GET /tasks`, `WORKERS=2` (two isolates on one port)", {
      server: "api_workers2",
      path: "/tasks?page=1&per_page=10",
      user: "get",
    }),
    wrk(
      "api_get_unnamed",
      "API `GET /tasks`, unnamed statements (`DATABASE_POOLER=transaction`, direct)",
      {
        server: "api_unnamed",
        path: "/tasks?page=1&per_page=10",
        user: "get",
      },
    ),
    wrk(
      "api_get_pgbouncer",
      "API `GET /tasks` through PgBouncer (transaction mode, unnamed statements)",
      {
        server: "api_pgbouncer",
        path: "/tasks?page=1&per_page=10",
        user: "get",
      },
    ),
    ...pgbench(
      "get",
      "pgbench, same SQL",
      (c) => c.sqlOf((q) => listTasks(q, c.users.get.id, firstPage(10))),
    ),
    {
      id: "pgbench_get_split_extended",
      label: "pgbench, page + separate `count(*)`, two statements (not the API's SQL), extended",
      secondary: true,
      pgbench: { protocol: "extended", script: (c) => SPLIT_PAGE(c.users.get.id) },
    },
    wrk("bare_pg_get", "bare Deno.serve + node-postgres, same SQL (no framework, no auth)", {
      server: "bare_pg",
      path: "/tasks",
    }),
    wrk("bare_get", "bare Deno.serve + Hono route (no auth, no DB)", {
      server: "bare",
      path: "/tasks",
    }),
    wrk("api_post", "API `POST /tasks`", {
      server: "api",
      path: "/tasks",
      method: "POST",
      user: "post",
      body: JSON.stringify(POST_BODY),
    }),
    ...pgbench(
      "post",
      "pgbench, same INSERT",
      (c) => c.sqlOf((q) => insertTask(q, c.users.post.id, POST_BODY)),
    ),
    wrk("api_login", "API `POST /login` (argon2id-bound)", {
      server: "api",
      path: "/login",
      method: "POST",
      body: JSON.stringify(LOGIN_BODY),
      timeoutSec: 30,
    }, true),
  ],
  ratios: [
    ...LIST_RATIOS,
    { label: "API GET, WORKERS=2 ÷ WORKERS=1", of: "api_get_workers2", to: "api_get" },
    { label: "API GET, unnamed ÷ named statements (direct)", of: "api_get_unnamed", to: "api_get" },
    {
      label: "API GET through PgBouncer ÷ direct, both unnamed (the pooler's hop)",
      of: "api_get_pgbouncer",
      to: "api_get_unnamed",
    },
    {
      label: "API GET through PgBouncer ÷ direct with named statements (the whole cost)",
      of: "api_get_pgbouncer",
      to: "api_get",
    },
    ...["prepared", "extended", "simple"].map((p) => ({
      label: `API GET ÷ pgbench ${p}${p === "prepared" ? " (the API's protocol)" : ""}`,
      of: "api_get",
      to: `pgbench_get_${p}`,
    })),
    {
      label: "API GET ÷ bare Deno + node-postgres server (the app's own cost)",
      of: "api_get",
      to: "bare_pg_get",
    },
    {
      label: "bare Deno + node-postgres ÷ pgbench prepared (the driver's and Deno's cost)",
      of: "bare_pg_get",
      to: "pgbench_get_prepared",
    },
    { label: "API GET ÷ bare Hono route", of: "api_get", to: "bare_get" },
    ...["prepared", "extended", "simple"].map((p) => ({
      label: `API POST ÷ pgbench ${p}${p === "prepared" ? " (the API's protocol)" : ""}`,
      of: "api_post",
      to: `pgbench_post_${p}`,
    })),
  ],
};

/** Issue 10's goal: every list page ≥ 0.8 × the plain page of the user with 100 tasks. */
const LIST_TARGETS: Target[] = LIST_RATIOS.filter((r) => r.of !== "list10k_offset_last").map((
  r,
) => ({
  figure: () => r.label,
  bar: "—",
  goal: "≥ 0.8",
  measure: (f) => {
    const v = ratioOf(f.api?.ratios, r.of, r.to);
    return v === undefined || !Number.isFinite(v)
      ? undefined
      : { shown: fmt(v), bar: true, goal: v >= 0.8 };
  },
}));

/** The targets of issue 4. */
export const TARGETS: Target[] = [
  ...LOADER_TARGETS,
  {
    figure: () =>
      "`GET /tasks` requests/s ÷ pgbench of its own SQL (prepared, the driver's protocol, 16 clients)",
    bar: "≥ 0.3",
    goal: "≥ 0.5",
    measure: (f) => atLeast(ratioOf(f.api?.ratios, "api_get", "pgbench_get_prepared"), 0.3, 0.5),
  },
  {
    figure: () => "`GET /tasks` p99 at 32 connections",
    bar: "≤ 50 ms",
    goal: "≤ 10 ms",
    measure: (f) => {
      const p99 = f.api?.scenarios.find((s) => s.id === "api_get")?.p99;
      return p99 === undefined || !Number.isFinite(p99)
        ? undefined
        : { shown: fmtMs(p99), bar: p99 <= 50, goal: p99 <= 10 };
    },
  },
  ...LIST_TARGETS,
];
