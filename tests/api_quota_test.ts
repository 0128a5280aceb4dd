/** MAX_TASKS_PER_USER: past it POST /tasks answers 403 naming the limit; other users go on. */
import assert from "node:assert/strict";
import { apiSuite } from "./api_helpers.ts";

const test = apiSuite("api: task quota", { maxTasksPerUser: 3 });

test("POST /tasks past MAX_TASKS_PER_USER: 403 naming the limit, nothing stored", async (api) => {
  const { token } = await api.newUser();
  const ids: number[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await api.call("POST", "/tasks", { token, body: { title: `t${i}` } });
    assert.equal(res.status, 201);
    ids.push(res.body.id);
  }
  const over = await api.call("POST", "/tasks", { token, body: { title: "one too many" } });
  assert.equal(over.status, 403);
  assert.equal(over.body.message, "Task limit reached: at most 3 tasks per user");
  assert.equal((await api.call("GET", "/tasks", { token })).body.length, 3);
  // Another user is not affected; a deleted task frees a place.
  const other = await api.newUser();
  assert.equal(
    (await api.call("POST", "/tasks", { token: other.token, body: { title: "x" } })).status,
    201,
  );
  assert.equal((await api.call("DELETE", `/tasks/${ids[0]}`, { token })).status, 200);
  assert.equal((await api.call("POST", "/tasks", { token, body: { title: "again" } })).status, 201);
  assert.equal((await api.call("POST", "/tasks", { token, body: { title: "no" } })).status, 403);
  // 0 turns the limit off.
  const open = api.withConfig({ maxTasksPerUser: 0 });
  assert.equal((await open.call("POST", "/tasks", { token, body: { title: "off" } })).status, 201);
});
