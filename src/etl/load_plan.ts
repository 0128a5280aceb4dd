/**
 * A load, prepared: {@linkcode prepareLoad} checks every option once, opens the input and reads
 * its header, resolves the schema from its one source (the `schema` object, the schema file, the
 * recorded load being resumed, or inference from the input's first records), opens the database
 * (unless a dry run), finds the load's recorded state, checks or creates the table, opens the
 * rejects file and records the start of the load. What it opened, the {@linkcode LoadPlan} holds
 * and releases when disposed of (`await using`), whether the load succeeds or not.
 *
 * @example
 * ```ts
 * await using plan = await prepareLoad({ file: "people.csv", table: "people" });
 * console.log(plan.schema, plan.start.recordsDone);
 * ```
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Database } from "../db/database.ts";
import {
  findLoad,
  forgetLoads,
  type LoadKey,
  type LoadProgress,
  type LoadState,
  startLoad,
} from "../db/load_state.ts";
import { migrate } from "../db/migrate.ts";
import { UsageError } from "../errors.ts";
import { openDatabase } from "../db/open.ts";
import { type CommitTargets, noProgress } from "./batch_commit.ts";
import { CsvSource } from "./csv_source.ts";
import { inferSource } from "./infer.ts";
import { defaultRejectsPath, RejectsWriter } from "./rejects.ts";
import { checkOptions, type IngestOptions } from "./ingest_options.ts";
import type { Progress } from "./summary.ts";
import {
  DEFAULT_TABLE,
  parseSchema,
  quoteTable,
  readSchemaFile,
  resolveColumns,
  type Schema,
} from "./schema.ts";
import { copyStatement, type PreparedTable, prepareTable } from "./target_table.ts";
import type { UpsertPlan } from "./upsert.ts";
import { stageCopyStatement } from "./upsert_sql.ts";
import { mergeTarget } from "./merge_statement.ts";
import { RowTransformer } from "./transform.ts";

const log = getLogger(["ingest"]);

/** Everything a load needs, checked and opened; see the module documentation. */
export interface LoadPlan extends AsyncDisposable {
  /** The input, its header read (and, for inference, its first records read ahead). */
  readonly source: CsvSource;
  /** Where the rows go; undefined on a dry run. */
  readonly db: Database | undefined;
  /** The target table, a checked name. */
  readonly table: string;
  /** The schema, its `table` set to {@linkcode table}. */
  readonly schema: Schema;
  /** Turns a record into a COPY text row, or says why not. */
  readonly transformer: RowTransformer;
  /** The `COPY ... FROM STDIN` statement of the table's schema columns (or its stage's). */
  readonly copySql: string;
  /** A keyed load (`--key`): its merge; undefined otherwise, and on a dry run. */
  readonly upsert: UpsertPlan | undefined;
  /** Records read per batch. */
  readonly batchSize: number;
  /** Where each batch's commit writes besides its rows. */
  readonly targets: CommitTargets;
  /** What earlier runs committed (nothing, unless resuming). */
  readonly start: LoadProgress;
  /** This run created the table (it did not exist). */
  readonly tableCreated: boolean;
  /** The load was already complete: there is nothing to do. */
  readonly complete: boolean;
  /** See {@linkcode IngestOptions.onProgress}. */
  readonly onProgress: ((p: Progress) => void) | undefined;
  /** See {@linkcode IngestOptions.progressIntervalMs}. */
  readonly progressIntervalMs: number;
}

/** The schema the user gave, as an object or a file; undefined when none. */
async function givenSchema(options: IngestOptions): Promise<Schema | undefined> {
  if (options.schema) return parseSchema(options.schema);
  if (options.schemaFile) return await readSchemaFile(options.schemaFile);
  return undefined;
}

/**
 * The row transform for a schema on this header (the key's columns required: a row without its
 * key cannot be matched); throws a UsageError when they do not fit.
 */
function transformerFor(
  schema: Schema,
  header: readonly string[],
  options: { key?: readonly string[]; widen?: boolean } = {},
): RowTransformer {
  const positions = resolveColumns(schema, header);
  const key = options.key ?? [];
  const columns = schema.columns.map((c) => key.includes(c.name) ? { ...c, required: true } : c);
  return new RowTransformer({
    schema: { ...schema, columns },
    positions,
    headerLength: header.length,
    widen: options.widen,
  });
}

