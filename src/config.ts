/**
 * The configuration, from environment variables, checked once at start: a bad value is a
 * `ConfigError` whose message names the variable and quotes the value (never a secret).
 *
 * @module
 */
import { type Cidr, parseCidrs } from "./client_address.ts";
import { ConfigError } from "./errors.ts";

/** Everything the HTTP server reads from its environment, validated. */
export interface ServerConfig extends SecuritySettings {
  /** `HOST`: the address to listen on. @default {"127.0.0.1"} */
  host: string;
  /** `PORT`: 0 picks a free one. @default {5000} */
  port: number;
  /** A real PostgreSQL server, or undefined for the embedded database under `dataDir`. */
  databaseUrl?: string;
  /** `DATA_DIR`: the embedded database's folder, and its generated secret. @default {"./data"} */
  dataDir: string;
  /** What sits between us and PostgreSQL (`DATABASE_POOLER`); see {@linkcode Pooler}. */
  pooler: Pooler;
  /** `JWT_SECRET`, or the one kept in `DATA_DIR` (embedded database only); 32 bytes or more. */
  jwtSecret: string;
  /** Where the secret came from, for the start-up log line (never the secret itself). */
  jwtSecretSource: "env" | "generated" | "data_dir";
  /** `ACCESS_TOKEN_TTL_SECONDS`. @default {3600} */
  accessTokenTtlSeconds: number;
  /** `REFRESH_TOKEN_TTL_SECONDS`. @default {2592000} */
  refreshTokenTtlSeconds: number;
  /** `LOG_LEVEL`. @default {"info"} */
  logLevel: LogLevel;
  /** `LOG_FORMAT`: human lines, or one JSON object per line for log shippers. */
  logFormat: LogFormat;
  /** `METRICS` (default on): whether `GET /metrics` exists. */
  metrics: boolean;
  /** `WORKERS`: isolates serving the one port (PostgreSQL only when over 1). */
  workers: number;
  /** `MAX_BODY_BYTES`: larger bodies answer 413. @default {1048576} */
  maxBodyBytes: number;
  /** `LOGIN_MAX_FAILURES` per username and client within the window; 0 = off. @default {10} */
  loginMaxFailures: number;
  /** `LOGIN_WINDOW_SECONDS`. @default {900} */
  loginWindowSeconds: number;
  /** `AUTH_REQUESTS_PER_MINUTE` per client address; 0 = off. @default {60} */
  authRequestsPerMinute: number;
}

/**
 * `"transaction"`: `DATABASE_URL` points at a pooler in transaction mode (PgBouncer's
 * `pool_mode = transaction`), which may give each transaction another server connection, so
 * nothing may live on a connection between transactions: no named prepared statements, no
 * session-level locks or settings. `"none"`: a direct connection (or a session-mode pooler).
 */
export type Pooler = "none" | "transaction";
const POOLERS: readonly Pooler[] = ["none", "transaction"];

/** Reads `LOG_FORMAT` (default `text`). */
export function logFormatFrom(env: Env): LogFormat {
  const raw = (env.LOG_FORMAT?.trim() || "text").toLowerCase();
  if (!LOG_FORMATS.includes(raw as LogFormat)) {
    throw new ConfigError(
      `LOG_FORMAT must be one of ${LOG_FORMATS.join(", ")}, got "${env.LOG_FORMAT}"`,
    );
  }
  return raw as LogFormat;
}

function switchFrom(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === "") return fallback;
  if (!(raw in SWITCH)) throw new ConfigError(`${name} must be on or off, got "${env[name]}"`);
  return SWITCH[raw];
}

