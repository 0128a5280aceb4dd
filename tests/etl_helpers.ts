/**
 * Shared bits of the loader's tests: temp folders, reading a rejects file back, counting rows,
 * and the csv-spectrum cases.
 */
import type { Database } from "../src/db/database.ts";
import { CsvParser } from "../src/etl/csv_parser.ts";

export const FIXTURES = new URL("./fixtures/etl/", import.meta.url).pathname;
const SPECTRUM = new URL("./fixtures/csv-spectrum/", import.meta.url);

/** A temp folder removed by the returned function. */
export async function tempDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix: "etl-test-" });
  return { path, remove: () => Deno.remove(path, { recursive: true }).catch(() => {}) };
}

/** Parses a whole CSV text into records. */
export function parseCsv(text: string, delimiter = ","): string[][] {
  const out: string[][] = [];
  const p = new CsvParser({ delimiter }, (record) => out.push(record.strings()));
  p.push(text);
  p.finish();
  return out;
}

/** A rejects file as `{header, rows}`; rows as objects keyed by the header. */
export async function readRejects(
  path: string,
): Promise<{ header: string[]; rows: Record<string, string>[] }> {
  const [header, ...rest] = parseCsv(await Deno.readTextFile(path));
  return {
    header,
    rows: rest.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]]))),
  };
}

/** `count(*)` of a table. */
export async function countRows(db: Database, table: string): Promise<number> {
  const rows = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}"`);
  return rows[0].n;
}

/** The csv-spectrum cases: name, CSV path and text, and the expected records. */
export async function spectrumCases(): Promise<
  { name: string; path: string; csv: string; json: Record<string, string>[] }[]
> {
  const out = [];
  for await (const e of Deno.readDir(new URL("csvs/", SPECTRUM))) {
    const name = e.name.replace(/\.csv$/, "");
    const parsed = JSON.parse(await Deno.readTextFile(new URL(`json/${name}.json`, SPECTRUM)));
    const json = Array.isArray(parsed) ? parsed : [parsed];
    // Upstream's expected JSON is wrong for this one field (see ORIGIN.md).
    if (name === "location_coordinates") json[0]["Contact Phone Number"] = "2095257564";
    const path = new URL(`csvs/${e.name}`, SPECTRUM).pathname;
    out.push({ name, path, csv: await Deno.readTextFile(path), json });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