/** The load's recorded state, when there is one that this run may continue or replace. */
async function recordedLoad(
  db: Database,
  key: LoadKey,
  options: IngestOptions,
): Promise<LoadState | undefined> {
  const state = await findLoad(db, key);
  if (state && !options.resume && !options.replace) {
    throw new UsageError(
      `"${options.file}" is already recorded as loaded into "${key.table}" (${state.status}, ${state.rowsLoaded} rows, ${state.rowsRejected} rejected): use --resume to continue it or --replace to truncate the table and load again`,
    );
  }
  return state;
}

/**
 * Prepares a load (see the module documentation). Throws a {@linkcode UsageError} or an
 * `InputError` (exit 2) for bad options, an unreadable input or a table that does not fit, and
 * releases what it opened before throwing.
 *
 * @example
 * ```ts
 * await using plan = await prepareLoad({ file: "people.csv", dryRun: true });
 * console.log(plan.schema.columns.map((c) => c.type));
 * ```
 */
export async function prepareLoad(options: IngestOptions): Promise<LoadPlan> {
  const { batchSize } = checkOptions(options);
  await using resources = new AsyncDisposableStack();
  const given = await givenSchema(options);
  const source = resources.use(await openSource(options));
  // A schema that does not fit the file is bad usage: say so before opening any database.
  if (given) transformerFor(given, source.header);
  const table = options.table ?? given?.table ?? DEFAULT_TABLE;
  quoteTable(table);
  const key: LoadKey = { table, fingerprint: await source.fingerprint() };
  const db = options.dryRun ? undefined : await openTarget(options, table, resources);
  const state = db ? await recordedLoad(db, key, options) : undefined;
  const resumed = options.resume ? state : undefined;
  const { schema, inferred } = await schemaOf(options, given, resumed, source, table);
  const loadKey = options.key ? keyColumns(schema, options.key) : undefined;
  // An inferred schema widens a column that a later value does not fit (see widen.ts).
  const transformer = transformerFor(schema, source.header, { key: loadKey, widen: inferred });
  log.info("ingest {file} ({size} bytes) into {table}", {
    file: options.file,
    size: source.size,
    table,
    delimiter: source.delimiter,
    preambleLines: source.preambleLines,
    encoding: source.encoding,
    schema,
    key: loadKey,
    onConflict: options.onConflict,
    batchSize,
    dryRun: db === undefined,
    resume: resumed !== undefined,
    backend: db?.label,
  });
  // Opened before the load is recorded: an unwritable path must not leave a recorded load.
  const rejects = resources.use(await openRejects(options, source, resumed));
  let prepared: PreparedTable = { created: false };
  if (db) {
    prepared = await prepareTable(db, { table, schema, key: loadKey });
    const size = source.size ?? 0;
    if (!resumed) {
      await recordStart(db, options, { ...key, fileSize: size, schema, schemaInferred: inferred });
    }
  }
  const onConflict = options.onConflict ?? "error";
  const target = db && loadKey && await mergeTarget(db, table);
  const upsert: UpsertPlan | undefined = target && loadKey && prepared.keyIndex
    ? {
      table,
      columns: schema.columns.map((c) => c.name),
      key: loadKey,
      onConflict,
      constraint: prepared.keyIndex,
      relid: onConflict === "update" ? target.relid : undefined,
      partitioned: target.partitioned,
    }
    : undefined;
  const moved = resources.move();
  return {
    source,
    db,
    table,
    schema,
    transformer,
    copySql: upsert ? stageCopyStatement(upsert) : copyStatement(table, schema),
    upsert,
    batchSize,
    targets: { rejects, key, input: source, maxRejects: options.maxRejects },
    start: resumed ? resumeFrom(options, resumed) : noProgress(),
    tableCreated: prepared.created,
    complete: resumed?.status === "complete",
    onProgress: options.onProgress,
    progressIntervalMs: options.progressIntervalMs ?? 2000,
    [Symbol.asyncDispose]: () => moved.disposeAsync(),
  };
}

/** The input, its header read. */
function openSource(options: IngestOptions): Promise<CsvSource> {
  return CsvSource.open({
    path: options.file,
    stdin: options.stdin,
    encoding: options.encoding,
    delimiter: options.delimiter,
    maxRecordBytes: options.maxRecordBytes,
    skipLines: options.skipLines,
    comment: options.comment,
  });
}

