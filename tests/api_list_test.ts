/**
 * GET /tasks list queries: status, q and sort, their totals and links, keyset cursors walking the
 * same list as the database's own ORDER BY, and every bad parameter a 400 naming it.
 */
import assert from "node:assert/strict";
import { SORT_FIELDS } from "../src/db/task_list.ts";
import { apiSuite, type TestApi } from "./api_helpers.ts";

const test = apiSuite("api: list queries");

type Spec = { title: string; description?: string; status?: string };

/** A new user with these tasks (through the API, in order); their ids and the user's id. */
async function userWith(api: TestApi, specs: Spec[]) {
  const { token } = await api.newUser();
  const ids: number[] = [];
  for (const body of specs) {
    const res = await api.call("POST", "/tasks", { token, body });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    ids.push(res.body.id);
  }
  const [{ user_id }] = specs.length
    ? await api.db.query<{ user_id: number }>("SELECT user_id FROM tasks WHERE id = $1", [ids[0]])
    : [{ user_id: 0 }];
  return { token, ids, userId: user_id };
}

function links(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? "").split(", ")) {
    const m = /^<(\/tasks\?[^>]+)>; rel="(\w+)"$/.exec(part);
    assert.ok(m, `bad Link part: ${part}`);
    out[m[2]] = m[1];
  }
  return out;
}

const idsOf = (body: { id: number }[]) => body.map((t) => t.id);

/** Every page from `start`, following `rel`; checks the total on each. */
async function walk(
  api: TestApi,
  token: string,
  start: string,
  rel: "next" | "prev",
  total: number,
): Promise<number[][]> {
  const pages: number[][] = [];
  let url: string | undefined = start;
  while (url) {
    const res = await api.call("GET", url, { token });
    assert.equal(res.status, 200, `${url}: ${JSON.stringify(res.body)}`);
    assert.equal(res.headers.get("X-Total-Count"), String(total), url);
    pages.push(idsOf(res.body));
    url = links(res.headers.get("Link"))[rel];
  }
  return pages;
}

test("status: one or several, comma-separated; the total and Link follow", async (api) => {
  const { token, ids } = await userWith(api, [
    { title: "a" },
    { title: "b", status: "completed" },
    { title: "c", status: "in_progress" },
    { title: "d", status: "completed" },
    { title: "e" },
  ]);
  const one = await api.call("GET", "/tasks?status=completed", { token });
  assert.deepEqual(idsOf(one.body), [ids[1], ids[3]]);
  assert.equal(one.headers.get("X-Total-Count"), "2");
  const two = await api.call("GET", "/tasks?status=pending,in_progress&per_page=2", { token });
  assert.deepEqual(idsOf(two.body), [ids[0], ids[2]]);
  assert.equal(two.headers.get("X-Total-Count"), "3");
  const rel = links(two.headers.get("Link"));
  assert.equal(rel.first, "/tasks?status=pending,in_progress&per_page=2");
  const next = await api.call("GET", rel.next, { token });
  assert.deepEqual(idsOf(next.body), [ids[4]]);
  assert.equal(next.headers.get("X-Total-Count"), "3");
  // The totals follow a status change and a delete.
  await api.call("PATCH", `/tasks/${ids[0]}`, { token, body: { status: "completed" } });
  await api.call("DELETE", `/tasks/${ids[1]}`, { token });
  const after = await api.call("GET", "/tasks?status=completed", { token });
  assert.deepEqual(idsOf(after.body), [ids[0], ids[3]]);
  assert.equal(after.headers.get("X-Total-Count"), "2");
  const all = await api.call("GET", "/tasks", { token });
  assert.equal(all.headers.get("X-Total-Count"), "4");
  const none = await api.call("GET", "/tasks?status=in_progress,completed&page=3", { token });
  assert.deepEqual([none.body, none.headers.get("X-Total-Count")], [[], "3"]);
});

test("q: case-insensitive, title or description, % _ and \\ literal", async (api) => {
  const { token, ids } = await userWith(api, [
    { title: "Write the REPORT" },
    { title: "Lunch", description: "then the report" },
    { title: "100% done" },
    { title: "a_b" },
    { title: "axb" },
    { title: "back\\slash" },
    { title: "Reporter", status: "completed" },
  ]);
  const cases: [string, number[]][] = [
    ["report", [ids[0], ids[1], ids[6]]],
    ["RePoRt", [ids[0], ids[1], ids[6]]],
    ["%", [ids[2]]],
    ["_", [ids[3]]],
    ["A_B", [ids[3]]],
    ["\\", [ids[5]]],
    ["nothing like it", []],
  ];
  for (const [q, expected] of cases) {
    const res = await api.call("GET", `/tasks?q=${encodeURIComponent(q)}`, { token });
    assert.equal(res.status, 200, q);
    assert.deepEqual(idsOf(res.body), expected, q);
    assert.equal(res.headers.get("X-Total-Count"), String(expected.length), q);
  }
  const both = await api.call("GET", "/tasks?q=report&status=completed", { token });
  assert.deepEqual(idsOf(both.body), [ids[6]]);
  const res = await api.call("GET", "/tasks?q=100%25%20done&per_page=1", { token });
  assert.equal(links(res.headers.get("Link")).first, "/tasks?q=100%25%20done&per_page=1");
});

