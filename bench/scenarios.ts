/**
 * What `deno task bench` measures of the API, in one place: its servers, users, scenarios, ratios
 * and targets (the loader's are in loader_scenarios.ts). bench/run.ts says how to add to each.
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
import { fmtMs, judge, ratios, ratioTarget, type Target } from "./stats.ts";

export { LOADER_PLAN } from "./loader_scenarios.ts";

/** The body `POST /tasks` sends, and pgbench's INSERT (recorded from `insertTask` with it). */
export const POST_BODY = { title: "Benchmark task", description: "Created by the benchmark" };
/** No rate limits or lockouts: the load is the point. */
// The POST round inserts far more than a user's default 10,000 tasks: a limit that high still runs
// the quota check on every insert, without answering 403.
// 32 connections log in at once: a hash queue longer than that measures the hashing, not the
// capacity answer (503) that the default queue (4 × the cores) gives the excess.
export const API_ENV = {
  HASH_QUEUE: "64",
  LOGIN_MAX_FAILURES: "0",
  AUTH_REQUESTS_PER_MINUTE: "0",
  MAX_TASKS_PER_USER: "1000000000",
};
const GET = "/tasks?page=1&per_page=10";
/** `cli.ts serve` with {@linkcode API_ENV} and `env`. */
const serve = (env = {}) => ({ args: ["cli.ts", "serve"], env: () => ({ ...API_ENV, ...env }) });
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

const wrk = (id: string, label: string, http: HttpTarget, secondary = false): ApiScenario => ({
  id,
  label,
  http,
  secondary,
});
const PROTOCOLS = { extended: "extended", simple: "simple protocol", prepared: "" } as const;
/** pgbench of one script in the three protocols; `prepared` is the API's (named statements). */
const pgbench = (what: string, label: string, script: (c: ApiContext) => Promise<string>) =>
  (["extended", "simple", "prepared"] as const).map((protocol): ApiScenario => ({
    id: `pgbench_${what}_${protocol}`,
    label: `${label}, ${PROTOCOLS[protocol] || "prepared (the API's protocol)"}`,
    secondary: protocol !== "prepared",
    pgbench: { protocol, script },
  }));
/** `API <what> ÷ pgbench <protocol>` for each protocol, as lines of a {@linkcode ratios} table. */
const vsPgbench = (what: string, of: string, to: string) =>
  ["prepared", "extended", "simple"].map((p) =>
    `${of} ${to}_${p} API ${what} ÷ pgbench ${p}${p === "prepared" ? " (the API's protocol)" : ""}`
  ).join("\n");
/** wrk scenarios from a table, a scenario a line: `id server user path label` (user `-`: none). */
const table = (text: string) =>
  text.trim().split("\n").map((line) => {
    const [id, server, user, path, ...label] = line.trim().split(/\s+/);
    return wrk(id, label.join(" "), { server, path, ...(user === "-" ? {} : { user }) });
  });

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
const LIST_USERS = { list100: "100", list10k: "10,000" } as const;
const LIST_IDS = Object.keys(LIST_USERS).flatMap((u) =>
  Object.keys(LIST_PAGES).map((p) => [u, p] as [keyof typeof LIST_USERS, keyof typeof LIST_PAGES])
);
const LIST_RATIOS = ratios(
  LIST_IDS.slice(1).map(([u, p]) =>
    `${u}_${p} list100_plain list: ${p}, ${LIST_USERS[u]} tasks ÷ plain, 100 tasks`
  ).join("\n") + "\nlist10k_offset_last list100_plain list: page=1000 by OFFSET ÷ plain, 100 tasks",
);

