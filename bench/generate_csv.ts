/**
 * A deterministic, seeded generator of typed CSV files for the loader's measurements, and the
 * schema (src/etl/schema.ts's format) the loader reads them with.
 *
 * Twelve columns: ids, names, emails, ints, bigints, decimals, doubles, booleans in mixed spellings,
 * dates, timestamps, timestamptz and free text with commas, quotes and newlines. With `defectRate`
 * > 0 that share of rows carries exactly one defect (bad int, bad date, unknown boolean, missing
 * required value, ragged row), so the loader must reject precisely `defective` rows. The same seed
 * and options always give the same bytes.
 *
 * @module
 */
import type { ColumnSpec, Schema } from "../src/etl/schema.ts";
import { prng } from "../tests/etl_gen.ts";

/** The columns every generated file has, in order; the header repeats `name`. */
export const COLUMNS: readonly ColumnSpec[] = [
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

/** The schema for a table of the generated columns. */
export function schemaFor(table: string): Schema {
  return { table, columns: COLUMNS.map((c) => ({ ...c })) };
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

/**
 * What {@linkcode generateCsv} wrote: `defective` rows with one defect each (the loader must reject
 * exactly these), `multiline` rows whose text spans several physical lines.
 */
export type GenerateResult = Awaited<ReturnType<typeof generateCsv>>;

const FIRST =
  "Ana Bruno Chloé Dmitri Eve Fatima Günther Hiro Ines Jamal Kai Léa Mateo Nia Olaf Priya"
    .split(" ");
const LAST = "Smith Müller O'Brien Nguyen García Kowalski Rossi Tanaka Dubois Silva Haddad Jensen"
  .split(" ");
const DOMAINS = ["ex.com", "mail.test", "corp.org", "b.dev"];
const BOOL_WORDS = ["true", "false", "yes", "no", "t", "f", "y", "n", "1", "0"];
const NOTES_PLAIN = ["ok", "call back", "vip", "", "", "", "renewal due", "paid"];
const NOTES_QUOTED = [
  '"Ordered 3, returned 1"',
  '"She said ""maybe"", then yes"',
  '"line one\nline two"',
  '"comma, ""quote"" and\nnewline"',
];
const DAY0 = Date.UTC(2015, 0, 1);

const pad2 = (n: number) => n < 10 ? "0" + n : "" + n;
const pick = <T>(rand: () => number, xs: readonly T[]) => xs[(rand() * xs.length) | 0];

/** One row's fields, in {@linkcode COLUMNS} order (the draws' order fixes the bytes). */
function rowFields(rand: () => number, i: number): string[] {
  const first = pick(rand, FIRST);
  const last = pick(rand, LAST);
  const email = first.toLowerCase().replace(/[^a-z]/g, "x") + i + "@" + pick(rand, DOMAINS);
  const ageR = rand();
  const visits = String(Math.floor(rand() * 5_000_000_000));
  const price = ((rand() * 100000) | 0) / 100 + "";
  const sR = rand();
  const bool = pick(rand, BOOL_WORDS);
  const caseR = rand();
  const active = caseR < 0.34
    ? bool
    : caseR < 0.67
    ? bool.toUpperCase()
    : bool[0].toUpperCase() + bool.slice(1);
  const d = new Date(DAY0 + Math.floor(rand() * 3650) * 86_400_000);
  const date = d.getUTCFullYear() + "-" + pad2(d.getUTCMonth() + 1) + "-" + pad2(d.getUTCDate());
  const [hh, mi, ss] = [24, 60, 60].map((n) => pad2((rand() * n) | 0));
  const tzR = rand();
  const nR = rand();
  return [
    String(i),
    first + " " + last,
    email,
    ageR < 0.05 ? "" : String(18 + ((ageR * 1000) | 0) % 70),
    visits,
    price,
    sR < 0.1 ? (sR * 10).toExponential(3) : ((sR - 0.5) * 200).toFixed(4),
    active,
    date,
    date + "T" + hh + ":" + mi + ":" + ss,
    date + "T" + pad2((tzR * 1000 | 0) % 24) + ":" + ss + ":" + mi +
    (tzR < 0.5 ? "Z" : tzR < 0.75 ? "+02:00" : "-05:30"),
    nR < 0.1
      ? NOTES_QUOTED[((nR * 40) | 0) % NOTES_QUOTED.length]
      : NOTES_PLAIN[((nR * 1000) | 0) % NOTES_PLAIN.length],
  ];
}

/** Gives `fields` one defect of a random kind; returns the kind. */
function spoil(rand: () => number, fields: string[]): DefectKind {
  const kind = pick(rand, DEFECT_KINDS);
  const either = (a: string, b: string) => rand() < 0.5 ? a : b;
  if (kind === "bad_integer") fields[3] = either("12x", "25.5");
  if (kind === "bad_date") fields[8] = either("2023-02-30", "2023-13-01");
  if (kind === "unknown_boolean") fields[7] = either("maybe", "2");
  if (kind === "missing_required") fields[2] = either("", "NA");
  if (kind === "ragged_row") rand() < 0.5 ? fields.pop() : fields.push("extra");
  return kind;
}

/**
 * Writes `rows` generated rows (plus a header) to `path`, in chunks of 20,000 rows; `defectRate`
 * is the share of defective rows, 0..1.
 *
 * @example
 * ```ts
 * const r = await generateCsv({ rows: 1000, path: "/tmp/x.csv", seed: 42, defectRate: 0.05 });
 * ```
 */
export async function generateCsv(
  o: { rows: number; path: string; seed: number; defectRate: number },
) {
  const rand = prng(o.seed);
  const defectsByKind = Object.fromEntries(DEFECT_KINDS.map((k) => [k, 0]));
  const result = {
    path: o.path,
    rows: o.rows,
    bytes: 0,
    defective: 0,
    defectsByKind,
    multiline: 0,
  };
  using file = await Deno.open(o.path, { write: true, create: true, truncate: true });
  const write = async (text: string) => {
    const data = new TextEncoder().encode(text);
    result.bytes += data.length;
    for (let off = 0; off < data.length;) off += await file.write(data.subarray(off));
  };
  await write(COLUMNS.map((c) => c.name).join(",") + "\n");
  const lines: string[] = [];
  for (let i = 1; i <= o.rows; i++) {
    const fields = rowFields(rand, i);
    if (fields[11].includes("\n")) result.multiline++;
    if (o.defectRate > 0 && rand() < o.defectRate) {
      result.defectsByKind[spoil(rand, fields)]++;
      result.defective++;
    }
    lines.push(fields.join(","));
    if (lines.length >= 20_000 || i === o.rows) {
      await write(lines.join("\n") + "\n");
      lines.length = 0;
    }
  }
  return result;
}
