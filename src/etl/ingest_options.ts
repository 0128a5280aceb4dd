/**
 * The options of a load ({@linkcode IngestOptions}: the CLI's flags, and what tests pass
 * instead), each with its default, and the checks that need no I/O, made once before anything
 * is opened.
 *
 * @example
 * ```ts
 * const { batchSize } = checkOptions({ file: "people.csv", batchSize: 1000 });
 * ```
 *
 * @module
 */
import type { Database } from "../db/database.ts";
import { UsageError } from "../errors.ts";
import type { MaxRejects } from "./batch_commit.ts";
import { STDIN } from "./input.ts";
import { ON_CONFLICT, type OnConflict } from "./upsert.ts";
import { quoteTable, type Schema } from "./schema.ts";
import type { Progress } from "./summary.ts";

/** Records per batch unless told otherwise (bench/findings.md: "Loader tuning"). */
export const DEFAULT_BATCH_SIZE = 25_000;

/** Options for `ingest()`: the CLI's flags, and what tests pass instead. */
export interface IngestOptions {
  /** The CSV file to load (gzip is decompressed), or `-` for standard input. */
  file: string;
  /**
   * What `file` `-` reads.
   * @default {the process's standard input}
   */
  stdin?: ReadableStream<Uint8Array>;
  /**
   * The target table; wins over the schema's `table`.
   * @default {the schema's `table`, else "processed_data"}
   */
  table?: string;
  /**
   * A schema file (the format `infer` prints).
   * @default {inferred from the file, or recorded with the load being resumed}
   */
  schemaFile?: string;
  /**
   * A schema object instead of a file; wins over `schemaFile`.
   * @default {none}
   */
  schema?: Schema;
  /**
   * Records read per batch; each batch is one transaction.
   * @default {DEFAULT_BATCH_SIZE}
   */
  batchSize?: number;
  /**
   * An open, migrated database to load into instead of opening one; left open.
   * @default {opened from `databaseUrl` or `dataDir`}
   */
  db?: Database;
  /**
   * A PostgreSQL server, `postgres://user:pass@host:5432/db`.
   * @default {the embedded database under `dataDir`}
   */
  databaseUrl?: string;
  /**
   * `"transaction"` when `databaseUrl` is a transaction-mode pooler (`DATABASE_POOLER`).
   * @default {"none"}
   */
  pooler?: "none" | "transaction";
  /**
   * Where the embedded database lives.
   * @default {"./data"}
   */
  dataDir?: string;
  /**
   * The rejects file.
   * @default {`FILE.rejects.csv` next to the input}
   */
  rejectsPath?: string;
  /**
   * Continue a recorded load after its last committed batch.
   * @default {false}
   */
  resume?: boolean;
  /**
   * Truncate the table and forget its recorded loads, then load.
   * @default {false}
   */
  replace?: boolean;
  /**
   * Read, validate and write rejects, but open no database.
   * @default {false}
   */
  dryRun?: boolean;
  /**
   * The input's encoding, a WHATWG label.
   * @default {"utf-8"}
   */
  encoding?: string;
  /**
   * The field delimiter, one character.
   * @default {sniffed from the header line}
   */
  delimiter?: string;
  /**
   * Physical lines before the header (a preamble: title lines, notes), forced; 0 takes the
   * first line as the header.
   * @default {detected: lines that start with `#` or hold a single field, above the header}
   */
  skipLines?: number;
  /**
   * Lines that start with this text are dropped wherever they are (they still count as lines
   * for `_line`).
   * @default {none}
   */
  comment?: string;
  /**
   * The columns (schema names, or their CSV headers) that identify a row: the primary key of a
   * table the load creates; an existing table needs a unique index on exactly these columns.
   * A record without a value for one of them is rejected.
   * @default {none: rows are appended}
   */
  key?: string[];
  /**
   * What a record whose key is there already (in the table, or earlier in the file) does:
   * rejected with the database's reason (`error`), loaded over it with the file's last record
   * of the key winning (`update`), or left out, counted as ignored (`ignore`). Needs `key`.
   * @default {"error"}
   */
  onConflict?: OnConflict;
  /**
   * Records read to infer the schema.
   * @default {DEFAULT_SAMPLE}
   */
  sample?: number;
  /**
   * Stop (exit 1) once more rows than this are rejected, across all runs of the load.
   * @default {no limit}
   */
  maxRejects?: MaxRejects;
  /**
   * A record longer than this (in bytes) stops the load (exit 1).
   * @default {64 * 1024 * 1024}
   */
  maxRecordBytes?: number;
  /**
   * Called every `progressIntervalMs` while loading, and once at the end.
   * @default {none}
   */
  onProgress?: (p: Progress) => void;
  /**
   * Milliseconds between two progress reports (and progress lines in the log).
   * @default {2000}
   */
  progressIntervalMs?: number;
}

/**
 * Checks the options that need no I/O; returns the batch size to use. Throws a
 * {@linkcode UsageError} quoting the bad value.
 *
 * @example
 * ```ts
 * checkOptions({ file: "x.csv", resume: true, replace: true }); // throws: exclude each other
 * ```
 */
export function checkOptions(options: IngestOptions): { batchSize: number } {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new UsageError(`--batch-size must be a whole number, 1 or more, got "${batchSize}"`);
  }
  if (options.resume && options.replace) {
    throw new UsageError("--resume and --replace exclude each other; give one");
  }
  if (options.resume && options.file === STDIN) {
    throw new UsageError(
      '--resume cannot continue standard input (FILE "-"): a pipe cannot be read again up to where the load stopped; load from a file to be able to resume',
    );
  }
  if (options.table !== undefined) quoteTable(options.table);
  checkKey(options);
  const skip = options.skipLines;
  if (skip !== undefined && !(Number.isInteger(skip) && skip >= 0)) {
    throw new UsageError(`--skip-lines must be a whole number, 0 or more, got "${skip}"`);
  }
  const limit = options.maxRejects;
  if (limit && !("count" in limit ? limit.count >= 0 : limit.ratio >= 0 && limit.ratio <= 1)) {
    throw new UsageError(`--max-rejects must be 0 or more rows, or a ratio from 0 to 1`);
  }
  return { batchSize };
}

function checkKey(options: IngestOptions): void {
  const { key, onConflict } = options;
  if (onConflict !== undefined && !ON_CONFLICT.includes(onConflict)) {
    throw new UsageError(
      `--on-conflict must be one of ${ON_CONFLICT.join(", ")}, got "${onConflict}"`,
    );
  }
  if (onConflict !== undefined && key === undefined) {
    throw new UsageError("--on-conflict needs --key: the columns whose values identify a row");
  }
  if (key === undefined) return;
  if (key.length === 0 || key.some((k) => k.trim() === "")) {
    throw new UsageError(`--key must name one or more columns, got "${key.join(",")}"`);
  }
  const twice = key.find((k, i) => key.indexOf(k) !== i);
  if (twice !== undefined) throw new UsageError(`--key names "${twice}" twice`);
}
