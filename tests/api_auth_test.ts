import assert from "node:assert/strict";
import { sign } from "hono/jwt";
import { apiSuite, randomAddress, TEST_SECRET } from "./api_helpers.ts";
import { uniqueName } from "./db_helpers.ts";

const test = apiSuite("api: accounts, tokens and rate limits");

const b64url = (value: unknown) =>
  btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

function assert401(
  res: { status: number; body: { message?: unknown }; headers: Headers },
  why: string,
) {
  assert.equal(res.status, 401, why);
  assert.equal(typeof res.body?.message, "string", why);
  assert.equal(res.headers.get("X-Content-Type-Options"), "nosniff", why);
}

test("register: 201, then 409 for the same name in any letter case", async (api) => {
  const username = uniqueName("Case");
  const first = await api.call("POST", "/register", {
    body: { username, password: "securepassword" },
  });
  assert.equal(first.status, 201);
  assert.deepEqual(first.body, { message: "User created successfully" });
  for (const name of [username, username.toLowerCase(), username.toUpperCase()]) {
    const again = await api.call("POST", "/register", {
      body: { username: name, password: "another password" },
    });
    assert.equal(again.status, 409, name);
    assert.match(again.body.message, /already taken/);
  }
  // Login works in any letter case too, with the first password.
  const login = await api.call("POST", "/login", {
    body: { username: username.toUpperCase(), password: "securepassword" },
  });
  assert.equal(login.status, 200);
});

test("register: invalid usernames, passwords and bodies are a 400", async (api) => {
  const ok = uniqueName("u");
  const cases: [unknown, RegExp][] = [
    [{ username: "ab", password: "securepassword" }, /username "ab" is invalid/],
    [{ username: "a".repeat(51), password: "securepassword" }, /username .* is invalid/],
    [{ username: "with space", password: "securepassword" }, /is invalid/],
    [{ username: "émile", password: "securepassword" }, /is invalid/],
    [{ username: ok, password: "short12" }, /at least 8 characters/],
    [{ username: ok, password: "p".repeat(1025) }, /at most 1024 characters/],
    // Characters, not UTF-16 units: four emoji are four characters.
    [{ username: ok, password: "😀".repeat(4) }, /at least 8 characters/],
    [{ username: ok }, /password is required/],
    [{ password: "securepassword" }, /username is required/],
    [{ username: 42, password: "securepassword" }, /username must be a string/],
    [{ username: ok, password: "securepassword", admin: true }, /Unknown field "admin"/],
    ["[1,2]", /must be a JSON object/],
    ['{"username":', /Malformed JSON/],
  ];
  for (const [body, message] of cases) {
    const res = await api.call("POST", "/register", { body });
    assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
    assert.match(res.body.message, message);
    assert.doesNotMatch(res.body.message, /short12|securepassword/, "never echo a password");
  }
  // The edges are allowed.
  const edges = [
    [`a.-_${ok}`.slice(0, 50), "p".repeat(8)],
    [uniqueName("x"), "p".repeat(1024)],
    [uniqueName("e"), "😀".repeat(8)],
  ];
  for (const [username, password] of edges) {
    const res = await api.call("POST", "/register", { body: { username, password } });
    assert.equal(res.status, 201, username);
  }
});

test("login: the same 401 for an unknown user and a wrong password", async (api) => {
  const { username } = await api.newUser();
  const t0 = performance.now();
  const wrong = await api.call("POST", "/login", { body: { username, password: "wrongpassword" } });
  const t1 = performance.now();
  const unknown = await api.call("POST", "/login", {
    body: { username: uniqueName("nobody"), password: "wrongpassword" },
  });
  const t2 = performance.now();
  assert.equal(wrong.status, 401);
  assert.deepEqual([unknown.status, unknown.body], [wrong.status, wrong.body]);
  assert.equal(wrong.body.message, "Invalid username or password");
  // An unknown user still costs an argon2 hash (~30 ms), not a quick "no such row".
  assert.ok(t2 - t1 > 10, `unknown user answered in ${t2 - t1} ms`);
  assert.ok(t1 - t0 > 10);
  const missing = await api.call("POST", "/login", { body: { username } });
  assert.equal(missing.status, 400);
});

test("login: answers an access token, a refresh token and their lifetime", async (api) => {
  const { username, password } = await api.newUser();
  const res = await api.call("POST", "/login", { body: { username, password } });
  assert.equal(res.status, 200);
  assert.equal(res.body.token_type, "Bearer");
  assert.equal(res.body.expires_in, 3600);
  const [header, payload] = res.body.access_token.split(".").slice(0, 2).map((p: string) =>
    JSON.parse(atob(p.replaceAll("-", "+").replaceAll("_", "/")))
  );
  assert.equal(header.alg, "HS256");
  assert.equal(payload.typ, "access");
  assert.match(payload.sub, /^\d+$/);
  assert.equal(payload.exp - payload.iat, 3600);
  assert.equal(typeof payload.jti, "string");
});

