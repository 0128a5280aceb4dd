/**
 * The loader's input beyond a plain file: gzip (found by its magic bytes, decompressed as it
 * streams, several members read as one, progress on the compressed bytes) and standard input
 * (`-`: no size, no second read, so the rows the database refuses come from the records kept
 * with their batch). End to end on the test database (PGlite, or PostgreSQL with DATABASE_URL).
 */
import assert from "node:assert/strict";
import { InputError, UsageError } from "../src/errors.ts";
import { ingest } from "../src/etl/ingest.ts";
import { FileInput, openInput } from "../src/etl/input.ts";
import { inferSchema } from "../src/etl/infer.ts";
import type { Progress } from "../src/etl/summary.ts";
import { openTestDb, uniqueName } from "./db_helpers.ts";
import { countRows, readRejects, tempDir } from "./etl_helpers.ts";

const STOCKS = new URL("./fixtures/real/matplotlib-Stocks.csv", import.meta.url).pathname;

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([new Uint8Array(bytes)]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A stream handing over `bytes` in pieces of `step`, as a pipe would. */
function pipe(bytes: Uint8Array, step = 1000): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at += step));
    },
  });
}

async function readAll(path: string, stdin?: ReadableStream<Uint8Array>): Promise<string> {
  using input = await openInput(path, { stdin });
  const parts: Uint8Array[] = [];
  for (let c; (c = await input.read(new Uint8Array(4096))) !== null;) parts.push(c.slice());
  return new TextDecoder().decode(concat(parts));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("input: gzip by its magic bytes, several members as one, errors name the file", async () => {
  const dir = await tempDir();
  try {
    const plain = "a,b\n1,2\n";
    const disguised = `${dir.path}/data.csv`; // gzip without the .gz: found by its magic bytes
    await Deno.writeFile(disguised, await gzip(new TextEncoder().encode(plain)));
    assert.equal(await readAll(disguised), plain);
    // `cat a.gz b.gz`: one stream to gunzip and zcat.
    const multi = `${dir.path}/multi.csv.gz`;
    const two = [
      await gzip(new TextEncoder().encode(plain)),
      await gzip(new TextEncoder().encode("3,4\n")),
    ];
    await Deno.writeFile(multi, concat(two));
    assert.equal(await readAll(multi), "a,b\n1,2\n3,4\n");
    // Named .gz but plain text; truncated gzip.
    await Deno.writeTextFile(`${dir.path}/plain.csv.gz`, plain);
    await assert.rejects(openInput(`${dir.path}/plain.csv.gz`), InputError, "not gzip data");
    await Deno.writeFile(
      `${dir.path}/cut.csv.gz`,
      (await gzip(new TextEncoder().encode(plain.repeat(50)))).slice(0, 30),
    );
    await assert.rejects(
      readAll(`${dir.path}/cut.csv.gz`),
      (err: Error) =>
        err instanceof InputError && /"[^"]*cut\.csv\.gz": not valid gzip data/.test(err.message),
    );
    // Size, bytes read and fingerprint are the stored (compressed) file's.
    const stored = await Deno.stat(multi);
    using input = await openInput(multi);
    assert.equal(input.size, stored.size);
    while (await input.read(new Uint8Array(4096)) !== null);
    assert.equal(input.bytesRead, stored.size);
    using raw = await FileInput.open(multi);
    assert.equal(await input.fingerprint(), await raw.fingerprint());
  } finally {
    await dir.remove();
  }
});

Deno.test("input: standard input, plain or gzip, in whatever pieces a pipe hands over", async () => {
  const text = await Deno.readFile(STOCKS);
  assert.equal(await readAll("-", pipe(text, 5)), new TextDecoder().decode(text));
  assert.equal(await readAll("-", pipe(await gzip(text), 7)), new TextDecoder().decode(text));
  using input = await openInput("-", { stdin: pipe(text) });
  assert.equal(input.size, undefined);
  assert.equal(input.canReopen, false);
  using other = await openInput("-", { stdin: pipe(text) });
  assert.notEqual(await input.fingerprint(), await other.fingerprint(), "two pipes, two loads");
});

