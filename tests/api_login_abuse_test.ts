/**
 * The login limits as an attacker tries them: Unicode variants of a locked name, lockouts as a
 * weapon against the owner, guessing spread over many addresses, IPv6 address rotation within a
 * /64, forged `X-Forwarded-For`; and the audit lines every authentication event leaves.
 */
import assert from "node:assert/strict";
import { apiSuite, captureLogs, randomAddress, type TestApi } from "./api_helpers.ts";
import { uniqueName } from "./db_helpers.ts";

const test = apiSuite("api: login abuse");
const WRONG = "wrong-password";

async function registered(api: TestApi, username = uniqueName("u")) {
  const password = "securepassword";
  const res = await api.call("POST", "/register", { body: { username, password } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { username, password };
}

const login = (api: TestApi, username: string, password: string, from: string) =>
  api.call("POST", "/login", { from, body: { username, password } });

test("one canonical name: a Unicode variant of a locked name gets no fresh attempts", async (api) => {
  const limited = api.withConfig({ loginMaxFailures: 3 });
  // "İ" (U+0130): JavaScript lowercases it to "i̇", PostgreSQL's lower() to "i" in C.UTF-8. When the
  // lockout and the lookup folded apart, "İvan" counted apart from "ivan" yet logged in as ivan.
  const name = `ivan_${uniqueName("k").slice(2)}`;
  const { password } = await registered(limited, name);
  const from = randomAddress();
  for (let i = 0; i < 3; i++) assert.equal((await login(limited, name, WRONG, from)).status, 401);
  const variants = [
    name.toUpperCase(),
    `İ${name.slice(1)}`,
    `\u0130${name.slice(1).toUpperCase()}`,
    name.replace("k", "\u212A"), // KELVIN SIGN
    [...name].map((ch) => String.fromCodePoint(ch.codePointAt(0)! + 0xfee0)).join(""), // fullwidth
  ];
  for (const variant of variants) {
    const res = await login(limited, variant, password, from);
    assert.notEqual(res.status, 200, `${JSON.stringify(variant)} logged in past the lockout`);
  }
  // The variants that are the same name answer the lockout; İ makes another name, which no one
  // can register, so it can never log in.
  assert.equal((await login(limited, name.toUpperCase(), password, from)).status, 429);
  assert.equal((await login(limited, name.replace("k", "\u212A"), password, from)).status, 429);
  assert.equal((await login(limited, `İ${name.slice(1)}`, password, from)).status, 401);
  // From elsewhere, the canonical variants are the account.
  const elsewhere = randomAddress();
  for (const variant of [name.toUpperCase(), name.replace("k", "\u212A"), variants[4]]) {
    assert.equal((await login(limited, variant, password, elsewhere)).status, 200, variant);
  }
});

test("uniqueness agrees with the canonical form", async (api) => {
  const name = `Kim_${uniqueName("x").slice(2)}`;
  await registered(api, name);
  for (const taken of [name.toLowerCase(), name.toUpperCase()]) {
    const res = await api.call("POST", "/register", {
      body: { username: taken, password: "securepassword" },
    });
    assert.equal(res.status, 409, taken);
  }
  // Variants outside ASCII are not valid names to register at all.
  for (const variant of [name.replace("K", "\u212A"), `\uFF2B${name.slice(1)}`]) {
    const res = await api.call("POST", "/register", {
      body: { username: variant, password: "securepassword" },
    });
    assert.equal(res.status, 400, variant);
  }
  const rows = await api.db.query<{ username: string; username_key: string }>(
    "SELECT username, username_key FROM users WHERE username_key = $1",
    [name.toLowerCase()],
  );
  assert.deepEqual(rows, [{ username: name, username_key: name.toLowerCase() }]);
});

test("a login name outside the rules is a 401 after the same work", async (api) => {
  const { username } = await registered(api);
  const time = async (name: string) => {
    const t0 = performance.now();
    const res = await login(api, name, WRONG, randomAddress());
    return { ...res, ms: performance.now() - t0 };
  };
  const wrong = await time(username);
  for (const name of ["", "ab", "a b", "x".repeat(51), "x".repeat(10_000), "émile", "İvan"]) {
    const res = await time(name);
    assert.deepEqual([res.status, res.body], [wrong.status, wrong.body], name.slice(0, 20));
    // An Argon2id hash is tens of milliseconds; a shortcut would be well under 5.
    assert.ok(res.ms > 10, `${JSON.stringify(name.slice(0, 20))} answered in ${res.ms} ms`);
  }
  // Not text at all is still a 400.
  for (const username of [42, null, "a\u0000b"]) {
    const res = await api.call("POST", "/login", { body: { username, password: "x" } });
    assert.equal(res.status, 400, JSON.stringify(username));
  }
});

test("failures count per username and address: one address cannot lock the owner out", async (api) => {
  const limited = api.withConfig({ loginMaxFailures: 3, loginMaxFailuresPerUser: 100 });
  const { username, password } = await registered(limited);
  const attacker = randomAddress();
  for (let i = 0; i < 3; i++) {
    assert.equal((await login(limited, username, WRONG, attacker)).status, 401);
  }
  const locked = await login(limited, username, password, attacker);
  assert.equal(locked.status, 429);
  assert.match(locked.body.message, /for this username from this address/);
  // The owner, elsewhere, is not locked out.
  assert.equal((await login(limited, username, password, randomAddress())).status, 200);
});

test("LOGIN_MAX_FAILURES_PER_USER stops guessing spread over addresses", async (api) => {
  const limited = api.withConfig({ loginMaxFailures: 3, loginMaxFailuresPerUser: 5 });
  const { username, password } = await registered(limited);
  for (let i = 0; i < 5; i++) {
    assert.equal((await login(limited, username, WRONG, randomAddress())).status, 401);
  }
  const res = await login(limited, username, password, randomAddress());
  assert.equal(res.status, 429);
  assert.match(res.body.message, /for this username;/);
  const retry = Number(res.headers.get("Retry-After"));
  assert.ok(retry > 890 && retry <= 900, `Retry-After ${retry}`);
  // Until the window passes.
  api.clock.advance(900);
  assert.equal((await login(limited, username, password, randomAddress())).status, 200);
});

test("IPv6 clients count per /64", async (api) => {
  const limited = api.withConfig({ loginMaxFailures: 3 });
  const { username, password } = await registered(limited);
  const group = () => ((Math.random() * 0xfff) | 0).toString(16);
  const [a, b] = [group(), group()];
  const prefix = `2001:db8:${a}:${b}`;
  for (const host of ["::1", "::2", ":ffff:ffff:ffff:ffff"]) {
    const from = `${prefix}${host}`;
    assert.equal((await login(limited, username, WRONG, from)).status, 401, from);
  }
  assert.equal((await login(limited, username, password, `${prefix}:1:2:3:4`)).status, 429);
  // The next /64 is another client.
  assert.equal((await login(limited, username, password, `2001:db8:${a}:${b}1::1`)).status, 200);
});

test("TRUSTED_PROXIES: their X-Forwarded-For names the client, right-most untrusted hop", async (api) => {
  const behind = api.withConfig({
    authRequestsPerMinute: 2,
    trustedProxies: [{ bytes: new Uint8Array([10, 0, 0, 0]), prefix: 8 }],
  });
  const client = randomAddress().replace(/^10\./, "198.");
  const send = (from: string, xff?: string) =>
    behind.call("POST", "/login", {
      from,
      body: "{",
      headers: xff === undefined ? {} : { "X-Forwarded-For": xff },
    });
  // Through two proxies, with a hop the client made up on the left.
  assert.equal((await send("10.0.0.1", `6.6.6.6, ${client}`)).status, 400);
  assert.equal((await send("10.0.0.2", `7.7.7.7, ${client}, 10.9.9.9`)).status, 400);
  const third = await send("10.0.0.3", `${client}`);
  assert.equal(third.status, 429, "the same client, whatever it wrote and whichever proxy");
  // Another client behind the same proxy is not limited.
  assert.equal((await send("10.0.0.1", randomAddress().replace(/^10\./, "199."))).status, 400);
  // From an address that is no trusted proxy, X-Forwarded-For is not believed.
  const direct = randomAddress().replace(/^10\./, "192.");
  assert.equal((await send(direct, "1.1.1.1")).status, 400);
  assert.equal((await send(direct, "2.2.2.2")).status, 400);
  assert.equal((await send(direct, "3.3.3.3")).status, 429);
});

test("audit: login success, failure and lockout, registration; never a password or token", async (api) => {
  await using logs = await captureLogs();
  const limited = api.withConfig({ loginMaxFailures: 1 });
  const { username, password } = await registered(limited);
  const from = randomAddress();
  const ok = await login(limited, username.toUpperCase(), password, from);
  assert.equal(ok.status, 200);
  await login(limited, username, WRONG, from);
  await login(limited, username, password, from);
  await login(limited, "no such\nuser", WRONG, from);
  const events = logs.of("taskapi", "audit");
  const key = username.toLowerCase();
  assert.deepEqual(events.map((e) => [e.event, e.username, e.client]), [
    ["registered", key, "192.0.2.1"],
    ["login_succeeded", key, from],
    ["login_failed", key, from],
    ["login_locked", key, from],
    ["login_failed", "no such\nuser", from],
  ]);
  assert.equal(events[2].reason, "wrong_password");
  assert.equal(events[4].reason, "invalid_name");
  assert.equal(typeof events[1].user_id, "number");
  const all = JSON.stringify(logs.records.map((r) => [r.message, r.properties]));
  for (const secret of [password, WRONG, ok.body.access_token, ok.body.refresh_token]) {
    assert.ok(!all.includes(secret), "a secret reached the log");
  }
});
