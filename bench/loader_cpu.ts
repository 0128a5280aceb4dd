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
 *
 * @module
 */
import { parseArgs } from "node:util";
import { pgEnv } from "./pg.ts";
import { run, runOk, sleep } from "./proc.ts";

const CLK_TCK = 100;
const CLI = new URL("../cli.ts", import.meta.url).pathname;

interface Side {
  /** CPU seconds of the loader process (or psql). */
  client: number;
  /** CPU seconds of the PostgreSQL backend(s) serving it. */
  backend: number;
  wall: number;
}

function ticksOf(stat: string): number {
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

/** CPU ticks of every backend process of database `db`, by PID. */
function backendTicks(db: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      if (!cmd.startsWith("postgres: ") || !cmd.includes(` ${db} `)) continue;
      out.set(Number(e.name), ticksOf(Deno.readTextFileSync(`/proc/${e.name}/stat`)));
    } catch { /* gone */ }
  }
  return out;
}

function sqlLiteral(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

function sqlType(type: string): string {
  return type === "double" ? "double precision" : type;
}

async function psql(url: string, sql: string): Promise<string> {
  return await runOk("psql", [url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql], pgEnv());
}

/** `\copy` of the file into a fresh table; CPU of psql and of its backend. */
async function copySide(url: string, file: string, createSql: string, tmp: string): Promise<Side> {
  await psql(url, `DROP TABLE IF EXISTS cpu_copy; ${createSql}`);
  const statFile = `${tmp}/copy_backend_stat.txt`;
  const script = [
    "SELECT pg_backend_pid() AS pid \\gset",
    "\\setenv BACKEND_PID :pid",
    `\\! cat /proc/$BACKEND_PID/stat > ${statFile}`,
    `\\copy cpu_copy FROM ${sqlLiteral(file)} WITH (FORMAT csv, HEADER true)`,
    `\\! cat /proc/$BACKEND_PID/stat >> ${statFile}`,
  ].join("\n");
  const scriptFile = `${tmp}/copy.psql`;
  await Deno.writeTextFile(scriptFile, script + "\n");
  const t0 = performance.now();
  const r = await run("/usr/bin/time", [
    "-f",
    "%U %S",
    "psql",
    url,
    "-X",
    "-q",
    "-v",
    "ON_ERROR_STOP=1",
    "-f",
    scriptFile,
  ], pgEnv());
  const wall = (performance.now() - t0) / 1000;
  if (r.code !== 0) throw new Error(`psql \\copy failed: ${r.stderr}`);
  const [before, after] = (await Deno.readTextFile(statFile)).trim().split("\n");
  return {
    client: clientCpu(r.stderr),
    backend: (ticksOf(after) - ticksOf(before)) / CLK_TCK,
    wall,
  };
}

function clientCpu(timeOutput: string): number {
  const last = timeOutput.trim().split("\n").pop()!.trim().split(" ");
  return Number(last[0]) + Number(last[1]);
}

/** The loader on the file into a fresh table; its CPU and its backends'. */
async function loaderSide(
  url: string,
  db: string,
  file: string,
  schema: string | undefined,
  tmp: string,
  cli = CLI,
): Promise<Side> {
  await psql(url, "DROP TABLE IF EXISTS cpu_load");
  const before = backendTicks(db);
  const last = new Map<number, number>();
  let running = true;
  const poll = (async () => {
    while (running) {
      for (const [pid, t] of backendTicks(db)) last.set(pid, t);
      await sleep(10);
    }
  })();
  const args = [
    "-f",
    "%U %S",
    Deno.execPath(),
    "run",
    "-A",
    cli,
    "ingest",
    file,
    "--table",
    "cpu_load",
    "--database-url",
    url,
    "--replace",
    "--quiet",
    "--rejects",
    `${tmp}/cpu.rejects.csv`,
    "--log-file",
    `${tmp}/cpu_ingest.log`,
    ...(schema ? ["--schema", schema] : []),
  ];
  const t0 = performance.now();
  const r = await run("/usr/bin/time", args);
  const wall = (performance.now() - t0) / 1000;
  running = false;
  await poll;
  if (r.code !== 0) throw new Error(`the loader failed (${r.code}): ${r.stderr}`);
  let ticks = 0;
  for (const [pid, t] of last) ticks += t - (before.get(pid) ?? 0);
  return { client: clientCpu(r.stderr), backend: ticks / CLK_TCK, wall };
}

/** `CREATE TABLE cpu_copy` typed as the schema says (or as `infer` would). */
async function createSqlFor(file: string, schemaPath: string | undefined): Promise<string> {
  const json = schemaPath
    ? await Deno.readTextFile(schemaPath)
    : await runOk(Deno.execPath(), ["run", "-A", CLI, "infer", file]);
  const schema = JSON.parse(json) as { columns: { name: string; type: string }[] };
  const cols = schema.columns.map((c) => `"${c.name}" ${sqlType(c.type)}`);
  return `CREATE TABLE cpu_copy (${cols.join(", ")});`;
}

async function countLines(file: string): Promise<number> {
  const out = await runOk("sh", ["-c", `wc -l < ${JSON.stringify(file)}`]);
  return Number(out.trim());
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
  if (!values.file) throw new Error("--file FILE.csv is required");
  const url = values.db!;
  const db = new URL(url).pathname.slice(1);
  const tmp = await Deno.makeTempDir({ prefix: "loader-cpu-" });
  const rows = values.rows ? Number(values.rows) : (await countLines(values.file)) - 1;
  const createSql = await createSqlFor(values.file, values.schema);
  const perM = (s: number) => (s / rows * 1e6).toFixed(2);
  console.log(`file ${values.file}, ~${rows} rows; CPU seconds per million rows`);
  const sides = values.baseline ? ["loader", "baseline", "copy"] : ["loader", "copy"];
  const ratios: Record<string, number[]> = { loader: [], baseline: [] };
  for (let rep = 1; rep <= Number(values.reps); rep++) {
    // Rotate the order each round, so drift on a shared machine hits every side alike.
    const order = sides.map((_, i) => sides[(i + rep - 1) % sides.length]);
    const got: Record<string, Side> = {};
    for (const side of order) {
      got[side] = side === "copy"
        ? await copySide(url, values.file, createSql, tmp)
        : await loaderSide(
          url,
          db,
          values.file,
          values.schema,
          tmp,
          side === "loader" ? CLI : values.baseline,
        );
    }
    const copy = got.copy;
    const parts = [`\\copy backend ${perM(copy.backend)} (psql ${perM(copy.client)})`];
    for (const side of sides.filter((x) => x !== "copy")) {
      const r = got[side].client / copy.backend;
      ratios[side].push(r);
      parts.push(
        `${side} ${perM(got[side].client)} (its backends ${perM(got[side].backend)}), ÷ \\copy ${
          r.toFixed(2)
        }`,
      );
    }
    console.log(`round ${rep}: ${parts.join(" | ")}`);
  }
  for (const [side, rs] of Object.entries(ratios)) {
    if (!rs.length) continue;
    rs.sort((a, b) => a - b);
    console.log(`median ${side} CPU ÷ \\copy backend CPU: ${rs[rs.length >> 1].toFixed(2)}`);
  }
  await psql(url, "DROP TABLE IF EXISTS cpu_copy; DROP TABLE IF EXISTS cpu_load");
  await Deno.remove(tmp, { recursive: true });
}