/** Reads `WORKERS` (default 1); over 1 needs PostgreSQL, as one process owns an embedded folder. */
function workersFrom(env: Env, db: DatabaseSettings): number {
  const workers = intFrom(env, "WORKERS", 1, 1, 256);
  // Other systems bind the shared port too, but only Linux spreads connections over the sockets.
  if (workers > 1 && Deno.build.os !== "linux") {
    throw new ConfigError(
      `WORKERS=${workers} needs Linux (SO_REUSEPORT load balancing), not ${Deno.build.os}: run one server per core behind the reverse proxy instead`,
    );
  }
  if (workers > 1 && !db.databaseUrl) {
    throw new ConfigError(
      `WORKERS=${workers} needs PostgreSQL (DATABASE_URL): the embedded database in ${db.dataDir} is opened by one process, serving from one isolate; unset WORKERS or set DATABASE_URL`,
    );
  }
  return workers;
}

/** The database settings shared by the server and the CLI. */
export interface DatabaseSettings {
  /** A real PostgreSQL server, or undefined for the embedded database under `dataDir`. */
  databaseUrl?: string;
  /** The embedded database's folder. @default {"./data"} */
  dataDir: string;
  /** `DATABASE_POOLER`. @default {"none"} */
  pooler: Pooler;
}

/** The least severe log level written. */
export type LogLevel = "debug" | "info" | "warning" | "error";
/** How log lines are written: for people, or one JSON object per line. */
export type LogFormat = "text" | "json";
const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];
const SWITCH: Record<string, boolean> = {
  on: true,
  off: false,
  true: true,
  false: false,
  1: true,
  0: false,
};
const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warning", "error"];

/** Environment variables, as `Deno.env.toObject()` gives them. */
export type Env = Record<string, string | undefined>;

/** Minimum secret length the contract asks for. */
export const MIN_SECRET_BYTES = 32;

function intFrom(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  if (!/^\d+$/.test(raw.trim())) {
    throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  }
  const n = Number(raw.trim());
  if (n < min || n > max) {
    throw new ConfigError(`${name} must be between ${min} and ${max}, got "${raw}"`);
  }
  return n;
}

/** `raw` with any password replaced by `***`, safe to quote in an error. */
function withoutPassword(raw: string): string {
  return raw.replace(/^([^:/]*:\/\/[^:@/]*:)[^@/]*@/, "$1***@");
}

function checkDatabaseUrl(raw: string): string {
  const shown = withoutPassword(raw);
  if (!/^postgres(ql)?:\/\//i.test(raw)) {
    throw new ConfigError(
      `DATABASE_URL must start with postgres:// or postgresql://, got "${shown}"`,
    );
  }
  try {
    new URL(raw);
  } catch {
    throw new ConfigError(
      `DATABASE_URL is not a valid URL: "${shown}" (expected postgres://user:pass@host:5432/db; a password with @ : / # ? needs percent-encoding)`,
    );
  }
  return raw;
}

/** Reads the log level named by `LOG_LEVEL` (default `info`). */
export function logLevelFrom(env: Env): LogLevel {
  const raw = (env.LOG_LEVEL ?? "info").toLowerCase();
  const level = raw === "warn" ? "warning" : raw;
  if (!LOG_LEVELS.includes(level as LogLevel)) {
    throw new ConfigError(
      `LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, got "${env.LOG_LEVEL}"`,
    );
  }
  return level as LogLevel;
}

/**
 * Reads the database settings shared by the server and the CLI: `DATABASE_URL`, `DATA_DIR`,
 * `DATABASE_POOLER`.
 *
 * @example
 * ```ts
 * const { databaseUrl, dataDir, pooler } = databaseFrom(Deno.env.toObject());
 * ```
 */
export function databaseFrom(env: Env): DatabaseSettings {
  const url = env.DATABASE_URL?.trim();
  const pooler = (env.DATABASE_POOLER?.trim().toLowerCase() || "none") as Pooler;
  if (!POOLERS.includes(pooler)) {
    throw new ConfigError(
      `DATABASE_POOLER must be one of ${POOLERS.join(", ")}, got "${env.DATABASE_POOLER}"`,
    );
  }
  if (pooler !== "none" && !url) {
    throw new ConfigError(
      `DATABASE_POOLER=${pooler} needs DATABASE_URL (the pooler's address); the embedded database has no pooler`,
    );
  }
  return {
    databaseUrl: url ? checkDatabaseUrl(url) : undefined,
    dataDir: env.DATA_DIR?.trim() || "./data",
    pooler,
  };
}

