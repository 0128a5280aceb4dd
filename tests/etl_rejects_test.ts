/**
 * The rejects file: where it goes by default, and what a resume keeps of it (exactly the
 * committed part, so each reject is in it once across crashes).
 */
import assert from "node:assert/strict";
import { defaultRejectsPath, RejectsWriter } from "../src/etl/rejects.ts";
import { readRejects, tempDir } from "./etl_helpers.ts";

Deno.test("rejects: the default file sits next to the input", () => {
  assert.equal(defaultRejectsPath("data/people.csv"), "data/people.rejects.csv");
  assert.equal(defaultRejectsPath("people.CSV"), "people.rejects.csv");
  assert.equal(defaultRejectsPath("people.txt"), "people.txt.rejects.csv");
});

Deno.test("rejects: a resume truncates the file back to its committed length, then appends", async () => {
  const dir = await tempDir();
  const path = `${dir.path}/r.csv`;
  const open = (resumeAt?: number) =>
    RejectsWriter.open({ path, header: ["id", "age"], delimiter: ",", resumeAt });
  try {
    let committed: number;
    {
      using w = await open();
      w.add(["1", "12x"], 2, 'age: not an integer: "12x"');
      w.add(["2", "a,b"], 3, "expected 2 fields, found 3");
      committed = await w.flush();
      // Written, but its batch never committed: a crash came first.
      w.add(["3", "zz"], 4, 'age: not an integer: "zz"');
      assert.ok(await w.flush() > committed);
    }
    {
      using w = await open(committed);
      assert.equal(w.lostBytes, 0);
      assert.equal(w.offset, committed);
      w.add(["3", "zz"], 4, 'age: not an integer: "zz"');
      await w.flush();
    }
    const { header, rows } = await readRejects(path);
    assert.deepEqual(header, ["id", "age", "_line", "_reason"]);
    assert.deepEqual(rows.map((r) => [r.id, r.age, r._line]), [
      ["1", "12x", "2"],
      ["2", "a,b", "3"],
      ["3", "zz", "4"],
    ]);

    // A file shorter than what was committed lost rejects: it starts over, and says how many bytes.
    const size = (await Deno.stat(path)).size;
    {
      using w = await open(size + 100);
      assert.equal(w.lostBytes, 100);
    }
    assert.deepEqual((await readRejects(path)).rows, []);

    // A fresh load starts the file over.
    await Deno.writeTextFile(path, "old,stuff\n1,2\n");
    {
      using _w = await open();
    }
    assert.equal(await Deno.readTextFile(path), "id,age,_line,_reason\n");
  } finally {
    await dir.remove();
  }
});

Deno.test("rejects: the input file itself is refused as the rejects file", async () => {
  const dir = await tempDir();
  try {
    const input = `${dir.path}/in.csv`;
    await Deno.writeTextFile(input, "a\n1\n");
    await assert.rejects(
      RejectsWriter.open({ path: input, header: ["a"], delimiter: ",", input }),
      /is the input file itself/,
    );
    assert.equal(await Deno.readTextFile(input), "a\n1\n");
  } finally {
    await dir.remove();
  }
});