test("tokens: every kind of bad token is a 401 with a JSON message", async (api) => {
  const { token, refresh } = await api.newUser();
  // "Expired" by the app's clock, which stands still from the suite's start: by the wall clock a
  // token 10 s old may still be in the app's future when the suite is slow.
  const appNow = () => Math.floor(api.clock.now() / 1000);
  const [h, p, s] = token.split(".");
  const claims = JSON.parse(atob(p.replaceAll("-", "+").replaceAll("_", "/")));
  const flip = (x: string) => (x[0] === "A" ? "B" : "A") + x.slice(1);
  const cases: [string, Record<string, string>][] = [
    ["no header", {}],
    ["Basic scheme", { Authorization: "Basic dXNlcjpwYXNz" }],
    ["Token scheme", { Authorization: `Token ${token}` }],
    ["bare token", { Authorization: token }],
    ["empty Bearer", { Authorization: "Bearer " }],
    ["malformed", { Authorization: "Bearer not.a.jwt" }],
    ["two parts", { Authorization: `Bearer ${h}.${p}` }],
    ["tampered payload", {
      Authorization: `Bearer ${h}.${
        b64url({ ...claims, sub: String(Number(claims.sub) + 1) })
      }.${s}`,
    }],
    ["tampered signature", { Authorization: `Bearer ${h}.${p}.${flip(s)}` }],
    ["alg none", { Authorization: `Bearer ${b64url({ alg: "none", typ: "JWT" })}.${p}.` }],
    ["HS512", { Authorization: `Bearer ${await sign(claims, TEST_SECRET, "HS512")}` }],
    ["other secret", {
      Authorization: `Bearer ${await sign(
        claims,
        "another-secret-of-at-least-32-bytes!!",
        "HS256",
      )}`,
    }],
    ["missing exp", {
      Authorization: `Bearer ${await sign({ ...claims, exp: undefined }, TEST_SECRET)}`,
    }],
    ["expired", {
      Authorization: `Bearer ${await sign(
        { ...claims, iat: appNow() - 100, exp: appNow() - 10 },
        TEST_SECRET,
      )}`,
    }],
    ["no typ", {
      Authorization: `Bearer ${await sign({ ...claims, typ: undefined }, TEST_SECRET)}`,
    }],
    ["refresh token as access", { Authorization: `Bearer ${refresh}` }],
  ];
  for (const [why, headers] of cases) {
    assert401(await api.call("GET", "/tasks", { headers }), why);
  }
  const expired = await api.call("GET", "/tasks", {
    token: await sign({ ...claims, iat: appNow() - 100, exp: appNow() - 10 }, TEST_SECRET),
  });
  assert.equal(expired.body.message, "Token expired");
  assert.equal(expired.headers.get("WWW-Authenticate"), "Bearer");
  // The genuine token, for contrast.
  assert.equal((await api.call("GET", "/tasks", { token })).status, 200);
  // And an access token is no refresh token.
  assert401(await api.call("POST", "/refresh", { token }), "access token as refresh");
  assert401(await api.call("POST", "/logout", { token }), "access token for logout");
  assert401(await api.call("POST", "/refresh", {}), "refresh without a token");
});

test(
  "tokens: an access token stops working when it expires, even after use",
  async (api) => {
    const short = api.withConfig({ accessTokenTtlSeconds: 60 });
    const { token } = await short.newUser();
    // Used once: verified and remembered.
    assert.equal((await short.call("GET", "/tasks", { token })).status, 200);
    api.clock.advance(59);
    assert.equal((await short.call("GET", "/tasks", { token })).status, 200);
    api.clock.advance(1);
    const res = await short.call("GET", "/tasks", { token });
    assert401(res, "expired after use");
    assert.equal(res.body.message, "Token expired");
  },
);

test("refresh: rotates, and a used or revoked refresh token is refused", async (api) => {
  const { refresh } = await api.newUser();
  const first = await api.call("POST", "/refresh", { token: refresh });
  assert.equal(first.status, 200);
  assert.equal(typeof first.body.access_token, "string");
  assert.notEqual(first.body.refresh_token, refresh);
  assert.equal((await api.call("GET", "/tasks", { token: first.body.access_token })).status, 200);
  const out = await api.call("POST", "/logout", { token: first.body.refresh_token });
  assert.equal(out.status, 200);
  assert.equal(typeof out.body.message, "string");
  assert401(
    await api.call("POST", "/refresh", { token: first.body.refresh_token }),
    "after logout",
  );
  // Logging out twice is fine: the login is over either way.
  assert.equal(
    (await api.call("POST", "/logout", { token: first.body.refresh_token })).status,
    200,
  );
});

