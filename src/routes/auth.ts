/**
 * `POST /register`, `/login`, `/refresh` and `/logout`, each described by the zod schemas that
 * validate it.
 *
 * @module
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { type AccountDeps, login, register } from "../auth/accounts.ts";
import { logout, refresh } from "../auth/sessions.ts";
import { bearerToken } from "../auth/bearer.ts";
import type { ClientAddresses } from "../client_address.ts";
import type { ServerConfig } from "../config.ts";
import { takeHits } from "../db/auth_limits.ts";
import { AppError } from "../errors.ts";
import {
  apiApp,
  type AppEnv,
  clientAddress,
  jsonBody,
  jsonObject,
  loginNameField,
  textField,
  usernameField,
} from "../http.ts";
import { errorResponses, messageContent } from "../openapi.ts";

/** The security scheme of the routes that take a refresh token instead of an access token. */
export const REFRESH_BEARER = "refreshToken";

const credentialsExample = { username: "testuser1", password: "securepassword" };

const RegisterSchema = jsonObject({
  username: usernameField(),
  password: textField("password", { min: 8, max: 1024 }),
}).openapi("Registration", { example: credentialsExample });

// Login checks only shapes: a name that could never register fails as wrong credentials.
const LoginSchema = jsonObject({
  username: loginNameField(),
  password: textField("password", { min: 1, max: 1024 }),
}).openapi("Credentials", { example: credentialsExample });

const SessionSchema = z.object({
  access_token: z.string().openapi({ description: "JWT (HS256) for `Authorization: Bearer`" }),
  token_type: z.literal("Bearer"),
  expires_in: z.int().min(1).openapi({ description: "Seconds the access token is valid" }),
  refresh_token: z.string().openapi({
    description: "For `POST /refresh` (once: each refresh returns a new one) and `POST /logout`",
  }),
}).openapi("Session", {
  example: {
    access_token: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    token_type: "Bearer",
    expires_in: 3600,
    refresh_token: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.cmVmcmVzaA",
  },
});

const body = <S>(schema: S) => ({
  required: true,
  content: { "application/json": { schema } },
});

const registerRoute = createRoute({
  method: "post",
  path: "/register",
  tags: ["Accounts"],
  summary: "Create an account",
  request: { body: body(RegisterSchema) },
  responses: {
    201: {
      description: "Created",
      content: messageContent("User created successfully", "Registered"),
    },
    ...errorResponses(400, 409, 413, 429, 503),
  },
});

const loginRoute = createRoute({
  method: "post",
  path: "/login",
  tags: ["Accounts"],
  summary: "Log in for an access token and a refresh token",
  description: "An unknown username and a wrong password answer the same 401. After " +
    "`LOGIN_MAX_FAILURES` failures for one username within `LOGIN_WINDOW_SECONDS`, 429.",
  request: { body: body(LoginSchema) },
  responses: {
    200: { description: "Logged in", content: { "application/json": { schema: SessionSchema } } },
    ...errorResponses(400, 401, 413, 429, 503),
  },
});

const refreshRoute = createRoute({
  method: "post",
  path: "/refresh",
  tags: ["Accounts"],
  summary: "Trade a refresh token for new tokens",
  description: "Takes `Authorization: Bearer <refresh_token>`. The refresh token is rotated: the " +
    "one sent stops working.",
  security: [{ [REFRESH_BEARER]: [] }],
  responses: {
    200: { description: "New tokens", content: { "application/json": { schema: SessionSchema } } },
    ...errorResponses(401, 503),
  },
});

const logoutRoute = createRoute({
  method: "post",
  path: "/logout",
  tags: ["Accounts"],
  summary: "Revoke a refresh token",
  description: "Takes `Authorization: Bearer <refresh_token>`.",
  security: [{ [REFRESH_BEARER]: [] }],
  responses: {
    200: { description: "Logged out", content: messageContent("Logged out", "LoggedOut") },
    ...errorResponses(401, 503),
  },
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
export function authRoutes(deps: AuthRouteDeps): OpenAPIHono<AppEnv> {
  const app = apiApp();
  app.openAPIRegistry.registerComponent("securitySchemes", REFRESH_BEARER, {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "The refresh token from POST /login or POST /refresh",
  });
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
  const limited = { middleware: [limitByAddress, jsonBody] };

  app.openapi(createRoute({ ...registerRoute, ...limited }), async (c) => {
    await register(deps, c.req.valid("json"), client(c));
    return c.json({ message: "User created successfully" as const }, 201);
  });

  app.openapi(createRoute({ ...loginRoute, ...limited }), async (c) => {
    return c.json(await login(deps, c.req.valid("json"), client(c)), 200);
  });

  app.openapi(refreshRoute, async (c) => {
    return c.json(await refresh(deps, bearerToken(c), client(c)), 200);
  });

  app.openapi(logoutRoute, async (c) => {
    await logout(deps, bearerToken(c), client(c));
    return c.json({ message: "Logged out" as const }, 200);
  });

  return app;
}
