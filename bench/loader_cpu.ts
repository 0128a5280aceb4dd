/**
 * CPU seconds of the loader process next to the CPU seconds of the PostgreSQL backend serving
 * `psql \copy` of the same file, side by side in one run, alternating the sides. CPU time, not
 * wall time: on a shared 2-core machine wall time measures the neighbours, CPU time much less so.
 *
 * - the loader: `deno run -A cli.ts ingest FILE` under `/usr/bin/time` (its own user + system
 *   time, exact); its backends: every `postgres` process serving the database, sampled from
 *   `/proc` every 10 ms while the loader runs.
 * - `\copy`: psql's backend reads its own `/proc/<pid>/stat` before and after the `\copy`
 *   (exact), into an identically typed table (the schema's, or the one `infer` prints).
 *
 * ```sh
 * deno run -A bench/loader_cpu.ts --file big.csv [--schema big.schema.json] [--reps 3] \
 *   [--db postgres://postgres@127.0.0.1:5432/mydb] [--baseline /path/to/older/checkout/cli.ts]
 * ```
 *
 * `--baseline` also runs another checkout's loader each round (before/after a change, in one run).
 * `deno task bench` measures the same ratio on its generated file (the loader's CPU targets).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parseSchema } from "../src/etl/schema.ts";
import { createStatement } from "../src/etl/target_table.ts";
import { pgEnv, psql } from "./pg.ts";
import { CLK_TCK, cmdline, readProcs, runMeasured, runOk, sleep, ticksOf } from "./proc.ts";
import { median } from "./stats.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

/** CPU seconds of the loader process (or psql), of the PostgreSQL backend(s) serving it. */
type Side = { client: number; backend: number };

/** CPU ticks of every backend process of database `db`, by PID. */
const backendTicks = (db: string) =>
  new Map(
    readProcs().filter((p) => p.comm === "postgres" && cmdline(p.pid).includes(` ${db} `))
      .map((p) => [p.pid, p.ticks]),
  );

/** `\copy` of the file into a fresh table; CPU of psql and of its backend. */
async function copySide(url: string, file: string, createSql: string, tmp: string): Promise<Side> {
  await psql(url, `DROP TABLE IF EXISTS cpu_copy; ${createSql}`);
  const statFile = `${tmp}/copy_backend_stat.txt`;
  await Deno.writeTextFile(
    `${tmp}/copy.psql`,
    [
      "SELECT pg_backend_pid() AS pid \\gset",
      "\\setenv BACKEND_PID :pid",
      `\\! cat /proc/$BACKEND_PID/stat > ${statFile}`,
      `\\copy cpu_copy FROM '${file.replaceAll("'", "''")}' WITH (FORMAT csv, HEADER true)`,
      `\\! cat /proc/$BACKEND_PID/stat >> ${statFile}`,
    ].join("\n") + "\n",
  );
  const args = [url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", `${tmp}/copy.psql`];
  const r = await runMeasured("psql", args, tmp, pgEnv());
  if (r.code !== 0) throw new Error(`psql \\copy failed: ${r.stderr}`);
  const [before, after] = (await Deno.readTextFile(statFile)).trim().split("\n");
  return { client: r.cpuSeconds, backend: (ticksOf(after) - ticksOf(before)) / CLK_TCK };
}

/** The loader (`cli`) on the file into a fresh table; its CPU and its backends'. */
async function loaderSide(
  url: string,
  file: string,
  schema: string | undefined,
  tmp: string,
  cli: string,
) {
  await psql(url, "DROP TABLE IF EXISTS cpu_load");
  const db = new URL(url).pathname.slice(1);
  const [before, last] = [backendTicks(db), new Map<number, number>()];
  let running = true;
  const poll = (async () => {
    for (; running; await sleep(10)) for (const [pid, t] of backendTicks(db)) last.set(pid, t);
  })();
  const flags =
    `--table cpu_load --database-url ${url} --replace --quiet --rejects ${tmp}/cpu.rejects.csv`;
  const args = [
    "run",
    "-A",
    cli,
    "ingest",
    file,
    ...flags.split(" "),
    "--log-file",
    `${tmp}/cpu_ingest.log`,
  ];
  const r = await runMeasured(
    Deno.execPath(),
    [...args, ...(schema ? ["--schema", schema] : [])],
    tmp,
  );
  running = false;
  await poll;
  if (r.code !== 0) throw new Error(`the loader failed (${r.code}): ${r.stderr}`);
  let ticks = 0;
  for (const [pid, t] of last) ticks += t - (before.get(pid) ?? 0);
  return { client: r.cpuSeconds, backend: ticks / CLK_TCK };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      file: { type: "string" },
      schema: { type: "string" },
      reps: { type: "string", default: "3" },
      rows: { type: "string" },
      baseline: { type: "string" },
      db: {
        type: "string",
        default: Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres",
      },
    },
  });
  const { file, schema, baseline, db: url } = values;
  if (!file) throw new Error("--file FILE.csv is required");
  const tmp = await Deno.makeTempDir({ prefix: "loader-cpu-" });
  const rows = values.rows
    ? Number(values.rows)
    : Number(await runOk("sh", ["-c", `wc -l < '${file}'`])) - 1;
  // `CREATE TABLE cpu_copy` typed as the schema says (or as `infer` would).
  const json = schema
    ? await Deno.readTextFile(schema)
    : await runOk(Deno.execPath(), ["run", "-A", CLI, "infer", file]);
  const createSql = createStatement("cpu_copy", parseSchema(JSON.parse(json)));
  const perM = (s: number) => (s / rows * 1e6).toFixed(2);
  console.log(`file ${file}, ~${rows} rows; CPU seconds per million rows`);
  const sides = baseline ? ["loader", "baseline", "copy"] : ["loader", "copy"];
  const ratios: Record<string, number[]> = { loader: [], baseline: [] };
  for (let rep = 1; rep <= Number(values.reps); rep++) {
    // Rotate the order each round, so drift on a shared machine hits every side alike.
    const got: Record<string, Side> = {};
    for (const side of sides.map((_, i) => sides[(i + rep - 1) % sides.length])) {
      got[side] = side === "copy"
        ? await copySide(url!, file, createSql, tmp)
        : await loaderSide(url!, file, schema, tmp, side === "loader" ? CLI : baseline!);
    }
    const copy = got.copy;
    const parts = [`\\copy backend ${perM(copy.backend)} (psql ${perM(copy.client)})`];
    for (const side of sides.filter((x) => x !== "copy")) {
      const r = got[side].client / copy.backend;
      ratios[side].push(r);
      const backends = perM(got[side].backend);
      parts.push(
        `${side} ${perM(got[side].client)} (its backends ${backends}), ÷ \\copy ${r.toFixed(2)}`,
      );
    }
    console.log(`round ${rep}: ${parts.join(" | ")}`);
  }
  for (const [side, rs] of Object.entries(ratios)) {
    if (rs.length) console.log(`median ${side} CPU ÷ \\copy backend CPU: ${median(rs).toFixed(2)}`);
  }
  await psql(url!, "DROP TABLE IF EXISTS cpu_copy; DROP TABLE IF EXISTS cpu_load");
  await Deno.remove(tmp, { recursive: true });
}
