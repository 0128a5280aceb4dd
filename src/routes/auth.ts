/**
 * `POST /register`, `/login`, `/refresh` and `/logout`.
 *
 * @module
 */
import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { type AccountDeps, login, logout, refresh, register } from "../auth/accounts.ts";
import { bearerToken } from "../auth/bearer.ts";
import type { ServerConfig } from "../config.ts";
import { takeHits } from "../db/auth_limits.ts";
import { AppError } from "../errors.ts";
import { type AppEnv, clientAddress, readJson, requiredString, textField } from "../http.ts";

/** Usernames: 3–50 ASCII letters, digits, `_`, `.` or `-`; unique in any letter case. */
export const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,50}$/;

const registerBody = z.strictObject({
  username: requiredString("username").regex(USERNAME_PATTERN, {
    error: (issue) =>
      `username ${
        JSON.stringify(String(issue.input).slice(0, 60))
      } is invalid: use 3 to 50 letters, digits, "_", "." or "-"`,
  }),
  password: textField("password", { min: 8, max: 1024 }),
});

// Login checks only shapes: a name that could never register simply fails as wrong credentials.
const loginBody = z.strictObject({
  username: textField("username", { min: 1, max: 200 }),
  password: textField("password", { min: 1, max: 1024 }),
});

/** What {@linkcode authRoutes} needs. */
export interface AuthRouteDeps extends AccountDeps {
  config: AccountDeps["config"] & Pick<ServerConfig, "authRequestsPerMinute">;
}

/**
 * The account routes, to mount at the root.
 *
 * @example
 * ```ts
 * app.route("/", authRoutes({ db, tokens, config }));
 * ```
 */
export function authRoutes(deps: AuthRouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  // Counted before the body is even read: a flood of junk costs a client its budget too.
  const limitByAddress: MiddlewareHandler<AppEnv> = async (c, next) => {
    const hit = await takeHits(deps.db, [{
      key: `ip:${clientAddress(c)}`,
      limit: deps.config.authRequestsPerMinute,
      windowSeconds: 60,
    }], deps.clock());
    if (!hit.allowed) {
      throw AppError.tooManyRequests(
        `Too many requests from this address; try again in ${hit.retryAfterSeconds} s`,
        hit.retryAfterSeconds,
      );
    }
    await next();
  };

  app.post("/register", limitByAddress, async (c) => {
    await register(deps, await readJson(c, registerBody));
    return c.json({ message: "User created successfully" }, 201);
  });

  app.post("/login", limitByAddress, async (c) => {
    return c.json(await login(deps, await readJson(c, loginBody)));
  });

  app.post("/refresh", async (c) => {
    return c.json(await refresh(deps, bearerToken(c)));
  });

  app.post("/logout", async (c) => {
    await logout(deps, bearerToken(c));
    return c.json({ message: "Logged out" });
  });

  return app;
}