/**
 * Reads and validates the server's configuration. The JWT secret is resolved here too: from
 * `JWT_SECRET`, else (embedded database only) from `DATA_DIR/jwt_secret`, created once with mode 0600.
 *
 * @example
 * ```ts
 * const config = await loadServerConfig(Deno.env.toObject());
 * Deno.serve({ hostname: config.host, port: config.port }, () => new Response("ok"));
 * ```
 */
export async function loadServerConfig(
  env: Env,
  options: LoadOptions = {},
): Promise<ServerConfig> {
  const db = databaseFrom(env);
  // Everything is checked before the secret is read or created: a bad setting touches nothing.
  const settings = {
    host: env.HOST?.trim() || "127.0.0.1",
    port: intFrom(env, "PORT", 5000, 0, 65535),
    ...db,
    workers: workersFrom(env, db),
    accessTokenTtlSeconds: intFrom(env, "ACCESS_TOKEN_TTL_SECONDS", 3600, 1, 31 * 86400),
    refreshTokenTtlSeconds: intFrom(env, "REFRESH_TOKEN_TTL_SECONDS", 30 * 86400, 1, 365 * 86400),
    logLevel: logLevelFrom(env),
    logFormat: logFormatFrom(env),
    metrics: switchFrom(env, "METRICS", true),
    maxBodyBytes: intFrom(env, "MAX_BODY_BYTES", 1024 * 1024, 1, 1024 * 1024 * 1024),
    loginMaxFailures: intFrom(env, "LOGIN_MAX_FAILURES", 10, 0, 1_000_000),
    loginWindowSeconds: intFrom(env, "LOGIN_WINDOW_SECONDS", 900, 0, 365 * 86400),
    authRequestsPerMinute: intFrom(env, "AUTH_REQUESTS_PER_MINUTE", 60, 0, 1_000_000),
    ...securityFrom(env),
  };
  await options.beforeSecret?.(settings);
  const secret = await resolveSecret(env.JWT_SECRET, db);
  return { ...settings, jwtSecret: secret.value, jwtSecretSource: secret.source };
}

/** Options for {@linkcode loadServerConfig}. */
export interface LoadOptions {
  /**
   * Runs once every setting is valid, before the secret is read from (or created in) `DATA_DIR`:
   * the server locks the embedded `DATA_DIR` here.
   */
  beforeSecret?: (settings: Omit<ServerConfig, "jwtSecret" | "jwtSecretSource">) => Promise<void>;
}

/** The settings of the defences against abuse (README, "Security"). */
export interface SecuritySettings {
  /** Tasks one user may have (`MAX_TASKS_PER_USER`); past it `POST /tasks` answers 403. 0 = off. */
  maxTasksPerUser: number;
  /** Password hashes (Argon2id, 19 MiB each) running at once (`HASH_CONCURRENCY`). */
  hashConcurrency: number;
  /** Hashes waiting for a slot at most (`HASH_QUEUE`); past that, 503 with `Retry-After`. */
  hashQueue: number;
  /**
   * Failed logins for one username across all client addresses within the login window before
   * 429 (`LOGIN_MAX_FAILURES_PER_USER`): stops guessing spread over many addresses. 0 = off.
   */
  loginMaxFailuresPerUser: number;
  /**
   * Reverse proxies whose `X-Forwarded-For` names the client (`TRUSTED_PROXIES`, CIDR list);
   * empty: the connection's own address is the client.
   */
  trustedProxies: Cidr[];
  /**
   * A request body that stalls this long answers 408, as does one not complete 6 times this long
   * after the request started.
   */
  bodyTimeoutSeconds: number;
  /**
   * The API's public base URL (`PUBLIC_URL`, e.g. `https://api.example.com`), for absolute `Link`
   * references; undefined: `Link` uses references relative to the request, never its `Host`.
   */
  publicUrl?: string;
}

