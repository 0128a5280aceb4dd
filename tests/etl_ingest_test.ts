/**
 * The loader end to end, in process (`ingest()` as the CLI calls it), on the test database:
 * PGlite, or PostgreSQL when DATABASE_URL is set. One database per file; unique table names.
 */
import assert from "node:assert/strict";
import { findLoad } from "../src/db/load_state.ts";
import { ingest, type IngestOptions } from "../src/etl/ingest.ts";
import { inferFile, inferSchema } from "../src/etl/infer.ts";
import { FileInput } from "../src/etl/input.ts";
import type { Schema } from "../src/etl/schema.ts";
import { openTestDb, TEST_DATABASE_URL, type TestDb, uniqueName } from "./db_helpers.ts";
import { countRows, FIXTURES, readRejects, spectrumCases, tempDir } from "./etl_helpers.ts";

const DEFECTS_SCHEMA = `${FIXTURES}defects.schema.json`;

Deno.test("ingest", async (t) => {
  const tdb: TestDb = await openTestDb();
  const db = tdb.db;
  const dir = await tempDir();
  const run = (options: Omit<IngestOptions, "db">) => ingest({ db, ...options });
  try {
    await t.step(
      "csv-spectrum: every file loads exactly (text columns, no null tokens)",
      async () => {
        for (const c of await spectrumCases()) {
          const table = uniqueName("spectrum");
          const inferred = await inferFile({ file: c.path });
          const schema: Schema = {
            columns: inferred.columns.map((col) => ({ ...col, type: "text", null_tokens: [] })),
          };
          const r = await run({
            file: c.path,
            table,
            schema,
            rejectsPath: `${dir.path}/${table}.csv`,
          });
          assert.equal(r.exitCode, 0, `${c.name}: ${r.error?.message}`);
          assert.equal(r.summary?.rows_rejected, 0, c.name);
          const rows = await db.query<Record<string, string>>(`SELECT * FROM "${table}"`);
          const expected = c.json.map((o) =>
            Object.fromEntries(Object.values(o).map((v, i) => [schema.columns[i].name, v]))
          );
          assert.deepEqual(rows, expected, c.name);
        }
      },
    );

    await t.step("defects: each goes to the rejects file with its line and reason", async () => {
      const table = uniqueName("people");
      const rejectsPath = `${dir.path}/defects.rejects.csv`;
      const r = await run({
        file: `${FIXTURES}defects.csv`,
        schemaFile: DEFECTS_SCHEMA,
        table,
        rejectsPath,
        batchSize: 3,
      });
      assert.equal(r.exitCode, 0, r.error?.message ?? "");
      const s = r.summary!;
      assert.equal(s.rows_read, 10);
      assert.equal(s.rows_loaded, 4);
      assert.equal(s.rows_rejected, 6);
      assert.deepEqual(s.rejected_by_reason, {
        "age: required value missing": 2,
        "age: not an integer": 1,
        "joined: not a real calendar date": 1,
        "active: not a boolean": 1,
        "wrong number of fields": 1,
      });
      assert.deepEqual(s.defaulted, {});
      const { header, rows } = await readRejects(rejectsPath);
      assert.deepEqual(header, [
        "id",
        "Full Name",
        "age",
        "joined",
        "active",
        "score",
        "note",
        "_line",
        "_reason",
      ]);
      assert.deepEqual(rows.map((x) => [x.id, x._line, x._reason]), [
        ["2", "3", 'age: required value missing: ""'],
        ["3", "4", 'age: not an integer: "12x"'],
        ["4", "5", 'joined: not a real calendar date: "2023-02-30"'],
        ["5", "6", 'active: not a boolean: "maybe"'],
        ["6", "7", "expected 7 fields, found 8"],
        ["7", "8", 'age: required value missing: "N/A"'],
      ]);
      // The ragged record keeps all its text; the surplus field shares the last column.
      const text = await Deno.readTextFile(rejectsPath);
      assert.match(
        text,
        /\n6,Dennis,42,2023-01-10,t,6,"ragged,extra",7,"expected 7 fields, found 8"\n/,
      );
      const loaded = await db.query<Record<string, unknown>>(
        `SELECT id, full_name, age, joined::text, active, score::text, note FROM "${table}" ORDER BY id`,
      );
      assert.deepEqual(loaded, [
        {
          id: 1,
          full_name: "Ada Lovelace",
          age: 36,
          joined: "2023-01-05",
          active: true,
          score: "1.5",
          note: "first",
        },
        {
          id: 8,
          full_name: 'O"Brien',
          age: 44,
          joined: "2023-01-12",
          active: false,
          score: null,
          note: "stray quote kept",
        },
        {
          id: 9,
          full_name: "Multi\nLine, Name",
          age: 45,
          joined: "2023-01-13",
          active: true,
          score: "700",
          note: 'embedded "quotes" and\nnewline',
        },
        {
          id: 10,
          full_name: "Frances",
          age: 46,
          joined: null,
          active: false,
          score: "8.25",
          note: "  spaces kept  ",
        },
      ]);
      const state = await findLoad(db, { table, fingerprint: await fp(`${FIXTURES}defects.csv`) });
      assert.equal(state?.status, "complete");
      assert.equal(state?.recordsDone, 10);
      assert.equal(state?.batches, 4);
    });

    await t.step(
      "a recorded load stops with exit 2; --replace reloads; --resume of a complete load adds nothing",
      async () => {
        const table = uniqueName("again");
        const base = {
          file: `${FIXTURES}defects.csv`,
          schemaFile: DEFECTS_SCHEMA,
          table,
          rejectsPath: `${dir.path}/again.csv`,
        };
        assert.equal((await run(base)).exitCode, 0);
        const second = await run(base);
        assert.equal(second.exitCode, 2);
        assert.match(second.error!.message, /already recorded as loaded.*--resume.*--replace/);
        assert.equal(await countRows(db, table), 4);
        const replaced = await run({ ...base, replace: true });
        assert.equal(replaced.exitCode, 0, replaced.error?.message ?? "");
        assert.equal(await countRows(db, table), 4);
        assert.equal((await readRejects(base.rejectsPath)).rows.length, 6);
        const resumed = await run({ ...base, resume: true });
        assert.equal(resumed.exitCode, 0);
        assert.equal(resumed.summary?.rows_read, 0);
        assert.equal(await countRows(db, table), 4);
        assert.equal((await readRejects(base.rejectsPath)).rows.length, 6);
        assert.equal((await run({ ...base, resume: true, replace: true })).exitCode, 2);
      },
    );

    await t.step("--dry-run writes rejects but no table and no load state", async () => {
      const table = uniqueName("dry");
      const rejectsPath = `${dir.path}/dry.csv`;
      const r = await ingest({
        file: `${FIXTURES}defects.csv`,
        schemaFile: DEFECTS_SCHEMA,
        table,
        rejectsPath,
        dryRun: true,
        // No database at all: a URL that would fail if it were used.
        databaseUrl: "postgres://nobody@127.0.0.1:1/none",
      });
      assert.equal(r.exitCode, 0, r.error?.message ?? "");
      assert.equal(r.summary?.rows_loaded, 4);
      assert.equal((await readRejects(rejectsPath)).rows.length, 6);
      const exists = await db.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [
        table,
      ]);
      assert.equal(exists[0].t, null);
    });

    await t.step("inferred schema, BOM and CRLF; header-only loads 0 rows", async () => {
      const table = uniqueName("bom");
      const r = await run({
        file: `${FIXTURES}bom_crlf.csv`,
        table,
        rejectsPath: `${dir.path}/bom.csv`,
      });
      assert.equal(r.exitCode, 0, r.error?.message ?? "");
      assert.deepEqual(await db.query(`SELECT a, b FROM "${table}" ORDER BY a`), [
        { a: 1, b: "x" },
        { a: 2, b: "y\r\nz" },
      ]);
      const empty = uniqueName("hdr");
      const h = await run({
        file: `${FIXTURES}header_only.csv`,
        table: empty,
        rejectsPath: `${dir.path}/h.csv`,
      });
      assert.equal(h.exitCode, 0, h.error?.message ?? "");
      assert.equal(h.summary?.rows_read, 0);
      assert.equal(await countRows(db, empty), 0);
    });

    await t.step("missing, empty, directory, bad encoding: exit 2 naming the problem", async () => {
      const opts = { table: uniqueName("nope"), rejectsPath: `${dir.path}/nope.csv` };
      const missing = await run({ ...opts, file: `${dir.path}/missing.csv` });
      assert.equal(missing.exitCode, 2);
      assert.match(missing.error!.message, /file not found: ".*missing\.csv"/);
      const empty = await run({ ...opts, file: `${FIXTURES}empty.csv` });
      assert.equal(empty.exitCode, 2);
      assert.match(empty.error!.message, /empty: no header row/);
      assert.equal((await run({ ...opts, file: dir.path })).exitCode, 2);
      const invalid = await run({ ...opts, file: `${FIXTURES}invalid_utf8.csv` });
      assert.equal(invalid.exitCode, 2);
      assert.match(invalid.error!.message, /invalid utf-8 bytes at line 5/);
      const self = await run({
        ...opts,
        file: `${FIXTURES}defects.csv`,
        rejectsPath: `${FIXTURES}defects.csv`,
      });
      assert.equal(self.exitCode, 2);
      assert.match(self.error!.message, /is the input file itself/);
      const unwritable = {
        file: `${FIXTURES}defects.csv`,
        schemaFile: DEFECTS_SCHEMA,
        table: uniqueName("unw"),
      };
      const noRejects = await run({ ...unwritable, rejectsPath: "/proc/no/such/dir/r.csv" });
      assert.equal(noRejects.exitCode, 2);
      assert.match(noRejects.error!.message, /cannot write the rejects file/);
      // Nothing was recorded: the same load then starts normally.
      assert.equal((await run({ ...unwritable, rejectsPath: `${dir.path}/unw.csv` })).exitCode, 0);
      const latin = uniqueName("latin");
      const ok = await run({
        file: `${FIXTURES}latin1.csv`,
        table: latin,
        encoding: "latin1",
        rejectsPath: `${dir.path}/l.csv`,
      });
      assert.equal(ok.exitCode, 0, ok.error?.message ?? "");
      assert.deepEqual(await db.query(`SELECT name, city FROM "${latin}"`), [{
        name: "José",
        city: "Zürich",
      }]);
    });

    await t.step(
      "a row the database refuses is isolated; the rest of its batch loads",
      async () => {
        const table = uniqueName("refuse");
        await db.exec(
          `CREATE TABLE "${table}" (id integer, code varchar(3), n integer CHECK (n < 100), extra text)`,
        );
        const file = `${dir.path}/refuse.csv`;
        const lines = ["id,code,n"];
        for (let i = 1; i <= 40; i++) {
          const code = i === 7 ? "TOOLONG" : "abc";
          const n = i === 20 || i === 21 ? 500 : i;
          lines.push(`${i},${code},${n}`);
        }
        await Deno.writeTextFile(file, lines.join("\n") + "\n");
        const schema: Schema = inferSchema({
          header: ["id", "code", "n"],
          sample: [["1", "abc", "1"]],
        });
        const rejectsPath = `${dir.path}/refuse.rejects.csv`;
        // Small batches: on a server they overlap, and isolation runs while the next one loads.
        const r = await run({ file, table, schema, rejectsPath, batchSize: 10 });
        assert.equal(r.exitCode, 0, r.error?.message ?? "");
        assert.equal(r.summary?.rows_loaded, 37);
        assert.equal(r.summary?.rows_rejected, 3);
        assert.equal(await countRows(db, table), 37);
        const { rows } = await readRejects(rejectsPath);
        assert.deepEqual(rows.map((x) => [x.id, x._line]), [["7", "8"], ["20", "21"], [
          "21",
          "22",
        ]]);
        assert.match(
          rows[0]._reason,
          /^database refused: .*value too long for type character varying\(3\)/,
        );
        assert.match(rows[1]._reason, /^database refused: .*check constraint/);
      },
    );

    await t.step({
      name: "refused rows in every batch, with the CLI's pool of two connections, never stall",
      ignore: !TEST_DATABASE_URL,
      fn: async () => {
        const table = uniqueName("refuse_pool");
        await db.exec(`CREATE TABLE "${table}" (id integer, n integer CHECK (n < 100))`);
        const file = `${dir.path}/refuse_pool.csv`;
        const lines = ["id,n"];
        for (let i = 1; i <= 200; i++) lines.push(`${i},${i % 10 === 3 ? 500 : i % 100}`);
        await Deno.writeTextFile(file, lines.join("\n") + "\n");
        // Its own pool (two connections), as the CLI has: overlapping batches each need an
        // isolation retry, which once waited on the next batch's connection until a timeout.
        const r = await ingest({
          file,
          table,
          databaseUrl: TEST_DATABASE_URL,
          schema: inferSchema({ header: ["id", "n"], sample: [["1", "1"]] }),
          rejectsPath: `${dir.path}/refuse_pool.rejects.csv`,
          batchSize: 10,
        });
        assert.equal(r.exitCode, 0, r.error?.message ?? "");
        assert.equal(r.summary?.rows_loaded, 180);
        assert.equal(r.summary?.rows_rejected, 20);
        assert.equal(await countRows(db, table), 180);
      },
    });

    await t.step("an existing table with other columns stops the load (exit 2)", async () => {
      const table = uniqueName("other");
      await db.exec(`CREATE TABLE "${table}" (id integer, age text NOT NULL, zz int NOT NULL)`);
      const r = await run({
        file: `${FIXTURES}defects.csv`,
        schemaFile: DEFECTS_SCHEMA,
        table,
        rejectsPath: `${dir.path}/o.csv`,
      });
      assert.equal(r.exitCode, 2);
      assert.match(r.error!.message, new RegExp(`table "${table}" exists with different columns`));
      assert.match(r.error!.message, /no column "full_name"/);
      assert.match(r.error!.message, /column "age" is text, the schema says integer/);
      assert.match(r.error!.message, /column "zz" is NOT NULL without a default/);
    });

    await t.step("--max-rejects stops the load with exit 1", async () => {
      const base = {
        file: `${FIXTURES}defects.csv`,
        schemaFile: DEFECTS_SCHEMA,
        rejectsPath: `${dir.path}/m.csv`,
      };
      const r = await run({ ...base, table: uniqueName("max"), maxRejects: { count: 5 } });
      assert.equal(r.exitCode, 1);
      assert.match(r.error!.message, /too many rejects/);
      const ratio = await run({ ...base, table: uniqueName("max"), maxRejects: { ratio: 0.7 } });
      assert.equal(ratio.exitCode, 0, ratio.error?.message ?? "");
    });

    await t.step("a record longer than the limit stops the load: exit 1, line named", async () => {
      const table = uniqueName("long");
      const file = `${dir.path}/long.csv`;
      const rows = ["id,note"];
      // More than the first read (64 KiB), which the header comes from.
      for (let i = 1; i <= 12_000; i++) rows.push(`${i},ok`);
      // An unbalanced quote: the rest of the file would become one record.
      rows.push('12001,"never closed');
      for (let i = 12_002; i <= 12_200; i++) rows.push(`${i},more text that piles up`);
      await Deno.writeTextFile(file, rows.join("\n") + "\n");
      const r = await run({
        file,
        table,
        schema: inferSchema({ header: ["id", "note"], sample: [["1", "ok"]] }),
        rejectsPath: `${dir.path}/long.rejects.csv`,
        batchSize: 1000,
        maxRecordBytes: 1000,
      });
      assert.equal(r.exitCode, 1);
      assert.match(
        r.error!.message,
        /record starting at line 12002 is longer than 1000 bytes/,
      );
      // The batches before it are committed, and the load state says so.
      assert.equal(r.summary.rows_loaded, 12_000);
      assert.equal(await countRows(db, table), 12_000);
      const state = await findLoad(db, { table, fingerprint: await fp(file) });
      assert.equal(state?.status, "running");
      assert.equal(state?.rowsLoaded, 12_000);
    });

    await t.step(
      "types: every column type loads; a timestamptz without offset is UTC",
      async () => {
        const table = uniqueName("types");
        const file = `${dir.path}/types.csv`;
        await Deno.writeTextFile(
          file,
          "i,b,n,d,flag,day,ts,tstz\n" +
            "1,9000000000,1.25,2.5e3,Yes,2024-02-29,2024-01-02T03:04:05,2024-01-02T03:04:05\n" +
            "2,-1,-0.5,-1E-3,n,2000-01-01,2024-01-02 03:04,2024-01-02T03:04:05+02:00\n",
        );
        const schema = await inferFile({ file });
        assert.deepEqual(schema.columns.map((c) => c.type), [
          "integer",
          "bigint",
          "numeric",
          "double",
          "boolean",
          "date",
          "timestamp",
          "timestamptz",
        ]);
        const r = await run({ file, table, rejectsPath: `${dir.path}/types.rejects.csv` });
        assert.equal(r.exitCode, 0, r.error?.message ?? "");
        const rows = await db.query(
          `SELECT i, b::text, n::text, d, flag, day::text, ts::text,
                extract(epoch FROM tstz)::bigint::text AS epoch FROM "${table}" ORDER BY i`,
        );
        assert.deepEqual(rows, [
          {
            i: 1,
            b: "9000000000",
            n: "1.25",
            d: 2500,
            flag: true,
            day: "2024-02-29",
            ts: "2024-01-02 03:04:05",
            epoch: "1704164645",
          },
          {
            i: 2,
            b: "-1",
            n: "-0.5",
            d: -0.001,
            flag: false,
            day: "2000-01-01",
            ts: "2024-01-02 03:04:00",
            epoch: "1704157445",
          },
        ]);
      },
    );

    await t.step("the table: --table, else the schema's `table`, else processed_data", async () => {
      const file = `${dir.path}/tables.csv`;
      // Its own content (a load is known by it), and --replace: processed_data is shared.
      await Deno.writeTextFile(file, `id,name\n1,${uniqueName("a")}\n2,b\n`);
      const named = uniqueName("from_schema");
      const flagged = uniqueName("from_flag");
      const schema: Schema = {
        table: named,
        columns: [{ name: "id", type: "integer" }, { name: "name", type: "text" }],
      };
      const byFlag = await run({ file, schema, table: flagged, rejectsPath: `${file}.1.rej` });
      assert.equal(byFlag.exitCode, 0, byFlag.error?.message ?? "");
      assert.equal(await countRows(db, flagged), 2);
      const bySchema = await run({ file, schema, rejectsPath: `${file}.2.rej` });
      assert.equal(bySchema.exitCode, 0, bySchema.error?.message ?? "");
      assert.equal(await countRows(db, named), 2);
      const byDefault = await run({ file, replace: true, rejectsPath: `${file}.3.rej` });
      assert.equal(byDefault.exitCode, 0, byDefault.error?.message ?? "");
      assert.equal(await countRows(db, "processed_data"), 2);
    });
  } finally {
    await dir.remove();
    await tdb.close();
  }
});

async function fp(path: string): Promise<string> {
  using input = await FileInput.open(path);
  return await input.fingerprint();
}
