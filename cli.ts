/**
 * The one entry point: `serve` (the HTTP API), `ingest` (the CSV → PostgreSQL loader) and `infer`
 * (a CSV file's inferred schema). `deno task serve` and `deno task compile`'s binary run this too.
 * Loader exit codes: 0 done (rejects allowed), 1 the load failed, 2 bad usage or a
 * missing/unreadable file. `serve` exits 0 after a graceful stop, 1 when it cannot start.
 *
 * @example
 * ```sh
 * deno run -A cli.ts serve
 * deno run -A cli.ts infer people.csv > people.schema.json
 * deno run -A cli.ts ingest people.csv --schema people.schema.json --table people
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { databaseFrom, type DatabaseSettings } from "./src/config.ts";
import { closeLogging, setupLogging } from "./src/log.ts";
import { EXIT_OK, EXIT_USAGE, exitCodeOf, UsageError } from "./src/errors.ts";
import {
  DEFAULT_BATCH_SIZE,
  ingest,
  type IngestOptions,
  type MaxRejects,
} from "./src/etl/ingest.ts";
import { DEFAULT_SAMPLE, inferFile } from "./src/etl/infer.ts";
import { formatProgress, formatSummary } from "./src/etl/summary.ts";
import { COLUMN_TYPES } from "./src/etl/schema.ts";

/** Where `ingest` logs unless `--log-file` says otherwise. */
const DEFAULT_LOG_FILE = "logs/ingest.log";

const MAIN_HELP = `Usage: deno run -A cli.ts <command> [options]   (or: taskapi <command> [options])

Commands:
  serve             the HTTP API (settings from the environment; see "serve --help")
  ingest FILE.csv   load a CSV file into PostgreSQL (validated, in transactional batches)
  infer FILE.csv    print the schema ingest would infer for a file (JSON)

Run "cli.ts <command> --help" for a command's options.`;

const INGEST_HELP = `Usage: deno run -A cli.ts ingest FILE.csv [options]

Loads FILE.csv into a table: every row is either loaded or written, unchanged, to the rejects
file with its line and the reason. FILE may be gzip-compressed (.gz, or found by its magic
bytes; progress counts compressed bytes), or - for standard input (zcat x.csv.gz | ingest -;
--resume is then refused, and the rejects file defaults to stdin.rejects.csv).

Options:
  --table NAME          target table (default: the schema's "table", else processed_data)
  --schema FILE.json    schema file; without it the schema is inferred from the file
  --batch-size N        records per batch, each batch one transaction (default ${DEFAULT_BATCH_SIZE})
  --database-url URL    postgres://user:pass@host:5432/db (wins over DATABASE_URL); neither:
                        the embedded database under DATA_DIR (default ./data)
  --rejects FILE        rejects CSV (default FILE.rejects.csv next to the input)
  --log-file FILE       JSON-lines log (default ${DEFAULT_LOG_FILE})
  --resume              continue a recorded load after its last committed batch
  --replace             truncate the table, then load
  --dry-run             read, validate and write rejects, but write nothing to the database
  --encoding NAME       input encoding: utf-8 (default), latin1, windows-1252, ...
  --delimiter C         field delimiter (default: sniffed from , ; tab |); "tab" for a tab
  --sample N            records read to infer the schema (default ${DEFAULT_SAMPLE})
  --skip-lines N        lines above the header to skip (default: detected, see below); 0: none
  --comment C           drop every line that starts with C (for example "#")
  --key COL[,COL...]    the columns that identify a row: the primary key of a table ingest
                        creates; an existing table needs a unique index on exactly them
  --on-conflict MODE    a record whose key is there already (in the table or earlier in the
                        file): error (default: rejected with the database's reason), update
                        (loaded over it; the file's last record of a key wins), ignore (the
                        row there, or the key's first record, stays; counted as ignored)
  --max-rejects N|R     stop (exit 1) when more than N rows, or a share R (0.05, 5%), are rejected
  --summary-json FILE   also write the summary as JSON
  --quiet               no progress display
  -h, --help            this help

Preamble: title lines and notes above the header (lines that start with "#", or hold a single
field) are detected and skipped; the summary says how many. _line in the rejects file stays the
physical line number in FILE.

Column types: ${COLUMN_TYPES.join(", ")}.
Date formats: a date, timestamp or timestamptz column may give a "format" in the schema, such as
"DD/MM/YYYY", "MM/DD/YYYY", "YYYYMMDD", "DD.MM.YYYY", "DD-Mon-YYYY", "YYYY-MM-DD HH24:MI:SS" or
"MM/DD/YYYY HH12:MI AM" (fields YYYY YY MM Mon Month DD HH24 HH12 MI SS FF AM TZH TZM).
Exit codes: 0 done (rejects allowed), 1 the load failed, 2 bad usage or unreadable input.`;

