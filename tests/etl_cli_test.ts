/**
 * The loader's command line, spawned: flags, exit codes, one-line errors, `infer` without a
 * database, and a load killed with SIGKILL then resumed to the exact result. Only a few tests
 * spawn against the database (each spawn opens it afresh); the rest fail before opening it.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { openDatabase } from "../src/db/open.ts";
import { parseMaxRejects } from "../cli.ts";
import { withApplicationName } from "../src/db/postgres.ts";
import { UsageError } from "../src/errors.ts";
import { inferFile } from "../src/etl/infer.ts";
import type { Schema } from "../src/etl/schema.ts";
import { TEST_DATABASE_URL, uniqueName } from "./db_helpers.ts";
import { FIXTURES, tempDir } from "./etl_helpers.ts";
import { GEN_HEADER } from "./etl_gen.ts";
import {
  assertSameAsUnbroken,
  CLI,
  cli,
  cliBare,
  env,
  GEN_SCHEMA,
  interruptedLoad,
  killMidLoad,
  untilRejects,
} from "./etl_cli_helpers.ts";

Deno.test("cli: --max-rejects is a count, a ratio or a percentage", () => {
  assert.deepEqual(parseMaxRejects("100"), { count: 100 });
  assert.deepEqual(parseMaxRejects("0"), { count: 0 });
  assert.deepEqual(parseMaxRejects("0.05"), { ratio: 0.05 });
  assert.deepEqual(parseMaxRejects(".5"), { ratio: 0.5 });
  assert.deepEqual(parseMaxRejects("5%"), { ratio: 0.05 });
  for (const bad of ["-1", "abc", "1.5", "150%", ""]) {
    assert.throws(() => parseMaxRejects(bad), UsageError, bad);
  }
});

Deno.test("cli: the loader names its connections, unless the URL does", () => {
  const named = new URL(withApplicationName("postgres://u@h:5432/db", "ingest people"));
  assert.equal(named.searchParams.get("application_name"), "ingest people");
  const kept = new URL(
    withApplicationName("postgres://u@h/db?application_name=mine", "ingest people"),
  );
  assert.equal(kept.searchParams.get("application_name"), "mine");
});

Deno.test("cli: infer's --sample bounds the records read; the delimiter is sniffed", async () => {
  const dir = await tempDir();
  try {
    const file = `${dir.path}/semi.csv`;
    // The first 3 records say integer; the 4th would make the column text.
    await Deno.writeTextFile(file, "n;label\n1;a\n2;b\n3;c\nfour;d\n");
    const sampled = await inferFile({ file, sample: 3 });
    assert.deepEqual(sampled.columns.map((c) => c.type), ["integer", "text"]);
    const all = await inferFile({ file });
    assert.deepEqual(all.columns.map((c) => c.type), ["text", "text"]);
    await assert.rejects(inferFile({ file, sample: 0 }), /--sample/);
  } finally {
    await dir.remove();
  }
});

Deno.test("cli: --help for each command, exit 0", async () => {
  const ingestHelp = await cliBare(["ingest", "--help"]);
  assert.equal(ingestHelp.code, 0);
  for (
    const flag of [
      "--table",
      "--schema",
      "--batch-size",
      "--database-url",
      "--rejects",
      "--log-file",
      "--resume",
      "--replace",
      "--dry-run",
      "--encoding",
      "--delimiter",
      "--sample",
      "--max-rejects",
      "--quiet",
      "--summary-json",
      "--skip-lines",
      "--comment",
      "--key",
      "--on-conflict",
    ]
  ) assert.ok(ingestHelp.stdout.includes(flag), flag);
  const inferHelp = await cliBare(["infer", "--help"]);
  assert.equal(inferHelp.code, 0);
  assert.match(inferHelp.stdout, /Usage: .*infer/);
});

Deno.test("cli: usage errors exit 2 with one clear line on stderr", async () => {
  const dir = await tempDir();
  try {
    const e = { DATA_DIR: dir.path };
    const unknown = await cliBare(["ingest", `${FIXTURES}defects.csv`, "--bogus"], e, dir.path);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr.trim(), 'error: unknown flag "--bogus" (see --help)');
    const missing = await cliBare(["ingest", `${dir.path}/nope.csv`], e, dir.path);
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr.trim(), `error: file not found: "${dir.path}/nope.csv"`);
    await Deno.writeTextFile(
      `${dir.path}/bad.json`,
      JSON.stringify({ columns: [{ name: "a", type: "int" }] }),
    );
    const badSchema = await cliBare(
      ["ingest", `${FIXTURES}defects.csv`, "--schema", `${dir.path}/bad.json`],
      e,
      dir.path,
    );
    assert.equal(badSchema.code, 2);
    assert.equal(badSchema.stderr.trim().split("\n").length, 1);
    assert.match(badSchema.stderr, /columns\[0\]\.type: expected one of .*got "int"/);
    const empty = await cliBare(["ingest", `${FIXTURES}empty.csv`], e, dir.path);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /empty: no header row/);
    const batch = await cliBare(
      ["ingest", `${FIXTURES}defects.csv`, "--batch-size", "0"],
      e,
      dir.path,
    );
    assert.equal(batch.code, 2);
    assert.match(batch.stderr, /--batch-size must be a whole number, 1 or more, got "0"/);
    const both = await cliBare(
      ["ingest", `${FIXTURES}defects.csv`, "--resume", "--replace"],
      e,
      dir.path,
    );
    assert.equal(both.code, 2);
    const badLog = await cliBare(
      ["ingest", `${FIXTURES}defects.csv`, "--log-file", "/proc/no/such/dir/x.log"],
      e,
      dir.path,
    );
    assert.equal(badLog.code, 2);
    assert.match(badLog.stderr, /cannot write the log file "\/proc\/no\/such\/dir\/x.log"/);
    const badEnv = await cliBare(
      ["ingest", `${FIXTURES}defects.csv`],
      { ...e, DATABASE_URL: "mysql://x@y/z" },
      dir.path,
    );
    assert.equal(badEnv.code, 2);
    assert.match(badEnv.stderr, /DATABASE_URL must start with postgres:\/\//);
    const noCommand = await cliBare([]);
    assert.equal(noCommand.code, 2);
    const badCommand = await cliBare(["load"]);
    assert.equal(badCommand.code, 2);
    assert.match(badCommand.stderr, /unknown command "load"/);
  } finally {
    await dir.remove();
  }
});

Deno.test("cli: infer needs no database and no JWT_SECRET, prints what ingest uses", async () => {
  const r = await cliBare(["infer", `${FIXTURES}defects.csv`, "--table", "people"], {
    DATABASE_URL: "postgres://nobody@127.0.0.1:1/none",
  });
  assert.equal(r.code, 0, r.stderr);
  const printed = JSON.parse(r.stdout) as Schema;
  assert.deepEqual(printed, await inferFile({ file: `${FIXTURES}defects.csv`, table: "people" }));
  assert.equal(printed.table, "people");
  assert.deepEqual(printed.columns[1], { name: "full_name", source: "Full Name", type: "text" });
});

Deno.test("cli: infer writes a detected date format, and says on stderr why a column stayed text", async () => {
  const dir = await tempDir();
  try {
    const file = `${dir.path}/dates.csv`;
    await Deno.writeTextFile(file, "Order Date,Shipped\n05/01/2023,25/01/2023\n06/02/2023,NA\n");
    const r = await cliBare(["infer", file]);
    assert.equal(r.code, 0, r.stderr);
    const printed = JSON.parse(r.stdout) as Schema; // stdout is the schema alone
    assert.deepEqual(printed.columns, [
      { name: "order_date", source: "Order Date", type: "text" },
      { name: "shipped", source: "Shipped", type: "date", format: "DD/MM/YYYY" },
    ]);
    assert.equal(
      r.stderr.trim(),
      'note: column "order_date" ("Order Date"): every value fits DD/MM/YYYY and MM/DD/YYYY ' +
        '(no day over 12 in 2 values): left as text; give the column a "format" in a schema to ' +
        "load it as a date",
    );
  } finally {
    await dir.remove();
  }
});

Deno.test("cli: database down is exit 1 naming the host; the log file has the stack", async () => {
  const dir = await tempDir();
  try {
    const log = `${dir.path}/ingest.log`;
    const r = await cliBare([
      "ingest",
      `${FIXTURES}defects.csv`,
      "--database-url",
      "postgres://postgres@127.0.0.1:1/none",
      "--rejects",
      `${dir.path}/r.csv`,
      "--log-file",
      log,
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /127\.0\.0\.1:1/);
    const lines = (await Deno.readTextFile(log)).trim().split("\n").map((l) => JSON.parse(l));
    const failure = lines.find((l) => l.level === "ERROR");
    assert.ok(failure, "an ERROR record");
    assert.match(failure.properties.stack, /DatabaseUnavailableError/);
  } finally {
    await dir.remove();
  }
});

Deno.test("cli: a load killed mid-way resumes to exactly the rows and rejects of an unbroken load", async () => {
  assert.equal(GEN_HEADER.length, GEN_SCHEMA.columns.length);
  const dir = await tempDir();
  const table = uniqueName("killed");
  try {
    const { file, rejects, args } = await interruptedLoad(dir.path, table);
    await killMidLoad(args, dir.path, rejects);

    // Without --resume the recorded load refuses to start again.
    const again = await cli(args, env(dir.path));
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /--resume/);

    const summaryPath = `${dir.path}/summary.json`;
    const resumed = await cli([...args, "--resume", "--summary-json", summaryPath], env(dir.path));
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /resumed after\s+[\d,]+ records/);
    const summary = JSON.parse(await Deno.readTextFile(summaryPath));
    assert.ok(summary.resumed_after_records >= 1000, JSON.stringify(summary));
    assert.equal(summary.resumed_after_records + summary.rows_read, 60_000);

    await assertSameAsUnbroken(dir.path, file, table, rejects);
  } finally {
    await dir.remove();
  }
});

Deno.test({
  name: "cli: connection lost mid-load is exit 1 naming the host; --resume then finishes exactly",
  ignore: !TEST_DATABASE_URL,
  async fn() {
    const dir = await tempDir();
    const table = uniqueName("cut");
    try {
      // Big enough that the load is still running when its connection is cut.
      const { file, rejects, args } = await interruptedLoad(dir.path, table, 300_000);
      const admin = await openDatabase({ databaseUrl: TEST_DATABASE_URL, dataDir: dir.path });
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", CLI, ...args],
        env: env(dir.path),
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const output = child.output();
      try {
        assert.ok(await untilRejects(rejects, 250), "the load never got going");
        // The loader names its connections "ingest <table>".
        const cut = await admin.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity, pg_terminate_backend(pid)
            WHERE datname = current_database() AND application_name = $1`,
          [`ingest ${table}`],
        );
        assert.ok(cut.length > 0, "no loader connection found");
      } finally {
        await admin.close();
      }
      const out = await output;
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 1, stderr);
      const host = new URL(TEST_DATABASE_URL!);
      assert.ok(stderr.includes(`${host.hostname}:${host.port || "5432"}`), stderr);

      const resumed = await cli([...args, "--resume"], env(dir.path));
      assert.equal(resumed.code, 0, resumed.stderr);
      await assertSameAsUnbroken(dir.path, file, table, rejects);
    } finally {
      await dir.remove();
    }
  },
});

Deno.test({
  name: "cli: progress on stderr when it is a terminal, never in a pipe or with --quiet",
  // script(1) gives the loader a terminal; util-linux has it on Debian.
  ignore: !existsSync("/usr/bin/script"),
  async fn() {
    const dir = await tempDir();
    try {
      const { args } = await interruptedLoad(dir.path, uniqueName("progress"), 5_000);
      const loud = args.filter((a) => a !== "--quiet");
      const command = [Deno.execPath(), "run", "-A", CLI, ...loud].map(shellQuote).join(" ");
      const tty = await new Deno.Command("script", {
        args: ["-qefc", command, "/dev/null"],
        env: env(dir.path),
        stdout: "piped",
        stderr: "piped",
      }).output();
      const seen = visible(new TextDecoder().decode(tty.stdout));
      assert.equal(tty.code, 0, seen);
      // A line redrawn in place: carriage return, erase line, the figures.
      assert.match(seen, /\r<ESC>\[2K\s*[\d.]+%\s+[\d,]+ rows\s+[\d,]+ rows\/s\s+[\d,]+ rejected/);
      assert.match(seen, /loaded/);

      const piped = await cli([...loud, "--replace"], env(dir.path));
      assert.equal(piped.code, 0, piped.stderr);
      assert.doesNotMatch(visible(piped.stderr), /<ESC>|rows\/s/);
      const quiet = await new Deno.Command("script", {
        args: ["-qefc", `${command} --replace --quiet`, "/dev/null"],
        env: env(dir.path),
        stdout: "piped",
      }).output();
      assert.equal(quiet.code, 0);
      // The summary (on stdout, which script(1) merges) has a rows/s of its own: look for redraws.
      assert.doesNotMatch(visible(new TextDecoder().decode(quiet.stdout)), /<ESC>\[2K/);
    } finally {
      await dir.remove();
    }
  },
});

/** Terminal escapes made visible (ESC as `<ESC>`), to match them with plain patterns. */
function visible(text: string): string {
  return text.replaceAll("\u001b", "<ESC>");
}

/** One word for sh -c. */
function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
