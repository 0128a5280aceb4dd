/**
 * `POST /register`, `/login`, `/refresh` and `/logout`.
 *
 * @module
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { type AccountDeps, login, register } from "../auth/accounts.ts";
import { logout, refresh } from "../auth/sessions.ts";
import { bearerToken } from "../auth/bearer.ts";
import type { ClientAddresses } from "../client_address.ts";
import type { ServerConfig } from "../config.ts";
import { takeHits } from "../db/auth_limits.ts";
import { AppError } from "../errors.ts";
import {
  type AppEnv,
  clientAddress,
  loginNameField,
  readJson,
  textField,
  usernameField,
} from "../http.ts";

const registerBody = z.strictObject({
  username: usernameField(),
  password: textField("password", { min: 8, max: 1024 }),
});

// Login checks only shapes: a name that could never register fails as wrong credentials.
const loginBody = z.strictObject({
  username: loginNameField(),
  password: textField("password", { min: 1, max: 1024 }),
});

/** What {@linkcode authRoutes} needs. */
export interface AuthRouteDeps extends AccountDeps {
  config: AccountDeps["config"] & Pick<ServerConfig, "authRequestsPerMinute">;
  /** Who the client is, through the trusted proxies. */
  addresses: ClientAddresses;
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
  const client = (c: Context<AppEnv>) =>
    deps.addresses.keyOf(clientAddress(c), c.req.header("X-Forwarded-For"));

  // Counted before the body is even read: a flood of junk costs a client its budget too.
  const limitByAddress: MiddlewareHandler<AppEnv> = async (c, next) => {
    const hit = await takeHits(deps.db, [{
      key: `ip:${client(c)}`,
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
    await register(deps, await readJson(c, registerBody), client(c));
    return c.json({ message: "User created successfully" }, 201);
  });

  app.post("/login", limitByAddress, async (c) => {
    return c.json(await login(deps, await readJson(c, loginBody), client(c)));
  });

  app.post("/refresh", async (c) => {
    return c.json(await refresh(deps, bearerToken(c), client(c)));
  });

  app.post("/logout", async (c) => {
    await logout(deps, bearerToken(c), client(c));
    return c.json({ message: "Logged out" });
  });

  return app;
}
