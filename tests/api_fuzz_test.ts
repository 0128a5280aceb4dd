/**
 * Property: whatever a client sends (method, path, query, headers, body, token), the answer is a
 * 2xx, 3xx or 4xx, errors with a JSON `message`, never a 5xx; and the app still works afterwards.
 * FUZZ_RUNS requests (2,000 by default, bounded for CI); `deno task fuzz` runs many more.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { sign } from "hono/jwt";
import { apiSuite, TEST_SECRET, type TestApi } from "./api_helpers.ts";

const RUNS = Number(Deno.env.get("FUZZ_RUNS") ?? 2000);
const SEED = Deno.env.get("FUZZ_SEED");
const test = apiSuite("api: fuzz", { maxBodyBytes: 64 * 1024 });

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme" }),
  fc.string({ unit: "binary" }), // lone surrogates, NUL, every control character
  fc.constantFrom("", "\u0000", "\ud800", "%00", "%", "🙂", "a".repeat(300), "NaN", "-1"),
);
const segment = fc.oneof(
  fc.constantFrom("tasks", "login", "register", "refresh", "logout", "health", "1", "0", "-1"),
  fc.constantFrom("2147483648", "99999999999999999999", "%2e%2e", "%00", "%ff", "..", "tasks%2F1"),
  fc.stringMatching(/^[A-Za-z0-9%._~-]{0,12}$/),
);
const path = fc.oneof(
  fc.constantFrom("/tasks", "/tasks/1", "/login", "/register", "/refresh", "/logout", "/health"),
  fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join("/")}`),
);
const query = fc.array(
  fc.tuple(
    fc.constantFrom("page", "per_page", "status", "q", "sort", "cursor", "x", "%00", ""),
    fc.oneof(text, fc.integer().map(String), fc.constantFrom("%ff", "%ED%A0%80", "1e3", "-id")),
  ),
  { maxLength: 4 },
).map((pairs) =>
  pairs.length === 0 ? "" : "?" + pairs.map(([k, v]) => `${k}=${percent(v)}`).join("&")
);

/** Percent-encodes every byte of `s` (lone surrogates become U+FFFD, as a client's would). */
function percent(s: string): string {
  return [...new TextEncoder().encode(s)].map((b) => `%${b.toString(16).padStart(2, "0")}`)
    .join("");
}
const field = fc.oneof(
  text,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.object(),
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.record(
    { title: field, description: field, status: fc.oneof(field, fc.constantFrom("completed")) },
    { requiredKeys: [] },
  ).map((o) => JSON.stringify(o)),
  fc.record({ username: field, password: field }, { requiredKeys: [] }).map((o) =>
    JSON.stringify(o)
  ),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  text,
  fc.uint8Array({ maxLength: 200 }),
);
const method = fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS");
type Tokens = { token: string; refresh: string; forged: string[] };
const authorization = (tokens: Tokens) =>
  fc.oneof(
    fc.constant(undefined),
    fc.constantFrom(
      `Bearer ${tokens.token}`,
      `Bearer ${tokens.refresh}`,
      ...tokens.forged.map((t) => `Bearer ${t}`),
    ),
    text.map((t) => `Bearer ${t}`),
    text,
  );
const headers = (tokens: Tokens) =>
  fc.record({
    authorization: authorization(tokens),
    "content-type": fc.constantFrom(undefined, "application/json", "text/plain", "x/y; a=b"),
    host: fc.constantFrom(undefined, "localhost", "evil.example", "a b", "[::1", "x:99999"),
    "x-request-id": fc.oneof(fc.constant(undefined), text),
    "x-forwarded-for": fc.oneof(fc.constant(undefined), text),
    "if-match": fc.oneof(fc.constant(undefined), text),
    "if-none-match": fc.oneof(fc.constant(undefined), text),
  }, { requiredKeys: [] });

/** Headers as a client could send them (Headers refuses what no client can put on the wire). */
function toHeaders(raw: Record<string, string | undefined>): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    try {
      out.set(name, value);
    } catch { /* not a header value at all: skipped, as the HTTP parser would refuse it */ }
  }
  return out;
}