const INFER_HELP = `Usage: deno run -A cli.ts infer FILE.csv [options]

Prints, as JSON on stdout, the schema "ingest" would infer for FILE.csv (no database needed;
FILE may be gzip-compressed, or - for standard input).
Save it, edit it, and pass it back with "ingest --schema". Notes on stderr say why a column
that looks like dates stayed text (say, DD/MM/YYYY and MM/DD/YYYY both fit): give it a
"format" in the schema.

Options:
  --table NAME          the "table" written into the schema (default processed_data)
  --encoding NAME       input encoding: utf-8 (default), latin1, ...
  --delimiter C         field delimiter (default: sniffed from , ; tab |); "tab" for a tab
  --sample N            records read to infer the schema (default ${DEFAULT_SAMPLE})
  --skip-lines N        lines above the header to skip (default: detected); 0: none
  --comment C           drop every line that starts with C (for example "#")
  -h, --help            this help`;

const SERVE_HELP = `Usage: deno run -A cli.ts serve

Serves the HTTP API until SIGTERM or SIGINT (then requests in flight finish and it exits 0).
Settings come from the environment, each checked at start (see README.md, "Configuration"):

  --database-url URL    like DATABASE_URL, and wins over it

  HOST, PORT            where to listen (default 127.0.0.1:5000)
  DATABASE_URL          postgres://user:pass@host:5432/db; unset: embedded database in DATA_DIR
  DATA_DIR              the embedded database's folder (default ./data)
  DATABASE_POOLER       "transaction" when DATABASE_URL is a transaction-mode pooler (PgBouncer)
  JWT_SECRET            token signing key, 32 bytes or more (required with DATABASE_URL)
  WORKERS               serve from N isolates on one port (PostgreSQL only; default 1)
  METRICS               "off" turns GET /metrics off
  LOG_LEVEL, LOG_FORMAT debug|info|warning|error; text (default) or json (one object per line)`;

const INGEST_FLAGS = {
  table: { type: "string" },
  schema: { type: "string" },
  "batch-size": { type: "string" },
  "database-url": { type: "string" },
  rejects: { type: "string" },
  "log-file": { type: "string" },
  resume: { type: "boolean" },
  replace: { type: "boolean" },
  "dry-run": { type: "boolean" },
  encoding: { type: "string" },
  delimiter: { type: "string" },
  sample: { type: "string" },
  "skip-lines": { type: "string" },
  comment: { type: "string" },
  key: { type: "string" },
  "on-conflict": { type: "string" },
  "max-rejects": { type: "string" },
  "summary-json": { type: "string" },
  quiet: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const INFER_FLAGS = {
  table: { type: "string" },
  encoding: { type: "string" },
  delimiter: { type: "string" },
  sample: { type: "string" },
  "skip-lines": { type: "string" },
  comment: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * Parses `--max-rejects`: `100` (rows) or `0.05` / `5%` (a share of the rows read).
 *
 * @example
 * ```ts
 * parseMaxRejects("5%"); // { ratio: 0.05 }
 * ```
 */
export function parseMaxRejects(raw: string): MaxRejects {
  const s = raw.trim();
  if (/^\d+$/.test(s)) return { count: Number(s) };
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(s);
  if (pct && Number(pct[1]) <= 100) return { ratio: Number(pct[1]) / 100 };
  if (/^(0?\.\d+|1(\.0*)?)$/.test(s)) return { ratio: Number(s) };
  throw new UsageError(
    `--max-rejects must be a number of rows (100) or a ratio (0.05 or 5%), got "${raw}"`,
  );
}

function fail(message: string, code = EXIT_USAGE): number {
  console.error(`error: ${message}`);
  return code;
}

function parse<T extends Record<string, { type: "string" | "boolean" }>>(
  args: string[],
  options: T,
) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    const msg = (err as Error).message;
    const flag = /'([^']+)'/.exec(msg)?.[1];
    if (/Unknown option/.test(msg)) throw new UsageError(`unknown flag "${flag}" (see --help)`);
    if (/argument missing/.test(msg)) throw new UsageError(`flag "${flag}" needs a value`);
    throw new UsageError(msg);
  }
}

function wholeNumber(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1) {
    throw new UsageError(`--${flag} must be a whole number, 1 or more, got "${raw}"`);
  }
  return Number(raw);
}

function countFrom(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim())) {
    throw new UsageError(`--${flag} must be a whole number, 0 or more, got "${raw}"`);
  }
  return Number(raw);
}

function delimiterFrom(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (raw === "tab" || raw === "\\t") return "\t";
  if ([...raw].length !== 1) {
    throw new UsageError(`--delimiter must be one character (or "tab"), got "${raw}"`);
  }
  return raw;
}

function onePositional(positionals: string[], command: string): string {
  if (positionals.length === 0) throw new UsageError(`${command}: give the CSV file to read`);
  if (positionals.length > 1) {
    throw new UsageError(
      `${command}: one file at a time, got ${positionals.map((p) => `"${p}"`).join(" ")}`,
    );
  }
  return positionals[0];
}

