/**
 * A deterministic, seeded generator of typed CSV files for the loader benchmarks, plus the schema
 * JSON (the contract's format) and the `CREATE TABLE` of an identically typed table for the
 * `psql \copy` baseline.
 *
 * Twelve columns: ids, names, emails, ints, bigints, decimals, doubles, booleans in mixed spellings,
 * dates, timestamps, timestamptz and free text with commas, quotes and newlines. With `defectRate`
 * > 0 that share of rows carries exactly one defect (bad int, bad date, unknown boolean, missing
 * required value, ragged row), so the loader must reject precisely `defective` rows.
 *
 * Rows are built in chunks of strings and streamed to the file, so 1M rows (~100 MB) take seconds
 * and little memory.
 *
 * @example
 * ```sh
 * deno run -A bench/generate_csv.ts --rows 1000000 --out bench/.out/clean.csv
 * deno run -A bench/generate_csv.ts --rows 1000000 --defects 0.05 --out bench/.out/bad.csv
 * ```
 */

/** The type names of the contract's schema format. */
export type ColumnType =
  | "text"
  | "integer"
  | "bigint"
  | "numeric"
  | "double"
  | "boolean"
  | "date"
  | "timestamp"
  | "timestamptz";

/** One column of the schema JSON. */
export interface SchemaColumn {
  name: string;
  source?: string;
  type: ColumnType;
  required?: boolean;
}

/** The schema JSON of the contract. */
export interface Schema {
  table: string;
  columns: SchemaColumn[];
}

/** The columns every generated file has, in order; the header repeats `name`. */
export const COLUMNS: readonly SchemaColumn[] = [
  { name: "id", type: "integer", required: true },
  { name: "full_name", type: "text" },
  { name: "email", type: "text", required: true },
  { name: "age", type: "integer" },
  { name: "visits", type: "bigint" },
  { name: "price", type: "numeric" },
  { name: "score", type: "double" },
  { name: "is_active", type: "boolean" },
  { name: "signup_date", type: "date" },
  { name: "last_login", type: "timestamp" },
  { name: "updated_at", type: "timestamptz" },
  { name: "notes", type: "text" },
];

const SQL_TYPES: Record<ColumnType, string> = {
  text: "text",
  integer: "integer",
  bigint: "bigint",
  numeric: "numeric",
  double: "double precision",
  boolean: "boolean",
  date: "date",
  timestamp: "timestamp without time zone",
  timestamptz: "timestamp with time zone",
};

/** The SQL type a schema type maps to (as `information_schema.columns.data_type` spells it). */
export function sqlType(type: ColumnType): string {
  return SQL_TYPES[type];
}

/** The schema JSON for a table of the generated columns. */
export function schemaFor(table: string): Schema {
  return { table, columns: COLUMNS.map((c) => ({ ...c })) };
}

/** `CREATE TABLE` of a table typed exactly as the schema says (the `\copy` baseline). */
export function createTableSql(table: string): string {
  const cols = COLUMNS.map((c) =>
    `  ${c.name} ${SQL_TYPES[c.type]}${c.required ? " NOT NULL" : ""}`
  );
  return `CREATE TABLE ${table} (\n${cols.join(",\n")}\n);`;
}

/** The kinds of defect a defective row may carry; each is one rejected row for the loader. */
export const DEFECT_KINDS = [
  "bad_integer",
  "bad_date",
  "unknown_boolean",
  "missing_required",
  "ragged_row",
] as const;
export type DefectKind = typeof DEFECT_KINDS[number];

/** What {@linkcode generateCsv} wrote. */
export interface GenerateResult {
  path: string;
  rows: number;
  bytes: number;
  /** Rows with one defect each; the loader must reject exactly these. */
  defective: number;
  defectsByKind: Record<DefectKind, number>;
  /** Rows whose text spans several physical lines. */
  multiline: number;
  seconds: number;
}

export interface GenerateOptions {
  rows: number;
  path: string;
  seed?: number;
  /** Share of defective rows, 0..1 (default 0). */
  defectRate?: number;
  /** Rows per written chunk (default 20,000). */
  chunkRows?: number;
}

/** mulberry32: a tiny, fast, seedable PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = [
  "Ana",
  "Bruno",
  "Chloé",
  "Dmitri",
  "Eve",
  "Fatima",
  "Günther",
  "Hiro",
  "Ines",
  "Jamal",
  "Kai",
  "Léa",
  "Mateo",
  "Nia",
  "Olaf",
  "Priya",
];
const LAST = [
  "Smith",
  "Müller",
  "O'Brien",
  "Nguyen",
  "García",
  "Kowalski",
  "Rossi",
  "Tanaka",
  "Dubois",
  "Silva",
  "Haddad",
  "Jensen",
];
const DOMAINS = ["ex.com", "mail.test", "corp.org", "b.dev"];
const BOOL_WORDS = ["true", "false", "yes", "no", "t", "f", "y", "n", "1", "0"];
const NOTES_PLAIN = ["ok", "call back", "vip", "", "", "", "renewal due", "paid"];
const NOTES_QUOTED = [
  '"Ordered 3, returned 1"',
  '"She said ""maybe"", then yes"',
  '"line one\nline two"',
  '"comma, ""quote"" and\nnewline"',
];

function pad2(n: number): string {
  return n < 10 ? "0" + n : "" + n;
}

function randomCase(word: string, r: number): string {
  if (r < 0.34) return word;
  if (r < 0.67) return word.toUpperCase();
  return word[0].toUpperCase() + word.slice(1);
}

/**
 * Writes `rows` generated rows (plus a header) to `path`. The same seed and options always
 * produce the same bytes.
 */
