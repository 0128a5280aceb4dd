import assert from "node:assert/strict";
import { insertTask } from "../src/db/tasks.ts";
import { encodeCursor } from "../src/pagination.ts";
import { apiSuite, type TestApi } from "./api_helpers.ts";

// One app and database for the whole file: opening an embedded database costs a second or two.
const test = apiSuite("api: tasks");

/** Creates `n` tasks for the user behind `token` straight in the database; returns their ids. */
async function seed(api: TestApi, userToken: string, n: number): Promise<number[]> {
  const me = await api.call("POST", "/tasks", { token: userToken, body: { title: "task 1" } });
  const userId = (await api.db.query<{ user_id: number }>(
    "SELECT user_id FROM tasks WHERE id = $1",
    [me.body.id],
  ))[0].user_id;
  const ids = [me.body.id];
  for (let i = 2; i <= n; i++) {
    ids.push((await insertTask(api.db, userId, { title: `task ${i}` })).id);
  }
  return ids;
}

/** The `Link` header's targets by relation: relative references, never built from `Host`. */
function links(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? "").split(", ")) {
    const m = /^<(\/tasks\?[^>]+)>; rel="(\w+)"$/.exec(part);
    assert.ok(m, `bad Link part: ${part}`);
    out[m[2]] = m[1];
  }
  return out;
}

const ids = (res: { body: { id: number }[] }) => res.body.map((t) => t.id);

test("the eight Postman steps, end to end", async (api) => {
  const body = {
    username: `testuser1_${crypto.randomUUID().slice(0, 8)}`,
    password: "securepassword",
  };
  // 1
  const reg = await api.call("POST", "/register", { body });
  assert.equal(reg.status, 201);
  assert.deepEqual(reg.body, { message: "User created successfully" });
  // 2
  const login = await api.call("POST", "/login", { body });
  assert.equal(login.status, 200);
  assert.equal(typeof login.body.access_token, "string");
  const token = login.body.access_token;
  // 3
  const created = await api.call("POST", "/tasks", {
    token,
    body: { title: "My First Postman Task", description: "Testing the API with Postman." },
  });
  assert.equal(created.status, 201);
  assert.equal(created.body.message, "Task created successfully");
  assert.ok(Number.isInteger(created.body.id));
  const id = created.body.id;
  // 4
  const list = await api.call("GET", "/tasks", { token });
  assert.equal(list.status, 200);
  assert.ok(Array.isArray(list.body));
  assert.deepEqual(list.body.map((t: { id: number }) => t.id), [id]);
  // 5
  const one = await api.call("GET", `/tasks/${id}`, { token });
  assert.equal(one.status, 200);
  assert.equal(one.body.id, id);
  assert.equal(one.body.title, "My First Postman Task");
  assert.equal(one.body.description, "Testing the API with Postman.");
  assert.equal(one.body.status, "pending");
  assert.ok(!Number.isNaN(Date.parse(one.body.created_at)));
  assert.ok(!Number.isNaN(Date.parse(one.body.updated_at)));
  // 6
  const put = await api.call("PUT", `/tasks/${id}`, {
    token,
    body: { title: "Updated Task Title", status: "completed" },
  });
  assert.equal(put.status, 200);
  assert.equal(put.body.message, "Task updated successfully");
  const after = await api.call("GET", `/tasks/${id}`, { token });
  assert.equal(after.body.title, "Updated Task Title");
  assert.equal(after.body.status, "completed");
  assert.equal(after.body.description, "Testing the API with Postman.");
  // 7
  const del = await api.call("DELETE", `/tasks/${id}`, { token });
  assert.equal(del.status, 200);
  assert.deepEqual(del.body, { message: "Task deleted successfully" });
  assert.equal((await api.call("GET", `/tasks/${id}`, { token })).status, 404);
  // 8
  const page = await api.call("GET", "/tasks?page=2&per_page=5", { token });
  assert.equal(page.status, 200);
  assert.deepEqual(page.body, []);
  assert.equal(page.headers.get("X-Total-Count"), "0");
  assert.ok(page.headers.get("Link"));
});

test("tasks: create answers the task with defaults, and a Location", async (api) => {
  const { token } = await api.newUser();
  const res = await api.call("POST", "/tasks", { token, body: { title: "t" } });
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("Location"), `/tasks/${res.body.id}`);
  assert.equal(res.body.task.id, res.body.id);
  assert.equal(res.body.task.description, "");
  assert.equal(res.body.task.status, "pending");
  assert.deepEqual(
    Object.keys(res.body.task).sort(),
    [
      "created_at",
      "description",
      "id",
      "status",
      "title",
    ].concat("updated_at").sort(),
  );
  const full = await api.call("POST", "/tasks", {
    token,
    body: { title: "x".repeat(200), description: "d".repeat(10_000), status: "in_progress" },
  });
  assert.equal(full.status, 201);
  assert.equal(full.body.task.status, "in_progress");
  // Lengths count characters: 200 emoji are a 200-character title.
  const emoji = await api.call("POST", "/tasks", { token, body: { title: "😀".repeat(200) } });
  assert.equal(emoji.status, 201);
  assert.equal(emoji.body.task.title, "😀".repeat(200));
});