async function forgedTokens(api: TestApi, token: string): Promise<string[]> {
  const claims = JSON.parse(atob(token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/")));
  return await Promise.all([
    sign({ ...claims, sub: "2147483648" }, TEST_SECRET),
    sign({ ...claims, sub: "0" }, TEST_SECRET),
    sign({ ...claims, exp: claims.iat + 10 ** 9 }, TEST_SECRET),
    sign({ ...claims, sid: "not-a-uuid" }, TEST_SECRET),
    sign({ ...claims, typ: "refresh" }, TEST_SECRET),
    sign({ ...claims, exp: Math.floor(api.clock.now() / 1000) - 1 }, TEST_SECRET),
  ]);
}

test(`${RUNS} generated requests: never a 5xx, errors as JSON`, async (api) => {
  const user = await api.newUser();
  // Tasks to aim at, whatever ids they got.
  for (let i = 0; i < 3; i++) {
    await api.call("POST", "/tasks", { token: user.token, body: { title: `t${i}` } });
  }
  // Random requests get a second login of the user: a random POST /logout with its refresh token
  // must not end the login the structured requests below rely on.
  const second = await api.call("POST", "/login", {
    body: { username: user.username, password: user.password },
  });
  const tokens = {
    token: second.body.access_token,
    refresh: second.body.refresh_token,
    forged: await forgedTokens(api, user.token),
  };
  const ids = (await api.call("GET", "/tasks", { token: user.token })).body.map((
    t: { id: number },
  ) => String(t.id));
  const anything = fc.record({ method, path, query, headers: headers(tokens), body });
  // Requests that get past authentication and validation's first steps, where the deeper bugs are.
  const signedIn = { authorization: `Bearer ${user.token}`, "content-type": "application/json" };
  const taskFields = fc.record({
    title: fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), text),
    description: fc.oneof(fc.string({ maxLength: 20 }), text),
    status: fc.oneof(fc.constantFrom("pending", "in_progress", "completed"), text),
  }, { requiredKeys: [] }).map((o) => JSON.stringify(o));
  const writes = fc.record({
    method: fc.constantFrom("POST", "PUT", "PATCH"),
    path: fc.oneof(fc.constant("/tasks"), fc.constantFrom(...ids).map((id) => `/tasks/${id}`)),
    query: fc.constant(""),
    headers: fc.constant(signedIn),
    body: taskFields,
  });
  const reads = fc.record({
    method: fc.constantFrom("GET", "DELETE"),
    path: fc.oneof(fc.constant("/tasks"), segment.map((id) => `/tasks/${id}`)),
    query,
    headers: fc.constant(signedIn),
    body: fc.constant(undefined),
  });
  const logins = fc.record({
    method: fc.constant("POST"),
    path: fc.constantFrom("/login", "/register"),
    query: fc.constant(""),
    headers: fc.constant({ "content-type": "application/json" }),
    body: fc.record({ username: fc.oneof(fc.constant(user.username), text), password: text })
      .map((o) => JSON.stringify(o)),
  });
  const request = fc.oneof(
    { weight: 4, arbitrary: anything },
    { weight: 4, arbitrary: writes },
    { weight: 2, arbitrary: reads },
    { weight: 1, arbitrary: logins },
  );
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const init: RequestInit = { method: r.method, headers: toHeaders(r.headers) };
      if (r.body !== undefined && r.method !== "GET" && r.method !== "HEAD") {
        init.body = r.body as BodyInit;
      }
      const res = await api.app.request(`${r.path}${r.query}`, init, {
        remoteAddr: { transport: "tcp", hostname: "192.0.2.9", port: 1 },
      });
      const raw = await res.text();
      const where = `${r.method} ${r.path}${r.query} -> ${res.status} ${raw.slice(0, 200)}`;
      assert.ok(res.status < 500, where);
      if (res.status >= 400 && r.method !== "HEAD") {
        const parsed = JSON.parse(raw);
        assert.equal(typeof parsed.message, "string", where);
        assert.doesNotMatch(raw, /\bat \S+:\d+:\d+|SELECT |INSERT |UPDATE /, where);
      }
    }),
    { numRuns: RUNS, seed: SEED ? Number(SEED) : undefined },
  );
  // Still itself afterwards.
  const after = await api.newUser();
  const created = await api.call("POST", "/tasks", { token: after.token, body: { title: "ok" } });
  assert.equal(created.status, 201);
  const list = await api.call("GET", "/tasks", { token: after.token });
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.map((t: { title: string }) => t.title), ["ok"]);
  assert.equal((await api.call("GET", "/health")).status, 200);
});