test("q finds what ILIKE finds, non-ASCII case folding included", async (api) => {
  const titles = [
    "Crème BRÛLÉE",
    "crème brûlée",
    "ÉCLAIR",
    "Straße",
    "STRASSE",
    "İstanbul",
    "ǅemal",
  ];
  const { token, userId } = await userWith(api, titles.map((title) => ({ title })));
  for (const q of ["brûlée", "BRÛLÉE", "é", "É", "ß", "ss", "i̇", "istanbul", "ǆ", "Ǆ"]) {
    // The database's own ILIKE, under its own locale, is the reference.
    const pattern = `%${q.replace(/[\\%_]/g, "\\$&")}%`;
    const expected = (await api.db.query<{ id: number }>(
      `SELECT id FROM tasks WHERE user_id = $1 AND (title ILIKE $2 OR description ILIKE $2)
        ORDER BY id`,
      [userId, pattern],
    )).map((r) => r.id);
    const res = await api.call("GET", `/tasks?q=${encodeURIComponent(q)}`, { token });
    assert.deepEqual(idsOf(res.body), expected, q);
  }
});

/** Tasks that tie on every sort column, and timestamps that differ below the millisecond. */
async function tiedTasks(api: TestApi) {
  const specs: Spec[] = [];
  for (let i = 0; i < 13; i++) {
    specs.push({ title: ["b", "a", "B", "c"][i % 4], status: ["pending", "completed"][i % 3 % 2] });
  }
  const user = await userWith(api, specs);
  // Three created_at values, two of them in the same millisecond; updated_at the other way round.
  await api.db.query(
    `UPDATE tasks SET
       created_at = timestamptz '2025-01-01 00:00:00.123456Z' + (id % 3) * interval '100 us',
       updated_at = timestamptz '2025-06-01 00:00:00Z' - (id % 2) * interval '1 us'
     WHERE user_id = $1`,
    [user.userId],
  );
  return user;
}

for (const field of SORT_FIELDS) {
  for (const dir of ["", "-"]) {
    test(`sort=${dir}${field}: pages and cursors follow the database's order, ties by id`, async (api) => {
      const { token, userId } = await tiedTasks(api);
      const d = dir ? " DESC" : "";
      const order = field === "id" ? `id${d}` : `${field}${d}, id${d}`;
      const expected = (await api.db.query<{ id: number }>(
        `SELECT id FROM tasks WHERE user_id = $1 ORDER BY ${order}`,
        [userId],
      )).map((r) => r.id);
      const pages = Array.from({ length: 5 }, (_, i) => expected.slice(i * 3, i * 3 + 3));
      const base = `/tasks?sort=${dir}${field}&per_page=3`;
      for (let page = 1; page <= 5; page++) {
        const res = await api.call("GET", `${base}&page=${page}`, { token });
        assert.deepEqual(idsOf(res.body), pages[page - 1], `page ${page}`);
      }
      assert.deepEqual(await walk(api, token, base, "next", 13), pages);
      assert.deepEqual(
        await walk(api, token, `${base}&before=end`, "prev", 13),
        pages.toReversed(),
      );
      // Every sort answers the same tasks, to the character (timestamps cut to milliseconds).
      const plain = await api.call("GET", "/tasks?per_page=100", { token });
      const sorted = await api.call("GET", `/tasks?sort=${dir}${field}&per_page=100`, { token });
      const byId = (tasks: { id: number }[]) => tasks.toSorted((a, b) => a.id - b.id);
      assert.deepEqual(byId(sorted.body), byId(plain.body));
    });
  }
}

