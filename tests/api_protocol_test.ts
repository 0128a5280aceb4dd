/**
 * HTTP details every answer keeps: `Cache-Control: no-store` (tokens and task data must not be
 * cached), and 405 with `Allow` for a known path with a wrong method, derived from the routes.
 */
import assert from "node:assert/strict";
import { createApp } from "../src/app.ts";
import { apiSuite, testConfig } from "./api_helpers.ts";

const test = apiSuite("api: protocol", { maxBodyBytes: 1000 });

test("Cache-Control: no-store on every answer, errors included", async (api) => {
  const { token, username, password, refresh } = await api.newUser();
  const created = await api.call("POST", "/tasks", { token, body: { title: "t" } });
  const id = created.body.id;
  const answers = [
    await api.call("GET", "/health"),
    await api.call("POST", "/login", { body: { username, password } }),
    await api.call("POST", "/refresh", { token: refresh }),
    created,
    await api.call("GET", "/tasks", { token }),
    await api.call("GET", `/tasks/${id}`, { token }),
    await api.call("PUT", `/tasks/${id}`, { token, body: { title: "u" } }),
    await api.call("POST", "/tasks", { token, body: "{" }),
    await api.call("GET", "/tasks"),
    await api.call("GET", "/tasks/999999999", { token }),
    await api.call("GET", "/nowhere"),
    await api.call("PATCH", "/tasks", { token }),
    await api.call("POST", "/tasks", { token, body: { title: "x".repeat(2000) } }),
    await api.call("POST", "/login", { body: { username, password: "wrong-password" } }),
    await api.call("DELETE", `/tasks/${id}`, { token }),
  ];
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 200, 201, 200, 200, 200, 400, 401, 404, 404, 405, 413, 401, 200],
  );
  for (const a of answers) assert.equal(a.headers.get("Cache-Control"), "no-store");
  // An unexpected error too.
  const app = createApp({ db: api.db, config: testConfig() });
  app.get("/boom", () => {
    throw new Error("boom");
  });
  const boom = await app.request("/boom");
  assert.equal(boom.status, 500);
  assert.equal(boom.headers.get("Cache-Control"), "no-store");
});

test("a known path with a wrong method: 405 with Allow, token or not", async (api) => {
  const { token } = await api.newUser();
  const cases: [string, string, string][] = [
    ["DELETE", "/tasks", "GET, HEAD, POST"],
    ["PUT", "/tasks", "GET, HEAD, POST"],
    ["POST", "/tasks/1", "GET, HEAD, PUT, PATCH, DELETE"],
    ["POST", "/tasks/abc", "GET, HEAD, PUT, PATCH, DELETE"],
    ["GET", "/login", "POST"],
    ["GET", "/register", "POST"],
    ["PUT", "/refresh", "POST"],
    ["DELETE", "/logout", "POST"],
    ["POST", "/health", "GET, HEAD"],
    ["OPTIONS", "/tasks", "GET, HEAD, POST"],
  ];
  for (const [method, path, allow] of cases) {
    for (const t of [token, undefined]) {
      const res = await api.call(method, path, { token: t });
      const why = `${method} ${path} ${t ? "with" : "without"} a token`;
      assert.equal(res.status, 405, why);
      assert.equal(res.headers.get("Allow"), allow, why);
      assert.match(res.body.message, new RegExp(`Method ${method} not allowed`), why);
    }
  }
  // Unknown paths stay 404; the right method still needs its token.
  assert.equal((await api.call("DELETE", "/nowhere")).status, 404);
  assert.equal((await api.call("GET", "/tasks/1/x", { token })).status, 404);
  assert.equal((await api.call("GET", "/tasks")).status, 401);
  assert.equal((await api.call("HEAD", "/tasks", { token })).status, 200);
});

test("Allow comes from the app's routes, not from a list", async (api) => {
  const app = createApp({ db: api.db, config: testConfig() });
  app.put("/health", (c) => c.json({ status: "replaced" }));
  app.get("/extra/:id", (c) => c.json({ id: c.req.param("id") }));
  const health = await app.request("/health", { method: "DELETE" });
  assert.equal(health.status, 405);
  assert.equal(health.headers.get("Allow"), "GET, HEAD, PUT");
  const extra = await app.request("/extra/5", { method: "POST" });
  assert.equal(extra.status, 405);
  assert.equal(extra.headers.get("Allow"), "GET, HEAD");
});