export async function generateCsv(options: GenerateOptions): Promise<GenerateResult> {
  const started = performance.now();
  const rand = prng(options.seed ?? 42);
  const defectRate = options.defectRate ?? 0;
  const chunkRows = options.chunkRows ?? 20_000;
  const encoder = new TextEncoder();
  const file = await Deno.open(options.path, { write: true, create: true, truncate: true });
  const defectsByKind = Object.fromEntries(DEFECT_KINDS.map((k) => [k, 0])) as Record<
    DefectKind,
    number
  >;
  let defective = 0;
  let multiline = 0;
  let bytes = 0;
  const write = async (text: string) => {
    const data = encoder.encode(text);
    bytes += data.length;
    let off = 0;
    while (off < data.length) off += await file.write(data.subarray(off));
  };
  const day0 = Date.UTC(2015, 0, 1);
  try {
    await write(COLUMNS.map((c) => c.name).join(",") + "\n");
    const parts: string[] = [];
    for (let i = 1; i <= options.rows; i++) {
      const id = String(i);
      const first = FIRST[(rand() * FIRST.length) | 0];
      const last = LAST[(rand() * LAST.length) | 0];
      const name = first + " " + last;
      const email = first.toLowerCase().replace(/[^a-z]/g, "x") + i + "@" +
        DOMAINS[(rand() * DOMAINS.length) | 0];
      const ageR = rand();
      const age = ageR < 0.05 ? "" : String(18 + ((ageR * 1000) | 0) % 70);
      const visits = String(Math.floor(rand() * 5_000_000_000));
      const price = ((rand() * 100000) | 0) / 100 + "";
      const sR = rand();
      const score = sR < 0.1 ? (sR * 10).toExponential(3) : ((sR - 0.5) * 200).toFixed(4);
      const active = randomCase(BOOL_WORDS[(rand() * BOOL_WORDS.length) | 0], rand());
      const d = new Date(day0 + Math.floor(rand() * 3650) * 86_400_000);
      const date = d.getUTCFullYear() + "-" + pad2(d.getUTCMonth() + 1) + "-" +
        pad2(d.getUTCDate());
      const hh = pad2((rand() * 24) | 0);
      const mi = pad2((rand() * 60) | 0);
      const ss = pad2((rand() * 60) | 0);
      const lastLogin = date + "T" + hh + ":" + mi + ":" + ss;
      const tzR = rand();
      const updated = date + "T" + pad2((tzR * 1000 | 0) % 24) + ":" + ss + ":" + mi +
        (tzR < 0.5 ? "Z" : tzR < 0.75 ? "+02:00" : "-05:30");
      const nR = rand();
      let notes: string;
      if (nR < 0.1) {
        notes = NOTES_QUOTED[((nR * 40) | 0) % NOTES_QUOTED.length];
        if (notes.includes("\n")) multiline++;
      } else {
        notes = NOTES_PLAIN[((nR * 1000) | 0) % NOTES_PLAIN.length];
      }
      const fields = [
        id,
        name,
        email,
        age,
        visits,
        price,
        score,
        active,
        date,
        lastLogin,
        updated,
        notes,
      ];
      if (defectRate > 0 && rand() < defectRate) {
        const kind = DEFECT_KINDS[(rand() * DEFECT_KINDS.length) | 0];
        defectsByKind[kind]++;
        defective++;
        switch (kind) {
          case "bad_integer":
            fields[3] = rand() < 0.5 ? "12x" : "25.5";
            break;
          case "bad_date":
            fields[8] = rand() < 0.5 ? "2023-02-30" : "2023-13-01";
            break;
          case "unknown_boolean":
            fields[7] = rand() < 0.5 ? "maybe" : "2";
            break;
          case "missing_required":
            fields[2] = rand() < 0.5 ? "" : "NA";
            break;
          case "ragged_row":
            if (rand() < 0.5) fields.pop();
            else fields.push("extra");
            break;
        }
      }
      parts.push(fields.join(","));
      if (parts.length >= chunkRows) {
        await write(parts.join("\n") + "\n");
        parts.length = 0;
      }
    }
    if (parts.length > 0) await write(parts.join("\n") + "\n");
  } finally {
    file.close();
  }
  return {
    path: options.path,
    rows: options.rows,
    bytes,
    defective,
    defectsByKind,
    multiline,
    seconds: (performance.now() - started) / 1000,
  };
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

if (import.meta.main) {
  const args = Deno.args;
  if (args.includes("--help")) {
    console.log(
      "usage: deno run -A bench/generate_csv.ts --rows N --out FILE.csv [--defects 0.05] " +
        "[--seed 42] [--table T]\nAlso writes FILE.schema.json and FILE.create.sql.",
    );
    Deno.exit(0);
  }
  const rows = Number(argValue(args, "--rows") ?? "1000");
  const out = argValue(args, "--out") ?? "bench/.out/generated.csv";
  const table = argValue(args, "--table") ?? "bench_data";
  const result = await generateCsv({
    rows,
    path: out,
    seed: Number(argValue(args, "--seed") ?? "42"),
    defectRate: Number(argValue(args, "--defects") ?? "0"),
  });
  const base = out.replace(/\.csv$/, "");
  await Deno.writeTextFile(`${base}.schema.json`, JSON.stringify(schemaFor(table), null, 2) + "\n");
  await Deno.writeTextFile(`${base}.create.sql`, createTableSql(table) + "\n");
  console.log(JSON.stringify(result, null, 2));
}