test("filter, search and sort together: every page by cursor, both ways", async (api) => {
  const specs: Spec[] = [];
  for (let i = 0; i < 40; i++) {
    specs.push({
      title: i % 3 ? `chore ${i}` : `Report ${i}`,
      description: i % 5 ? "" : "for the report",
      status: ["pending", "in_progress", "completed"][i % 3 === 0 ? 2 : i % 2],
    });
  }
  const { token, userId } = await userWith(api, specs);
  const expected = (await api.db.query<{ id: number }>(
    `SELECT id FROM tasks WHERE user_id = $1 AND status = 'completed'
       AND (title ILIKE '%report%' OR description ILIKE '%report%')
     ORDER BY created_at DESC, id DESC`,
    [userId],
  )).map((r) => r.id);
  assert.ok(expected.length > 8, `only ${expected.length} match`);
  const base = "/tasks?status=completed&q=report&sort=-created_at&per_page=4";
  const res = await api.call("GET", base, { token });
  assert.equal(res.headers.get("X-Total-Count"), String(expected.length));
  const rel = links(res.headers.get("Link"));
  assert.match(rel.next, /^\/tasks\?status=completed&q=report&sort=-created_at&per_page=4&after=/);
  assert.equal(rel.last, `${base}&before=end`);
  const pages: number[][] = [];
  for (let i = 0; i < expected.length; i += 4) pages.push(expected.slice(i, i + 4));
  assert.deepEqual(await walk(api, token, base, "next", expected.length), pages);
  assert.deepEqual(
    await walk(api, token, `${base}&before=end`, "prev", expected.length),
    pages.toReversed(),
  );
});

test("a cursor whose task is gone still pages from where it was", async (api) => {
  const { token, ids } = await userWith(
    api,
    Array.from({ length: 6 }, (_, i) => ({ title: `${i}` })),
  );
  const first = await api.call("GET", "/tasks?per_page=2", { token });
  const next = links(first.headers.get("Link")).next;
  await api.call("DELETE", `/tasks/${ids[1]}`, { token });
  const res = await api.call("GET", next, { token });
  assert.deepEqual(idsOf(res.body), [ids[2], ids[3]]);
  assert.ok(links(res.headers.get("Link")).prev, "rows before the cursor: a prev link");
  // Past the end: empty, with a way back to the last page.
  await api.call("DELETE", `/tasks/${ids[4]}`, { token });
  await api.call("DELETE", `/tasks/${ids[5]}`, { token });
  const end = await api.call("GET", links(res.headers.get("Link")).next, { token });
  assert.deepEqual(end.body, []);
  assert.equal(links(end.headers.get("Link")).prev, "/tasks?per_page=2&before=end");
  assert.equal(links(end.headers.get("Link")).next, undefined);
});

/** The base64url cursor text of a JSON value: what a client could forge. */
const forged = (value: unknown) =>
  btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

test("bad parameters are a 400 naming them, never a 500", async (api) => {
  const { token } = await userWith(api, [{ title: "t" }]);
  const cases: [string, RegExp][] = [
    ["foo=1", /Unknown query parameter "foo"/],
    ["status=done", /status must be one or more of pending, in_progress, completed.*"done"/],
    ["status=", /status must be one or more/],
    ["status=pending,", /status must be one or more/],
    ["status=pending&status=completed", /status must be given at most once/],
    ["q=", /q must not be empty/],
    [`q=${"x".repeat(201)}`, /q must be at most 200 characters/],
    ["q=a%00b", /"q" must not contain a NUL character/],
    ["sort=priority", /sort must be one of id, created_at, updated_at, title, status.*"priority"/],
    ["sort=--id", /sort must be one of/],
    ["sort=Title", /sort must be one of/],
    ["page=2&after=x", /page and after cannot be combined/],
    ["after=x&before=end", /after and before cannot be combined/],
    ["after=!!!", /after is not a valid cursor/],
    ["before=bm90IGpzb24", /before is not a valid cursor/],
    [`after=${forged(["id", null, 0])}`, /after is not a valid cursor/],
    [`after=${forged(["id", null, 2 ** 31])}`, /after is not a valid cursor/],
    [`after=${forged(["title", "a", 1])}`, /after is a cursor for sort=title, not sort=id/],
    [`sort=title&after=${forged(["title", "a\u0000", 1])}`, /after is not a valid cursor/],
    [`sort=title&after=${forged(["title", 5, 1])}`, /after is not a valid cursor/],
    [`sort=status&after=${forged(["status", "done", 1])}`, /after is not a valid cursor/],
    [
      `sort=created_at&after=${forged(["created_at", "2025-02-30T00:00:00.000000Z", 1])}`,
      /after is not a valid cursor/,
    ],
    [
      `sort=created_at&after=${forged(["created_at", "2025-01-01T00:00:00Z", 1])}`,
      /after is not a valid cursor/,
    ],
  ];
  for (const [query, message] of cases) {
    const res = await api.call("GET", `/tasks?${query}`, { token });
    assert.equal(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
    assert.match(res.body.message, message, query);
  }
  // A well-formed forged cursor is just a position.
  const ok = await api.call("GET", `/tasks?sort=title&after=${forged(["title", "a", 1])}`, {
    token,
  });
  assert.deepEqual([ok.status, idsOf(ok.body).length], [200, 1]);
});
