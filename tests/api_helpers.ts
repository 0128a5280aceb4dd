/**
 * The API under test: `createApp` over a test database, and small helpers to call it over HTTP
 * semantics (`app.request`) without a socket. {@linkcode apiSuite} gives a test file one database
 * and app, opened when its test starts and closed when it ends, so the sanitizers stay on.
 */
import { configure, type LogRecord, reset } from "@logtape/logtape";
import type { Hono } from "hono";
import { createApp } from "../src/app.ts";
import { securityFrom, type ServerConfig } from "../src/config.ts";
import type { Database } from "../src/db/database.ts";
import type { AppEnv } from "../src/http.ts";
import { openTestDb, uniqueName } from "./db_helpers.ts";

export const TEST_SECRET = "test-secret-that-is-at-least-32-bytes-long!";

/** A server config for tests; rate limits by address are off unless a test turns them on. */
export function testConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  return {
    host: "127.0.0.1",
    port: 0,
    dataDir: "./data",
    pooler: "none",
    jwtSecret: TEST_SECRET,
    jwtSecretSource: "env",
    accessTokenTtlSeconds: 3600,
    refreshTokenTtlSeconds: 86400,
    logLevel: "error",
    logFormat: "text",
    metrics: true,
    workers: 1,
    maxBodyBytes: 1024 * 1024,
    loginMaxFailures: 10,
    loginWindowSeconds: 900,
    authRequestsPerMinute: 0,
    ...securityFrom({}),
    ...overrides,
  };
}

/** An answer, its body already parsed. */
export interface Answer {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  body: any;
}

/** Options for {@linkcode TestApi.call}. */
export interface CallOptions {
  /** Sent as JSON; a string is sent as is. */
  body?: unknown;
  token?: string;
  headers?: Record<string, string>;
  /** The client address the app sees. */
  from?: string;
}

export interface TestApi extends AsyncDisposable {
  app: Hono<AppEnv>;
  db: Database;
  config: ServerConfig;
  /** The clock the app reads: tests move it instead of sleeping. */
  clock: TestClock;
  call(method: string, path: string, options?: CallOptions): Promise<Answer>;
  /** Registers a fresh user and logs in. */
  newUser(): Promise<{ username: string; password: string; token: string; refresh: string }>;
  /** Another app (as in another process) with other settings, over the same database and clock. */
  withConfig(overrides: Partial<ServerConfig>): TestApi;
  close(): Promise<void>;
}

/** A clock that stands still until a test moves it. */
export class TestClock {
  ms: number = Date.now();
  /** The clock as the app reads it. */
  readonly now = (): number => this.ms;
  /** Moves time forward. */
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

/**
 * Opens a test database and an app over it.
 *
 * @example
 * ```ts
 * const api = await openTestApi();
 * const { token } = await api.newUser();
 * const res = await api.call("GET", "/tasks", { token });
 * ```
 */
export async function openTestApi(overrides: Partial<ServerConfig> = {}): Promise<TestApi> {
  const t = await openTestDb();
  const config = testConfig({ dataDir: t.dataDir, ...overrides });
  const clock = new TestClock();
  const app = createApp({ db: t.db, config, clock: clock.now });
  return wrap(app, t.db, config, () => t.close(), clock);
}

/**
 * Registers one test for a file's API suite: it opens a database and an app, runs each case as a
 * step, and closes them when it ends, whatever happened.
 *
 * @example
 * ```ts
 * const test = apiSuite("tasks");
 * test("create answers 201", async (api) => {
 *   const { token } = await api.newUser();
 *   assert.equal((await api.call("POST", "/tasks", { token, body: { title: "t" } })).status, 201);
 * });
 * ```
 */
export function apiSuite(
  name: string,
  overrides: Partial<ServerConfig> = {},
): (name: string, fn: (api: TestApi) => Promise<void>) => void {
  const cases: [string, (api: TestApi) => Promise<void>][] = [];
  Deno.test(name, async (t) => {
    await using api = await openTestApi(overrides);
    for (const [caseName, fn] of cases) await t.step(caseName, () => fn(api));
  });
  return (caseName, fn) => void cases.push([caseName, fn]);
}

/** Wraps an app built elsewhere (e.g. over a database that goes away). */
export function wrap(
  app: Hono<AppEnv>,
  db: Database,
  config: ServerConfig,
  close: () => Promise<void>,
  clock: TestClock = new TestClock(),
): TestApi {
  const api: TestApi = {
    app,
    db,
    config,
    clock,
    async call(method, path, options = {}) {
      const headers = new Headers(options.headers);
      if (options.token) headers.set("Authorization", `Bearer ${options.token}`);
      let body: string | undefined;
      if (options.body !== undefined) {
        body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
        headers.set("Content-Type", "application/json");
      }
      const env = {
        remoteAddr: { transport: "tcp" as const, hostname: options.from ?? "192.0.2.1", port: 1 },
      };
      const res = await app.request(path, { method, headers, body }, env);
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
    },
    async newUser() {
      const username = uniqueName("user");
      const password = "securepassword";
      const reg = await api.call("POST", "/register", { body: { username, password } });
      if (reg.status !== 201) {
        throw new Error(`register: ${reg.status} ${JSON.stringify(reg.body)}`);
      }
      const res = await api.call("POST", "/login", { body: { username, password } });
      if (res.status !== 200) throw new Error(`login: ${res.status} ${JSON.stringify(res.body)}`);
      return { username, password, token: res.body.access_token, refresh: res.body.refresh_token };
    },
    withConfig(overrides) {
      const other = testConfig({ ...config, ...overrides });
      return wrap(
        createApp({ db, config: other, clock: clock.now }),
        db,
        other,
        async () => {},
        clock,
      );
    },
    close,
    [Symbol.asyncDispose]: close,
  };
  return api;
}

/** A random client address, so rate-limit tests sharing one PostgreSQL never share a counter. */
export function randomAddress(): string {
  const b = crypto.getRandomValues(new Uint8Array(3));
  return `10.${b[0]}.${b[1]}.${b[2]}`;
}

/** Log records captured in memory, as {@linkcode captureLogs} gives them. */
export interface CapturedLogs extends AsyncDisposable {
  records: LogRecord[];
  /** The records' properties, for those whose category starts with `category`. */
  of(...category: string[]): Record<string, unknown>[];
}

/**
 * Sends every `taskapi` log record of this test process to memory until disposed.
 *
 * @example
 * ```ts
 * await using logs = await captureLogs();
 * logs.of("taskapi", "audit"); // [{ event: "login_failed", ... }]
 * ```
 */
export async function captureLogs(): Promise<CapturedLogs> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (r) => void records.push(r) },
    loggers: [
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
      { category: ["taskapi"], lowestLevel: "debug", sinks: ["memory"] },
    ],
  });
  return {
    records,
    of: (...category) =>
      records.filter((r) => category.every((c, i) => r.category[i] === c)).map((r) => r.properties),
    [Symbol.asyncDispose]: () => reset(),
  };
}
