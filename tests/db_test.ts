import assert from "node:assert/strict";
import { migrate, readMigrations } from "../src/db/migrate.ts";
import { openTestDb, uniqueName } from "./db_helpers.ts";

Deno.test("migrations: a second run applies nothing and keeps the data", async () => {
  const t = await openTestDb();
  try {
    assert.deepEqual(await migrate(t.db), []);
    const versions = (await t.db.query<{ version: string }>(
      "SELECT version FROM schema_migrations ORDER BY version",
    )).map((r) => r.version);
    assert.deepEqual(versions, (await readMigrations()).map((m) => m.version));
  } finally {
    await t.close();
  }
});

Deno.test("migrations: two runs at once apply each file exactly once", async () => {
  const t = await openTestDb();
  try {
    const results = await Promise.all([migrate(t.db), migrate(t.db)]);
    assert.deepEqual(results, [[], []]);
  } finally {
    await t.close();
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
