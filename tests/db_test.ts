import assert from "node:assert/strict";
import type { Database } from "../src/db/database.ts";
import { migrate } from "../src/db/migrate.ts";
import { MIGRATIONS } from "../src/db/migrations.ts";
import { freshDatabase, openTestDb, TEST_DATABASE_URL, uniqueName } from "./db_helpers.ts";

Deno.test("migrations: a second run applies nothing and keeps the data", async () => {
  const t = await openTestDb();
  try {
    assert.deepEqual(await migrate(t.db), []);
    const versions = (await t.db.query<{ version: string }>(
      "SELECT version FROM schema_migrations ORDER BY version",
    )).map((r) => r.version);
    assert.deepEqual(versions, MIGRATIONS.map((m) => m.version));
  } finally {
    await t.close();
  }
});

Deno.test("migrations: every file in sql/ is compiled in, unchanged, in order", async () => {
  const files: { version: string; name: string; sql: string }[] = [];
  const dir = new URL("../sql/", import.meta.url);
  for await (const entry of Deno.readDir(dir)) {
    const m = /^(\d+)_(.+)\.sql$/.exec(entry.name);
    if (entry.isFile && m) {
      files.push({
        version: m[1],
        name: m[2],
        sql: await Deno.readTextFile(new URL(entry.name, dir)),
      });
    }
  }
  files.sort((a, b) => Number(a.version) - Number(b.version));
  const listed = MIGRATIONS.map((m) => `${m.version}_${m.name}.sql`);
  for (const f of files) {
    const file = `${f.version}_${f.name}.sql`;
    assert.ok(
      listed.includes(file),
      `sql/${file} is not in src/db/migrations.ts: import it there and add it to MIGRATIONS`,
    );
  }
  assert.deepEqual(MIGRATIONS, files, "src/db/migrations.ts lists files that sql/ does not hold");
});

Deno.test("migrations: two runs at once on a new database apply each file exactly once", async () => {
  const fresh = await freshDatabase();
  // Two replicas on PostgreSQL (two pools, so two server sessions); one handle on PGlite, where a
  // folder has one owner.
  const handles: Database[] = [await fresh.open()];
  try {
    handles.push(TEST_DATABASE_URL ? await fresh.open() : handles[0]);
    const runs = await Promise.all([
      migrate(handles[0]),
      migrate(handles[1]),
      migrate(handles[0]),
      migrate(handles[1]),
    ]);
    const all = MIGRATIONS.map((m) => m.version);
    assert.deepEqual(runs.flat().sort(), all, `applied: ${JSON.stringify(runs)}`);
    const rows = await handles[0].query<{ version: string }>(
      "SELECT version FROM schema_migrations ORDER BY version",
    );
    assert.deepEqual(rows.map((r) => r.version), all);
  } finally {
    for (const h of new Set(handles)) await h.close();
    await fresh.drop();
  }
});

Deno.test("transactions: a failed COPY leaves nothing behind and names the line", async () => {
  const t = await openTestDb();
  const table = uniqueName("copy");
  try {
    await t.db.exec(`CREATE TABLE ${table} (a integer, b text)`);
    await assert.rejects(
      t.db.transaction((tx) =>
        tx.copyFrom(`COPY ${table} (a, b) FROM STDIN`, ["1\tx\n", "zz\ty\n"])
      ),
      (err: Error & { where?: string }) =>
        /integer/.test(err.message) && /line 2/.test(err.where ?? ""),
    );
    assert.deepEqual(await t.db.query(`SELECT count(*)::int AS n FROM ${table}`), [{ n: 0 }]);
    const n = await t.db.transaction((tx) =>
      tx.copyFrom(`COPY ${table} (a, b) FROM STDIN`, ["1\tx\n", "2\ty\n"])
    );
    assert.equal(n, 2);
  } finally {
    await t.db.exec(`DROP TABLE IF EXISTS ${table}`);
    await t.close();
  }
});
