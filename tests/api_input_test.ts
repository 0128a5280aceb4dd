/**
 * Hostile input gets a 4xx with a JSON message, never a 500: NUL characters, lone surrogates and
 * invalid UTF-8 in bodies and query strings, malformed and foreign `Host` headers, stalled bodies,
 * tokens whose claims do not fit, and values only PostgreSQL would refuse.
 */
import assert from "node:assert/strict";
import { sign } from "hono/jwt";
import { createApp } from "../src/app.ts";
import { apiSuite, TEST_SECRET, testConfig } from "./api_helpers.ts";
import { uniqueName } from "./db_helpers.ts";

const test = apiSuite("api: hostile input", { bodyTimeoutSeconds: 1 });
const encoder = new TextEncoder();

/** Sends raw bytes as the body (the helpers send strings, which are always valid UTF-8). */
async function postBytes(
  api: { app: { request: (p: string, i: RequestInit) => Response | Promise<Response> } },
  path: string,
  bytes: Uint8Array<ArrayBuffer>,
  token?: string,
) {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await api.app.request(path, { method: "POST", headers, body: bytes });
  return { status: res.status, body: await res.json() };
}

test("a NUL character in any text field is a 400 naming the field", async (api) => {
  const { token, username } = await api.newUser();
  const cases: [string, unknown, RegExp][] = [
    ["/tasks", { title: "a\u0000b" }, /^title must not contain a NUL character/],
    ["/tasks", { title: "t", description: "\u0000" }, /^description must not contain a NUL/],
    ["/tasks", { title: "t", status: "pending\u0000" }, /^status must not contain a NUL/],
    [
      "/tasks",
      { title: "t", "ti\u0000tle": "x" },
      /^the field name "ti\\u0000tle" must not contain/,
    ],
    ["/login", { username: "bob\u0000", password: "securepassword" }, /^username must not/],
    ["/login", { username, password: "secure\u0000password" }, /^password must not contain/],
    ["/register", { username: "x\u0000yz", password: "securepassword" }, /^username must not/],
  ];
  for (const [path, body, message] of cases) {
    const res = await api.call("POST", path, { token, body });
    assert.equal(res.status, 400, `${path} ${JSON.stringify(body)}`);
    assert.match(res.body.message, message);
  }
  // Through PUT and PATCH too, and nothing was stored on the way.
  const task = (await api.call("POST", "/tasks", { token, body: { title: "t" } })).body.task;
  for (const method of ["PUT", "PATCH"]) {
    const res = await api.call(method, `/tasks/${task.id}`, { token, body: { title: "\u0000" } });
    assert.equal(res.status, 400);
    assert.match(res.body.message, /^title must not contain a NUL/);
  }
  assert.deepEqual((await api.call("GET", "/tasks", { token })).body, [task]);
});

test("a lone surrogate is a 400 naming the field; a real pair is fine", async (api) => {
  const { token } = await api.newUser();
  for (const escape of ["\\ud800", "\\udfff", "x\\ud83d", "\\ude00y"]) {
    const res = await api.call("POST", "/tasks", { token, body: `{"title":"${escape}"}` });
    assert.equal(res.status, 400, escape);
    assert.match(res.body.message, /^title must not contain a lone surrogate/);
    const nested = await api.call("POST", "/tasks", {
      token,
      body: `{"title":"t","description":"${escape}"}`,
    });
    assert.match(nested.body.message, /^description must not contain a lone surrogate/);
  }
  const pair = await api.call("POST", "/tasks", { token, body: `{"title":"\\ud83d\\ude00"}` });
  assert.equal(pair.status, 201);
  assert.equal(pair.body.task.title, "😀");
});

test("invalid UTF-8 in a body is a 400 naming the field, not stored as U+FFFD", async (api) => {
  const { token } = await api.newUser();
  const bad = [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xc0, 0xaf]];
  for (const seq of bad) {
    const body = new Uint8Array([
      ...encoder.encode('{"title":"ok","description":"a'),
      ...seq,
      ...encoder.encode('b"}'),
    ]);
    const res = await postBytes(api, "/tasks", body, token);
    assert.equal(res.status, 400, JSON.stringify(seq));
    assert.equal(res.body.message, "description is not valid UTF-8");
  }
  // Outside a string the body is not JSON at all.
  const outside = await postBytes(api, "/tasks", new Uint8Array([0x7b, 0xff, 0x7d]), token);
  assert.equal(outside.status, 400);
  assert.match(outside.body.message, /not valid UTF-8/);
  // A real U+FFFD, sent as valid UTF-8, is just a character.
  const real = await api.call("POST", "/tasks", { token, body: { title: "\uFFFD" } });
  assert.equal(real.status, 201);
  assert.equal(real.body.task.title, "\uFFFD");
  assert.deepEqual(
    (await api.call("GET", "/tasks", { token })).body.map((t: { title: string }) => t.title),
    ["\uFFFD"],
  );
});