/**
 * Reads the {@linkcode SecuritySettings}.
 *
 * @example
 * ```ts
 * const { bodyTimeoutSeconds } = securityFrom({ BODY_TIMEOUT_SECONDS: "5" }); // 5
 * ```
 */
export function securityFrom(env: Env): SecuritySettings {
  const cores = navigator.hardwareConcurrency || 1;
  const hashConcurrency = intFrom(env, "HASH_CONCURRENCY", cores, 1, 1024);
  return {
    loginMaxFailuresPerUser: intFrom(env, "LOGIN_MAX_FAILURES_PER_USER", 100, 0, 1_000_000),
    maxTasksPerUser: intFrom(env, "MAX_TASKS_PER_USER", 10_000, 0, 1_000_000_000),
    hashConcurrency,
    hashQueue: intFrom(env, "HASH_QUEUE", 4 * hashConcurrency, 0, 100_000),
    trustedProxies: cidrsFrom(env.TRUSTED_PROXIES),
    bodyTimeoutSeconds: intFrom(env, "BODY_TIMEOUT_SECONDS", 10, 1, 3600),
    publicUrl: publicUrlFrom(env.PUBLIC_URL),
  };
}

function cidrsFrom(raw: string | undefined): Cidr[] {
  try {
    return parseCidrs(raw ?? "");
  } catch (err) {
    throw new ConfigError(
      `TRUSTED_PROXIES must be a comma-separated list of CIDR blocks: ${(err as Error).message}`,
    );
  }
}

function publicUrlFrom(raw: string | undefined): string | undefined {
  const text = raw?.trim();
  if (!text) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch { /* reported below */ }
  if (!url || !/^https?:$/.test(url.protocol) || url.search || url.hash || url.username) {
    throw new ConfigError(
      `PUBLIC_URL must be an http(s) URL without query, fragment or credentials, got "${text}"`,
    );
  }
  return url.href.replace(/\/+$/, "");
}

async function resolveSecret(
  raw: string | undefined,
  db: DatabaseSettings,
): Promise<{ value: string; source: ServerConfig["jwtSecretSource"] }> {
  if (raw !== undefined && raw !== "") {
    if (new TextEncoder().encode(raw).length < MIN_SECRET_BYTES) {
      // Never quote the secret itself, only its length.
      throw new ConfigError(
        `JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes, got ${raw.length}`,
      );
    }
    return { value: raw, source: "env" };
  }
  if (db.databaseUrl) {
    throw new ConfigError(
      "JWT_SECRET is required when DATABASE_URL is set (at least 32 bytes, e.g. `openssl rand -hex 32`)",
    );
  }
  const path = `${db.dataDir.replace(/\/+$/, "")}/jwt_secret`;
  try {
    // A key others can read is a key others can sign tokens with: refuse it, like ssh does.
    const mode = (await Deno.stat(path)).mode;
    if (mode !== null && (mode & 0o077) !== 0) {
      throw new ConfigError(
        `${path} is readable or writable by other users (mode ${
          (mode & 0o777).toString(8)
        }): run chmod 600 ${path}`,
      );
    }
    const stored = (await Deno.readTextFile(path)).trim();
    if (stored.length >= MIN_SECRET_BYTES) return { value: stored, source: "data_dir" };
    throw new ConfigError(`${path} holds a secret shorter than ${MIN_SECRET_BYTES} bytes`);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  await Deno.mkdir(db.dataDir, { recursive: true, mode: 0o700 });
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const value = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  // createNew: two first starts at once must not overwrite each other's secret.
  try {
    await Deno.writeTextFile(path, value + "\n", { createNew: true, mode: 0o600 });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return resolveSecret(undefined, db);
    throw err;
  }
  await Deno.chmod(path, 0o600);
  return { value, source: "generated" };
}
