/**
 * No silent loss: a load that rejects every record it reads exits 1 with the likely cause and
 * the counts (unless --max-rejects allows it), and is not recorded, so that the corrected run
 * needs no --replace; more than half rejected for a wrong number of fields is a warning. On the
 * test database (PGlite, or PostgreSQL with DATABASE_URL).
 */
import assert from "node:assert/strict";
import { findLoad } from "../src/db/load_state.ts";
import { EXIT_FAILED } from "../src/errors.ts";
import { ingest } from "../src/etl/ingest.ts";
import { judgeLoss, type LossFacts } from "../src/etl/loss.ts";
import { RAGGED } from "../src/etl/transform.ts";
import { openTestDb, uniqueName } from "./db_helpers.ts";
import { tempDir } from "./etl_helpers.ts";

const REAL = new URL("./fixtures/real/", import.meta.url).pathname;

const facts = (over: Partial<LossFacts>): LossFacts => ({
  recordsRead: 10,
  rowsRejected: 10,
  rejectedByReason: { [RAGGED]: 10 },
  fieldCounts: new Map([[3, 10]]),
  header: ["Title"],
  headerLine: 1,
  delimiter: ",",
  schemaGiven: false,
  allowed: false,
  ...over,
});

Deno.test("judgeLoss: names the header, the delimiter or the schema, with the counts", () => {
  const title = judgeLoss(facts({}));
  assert.match(title.error!, /^every one of the 10 records read was rejected, nothing was loaded/);
  assert.match(
    title.error!,
    /10 records do not have the 1 field of the header \(line 1, "Title"\)/,
  );
  assert.match(title.error!, /\(10 of them have 3 fields\): the header is likely a title/);
  assert.match(title.error!, /--skip-lines N/);
  assert.equal(title.warning, undefined);

  const delimiter = judgeLoss(facts({
    header: ["a", "b"],
    delimiter: ";",
    fieldCounts: new Map([[1, 9], [3, 1]]),
  }));
  assert.match(delimiter.error!, /the delimiter ";" is likely wrong: give --delimiter/);

  const schema = judgeLoss(facts({
    rejectedByReason: { "age: not an integer": 7, "joined: not a real calendar date": 3 },
    schemaGiven: true,
  }));
  assert.match(
    schema.error!,
    /7 × age: not an integer, 3 × joined: not a real calendar date: the schema does not fit/,
  );

  const keys = judgeLoss(facts({
    rejectedByReason: {
      'database refused: duplicate key value violates unique constraint "…"': 10,
    },
  }));
  assert.match(keys.error!, /the keys are in the table already: give --on-conflict update/);

  // --max-rejects allows it: a warning instead.
  const allowed = judgeLoss(facts({ allowed: true }));
  assert.equal(allowed.error, undefined);
  assert.match(allowed.warning!, /every one of the 10 records/);

  // More than half lost to a wrong number of fields: a warning; half or less: nothing.
  const short = facts({
    header: ["a", "b", "c", "d"],
    recordsRead: 22,
    rowsRejected: 15,
    rejectedByReason: { [RAGGED]: 15 },
    fieldCounts: new Map([[2, 15]]),
  });
  assert.match(
    judgeLoss(short).warning!,
    /^15 of the 22 records read were rejected: .*leaves fields out/,
  );
  assert.equal(judgeLoss(short).error, undefined);
  assert.deepEqual(
    judgeLoss({ ...short, rowsRejected: 11, rejectedByReason: { [RAGGED]: 11 } }),
    {},
  );
  assert.deepEqual(judgeLoss(facts({ rowsRejected: 0, rejectedByReason: {} })), {});
  assert.deepEqual(judgeLoss(facts({ recordsRead: 0, rowsRejected: 0 })), {});
});

Deno.test("ingest: a total loss exits 1, is not recorded, and the corrected run needs no --replace", async (t) => {
  const tdb = await openTestDb();
  const dir = await tempDir();
  const file = `${REAL}matplotlib-Stocks.csv`;
  try {
    const table = uniqueName("loss");
    const rejectsPath = `${dir.path}/r.csv`;
    await t.step("the comment taken for the header (forced): exit 1 with the cause", async () => {
      const r = await ingest({ db: tdb.db, file, table, rejectsPath, skipLines: 0 });
      assert.equal(r.exitCode, EXIT_FAILED);
      assert.equal(r.summary.rows_read, 525);
      assert.equal(r.summary.rows_rejected, 525);
      assert.match(r.error!.message, /every one of the 525 records read was rejected/);
      assert.match(r.error!.message, /"# Data source: https:\/\/finance\.yahoo\.com"/);
      assert.match(r.error!.message, /525 of them have 11 fields/);
      assert.match(r.error!.message, /nothing of this load is kept/);
      const rows = await tdb.db.query<{ fingerprint: string }>(
        "SELECT fingerprint FROM ingest_loads WHERE table_name = $1",
        [table],
      );
      assert.deepEqual(rows, []);
      const [{ t: left }] = await tdb.db.query<{ t: string | null }>(
        "SELECT to_regclass($1)::text AS t",
        [table],
      );
      assert.equal(left, null);
    });
    await t.step("run again as it should be: loads, no --resume or --replace needed", async () => {
      // The failed run dropped the table it had made (with the comment for its one column).
      const r = await ingest({ db: tdb.db, file, table, rejectsPath });
      assert.equal(r.exitCode, 0, r.error?.message ?? "");
      assert.equal(r.summary.rows_loaded, 524);
    });
    await t.step("--max-rejects allows it: exit 0, the cause as a warning", async () => {
      const r = await ingest({
        db: tdb.db,
        file,
        table: `${table}_c`,
        rejectsPath,
        skipLines: 0,
        maxRejects: { ratio: 1 },
      });
      assert.equal(r.exitCode, 0, r.error?.message ?? "");
      assert.equal(r.summary.warnings.length, 1);
      assert.match(r.summary.warnings[0], /every one of the 525 records read was rejected/);
      assert.ok(await findLoad(tdb.db, { table: `${table}_c`, fingerprint: await fp(file) }));
    });
    await t.step(
      "more than half rejected for a wrong field count: exit 0 and a warning",
      async () => {
        const r = await ingest({
          db: tdb.db,
          file: `${REAL}distro-info-debian.csv`,
          table: `${table}_d`,
          rejectsPath,
        });
        assert.equal(r.exitCode, 0);
        assert.deepEqual(r.summary.warnings.length, 1);
        assert.match(r.summary.warnings[0], /^15 of the 22 records read were rejected/);
      },
    );
  } finally {
    await dir.remove();
    await tdb.close();
  }
});

async function fp(file: string): Promise<string> {
  const { FileInput } = await import("../src/etl/input.ts");
  using input = await FileInput.open(file);
  return await input.fingerprint();
}