test("query parameters with a NUL or invalid UTF-8 are a 400 naming them", async (api) => {
  const { token } = await api.newUser();
  const cases: [string, RegExp][] = [
    ["page=1%00", /^query parameter "page" must not contain a NUL/],
    ["per_page=%FF", /^query parameter "per_page" is not valid UTF-8/],
    ["x=%ED%A0%80", /^query parameter "x" is not valid UTF-8/],
    ["%00=1", /^query parameter "\\u0000" must not contain a NUL/],
  ];
  for (const [query, message] of cases) {
    const res = await api.call("GET", `/tasks?${query}`, { token });
    assert.equal(res.status, 400, query);
    assert.match(res.body.message, message);
  }
  // A % that starts no escape is kept, as before.
  const stray = await api.call("GET", "/tasks?page=1%", { token });
  assert.equal(stray.status, 400);
  assert.match(stray.body.message, /page must be a whole number/);
});

test("a foreign Host never reaches Link: references are relative", async (api) => {
  const { token } = await api.newUser();
  for (let i = 0; i < 3; i++) await api.call("POST", "/tasks", { token, body: { title: "t" } });
  const res = await api.app.request("http://evil.example/tasks?per_page=1&page=2", {
    headers: { Authorization: `Bearer ${token}`, Host: "evil.example" },
  });
  assert.equal(res.status, 200);
  const link = res.headers.get("Link") ?? "";
  assert.doesNotMatch(link, /evil/);
  const parts = link.split(", ");
  assert.deepEqual(parts.map((p) => /rel="(\w+)"$/.exec(p)?.[1]), [
    "first",
    "prev",
    "next",
    "last",
  ]);
  for (const part of parts) {
    assert.match(part, /^<\/tasks\?per_page=1(&(after|before)=[\w-]+)?>; rel="\w+"$/);
  }
  // With PUBLIC_URL the references are absolute, on that URL.
  const config = testConfig({ publicUrl: "https://api.example.com/v1" });
  const app = createApp({ db: api.db, config, clock: api.clock.now });
  const pub = await app.request("http://evil.example/tasks?per_page=2", {
    headers: { Authorization: `Bearer ${token}` },
  });
  assert.match(
    pub.headers.get("Link") ?? "",
    /^<https:\/\/api\.example\.com\/v1\/tasks\?per_page=2>; rel="first"/,
  );
});

test("a malformed Host is a 400, whatever the route", async (api) => {
  const { token } = await api.newUser();
  for (const host of ["a b", "[::1", "a/b", "a?b", "x@y", "évil", "a:b:c", "%41"]) {
    for (const path of ["/tasks", "/health", "/nowhere"]) {
      const res = await api.call("GET", path, { token, headers: { Host: host } });
      assert.equal(res.status, 400, `${host} ${path}`);
      assert.match(res.body.message, /Invalid Host header/);
    }
  }
  for (const host of ["localhost", "127.0.0.1:5000", "[::1]:80", "api.example.com", "my_svc"]) {
    const res = await api.call("GET", "/tasks", { token, headers: { Host: host } });
    assert.equal(res.status, 200, host);
  }
});