/** `cli.ts serve`: runs the HTTP API until it is stopped. */
async function serveCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    help: { type: "boolean", short: "h" },
    "database-url": { type: "string" },
  });
  if (values.help) {
    console.log(SERVE_HELP);
    return EXIT_OK;
  }
  if (positionals.length > 0) {
    throw new UsageError(
      `serve takes no arguments (settings come from the environment and --database-url), got "${
        positionals[0]
      }"`,
    );
  }
  // Loaded here, not at the top: `ingest` and `infer` never load the web app (~0.25 s of CPU at
  // start-up). A static specifier, so `deno compile` still includes it.
  const { serve } = await import("./src/server/serve.ts");
  return await serve(withDatabaseUrl(Deno.env.toObject(), values["database-url"]));
}

/** The environment with `--database-url`'s value as `DATABASE_URL` (it wins), checked first. */
function withDatabaseUrl(env: Record<string, string>, flagUrl: string | undefined) {
  if (flagUrl === undefined) return env;
  if (!/^postgres(ql)?:\/\//.test(flagUrl)) {
    throw new UsageError(
      `--database-url must start with postgres:// or postgresql://, got "${flagUrl}"`,
    );
  }
  return { ...env, DATABASE_URL: flagUrl };
}

/** `cli.ts infer`: prints the inferred schema. */
async function inferCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, INFER_FLAGS);
  if (values.help) {
    console.log(INFER_HELP);
    return EXIT_OK;
  }
  const file = onePositional(positionals, "infer");
  const schema = await inferFile({
    file,
    table: values.table,
    encoding: values.encoding,
    delimiter: delimiterFrom(values.delimiter),
    sample: wholeNumber("sample", values.sample),
    skipLines: countFrom("skip-lines", values["skip-lines"]),
    comment: values.comment,
    // Notes go to stderr: stdout stays the schema JSON, ready to save and edit.
    onNote: (note) => console.error(`note: ${note}`),
  });
  console.log(JSON.stringify(schema, null, 2));
  return EXIT_OK;
}

/** `cli.ts ingest`: loads a file, prints the summary; returns the exit code. */
async function ingestCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, INGEST_FLAGS);
  if (values.help) {
    console.log(INGEST_HELP);
    return EXIT_OK;
  }
  const file = onePositional(positionals, "ingest");
  const envVars = withDatabaseUrl(Deno.env.toObject(), values["database-url"]);
  let env: DatabaseSettings;
  try {
    // --database-url wins: a bad DATABASE_URL then does not matter.
    env = databaseFrom(envVars);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const options: IngestOptions = {
    file,
    table: values.table,
    schemaFile: values.schema,
    batchSize: wholeNumber("batch-size", values["batch-size"]),
    databaseUrl: env.databaseUrl,
    dataDir: env.dataDir,
    pooler: env.pooler,
    rejectsPath: values.rejects,
    resume: values.resume,
    replace: values.replace,
    dryRun: values["dry-run"],
    encoding: values.encoding,
    delimiter: delimiterFrom(values.delimiter),
    sample: wholeNumber("sample", values.sample),
    skipLines: countFrom("skip-lines", values["skip-lines"]),
    comment: values.comment,
    key: values.key?.split(",").map((k) => k.trim()),
    onConflict: values["on-conflict"] as IngestOptions["onConflict"],
    maxRejects: values["max-rejects"] === undefined
      ? undefined
      : parseMaxRejects(values["max-rejects"]),
  };

  const logFile = values["log-file"] ?? DEFAULT_LOG_FILE;
  try {
    await setupLogging({ level: "debug", console: false, file: logFile });
  } catch (err) {
    throw new UsageError(`cannot write the log file "${logFile}": ${(err as Error).message}`);
  }
  let showedProgress = false;
  if (!values.quiet && Deno.stderr.isTerminal()) {
    const enc = new TextEncoder();
    options.onProgress = (p) => {
      Deno.stderr.writeSync(enc.encode(`\r\x1b[2K${formatProgress(p)}`));
      showedProgress = true;
    };
  }
  try {
    const result = await ingest(options);
    if (showedProgress) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[2K"));
    for (const w of result.summary.warnings) console.error(`warning: ${w}`);
    if (result.error) console.error(`error: ${result.error.message}`);
    if (result.summary && result.exitCode !== EXIT_USAGE) {
      console.log(formatSummary(result.summary));
    }
    if (values["summary-json"] && result.summary) {
      await Deno.writeTextFile(
        values["summary-json"],
        JSON.stringify(result.summary, null, 2) + "\n",
      );
    }
    return result.exitCode;
  } finally {
    await closeLogging();
  }
}

/** Runs the CLI with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (command === "serve") return await serveCommand(rest);
    if (command === "ingest") return await ingestCommand(rest);
    if (command === "infer") return await inferCommand(rest);
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
      console.log(MAIN_HELP);
      return command === undefined ? EXIT_USAGE : EXIT_OK;
    }
    return fail(`unknown command "${command}" (use serve, ingest or infer; see --help)`);
  } catch (err) {
    return fail((err as Error).message, exitCodeOf(err));
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