export const API_PLAN: ApiPlan = {
  servers: {
    api: serve(),
    api_workers2: serve({ WORKERS: "2" }),
    // DATABASE_POOLER=transaction straight to PostgreSQL: unnamed statements, and nothing else.
    api_unnamed: serve({ DATABASE_POOLER: "transaction" }),
    api_pgbouncer: { ...serve(), pooler: true },
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
    ...LIST_IDS.map(([user, page]) =>
      wrk(`${user}_${page}`, `API ${LIST_PAGES[page][0]}, ${LIST_USERS[user]} tasks`, {
        server: "api",
        path: LIST_PAGES[page][1],
        user,
      })
    ),
    wrk("list10k_offset_last", "API last page by `page=1000` (OFFSET 9990), 10,000 tasks", {
      server: "api",
      path: "/tasks?per_page=10&page=1000",
      user: "list10k",
    }, true),
    ...table(`
      api_get           api           get  ${GET}  API \`GET ${GET}\` (1,000 tasks)
      api_get_workers2  api_workers2  get  ${GET}  API \`GET /tasks\`, \`WORKERS=2\` (two isolates on one port)
      api_get_unnamed   api_unnamed   get  ${GET}  API \`GET /tasks\`, unnamed statements (\`DATABASE_POOLER=transaction\`, direct)
      api_get_pgbouncer api_pgbouncer get  ${GET}  API \`GET /tasks\` through PgBouncer (transaction mode, unnamed statements)
    `),
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
    ...table(`
      bare_pg_get bare_pg -  /tasks  bare Deno.serve + node-postgres, same SQL (no framework, no auth)
      bare_get    bare    -  /tasks  bare Deno.serve + Hono route (no auth, no DB)
    `),
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
      body: JSON.stringify({ username: usernameOf("login"), password: PASSWORD }),
      timeoutSec: 30,
    }, true),
  ],
  ratios: [
    ...LIST_RATIOS,
    ...ratios(`
      api_get_workers2  api_get              API GET, WORKERS=2 ÷ WORKERS=1
      api_get_unnamed   api_get              API GET, unnamed ÷ named statements (direct)
      api_get_pgbouncer api_get_unnamed      API GET through PgBouncer ÷ direct, both unnamed (the pooler's hop)
      api_get_pgbouncer api_get              API GET through PgBouncer ÷ direct with named statements (the whole cost)
      ${vsPgbench("GET", "api_get", "pgbench_get")}
      api_get           bare_pg_get          API GET ÷ bare Deno + node-postgres server (the app's own cost)
      bare_pg_get       pgbench_get_prepared bare Deno + node-postgres ÷ pgbench prepared (the driver's and Deno's cost)
      api_get           bare_get             API GET ÷ bare Hono route
      ${vsPgbench("POST", "api_post", "pgbench_post")}
    `),
  ],
};

/** Every target: the loader's, issue 4's API ones and issue 10's list pages (each ≥ 0.8). */
export const TARGETS: Target[] = [
  ...LOADER_TARGETS,
  ratioTarget(
    "api",
    "`GET /tasks` requests/s ÷ pgbench of its own SQL (prepared, the driver's protocol, 16 clients)",
    ["api_get", "pgbench_get_prepared"],
    0.3,
    0.5,
  ),
  {
    figure: () => "`GET /tasks` p99 at 32 connections",
    bar: "≤ 50 ms",
    goal: "≤ 10 ms",
    measure: (f) =>
      judge(
        f.api?.scenarios.find((s) => s.id === "api_get")?.p99,
        (v) => v <= 50,
        (v) => v <= 10,
        fmtMs,
      ),
  },
  ...LIST_RATIOS.filter((r) => r.of !== "list10k_offset_last").map((r) =>
    ratioTarget("api", r.label, [r.of, r.to], undefined, 0.8)
  ),
  // "No slower than before" (bench/baseline.ts): 0.95 as the bar for this machine's noise.
  ...(["get", "post"] as const).map((what) =>
    ratioTarget(
      "api",
      `\`${what.toUpperCase()} /tasks\` requests/s ÷ the baseline commit's (same run, alternating)`,
      [`baseline_${what}_now`, `baseline_${what}`],
      0.95,
      1.0,
    )
  ),
];