test("a token whose sub is not a positive int4, or lives too long, is a 401", async (api) => {
  const { token } = await api.newUser();
  const claims = JSON.parse(atob(token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/")));
  const cases: [string, Record<string, unknown>][] = [
    ["sub over int4", { sub: "2147483648" }],
    ["sub of ten nines", { sub: "9999999999" }],
    ["sub 0", { sub: "0" }],
    ["numeric sub", { sub: Number(claims.sub) }],
    ["lifetime over the configured 3600 s", { exp: claims.iat + 3601 }],
    ["issued in the future", { iat: claims.iat + 3600, exp: claims.iat + 3700 }],
    ["no iat", { iat: undefined }],
  ];
  for (const [why, change] of cases) {
    const forged = await sign({ ...claims, ...change }, TEST_SECRET, "HS256");
    for (const [method, body] of [["GET"], ["POST", { title: "t" }]] as const) {
      const res = await api.call(method, "/tasks", { token: forged, body });
      assert.equal(res.status, 401, `${why} ${method}`);
      assert.equal(typeof res.body.message, "string");
    }
  }
  assert.equal((await api.call("GET", "/tasks", { token })).status, 200);
});

test("a body that stalls answers 408 after BODY_TIMEOUT_SECONDS", async (api) => {
  const { token } = await api.newUser();
  let cancelled = false;
  const started = performance.now();
  const res = await api.app.request("/tasks", {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: new ReadableStream({
      start(controller) {
        controller.enqueue(encoder.encode('{"title":'));
        // ...and nothing more, ever.
      },
      cancel() {
        cancelled = true;
      },
    }),
    duplex: "half",
  } as RequestInit);
  assert.equal(res.status, 408);
  assert.match((await res.json()).message, /not received in time/);
  assert.equal(res.headers.get("Connection"), "close");
  assert.ok(cancelled, "the body stream is cancelled");
  const waited = performance.now() - started;
  assert.ok(waited >= 900 && waited < 5000, `answered after ${waited} ms`);
});

/** POSTs `parts` as a streamed body, one every `gapMs` (1 s stall timeout in this suite). */
async function trickle(
  api: { app: { request: (p: string, i: RequestInit) => Response | Promise<Response> } },
  token: string,
  parts: string[],
  gapMs: number,
) {
  const started = performance.now();
  const res = await api.app.request("/tasks", {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: new ReadableStream({
      async pull(controller) {
        const part = parts.shift();
        if (part === undefined) return controller.close();
        await new Promise((r) => setTimeout(r, gapMs));
        controller.enqueue(encoder.encode(part));
      },
    }),
    duplex: "half",
  } as RequestInit);
  return { res, ms: performance.now() - started };
}

test("a slow body that never stalls for BODY_TIMEOUT_SECONDS is read, up to 6 times that", async (api) => {
  const { token } = await api.newUser();
  // Five pauses of 0.4 s: 2 s in all, twice the stall timeout, and never a 1 s gap.
  const steady = await trickle(api, token, ['{"title"', ":", '"slow', " but", ' steady"}'], 400);
  assert.equal(steady.res.status, 201, JSON.stringify(await steady.res.clone().json()));
  assert.equal((await steady.res.json()).task.title, "slow but steady");
  // A byte every 0.5 s for longer than 6 s: held no longer than the total cap.
  const drip = await trickle(api, token, [...'{"title":"' + "x".repeat(20) + '"}'], 500);
  assert.equal(drip.res.status, 408);
  assert.ok(drip.ms >= 5900 && drip.ms < 9000, `answered after ${drip.ms} ms`);
});

test("deeply nested JSON with a bad string is a 400, not a 500", async (api) => {
  const { token } = await api.newUser();
  for (const path of ["/tasks", "/register"]) {
    const depth = 20_000;
    const body = "[".repeat(depth) + '"\\u0000"' + "]".repeat(depth);
    const res = await api.app.request(path, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body,
    });
    assert.equal(res.status, 400, path);
    assert.match((await res.json()).message, /must not contain a NUL character/);
  }
});

test("a client that leaves mid-body ends the request with 499, not a 500", async (api) => {
  const { token } = await api.newUser();
  const res = await api.app.request("/tasks", {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
    body: new ReadableStream({
      pull(controller) {
        controller.error(new Deno.errors.BadResource("connection closed"));
      },
    }),
    duplex: "half",
  } as RequestInit);
  assert.equal(res.status, 499);
  assert.match((await res.json()).message, /closed the connection/);
});

test("values PostgreSQL refuses answer 400 from the one error handler, not 500", async (api) => {
  const app = createApp({ db: api.db, config: testConfig() });
  app.get("/cast", async () => {
    await api.db.query("SELECT $1::int", ["not a number"]);
    return new Response("unreachable");
  });
  app.get("/range", async () => {
    await api.db.query("SELECT $1::int", ["99999999999"]);
    return new Response("unreachable");
  });
  app.get("/nul", async () => {
    await api.db.query("SELECT $1::text", ["a\u0000b"]);
    return new Response("unreachable");
  });
  app.get("/fk", async () => {
    await api.db.query(
      "INSERT INTO tasks (user_id, title) VALUES ($1, 'x')",
      [2_147_483_000],
    );
    return new Response("unreachable");
  });
  app.get("/other", async () => {
    await api.db.query("SELECT * FROM no_such_table_here");
    return new Response("unreachable");
  });
  for (const path of ["/cast", "/range", "/nul", "/fk"]) {
    const res = await app.request(path);
    const body = await res.json();
    assert.equal(res.status, 400, `${path}: ${JSON.stringify(body)}`);
    assert.equal(body.message, "Invalid value in request: the database refused it");
  }
  // Anything else is still the server's fault.
  assert.equal((await app.request("/other")).status, 500);
});

test("usernames with a NUL never reach the database on login", async (api) => {
  const res = await api.call("POST", "/login", {
    body: { username: uniqueName("u") + "\u0000", password: "whatever1" },
  });
  assert.equal(res.status, 400);
});