Deno.test("ingest: gzip and standard input on the database", async (t) => {
  const tdb = await openTestDb();
  const dir = await tempDir();
  const db = tdb.db;
  try {
    const stocks = await Deno.readFile(STOCKS);
    const gz = `${dir.path}/Stocks.csv.gz`;
    await Deno.writeFile(gz, await gzip(stocks));

    await t.step(
      "a .gz file loads as the plain one; progress and its ETA on compressed bytes",
      async () => {
        const reports: Progress[] = [];
        const table = uniqueName("gz");
        const r = await ingest({
          db,
          file: gz,
          table,
          batchSize: 100,
          progressIntervalMs: 0,
          onProgress: (p) => reports.push(p),
        });
        assert.equal(r.exitCode, 0, r.error?.message ?? "");
        assert.equal(r.summary.rows_loaded, 524);
        assert.equal(r.summary.rejects_file, `${dir.path}/Stocks.rejects.csv`);
        const size = (await Deno.stat(gz)).size;
        assert.ok(reports.length > 1);
        assert.ok(reports.every((p) => p.bytesTotal === size && p.bytesRead <= size));
        assert.equal(reports.at(-1)!.bytesRead, size);
        const [{ s }] = await db.query<{ s: string }>(`SELECT sum(ibm)::text AS s FROM "${table}"`);
        assert.equal(s, "26622.8245081901550735");
      },
    );

    await t.step("standard input: --resume is refused (exit 2)", async () => {
      const r = await ingest({ db, file: "-", stdin: pipe(stocks), resume: true });
      assert.equal(r.exitCode, 2);
      assert.ok(r.error instanceof UsageError);
      assert.match(r.error.message, /--resume cannot continue standard input/);
    });

    await t.step(
      "standard input: rows the database refuses are rejected whole, from the batch's records",
      async () => {
        const table = uniqueName("pipe");
        await db.exec(
          `CREATE TABLE "${table}" (id integer, code varchar(3), n integer CHECK (n < 100))`,
        );
        const lines = ["id,code,n"];
        for (let i = 1; i <= 40; i++) {
          lines.push(`${i},${i === 7 ? '"TOO,LONG"' : "abc"},${i === 20 || i === 31 ? 500 : i}`);
        }
        const bytes = new TextEncoder().encode(lines.join("\n") + "\n");
        const schema = inferSchema({ header: ["id", "code", "n"], sample: [["1", "abc", "1"]] });
        const rejectsPath = `${dir.path}/pipe.rejects.csv`;
        const r = await ingest({
          db,
          file: "-",
          stdin: pipe(await gzip(bytes), 100),
          table,
          schema,
          rejectsPath,
          batchSize: 10,
        });
        assert.equal(r.exitCode, 0, r.error?.message ?? "");
        assert.equal(r.summary.rows_loaded, 37);
        assert.equal(await countRows(db, table), 37);
        const { rows } = await readRejects(rejectsPath);
        assert.deepEqual(rows.map((x) => [x.id, x.code, x.n, x._line]), [
          ["7", "TOO,LONG", "7", "8"],
          ["20", "abc", "500", "21"],
          ["31", "abc", "500", "32"],
        ]);
        assert.match(rows[0]._reason, /^database refused: .*character varying\(3\)/);
        // The same file from disk, read a second time for its refused rows: the same rejects.
        const file = `${dir.path}/pipe.csv`;
        await Deno.writeFile(file, bytes);
        const again = `${dir.path}/file.rejects.csv`;
        const fromFile = await ingest({
          db,
          file,
          table,
          schema,
          rejectsPath: again,
          batchSize: 10,
        });
        assert.equal(fromFile.exitCode, 0);
        assert.equal(await Deno.readTextFile(again), await Deno.readTextFile(rejectsPath));
      },
    );
  } finally {
    await dir.remove();
    await tdb.close();
  }
});
