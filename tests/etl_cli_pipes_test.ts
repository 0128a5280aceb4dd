/**
 * The loader's command line on real-world input, spawned: a shell pipe into `ingest -`, loads
 * killed mid-way and resumed to the exact result of an unbroken load (a gzip file, a keyed
 * update, an inferred schema that widens before and after the kill), `--resume` refused for a
 * pipe, and a total loss exiting 1 with its cause on stderr.
 */
import assert from "node:assert/strict";
import { migrate } from "../src/db/migrate.ts";
import { openDatabase } from "../src/db/open.ts";
import { ingest } from "../src/etl/ingest.ts";
import { createStatement } from "../src/etl/target_table.ts";
import { TEST_DATABASE_URL, uniqueName } from "./db_helpers.ts";
import { tempDir } from "./etl_helpers.ts";
import {
  assertSameAsUnbroken,
  CLI,
  cli,
  decoded,
  env,
  GEN_SCHEMA,
  interruptedLoad,
  killMidLoad,
  type Run,
} from "./etl_cli_helpers.ts";

const STOCKS = new URL("./fixtures/real/matplotlib-Stocks.csv", import.meta.url).pathname;

/** Runs `script` in sh with the test's environment; CLI is `$CLI`. */
async function shell(script: string, dir: string): Promise<Run> {
  const out = await new Deno.Command("sh", {
    args: ["-c", script],
    env: { ...env(dir), CLI: `${Deno.execPath()} run -A ${CLI}` },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return decoded(out);
}

async function count(dir: string, table: string): Promise<number> {
  const db = await openDatabase({ databaseUrl: TEST_DATABASE_URL, dataDir: dir, poolSize: 1 });
  try {
    return (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}"`))[0].n;
  } finally {
    await db.close();
  }
}

Deno.test("cli: zcat x.csv.gz | ingest -, and what a pipe cannot do", async () => {
  const dir = await tempDir();
  try {
    const table = uniqueName("piped");
    const opts = `--table ${table} --log-file ${dir.path}/ingest.log --quiet`;
    const piped = await shell(
      `gzip -c ${STOCKS} > ${dir.path}/s.csv.gz && cd ${dir.path} && zcat s.csv.gz | $CLI ingest - ${opts}`,
      dir.path,
    );
    assert.equal(piped.code, 0, piped.stderr);
    assert.match(piped.stdout, /^file\s+- \(standard input\)$/m);
    assert.match(piped.stdout, /^preamble\s+1 line skipped above the header$/m);
    assert.match(piped.stdout, /^rows loaded\s+524$/m);
    assert.equal(await count(dir.path, table), 524);

    const resume = await shell(`cat ${STOCKS} | $CLI ingest - --resume ${opts}`, dir.path);
    assert.equal(resume.code, 2);
    assert.match(resume.stderr, /^error: --resume cannot continue standard input/m);

    // The comment taken for the header: every record rejected, exit 1, the cause on stderr.
    const lost = await shell(
      `$CLI ingest - --skip-lines 0 --table ${table}_x --rejects ${dir.path}/x.csv --log-file ${dir.path}/i.log < ${STOCKS}`,
      dir.path,
    );
    assert.equal(lost.code, 1, lost.stderr);
    assert.match(lost.stderr, /^error: every one of the 525 records read was rejected/m);
    assert.match(lost.stderr, /525 of them have 11 fields/);
  } finally {
    await dir.remove();
  }
});

Deno.test("cli: a gzip load killed mid-way resumes to exactly the rows and rejects of an unbroken load", async () => {
  const dir = await tempDir();
  const table = uniqueName("killed_gz");
  try {
    const { file, rejects, args } = await interruptedLoad(dir.path, table);
    const gz = `${file}.gz`;
    const zipped = await new Deno.Command("gzip", { args: ["-k", file] }).output();
    assert.equal(zipped.code, 0);
    const gzArgs = args.map((a) => a === file ? gz : a);
    await killMidLoad(gzArgs, dir.path, rejects);

    const resumed = await cli([...gzArgs, "--resume"], env(dir.path));
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /resumed after\s+[\d,]+ records/);
    // The unbroken reference loads the plain file: the same rows and the same rejects file.
    await assertSameAsUnbroken(dir.path, file, table, rejects);
  } finally {
    await dir.remove();
  }
});

Deno.test("cli: a keyed update load killed mid-way resumes to exactly the table of an unbroken one", async () => {
  const dir = await tempDir();
  const table = uniqueName("killed_key");
  const reference = uniqueName("unbroken_key");
  try {
    const { file, rejects, args } = await interruptedLoad(dir.path, table);
    const keyed = [...args, "--key", "id", "--on-conflict", "update"];
    // Both tables hold every other id before the load: half the file updates, half inserts.
    const db = await openDatabase({ databaseUrl: TEST_DATABASE_URL, dataDir: dir.path });
    try {
      await migrate(db);
      for (const t of [table, reference]) {
        await db.exec(createStatement(t, GEN_SCHEMA, ["id"]));
        await db.exec(
          `INSERT INTO "${t}" (id, first_name) SELECT g, 'old' FROM generate_series(1, 60000, 2) g`,
        );
      }
    } finally {
      await db.close(); // PGlite: one process at a time owns the folder
    }
    await killMidLoad(keyed, dir.path, rejects);
    const resumed = await cli([...keyed, "--resume"], env(dir.path));
    assert.equal(resumed.code, 0, resumed.stderr);

    const again = await openDatabase({ databaseUrl: TEST_DATABASE_URL, dataDir: dir.path });
    try {
      const refRejects = `${dir.path}/reference.rejects.csv`;
      const ref = await ingest({
        db: again,
        file,
        schema: GEN_SCHEMA,
        table: reference,
        rejectsPath: refRejects,
        batchSize: 1000,
        key: ["id"],
        onConflict: "update",
      });
      assert.equal(ref.exitCode, 0, ref.error?.message ?? "");
      assert.ok(ref.summary.rows_updated > 25_000, JSON.stringify(ref.summary));
      const digest = async (t: string) =>
        (await again.query<{ n: number; old: number; md5: string }>(
          `SELECT count(*)::int AS n, count(*) FILTER (WHERE first_name = 'old')::int AS old,
                  md5(string_agg(t::text, ',' ORDER BY id)) AS md5 FROM "${t}" t`,
        ))[0];
      const got = await digest(table);
      assert.deepEqual(got, await digest(reference));
      assert.ok(got.old > 0 && got.old < 30_000, JSON.stringify(got)); // rejected rows kept 'old'
      assert.equal(await Deno.readTextFile(rejects), await Deno.readTextFile(refRejects));
    } finally {
      await again.close();
    }
  } finally {
    await dir.remove();
  }
});

Deno.test("cli: an inferred load that widens columns, killed mid-way, resumes to exactly an unbroken one", async () => {
  const dir = await tempDir();
  const table = uniqueName("killed_widen");
  const reference = uniqueName("unbroken_widen");
  try {
    const { file, rejects, args } = await interruptedLoad(dir.path, table);
    // A late id too big for an integer: a widening after the kill (the generated defects widen
    // two columns within the first batch, before it).
    const text = await Deno.readTextFile(file);
    await Deno.writeTextFile(file, text.replace("\n50000,", "\n5000000000,"));
    const inferred = args.filter((a, i) => a !== "--schema" && args[i - 1] !== "--schema");
    const run = [...inferred, "--sample", "100"];
    await killMidLoad(run, dir.path, rejects, 100);
    const summaryPath = `${dir.path}/summary.json`;
    const resumed = await cli([...run, "--resume", "--summary-json", summaryPath], env(dir.path));
    assert.equal(resumed.code, 0, resumed.stderr);
    const summary = JSON.parse(await Deno.readTextFile(summaryPath));
    assert.ok(summary.resumed_after_records > 0);
    assert.deepEqual(summary.widenings.map((w: { column: string }) => w.column), ["id"]);

    const db = await openDatabase({ databaseUrl: TEST_DATABASE_URL, dataDir: dir.path });
    try {
      const refRejects = `${dir.path}/reference.rejects.csv`;
      const ref = await ingest({
        db,
        file,
        table: reference,
        rejectsPath: refRejects,
        batchSize: 1000,
        sample: 100,
      });
      assert.equal(ref.exitCode, 0, ref.error?.message ?? "");
      const widened = ref.summary.widenings.map((w) => `${w.column} ${w.to} ${w.line}`);
      assert.match(widened.at(-1)!, /^id bigint /, widened.join("; "));
      assert.ok(widened.length >= 2 && ref.summary.widenings[0].line < 1000, widened.join("; "));
      const shape = async (t: string) => ({
        types: (await db.query<{ t: string }>(
          `SELECT data_type AS t FROM information_schema.columns WHERE table_name = $1
            ORDER BY ordinal_position`,
          [t],
        )).map((r) => r.t),
        ...(await db.query<{ n: number; md5: string }>(
          `SELECT count(*)::int AS n, md5(string_agg(t::text, ',' ORDER BY id)) AS md5 FROM "${t}" t`,
        ))[0],
      });
      assert.deepEqual(await shape(table), await shape(reference));
      assert.equal(await Deno.readTextFile(rejects), await Deno.readTextFile(refRejects));
    } finally {
      await db.close();
    }
  } finally {
    await dir.remove();
  }
});