test("refresh: of concurrent refreshes with one token one wins, and the replay ends the login", async (api) => {
  const { refresh } = await api.newUser();
  const answers = await Promise.all(
    [1, 2, 3].map(() => api.call("POST", "/refresh", { token: refresh })),
  );
  assert.deepEqual(answers.map((a) => a.status).sort(), [200, 401, 401]);
  // The server cannot tell the client's retry from a thief's replay: the whole login ends.
  const winner = answers.find((a) => a.status === 200)!;
  assert401(await api.call("POST", "/refresh", { token: winner.body.refresh_token }), "rotated");
  assert401(await api.call("GET", "/tasks", { token: winner.body.access_token }), "access");
});

test(
  "rate limit: failed logins per username, then 429 even with the right password",
  async (api) => {
    const limited = api.withConfig({ loginMaxFailures: 3, loginWindowSeconds: 900 });
    const { username, password } = await limited.newUser();
    const other = await limited.newUser();
    // Below the limit nothing is refused, and a right password does not count as a failure.
    for (let i = 0; i < 2; i++) {
      const res = await limited.call("POST", "/login", {
        body: { username, password: "wrongpass" },
      });
      assert.equal(res.status, 401);
    }
    assert.equal(
      (await limited.call("POST", "/login", { body: { username, password } })).status,
      200,
    );
    assert.equal(
      (await limited.call("POST", "/login", { body: { username, password: "wrongpass" } })).status,
      401,
    );
    for (const pw of [password, "wrongpass"]) {
      const res = await limited.call("POST", "/login", {
        body: { username: username.toUpperCase(), password: pw },
      });
      assert.equal(res.status, 429);
      assert.match(res.body.message, /Too many failed logins/);
      const retry = Number(res.headers.get("Retry-After"));
      assert.ok(retry > 890 && retry <= 900, `Retry-After ${retry}`);
    }
    // Another username is not affected.
    const ok = await limited.call("POST", "/login", {
      body: { username: other.username, password: other.password },
    });
    assert.equal(ok.status, 200);
  },
);

test("rate limit: concurrent wrong guesses cannot slip past the limit", async (api) => {
  const limited = api.withConfig({ loginMaxFailures: 3 });
  const { username } = await limited.newUser();
  const answers = await Promise.all(
    Array.from(
      { length: 8 },
      () => limited.call("POST", "/login", { body: { username, password: "wrongpass" } }),
    ),
  );
  assert.deepEqual(
    answers.map((a) => a.status).sort(),
    [401, 401, 401, 429, 429, 429, 429, 429],
  );
});

test("rate limit: the login lockout ends when the window passes", async (api) => {
  const limited = api.withConfig({ loginMaxFailures: 1, loginWindowSeconds: 60 });
  const { username, password } = await limited.newUser();
  assert.equal(
    (await limited.call("POST", "/login", { body: { username, password: "wrongpass" } })).status,
    401,
  );
  api.clock.advance(20);
  const locked = await limited.call("POST", "/login", { body: { username, password } });
  assert.equal(locked.status, 429);
  assert.equal(locked.headers.get("Retry-After"), "40");
  api.clock.advance(39);
  assert.equal(
    (await limited.call("POST", "/login", { body: { username, password } })).status,
    429,
  );
  api.clock.advance(1);
  assert.equal(
    (await limited.call("POST", "/login", { body: { username, password } })).status,
    200,
  );
});

test(
  "rate limit: /login + /register per client address, shared by every app",
  async (api) => {
    const config = { authRequestsPerMinute: 3 };
    const one = api.withConfig(config);
    // A second app (as in a second process) over the same database counts together with the first.
    const two = api.withConfig(config);
    const from = randomAddress();
    // Junk bodies count too, and are cheap: no argon2 behind them.
    assert.equal((await one.call("POST", "/login", { from, body: "{" })).status, 400);
    assert.equal((await two.call("POST", "/register", { from, body: "{" })).status, 400);
    assert.equal((await one.call("POST", "/register", { from, body: "{" })).status, 400);
    for (const [app, path] of [[one, "/login"], [two, "/register"]] as const) {
      const res = await app.call("POST", path, { from, body: "{" });
      assert.equal(res.status, 429, path);
      assert.match(res.body.message, /Too many requests from this address/);
      const retry = Number(res.headers.get("Retry-After"));
      assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
    }
    // Other addresses and other routes are not limited.
    assert.equal(
      (await one.call("POST", "/login", { from: randomAddress(), body: "{" })).status,
      400,
    );
    assert.equal((await one.call("GET", "/health", { from })).status, 200);
  },
);

test("rate limit: 0 turns each limit off", async (api) => {
  const open = api.withConfig({ authRequestsPerMinute: 0, loginMaxFailures: 0 });
  const from = randomAddress();
  for (let i = 0; i < 30; i++) {
    assert.equal((await open.call("POST", "/login", { from, body: "{" })).status, 400);
  }
  const { username, password } = await open.newUser();
  for (let i = 0; i < 12; i++) {
    await open.call("POST", "/login", { from, body: { username, password: "wrongpass" } });
  }
  assert.equal(
    (await open.call("POST", "/login", { from, body: { username, password } })).status,
    200,
  );
});
