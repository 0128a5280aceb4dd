/**
 * A deterministic (seeded) generator of typed CSV files for the loader's tests and measurements:
 * 12 columns of ids, names, emails, integers, decimals, booleans in mixed spellings, dates,
 * timestamps, zip codes with leading zeros and free text with commas, quotes and newlines.
 *
 * @example
 * ```ts
 * await writeCsv({ path: "/tmp/people.csv", rows: 1000, defectRate: 0.05 });
 * ```
 * Run directly: `deno run -A tests/etl_gen.ts OUT.csv ROWS [DEFECT_RATE]`.
 */

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1); the same seed, the same file. */
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

/** Options for {@linkcode writeCsv}. */
export interface GenOptions {
  path: string;
  rows: number;
  /** Share of rows (0..1) given one defect a loader must reject. */
  defectRate?: number;
  seed?: number;
}

/** The header every generated file has. */
export const GEN_HEADER = [
  "id",
  "First Name",
  "email",
  "age",
  "score",
  "ratio",
  "active",
  "signup_date",
  "last_login",
  "zip",
  "notes",
  "big",
];

const NAMES = ["Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances"];
const BOOLS = ["true", "false", "yes", "no", "Y", "N", "t", "f", "TRUE", "False"];
const NOTES = [
  "plain note",
  '"has, comma"',
  '"says ""hi"" twice"',
  '"two\nlines"',
  "",
  "NA",
  "ok",
  "café au lait",
];
const DEFECTS = ["age", "date", "bool", "ragged", "int"];

function pad(n: number, w: number): string {
  return String(n).padStart(w, "0");
}

/** Yields the file's lines (header first), each ending in a newline. */
export function* genLines(options: Omit<GenOptions, "path">): Generator<string> {
  const r = prng(options.seed ?? 42);
  const defectRate = options.defectRate ?? 0;
  yield GEN_HEADER.join(",") + "\n";
  for (let i = 1; i <= options.rows; i++) {
    const name = NAMES[(r() * NAMES.length) | 0];
    let age = String(18 + ((r() * 70) | 0));
    const score = (r() * 1000).toFixed(2);
    const ratio = (r() * 2 - 1).toExponential(4);
    let active = BOOLS[(r() * BOOLS.length) | 0];
    let date = `20${pad((r() * 24) | 0, 2)}-${pad(1 + ((r() * 12) | 0), 2)}-${
      pad(1 + ((r() * 28) | 0), 2)
    }`;
    const ts = `${date}T${pad((r() * 24) | 0, 2)}:${pad((r() * 60) | 0, 2)}:${
      pad((r() * 60) | 0, 2)
    }Z`;
    const zip = pad((r() * 100000) | 0, 5);
    const note = NOTES[(r() * NOTES.length) | 0];
    let big = String(1e12 + i * 7919);
    let extra = "";
    if (defectRate > 0 && r() < defectRate) {
      switch (DEFECTS[(r() * DEFECTS.length) | 0]) {
        case "age":
          age = age + "x";
          break;
        case "date":
          date = "2023-02-30";
          break;
        case "bool":
          active = "maybe";
          break;
        case "ragged":
          extra = ",surplus";
          break;
        case "int":
          big = "12.5";
          break;
      }
    }
    yield `${i},${name},${name.toLowerCase()}${i}@example.com,${age},${score},${ratio},${active},${date},${ts},${zip},${note},${big}${extra}\n`;
  }
}

/** Writes a generated file in ~1 MiB writes. */
export async function writeCsv(options: GenOptions): Promise<void> {
  const file = await Deno.open(options.path, { write: true, create: true, truncate: true });
  const enc = new TextEncoder();
  let buf = "";
  try {
    for (const line of genLines(options)) {
      buf += line;
      if (buf.length > 1 << 20) {
        await writeAll(file, enc.encode(buf));
        buf = "";
      }
    }
    if (buf) await writeAll(file, enc.encode(buf));
  } finally {
    file.close();
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

if (import.meta.main) {
  const [path, rows, rate] = Deno.args;
  await writeCsv({ path, rows: Number(rows), defectRate: rate ? Number(rate) : 0 });
}