test("tasks: invalid bodies are a 400 naming the problem", async (api) => {
  const { token } = await api.newUser();
  const cases: [unknown, RegExp][] = [
    [{}, /title is required/],
    [{ title: "" }, /title must not be empty/],
    [{ title: "   " }, /title must not be blank/],
    [{ title: "x".repeat(201) }, /at most 200/],
    [{ title: "😀".repeat(201) }, /at most 200/],
    [{ title: 5 }, /title must be a string/],
    [{ title: "t", description: "d".repeat(10_001) }, /at most 10000/],
    [{ title: "t", description: null }, /description must be a string/],
    [{ title: "t", status: "done" }, /status must be one of pending, in_progress, completed/],
    [{ title: "t", tilte: "typo" }, /Unknown field "tilte"/],
    [[], /must be a JSON object/],
    [null, /must be a JSON object/],
    ["{not json", /Malformed JSON/],
    ["", /Malformed JSON/],
  ];
  for (const [body, message] of cases) {
    const res = await api.call("POST", "/tasks", { token, body: body === null ? "null" : body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match(res.body.message, message);
  }
  // Nothing was created along the way.
  assert.deepEqual((await api.call("GET", "/tasks", { token })).body, []);
});

test(
  "tasks: PUT and PATCH change only the fields given and bump updated_at",
  async (api) => {
    const { token } = await api.newUser();
    const created = (await api.call("POST", "/tasks", {
      token,
      body: { title: "a", description: "keep me" },
    })).body.task;
    await new Promise((r) => setTimeout(r, 5));
    const patch = await api.call("PATCH", `/tasks/${created.id}`, {
      token,
      body: { status: "in_progress" },
    });
    assert.equal(patch.status, 200);
    assert.equal(patch.body.message, "Task updated successfully");
    assert.equal(patch.body.task.title, "a");
    assert.equal(patch.body.task.description, "keep me");
    assert.equal(patch.body.task.status, "in_progress");
    assert.equal(patch.body.task.created_at, created.created_at);
    assert.ok(Date.parse(patch.body.task.updated_at) > Date.parse(created.updated_at));

    const put = await api.call("PUT", `/tasks/${created.id}`, { token, body: { description: "" } });
    assert.equal(put.status, 200);
    assert.deepEqual(
      [put.body.task.title, put.body.task.description, put.body.task.status],
      ["a", "", "in_progress"],
    );

    for (const method of ["PUT", "PATCH"]) {
      const empty = await api.call(method, `/tasks/${created.id}`, { token, body: {} });
      assert.equal(empty.status, 400);
      assert.match(empty.body.message, /Nothing to update/);
      const bad = await api.call(method, `/tasks/${created.id}`, { token, body: { status: "x" } });
      assert.equal(bad.status, 400);
      const unknown = await api.call(method, `/tasks/${created.id}`, { token, body: { id: 9 } });
      assert.equal(unknown.status, 400);
      assert.match(unknown.body.message, /Unknown field "id"/);
    }
  },
);

test("tasks: ids that are not positive int4 values are a 404, never a 500", async (api) => {
  const { token } = await api.newUser();
  for (const id of ["abc", "0", "-1", "1.5", "1e3", "01", "2147483648", "99999999999999999999"]) {
    for (const method of ["GET", "PUT", "PATCH", "DELETE"]) {
      const body = method === "PUT" || method === "PATCH" ? { title: "x" } : undefined;
      const res = await api.call(method, `/tasks/${id}`, { token, body });
      assert.equal(res.status, 404, `${method} /tasks/${id}`);
      assert.equal(res.body.message, "Task not found");
    }
  }
  const missing = await api.call("GET", "/tasks/2147483647", { token });
  assert.equal(missing.status, 404);
});

test("tasks: two users cannot see or touch each other's tasks", async (api) => {
  const alice = await api.newUser();
  const bob = await api.newUser();
  const task = (await api.call("POST", "/tasks", { token: alice.token, body: { title: "mine" } }))
    .body.task;
  const bobs = (await api.call("POST", "/tasks", { token: bob.token, body: { title: "bob's" } }))
    .body.task;

  assert.deepEqual((await api.call("GET", "/tasks", { token: bob.token })).body, [bobs]);
  for (
    const [method, body] of [["GET"], ["PUT", { title: "x" }], ["PATCH", { status: "completed" }], [
      "DELETE",
    ]] as const
  ) {
    const res = await api.call(method, `/tasks/${task.id}`, { token: bob.token, body });
    assert.equal(res.status, 404, method);
    assert.deepEqual(res.body, { message: "Task not found" });
  }
  // A missing id answers exactly the same.
  const missing = await api.call("GET", "/tasks/2147483646", { token: bob.token });
  assert.deepEqual([missing.status, missing.body], [404, { message: "Task not found" }]);

  const still = await api.call("GET", `/tasks/${task.id}`, { token: alice.token });
  assert.deepEqual(still.body, task);
  assert.equal(
    (await api.call("GET", "/tasks", { token: alice.token })).headers.get("X-Total-Count"),
    "1",
  );
});

for (const total of [0, 1, 5, 23]) {
  test(`pagination: ${total} tasks, 5 per page, by page number and by Link`, async (api) => {
    const { token } = await api.newUser();
    const all = total > 0 ? await seed(api, token, total) : [];
    const last = Math.max(1, Math.ceil(total / 5));
    const pages: number[][] = [];
    for (let page = 1; page <= last + 1; page++) {
      const res = await api.call("GET", `/tasks?page=${page}&per_page=5`, { token });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("X-Total-Count"), String(total));
      const expected = all.slice((page - 1) * 5, page * 5);
      assert.deepEqual(ids(res), expected, `page ${page}`);
      if (page <= last) pages.push(expected);
      const rel = links(res.headers.get("Link"));
      assert.equal(rel.first, "/tasks?per_page=5");
      assert.equal(rel.last, "/tasks?per_page=5&before=end");
      assert.equal(rel.prev !== undefined, page > 1, `prev on page ${page}`);
      assert.equal(rel.next !== undefined, page < last, `next on page ${page}`);
    }
    // Following next from the first page, and prev from the last, meets the same pages.
    const walk = async (from: string, rel: "next" | "prev") => {
      const seen: number[][] = [];
      for (let url: string | undefined = from; url;) {
        const res = await api.call("GET", url, { token });
        assert.equal(res.headers.get("X-Total-Count"), String(total));
        seen.push(ids(res));
        url = links(res.headers.get("Link"))[rel];
      }
      return seen;
    };
    assert.deepEqual(await walk("/tasks?per_page=5", "next"), pages);
    assert.deepEqual(await walk("/tasks?per_page=5&before=end", "prev"), pages.toReversed());
  });
}

test("pagination: defaults to 10 per page, at most 100, ordered by id", async (api) => {
  const { token } = await api.newUser();
  const all = await seed(api, token, 12);
  const first = await api.call("GET", "/tasks", { token });
  assert.deepEqual(ids(first), all.slice(0, 10));
  const rel = links(first.headers.get("Link"));
  assert.deepEqual(ids(await api.call("GET", rel.next, { token })), all.slice(10));
  assert.deepEqual(ids(await api.call("GET", rel.last, { token })), all.slice(10));
  assert.deepEqual(ids(await api.call("GET", "/tasks?per_page=100", { token })), all);
  const far = await api.call("GET", "/tasks?page=900719925474099&per_page=100", { token });
  assert.deepEqual([far.status, far.body, far.headers.get("X-Total-Count")], [200, [], "12"]);
  // An empty page past the end leads back to the last page.
  assert.equal(links(far.headers.get("Link")).prev, "/tasks?per_page=100&before=end");
});

test("pagination: the exact Link header for page 2 of 23", async (api) => {
  const { token } = await api.newUser();
  const all = await seed(api, token, 23);
  const res = await api.call("GET", "/tasks?page=2&per_page=5", { token });
  // Relative references: the request's Host never reaches a link.
  const cursor = (id: number) => encodeCursor({ field: "id", key: null, id });
  assert.equal(
    res.headers.get("Link"),
    [
      `</tasks?per_page=5>; rel="first"`,
      `</tasks?per_page=5&before=${cursor(all[5])}>; rel="prev"`,
      `</tasks?per_page=5&after=${cursor(all[9])}>; rel="next"`,
      `</tasks?per_page=5&before=end>; rel="last"`,
    ].join(", "),
  );
});

test("pagination: bad page or per_page is a 400, not a clamp", async (api) => {
  const { token } = await api.newUser();
  for (
    const query of [
      "page=0",
      "page=-1",
      "page=abc",
      "page=1.5",
      "page=",
      "page=1e2",
      "per_page=0",
      "per_page=101",
      "per_page=abc",
      "per_page=-5",
      "per_page=",
      "page=99999999999999999999",
    ]
  ) {
    const res = await api.call("GET", `/tasks?${query}`, { token });
    assert.equal(res.status, 400, query);
    assert.match(res.body.message, /(page|per_page) must be a whole number/);
  }
});
