/**
 * Sessions: logout and a replayed refresh token end the whole login, access tokens included, on
 * every process within a second; a deleted user's tokens answer 401; and checking all that costs
 * `GET /tasks` no extra database round trip.
 */
import assert from "node:assert/strict";
import { createApp } from "../src/app.ts";
import type { Database } from "../src/db/database.ts";
import { apiSuite, captureLogs, type TestApi, wrap } from "./api_helpers.ts";

const test = apiSuite("api: sessions");

/** Logs in again (a second login of the same user). */
async function loginAgain(api: TestApi, user: { username: string; password: string }) {
  const res = await api.call("POST", "/login", {
    body: { username: user.username, password: user.password },
  });
  assert.equal(res.status, 200);
  return { token: res.body.access_token as string, refresh: res.body.refresh_token as string };
}

const status = async (api: TestApi, token: string) =>
  (await api.call("GET", "/tasks", { token })).status;

test("logout ends every token of that login, access tokens included, on every process", async (api) => {
  const other = api.withConfig({}); // another process: its own revocation list
  const user = await api.newUser();
  const rotated = await api.call("POST", "/refresh", { token: user.refresh });
  const second = await loginAgain(api, user);
  const tokens = [user.token, rotated.body.access_token];
  for (const t of tokens) {
    assert.equal(await status(api, t), 200);
    assert.equal(await status(other, t), 200);
  }
  const out = await api.call("POST", "/logout", { token: rotated.body.refresh_token });
  assert.equal(out.status, 200);
  // Here at once.
  for (const t of tokens) assert.equal(await status(api, t), 401);
  // Elsewhere once its copy of the revocations is a second old (4 s short of the 5 s allowed).
  api.clock.advance(1.001);
  for (const t of tokens) {
    const res = await other.call("GET", "/tasks", { token: t });
    assert.equal(res.status, 401);
    assert.match(res.body.message, /login has ended/);
  }
  assert.equal(
    (await other.call("POST", "/tasks", { token: tokens[0], body: { title: "t" } })).status,
    401,
  );
  // The user's other login goes on.
  assert.equal(await status(api, second.token), 200);
  assert.equal(await status(other, second.token), 200);
  assert.equal((await other.call("POST", "/refresh", { token: second.refresh })).status, 200);
});

test("a refresh token replayed after rotation ends the whole login", async (api) => {
  await using logs = await captureLogs();
  const other = api.withConfig({});
  const user = await api.newUser();
  const stolen = user.refresh;
  // The client refreshes; the thief replays what it stole.
  const client = await api.call("POST", "/refresh", { token: user.refresh });
  assert.equal(client.status, 200);
  const replay = await other.call("POST", "/refresh", { token: stolen });
  assert.equal(replay.status, 401);
  // Everything of that login is dead: the rotated refresh token and every access token.
  assert.equal(
    (await api.call("POST", "/refresh", { token: client.body.refresh_token })).status,
    401,
  );
  api.clock.advance(1.001);
  for (const app of [api, other]) {
    assert.equal(await status(app, client.body.access_token), 401);
    assert.equal(await status(app, user.token), 401);
  }
  const audit = logs.of("taskapi", "audit").filter((e) => e.event === "refresh_reused");
  assert.equal(audit.length, 1, JSON.stringify(logs.of("taskapi", "audit")));
  assert.equal(typeof audit[0].login_id, "string");
  // A thief who refreshes first gets the login ended as soon as the client refreshes.
  const victim = await api.newUser();
  const thief = await other.call("POST", "/refresh", { token: victim.refresh });
  assert.equal(thief.status, 200);
  assert.equal((await api.call("POST", "/refresh", { token: victim.refresh })).status, 401);
  assert.equal(
    (await other.call("POST", "/refresh", { token: thief.body.refresh_token })).status,
    401,
  );
  api.clock.advance(1.001);
  assert.equal(await status(other, thief.body.access_token), 401);
});

test("a deleted user's tokens answer 401, at once and on every process", async (api) => {
  const other = api.withConfig({});
  const user = await api.newUser();
  const task = (await api.call("POST", "/tasks", { token: user.token, body: { title: "t" } }))
    .body.task;
  // Both apps have just read the revocations: their copies are fresh when the user goes.
  assert.equal(await status(api, user.token), 200);
  assert.equal(await status(other, user.token), 200);
  const id = (await api.db.query<{ id: number }>(
    "DELETE FROM users WHERE username_key = $1 RETURNING id",
    [user.username.toLowerCase()],
  ))[0].id;
  assert.ok(id > 0);
  const calls: [string, string, unknown?][] = [
    ["GET", "/tasks"],
    ["GET", "/tasks?page=2"],
    ["POST", "/tasks", { title: "t" }],
    ["GET", `/tasks/${task.id}`],
    ["PUT", `/tasks/${task.id}`, { title: "u" }],
    ["PATCH", `/tasks/${task.id}`, { status: "completed" }],
    ["DELETE", `/tasks/${task.id}`],
  ];
  for (const app of [api, other]) {
    for (const [method, path, body] of calls) {
      const res = await app.call(method, path, { token: user.token, body });
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.equal(typeof res.body.message, "string");
    }
    assert.equal((await app.call("POST", "/refresh", { token: user.refresh })).status, 401);
  }
  // Once the copies are read again, the revocation list refuses them up front.
  api.clock.advance(1.001);
  const res = await other.call("GET", "/tasks", { token: user.token });
  assert.deepEqual([res.status, res.body.message], [401, "User no longer exists"]);
});

test("checking revocations costs GET /tasks no database round trip", async (api) => {
  let queries = 0;
  const counting: Database = Object.create(api.db, {
    query: {
      value: (...args: Parameters<Database["query"]>) => {
        queries++;
        return api.db.query(...args);
      },
    },
  });
  const app = createApp({ db: counting, config: api.config, clock: api.clock.now });
  const local = wrap(app, counting, api.config, async () => {}, api.clock);
  const { token } = await api.newUser();
  await local.call("POST", "/tasks", { token, body: { title: "t" } });
  assert.equal(await status(local, token), 200); // reads the revocations (fresh from here on)
  const before = queries;
  for (let i = 0; i < 20; i++) assert.equal(await status(local, token), 200);
  assert.equal(queries - before, 20, "one statement per GET /tasks: the page itself");
  // A second later, one request reads the revocations again; one read per second in all.
  api.clock.advance(1.001);
  const again = queries;
  await Promise.all(Array.from({ length: 10 }, () => status(local, token)));
  assert.equal(queries - again, 11);
});
