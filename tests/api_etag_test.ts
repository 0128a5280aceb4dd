/**
 * Conditional requests on single tasks: a strong ETag on every one-task answer, If-None-Match →
 * 304, If-Match → 412 with nothing changed, and the check made by the write itself, so that of
 * several writers holding the same ETag exactly one wins.
 */
import assert from "node:assert/strict";
import { apiSuite, type TestApi } from "./api_helpers.ts";

const test = apiSuite("api: ETags and conditional requests");

async function oneTask(api: TestApi) {
  const { token } = await api.newUser();
  const created = await api.call("POST", "/tasks", {
    token,
    body: { title: "t", description: "d" },
  });
  return { token, id: created.body.id as number, etag: created.headers.get("ETag")! };
}

const STRONG = /^"[^"]+"$/;

test("every answer with one task carries a strong ETag that changes with it", async (api) => {
  const { token, id, etag } = await oneTask(api);
  assert.match(etag, STRONG);
  const got = await api.call("GET", `/tasks/${id}`, { token });
  assert.equal(got.headers.get("ETag"), etag);
  assert.equal((await api.call("GET", `/tasks/${id}`, { token })).headers.get("ETag"), etag);
  const put = await api.call("PUT", `/tasks/${id}`, { token, body: { title: "u" } });
  const putTag = put.headers.get("ETag")!;
  assert.match(putTag, STRONG);
  assert.notEqual(putTag, etag);
  const patch = await api.call("PATCH", `/tasks/${id}`, { token, body: { title: "u" } });
  // Even a change to the same value is a new version (updated_at moved).
  assert.notEqual(patch.headers.get("ETag"), putTag);
  assert.equal(
    (await api.call("GET", `/tasks/${id}`, { token })).headers.get("ETag"),
    patch.headers.get("ETag"),
  );
  // Lists and messages carry none.
  assert.equal((await api.call("GET", "/tasks", { token })).headers.get("ETag"), null);
  assert.equal((await api.call("DELETE", `/tasks/${id}`, { token })).headers.get("ETag"), null);
  // Two tasks never share one.
  const other = await oneTask(api);
  assert.notEqual(other.etag, etag);
});

test("If-None-Match on GET: 304 while it matches, 200 once the task changed", async (api) => {
  const { token, id, etag } = await oneTask(api);
  for (const header of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
    const res = await api.call("GET", `/tasks/${id}`, {
      token,
      headers: { "If-None-Match": header },
    });
    assert.equal(res.status, 304, header);
    assert.equal(res.body, null);
    assert.equal(res.headers.get("ETag"), etag);
  }
  const miss = await api.call("GET", `/tasks/${id}`, {
    token,
    headers: { "If-None-Match": '"nope"' },
  });
  assert.equal(miss.status, 200);
  await api.call("PATCH", `/tasks/${id}`, { token, body: { status: "completed" } });
  const changed = await api.call("GET", `/tasks/${id}`, {
    token,
    headers: { "If-None-Match": etag },
  });
  assert.equal(changed.status, 200);
  assert.equal(changed.body.status, "completed");
  // Another user's task is a 404 whatever the header says.
  const bob = await api.newUser();
  const hidden = await api.call("GET", `/tasks/${id}`, {
    token: bob.token,
    headers: { "If-None-Match": "*" },
  });
  assert.equal(hidden.status, 404);
});

test("If-Match on PUT, PATCH, DELETE: 412 when stale and nothing changes", async (api) => {
  const { token, id, etag } = await oneTask(api);
  const current = await api.call("PATCH", `/tasks/${id}`, {
    token,
    body: { title: "second" },
    headers: { "If-Match": etag },
  });
  assert.equal(current.status, 200);
  const now = current.headers.get("ETag")!;
  const before = (await api.call("GET", `/tasks/${id}`, { token })).body;
  const other = await oneTask(api);
  const stale = [etag, `W/${now}`, "garbage", '"1.1"', other.etag, '"x", ' + etag];
  for (
    const [method, body] of [["PUT", { title: "x" }], ["PATCH", { status: "completed" }], [
      "DELETE",
    ]] as const
  ) {
    for (const header of stale) {
      const res = await api.call(method, `/tasks/${id}`, {
        token,
        body,
        headers: { "If-Match": header },
      });
      assert.equal(res.status, 412, `${method} If-Match: ${header}`);
      assert.match(res.body.message, /The task has changed/);
      assert.equal(res.headers.get("ETag"), now);
    }
  }
  const after = await api.call("GET", `/tasks/${id}`, { token });
  assert.deepEqual(after.body, before);
  assert.equal(after.headers.get("ETag"), now);
  // A list with the current tag, or *, passes.
  const put = await api.call("PUT", `/tasks/${id}`, {
    token,
    body: { title: "third" },
    headers: { "If-Match": `"x", ${now}` },
  });
  assert.equal(put.status, 200);
  const star = await api.call("PATCH", `/tasks/${id}`, {
    token,
    body: { title: "fourth" },
    headers: { "If-Match": "*" },
  });
  assert.equal(star.status, 200);
  const del = await api.call("DELETE", `/tasks/${id}`, {
    token,
    headers: { "If-Match": star.headers.get("ETag")! },
  });
  assert.deepEqual([del.status, del.body], [200, { message: "Task deleted successfully" }]);
  // A missing task is a 404, with or without the header.
  const gone = await api.call("PATCH", `/tasks/${id}`, {
    token,
    body: { title: "x" },
    headers: { "If-Match": "*" },
  });
  assert.deepEqual([gone.status, gone.body], [404, { message: "Task not found" }]);
  const gone2 = await api.call("DELETE", `/tasks/${id}`, { token, headers: { "If-Match": now } });
  assert.equal(gone2.status, 404);
});

test("writers holding the same ETag: exactly one wins, whatever the interleaving", async (api) => {
  for (const method of ["PATCH", "DELETE"]) {
    const { token, id, etag } = await oneTask(api);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        api.call(method, `/tasks/${id}`, {
          token,
          body: method === "PATCH" ? { title: `writer ${i}` } : undefined,
          headers: { "If-Match": etag },
        })),
    );
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 1, `${method}: ${statuses}`);
    // A loser finds the task changed (412) or, after a winning DELETE, gone (404).
    const lost = method === "PATCH" ? [412] : [404, 412];
    assert.ok(statuses.every((s) => s === 200 || lost.includes(s)), `${method}: ${statuses}`);
    if (method === "PATCH") {
      const winner = results.find((r) => r.status === 200)!;
      const now = await api.call("GET", `/tasks/${id}`, { token });
      assert.equal(now.body.title, winner.body.task.title);
    }
  }
});
