/**
 * The schema file (also what `infer` prints): its types, its validation with zod, and how its
 * columns find their fields in the CSV header.
 *
 * @example
 * ```ts
 * const schema = await readSchemaFile("people.schema.json");
 * const positions = resolveColumns(schema, ["Age", "is_active", "zip"]);
 * ```
 *
 * @module
 */
import { z } from "zod";
import { UsageError } from "../errors.ts";
import { compileFormat, FormatError } from "./date_format.ts";

/** The column types the contract names, in the order `--help` lists them. */
export const COLUMN_TYPES = [
  "text",
  "integer",
  "bigint",
  "numeric",
  "double",
  "boolean",
  "date",
  "timestamp",
  "timestamptz",
] as const;
/** A column's type, one of {@linkcode COLUMN_TYPES}. */
export type ColumnType = typeof COLUMN_TYPES[number];

/** The null tokens used when a schema gives none. */
export const DEFAULT_NULL_TOKENS: readonly string[] = [
  "",
  "NA",
  "N/A",
  "null",
  "NULL",
  "None",
  "NaN",
  "-",
];

/** The default table. */
export const DEFAULT_TABLE = "processed_data";

/** One column of a schema. */
export interface ColumnSpec {
  /** The SQL column. */
  name: string;
  /** The CSV header it comes from (defaults to `name`). */
  source?: string;
  /** 1-based field position; wins over `source`. */
  position?: number;
  /** How the value is checked and converted. */
  type: ColumnType;
  /** A date/time pattern for date, timestamp and timestamptz columns (`DD/MM/YYYY`). */
  format?: string;
  /** A row whose value is missing or invalid is rejected. @default {false} */
  required?: boolean;
  /** What a missing value becomes. @default {null} */
  default?: string | number | boolean | null;
  /** This column's null tokens, replacing the schema's. */
  null_tokens?: string[];
}

/** A whole schema file. */
export interface Schema {
  /** The target table; `--table` wins over it. @default {"processed_data"} */
  table?: string;
  /** Values that mean "missing", compared after trimming. @default {DEFAULT_NULL_TOKENS} */
  null_tokens?: string[];
  /** The columns, in table order. */
  columns: ColumnSpec[];
}

const columnSchema = z.strictObject({
  name: z.string().min(1).max(63),
  source: z.string().optional(),
  position: z.number().int().min(1).optional(),
  type: z.enum(COLUMN_TYPES),
  format: z.string().min(1).optional(),
  required: z.boolean().optional(),
  default: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
  null_tokens: z.array(z.string()).optional(),
});

const schemaSchema = z.strictObject({
  table: z.string().min(1).optional(),
  null_tokens: z.array(z.string()).optional(),
  columns: z.array(columnSchema).min(1),
});

/** `columns[2].type` from a zod path. */
function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    out += typeof part === "number" ? `[${part}]` : (out ? "." : "") + String(part);
  }
  return out || "(top level)";
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const part of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[part];
  }
  return v;
}

/**
 * Validates parsed JSON as a schema. Throws a {@linkcode UsageError} that names the bad field and
 * quotes its value, e.g. `columns[0].type: expected one of text, integer, ...; got "int"`.
 */
export function parseSchema(input: unknown, origin = "schema"): Schema {
  const result = schemaSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = [...issue.path];
    let message = issue.message;
    if (issue.code === "unrecognized_keys") {
      message = `unknown field${issue.keys.length > 1 ? "s" : ""} ${
        issue.keys.map((k) => `"${k}"`).join(", ")
      }`;
    } else if (path[path.length - 1] === "type" && path[0] === "columns") {
      message = `expected one of ${COLUMN_TYPES.join(", ")}`;
    }
    const got = valueAt(input, path);
    const quoted = got === undefined ? "" : `; got ${JSON.stringify(got)}`;
    throw new UsageError(`${origin}: ${fieldPath(path)}: ${message}${quoted}`);
  }
  const schema = result.data as Schema;
  const seen = new Map<string, number>();
  schema.columns.forEach((col, i) => {
    const key = col.name;
    if (seen.has(key)) {
      throw new UsageError(
        `${origin}: columns[${i}].name: "${col.name}" is used twice (also columns[${
          seen.get(key)
        }])`,
      );
    }
    seen.set(key, i);
    if (col.name.includes("\0")) {
      throw new UsageError(`${origin}: columns[${i}].name: contains a NUL character`);
    }
    if (col.format !== undefined) checkFormat(col, `${origin}: columns[${i}].format`);
  });
  return schema;
}

/** A column's `format` must suit its type and compile; else a {@linkcode UsageError}. */
function checkFormat(col: ColumnSpec, where: string): void {
  const type = col.type;
  if (type !== "date" && type !== "timestamp" && type !== "timestamptz") {
    throw new UsageError(
      `${where}: only date, timestamp and timestamptz columns take a format; "${col.name}" is ${type}`,
    );
  }
  try {
    compileFormat(col.format!, type);
  } catch (err) {
    if (err instanceof FormatError) throw new UsageError(`${where}: ${err.message}`);
    throw err;
  }
}

/** Reads and validates a schema file; every failure is a {@linkcode UsageError} naming the file. */
export async function readSchemaFile(path: string): Promise<Schema> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UsageError(`schema file not found: "${path}"`);
    }
    throw new UsageError(`cannot read schema file "${path}": ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`schema file "${path}" is not valid JSON: ${(err as Error).message}`);
  }
  return parseSchema(json, `schema file "${path}"`);
}

/** The SQL type a schema type becomes. */
export function sqlType(type: ColumnType): string {
  return type === "double" ? "double precision" : type;
}

/** Quotes an SQL identifier (always: names come from headers, keywords included). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

const TABLE_NAME = /^(?:([A-Za-z_][A-Za-z0-9_$]{0,62})\.)?([A-Za-z_][A-Za-z0-9_$]{0,62})$/;

/**
 * Checks a table name (`name` or `schema.name`, letters, digits and `_`) and returns it quoted
 * for SQL. Names keep their case.
 */
export function quoteTable(table: string): string {
  const m = TABLE_NAME.exec(table);
  if (!m) {
    throw new UsageError(
      `table name must be letters, digits and "_" (optionally schema.table), got "${table}"`,
    );
  }
  return m[1] ? `${quoteIdent(m[1])}.${quoteIdent(m[2])}` : quoteIdent(m[2]);
}

/**
 * For each schema column, the 0-based index of its field in a record: `position` when given,
 * else the header field equal to `source` (or `name`), first exactly, then ignoring case and
 * surrounding spaces. Throws a {@linkcode UsageError} naming a column that finds no field.
 */
export function resolveColumns(schema: Schema, header: readonly string[]): number[] {
  return schema.columns.map((col, i) => {
    if (col.position !== undefined) {
      if (col.position > header.length) {
        throw new UsageError(
          `schema column "${col.name}" (columns[${i}]) has position ${col.position}, but the header has ${header.length} fields`,
        );
      }
      return col.position - 1;
    }
    const source = col.source ?? col.name;
    let idx = header.indexOf(source);
    if (idx === -1) {
      const want = source.trim().toLowerCase();
      idx = header.findIndex((h) => h.trim().toLowerCase() === want);
    }
    if (idx === -1) {
      throw new UsageError(
        `schema column "${col.name}" (columns[${i}]) has no field "${source}" in the header (${
          header.map((h) => JSON.stringify(h)).join(", ")
        })`,
      );
    }
    return idx;
  });
}
