/**
 * The API under test: `createApp` over a test database, and small helpers to call it over HTTP
 * semantics (`app.request`) without a socket.
 */
import type { Hono } from "hono";
import { createApp } from "../src/app.ts";
import type { ServerConfig } from "../src/config.ts";
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
    maxBodyBytes: 1024 * 1024,
    loginMaxFailures: 10,
    loginWindowSeconds: 900,
    authRequestsPerMinute: 0,
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

export interface TestApi {
  app: Hono<AppEnv>;
  db: Database;
  config: ServerConfig;
  call(method: string, path: string, options?: CallOptions): Promise<Answer>;
  /** Registers a fresh user and logs in. */
  newUser(): Promise<{ username: string; password: string; token: string; refresh: string }>;
  close(): Promise<void>;
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
  const app = createApp({ db: t.db, config });
  return wrap(app, t.db, config, () => t.close());
}

/** Wraps an app built elsewhere (e.g. over a database that goes away). */
export function wrap(
  app: Hono<AppEnv>,
  db: Database,
  config: ServerConfig,
  close: () => Promise<void>,
): TestApi {
  const api: TestApi = {
    app,
    db,
    config,
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
    close,
  };
  return api;
}

/** A random client address, so rate-limit tests sharing one PostgreSQL never share a counter. */
export function randomAddress(): string {
  const b = crypto.getRandomValues(new Uint8Array(3));
  return `10.${b[0]}.${b[1]}.${b[2]}`;
}
