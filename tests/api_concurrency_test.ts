/**
 * 50 clients update and delete the same tasks at once: no 5xx, at most one acknowledged delete per
 * task, and each task's final state is one no later acknowledged write could have replaced (no
 * acknowledged update lost).
 */
import assert from "node:assert/strict";
import { apiSuite } from "./api_helpers.ts";

const test = apiSuite("api: concurrency");
const CLIENTS = 50;
const OPS = 8;
const STATUSES = ["pending", "in_progress", "completed"];

interface Op {
  kind: "put" | "delete";
  task: number;
  title?: string;
  status?: string;
  sent: number;
  acked: number;
  answer: number;
}

test(`${CLIENTS} clients updating and deleting the same tasks`, async (api) => {
  const { token } = await api.newUser();
  const tasks: number[] = [];
  for (let i = 0; i < 6; i++) {
    tasks.push((await api.call("POST", "/tasks", { token, body: { title: `t${i}` } })).body.id);
  }
  const ops: Op[] = [];
  let seq = 0;
  const client = async (c: number) => {
    for (let i = 0; i < OPS; i++) {
      const task = tasks[(c * 7 + i * 3) % tasks.length];
      const del = (c + i) % 11 === 0;
      const op: Op = { kind: del ? "delete" : "put", task, sent: seq++, acked: 0, answer: 0 };
      if (!del) Object.assign(op, { title: `c${c}-${i}`, status: STATUSES[(c + i) % 3] });
      const res = del
        ? await api.call("DELETE", `/tasks/${task}`, { token })
        : await api.call("PUT", `/tasks/${task}`, {
          token,
          body: { title: op.title, status: op.status },
        });
      op.acked = seq++;
      op.answer = res.status;
      ops.push(op);
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));

  for (const op of ops) assert.ok([200, 404].includes(op.answer), JSON.stringify(op));
  for (const task of tasks) {
    const mine = ops.filter((o) => o.task === task);
    const deleted = mine.filter((o) => o.kind === "delete" && o.answer === 200);
    assert.ok(deleted.length <= 1, `task ${task} deleted ${deleted.length} times`);
    const now = await api.call("GET", `/tasks/${task}`, { token });
    if (deleted.length === 1) {
      assert.equal(now.status, 404, `task ${task} was deleted`);
      // Nothing sent after the delete was acknowledged can have succeeded.
      for (const o of mine.filter((o) => o.sent > deleted[0].acked)) {
        assert.equal(o.answer, 404, `${JSON.stringify(o)} after the delete`);
      }
      continue;
    }
    assert.equal(now.status, 200);
    const puts = mine.filter((o) => o.kind === "put" && o.answer === 200);
    const final = puts.find((o) => o.title === now.body.title);
    assert.ok(final, `task ${task} holds ${now.body.title}, written by no acknowledged PUT`);
    assert.equal(now.body.status, final.status, "title and status come from the same write");
    // No acknowledged write started after this one was acknowledged: it would have replaced it.
    const later = puts.filter((o) => o.sent > final.acked);
    assert.deepEqual(later, [], `an acknowledged update was lost on task ${task}`);
  }
});