/**
 * The load's schema, from its one source: given, recorded with the load being resumed, or
 * inferred from the input's first records (`inferred`; a resumed load's recorded flag).
 */
async function schemaOf(
  options: IngestOptions,
  given: Schema | undefined,
  resumed: LoadState | undefined,
  source: CsvSource,
  table: string,
): Promise<{ schema: Schema; inferred: boolean }> {
  if (given) return { schema: { ...given, table }, inferred: false };
  if (resumed) {
    const schema = parseSchema(resumed.schema, "the schema recorded for this load");
    return { schema: { ...schema, table }, inferred: resumed.schemaInferred };
  }
  const schema = await inferSource(source, {
    table,
    sample: options.sample,
    onNote: (note) => log.warning("inference: {note}", { note }),
  });
  return { schema: { ...schema, table }, inferred: true };
}

/**
 * The schema's names of the `--key` columns, each given as a schema name or a CSV header;
 * throws a {@linkcode UsageError} naming one that is neither.
 */
function keyColumns(schema: Schema, key: readonly string[]): string[] {
  return key.map((k) => {
    const col = schema.columns.find((c) => c.name === k) ??
      schema.columns.find((c) => c.source === k) ??
      schema.columns.find((c) => c.name === k.trim().toLowerCase());
    if (!col) {
      throw new UsageError(
        `--key "${k}" is not a column of the schema (${
          schema.columns.map((c) => c.name).join(", ")
        })`,
      );
    }
    return col.name;
  });
}

/** The rejects file, kept up to what `resumed` committed, or started over. */
async function openRejects(
  options: IngestOptions,
  source: CsvSource,
  resumed: LoadState | undefined,
): Promise<RejectsWriter> {
  const rejects = await RejectsWriter.open({
    path: options.rejectsPath ?? defaultRejectsPath(options.file),
    header: source.header,
    delimiter: source.delimiter,
    resumeAt: resumed?.rejectsBytes,
    input: options.file,
  });
  if (rejects.lostBytes > 0) {
    log.warning(
      "the rejects file {path} is shorter than the {bytes} bytes committed: earlier rejects are lost from it",
      { path: rejects.path, bytes: resumed?.rejectsBytes },
    );
  }
  return rejects;
}

/** The progress a resumed load starts from: what its earlier runs committed. */
function resumeFrom(options: IngestOptions, state: LoadState): LoadProgress {
  if (state.status === "complete") {
    log.info("the load of {file} into {table} is already complete", {
      file: options.file,
      table: state.table,
    });
  } else {
    log.info("resuming after record {records} (line {line})", {
      records: state.recordsDone,
      line: state.lastLine,
    });
  }
  const { recordsDone, lastLine, rowsLoaded, rowsRejected, rejectedByReason } = state;
  const { defaulted, rejectsBytes, batches, rowsIgnored, rowsUpdated, rowsUnchanged } = state;
  const { widenings } = state;
  return {
    recordsDone,
    lastLine,
    rowsLoaded,
    rowsRejected,
    rowsIgnored,
    rowsUpdated,
    rowsUnchanged,
    widenings,
    rejectedByReason,
    defaulted,
    rejectsBytes,
    batches,
  };
}

/** The database to load into: the one given, or one opened (and migrated) for this load. */
async function openTarget(
  options: IngestOptions,
  table: string,
  resources: AsyncDisposableStack,
): Promise<Database> {
  if (options.db) return options.db;
  const db = await openDatabase({
    databaseUrl: options.databaseUrl,
    dataDir: options.dataDir ?? "./data",
    poolSize: 2,
    queryTimeoutMs: 0,
    pooler: options.pooler,
    applicationName: `ingest ${table}`,
  });
  resources.defer(() => db.close().catch(() => {}));
  await migrate(db);
  return db;
}

/** Records a fresh load; with `replace`, after truncating the table and forgetting its loads. */
async function recordStart(
  db: Database,
  options: IngestOptions,
  load: LoadKey & { fileSize: number; schema: Schema; schemaInferred: boolean },
): Promise<void> {
  await db.transaction(async (tx) => {
    if (options.replace) {
      await tx.exec(`TRUNCATE ${quoteTable(load.table)}`);
      await forgetLoads(tx, load.table);
    }
    await startLoad(tx, {
      ...load,
      filePath: options.file,
      rejectsPath: options.rejectsPath ?? defaultRejectsPath(options.file),
    });
  });
}
