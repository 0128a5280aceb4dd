/**
 * `deno task bench --profile`: the loader and the server under `deno run --cpu-prof`, each V8
 * `.cpuprofile` summarised as the functions with the most self time and the shares by package
 * (node-postgres, hono, the app's own src/, garbage collection...). Shares are of the busy time:
 * `(idle)` and `(program)` are left out of the denominator.
 *
 * @example
 * ```sh
 * deno run -A bench/profile.ts bench/.out/prof_api/CPU.*.cpuprofile
 * ```
 *
 * @module
 */
import { type ApiPlan, ApiStage } from "./api_bench.ts";
import { runWrk } from "./load_gen.ts";
import { cachedCsv, loaderArgs } from "./loader_bench.ts";
import { runMeasured } from "./proc.ts";

type CallFrame = { functionName: string; url: string; lineNumber: number };
type CpuProfile = {
  nodes: { id: number; callFrame: CallFrame }[];
  samples: number[];
  timeDeltas: number[];
};
/** One line of a summary: a function or a package, and its self time. */
type Entry = { name: string; where: string; selfMs: number };

/** Where a frame is, short: `src/etl/csv_parser.ts`, `npm:pg/lib/result.js`, `ext:deno_web/...`. */
function shortUrl(url: string): string {
  const npm = url.match(/\/npm\/[^/]+\/((?:@[^/]+\/)?[^/]+)\/\d[^/]*\/(.*)$/);
  if (npm) return `npm:${npm[1]}/${npm[2]}`;
  const own = url.match(/\/((?:src|bench)\/.*)$/);
  return own ? own[1] : url.replace(/^.*\/(ext|node)\//, "$1:").replace(/^file:\/\//, "");
}

/** Which package a frame belongs to, for the per-package shares. */
function packageOf({ url: u, functionName }: CallFrame): string {
  if (!u) return functionName.startsWith("(") ? functionName : "(native / builtins)";
  const npm = u.match(/\/npm\/[^/]+\/((?:@[^/]+\/)?[^/]+)\//);
  if (npm) return `npm:${npm[1]}`;
  if (u.includes("/src/")) {
    return "app " + u.slice(u.indexOf("/src/") + 1).split("/").slice(0, 2).join("/");
  }
  if (u.startsWith("ext:") || u.startsWith("node:")) return `deno runtime (${u.split("/")[0]})`;
  return u.split("/").at(-1)!;
}

/** Summarises one profile: the top `n` functions by self time and the top packages. */
export function summarizeProfile(profile: CpuProfile, n = 20) {
  const byId = new Map(profile.nodes.map((x) => [x.id, x.callFrame]));
  const [fns, pkgs] = [new Map<string, Entry>(), new Map<string, Entry>()];
  const add = (m: Map<string, Entry>, key: string, name: string, where: string, us: number) => {
    const e = m.get(key) ?? m.set(key, { name, where, selfMs: 0 }).get(key)!;
    e.selfMs += us / 1000;
  };
  let [totalUs, busyUs] = [0, 0];
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id);
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (!frame) return;
    totalUs += us;
    const name = frame.functionName || "(anonymous)";
    if (name === "(idle)" || name === "(program)") return;
    busyUs += us;
    const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : "";
    add(fns, `${name}@${where}`, name, where, us);
    add(pkgs, packageOf(frame), packageOf(frame), "", us);
  });
  const top = (m: Map<string, Entry>, k: number) =>
    [...m.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, k);
  return {
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    top: top(fns, n),
    byPackage: top(pkgs, 10),
  };
}
type Summary = ReturnType<typeof summarizeProfile>;

/** Summarises every `.cpuprofile` in `dir` (one per process), busiest first. */
async function summarizeDir(dir: string): Promise<Summary[]> {
  const out: Summary[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (!e.name.endsWith(".cpuprofile")) continue;
    out.push(summarizeProfile(JSON.parse(await Deno.readTextFile(`${dir}/${e.name}`))));
  }
  return out.sort((a, b) => b.busyMs - a.busyMs);
}

/** Renders a summary as Markdown (a `|` in a RegExp's source would end a cell). */
export function profileMarkdown(title: string, s: Summary): string {
  const pct = (e: Entry) => `${((e.selfMs / s.busyMs) * 100).toFixed(1)}%`;
  const cell = (text: string) => text.replaceAll("|", "\\|");
  return [
    `#### ${title}\n`,
    `${(s.busyMs / 1000).toFixed(1)} s busy of ${(s.totalMs / 1000).toFixed(1)} s sampled.\n`,
    "| self time | share of busy | function | where |",
    "| ---: | ---: | --- | --- |",
    ...s.top.map((e) =>
      `| ${e.selfMs.toFixed(0)} ms | ${pct(e)} | \`${cell(e.name)}\` | ${cell(e.where)} |`
    ),
    "",
    "| by package | share of busy |",
    "| --- | ---: |",
    ...s.byPackage.map((e) => `| ${e.name} | ${pct(e)} |`),
    "",
  ].join("\n");
}

/** Profiles the loader on `rows` clean rows into `db`; Markdown. */
export async function profileLoader(db: string, outDir: string, rows: number): Promise<string> {
  const dir = `${outDir}/prof_loader`;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const file = await cachedCsv(outDir, rows, { defectRate: 0, seed: 7 });
  const [run, ...rest] = await loaderArgs(db, outDir, file.path, "prof_data");
  const r = await runMeasured(
    "deno",
    [run, "--cpu-prof", `--cpu-prof-dir=${dir}`, ...rest],
    outDir,
  );
  if (r.code !== 0) throw new Error(`profiled loader exited ${r.code}: ${r.stderr.slice(0, 500)}`);
  const title = `Loader, ${rows.toLocaleString("en-US")} clean rows (${
    r.seconds.toFixed(1)
  } s wall)`;
  return (await summarizeDir(dir)).map((s) => profileMarkdown(title, s)).join("\n");
}

/** Profiles the API server under `GET /tasks` load (`api_get` of the plan) on `db`; Markdown. */
export async function profileServer(
  db: string,
  outDir: string,
  durationSec: number,
  plan: ApiPlan,
) {
  const dir = `${outDir}/prof_api`;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const api = plan.servers.api;
  const get = plan.scenarios.find((s) => s.id === "api_get");
  if (!get || !("http" in get)) throw new Error("the plan has no api_get scenario");
  const servers = { api: { ...api, args: ["--cpu-prof", `--cpu-prof-dir=${dir}`, ...api.args] } };
  let rps: number;
  {
    await using stage = await ApiStage.open(db, outDir, { servers, users: plan.users }, []);
    rps = (await runWrk(stage.httpLoad(get.http, durationSec), [], outDir)).rps;
  } // the server writes its profile when it exits
  const s = (await summarizeDir(dir))[0];
  return `GET /tasks under the profiler: ${Math.round(rps)} req/s (the profiler slows it).\n\n` +
    (s
      ? profileMarkdown("Server under `GET /tasks` load", s)
      : "The server wrote no .cpuprofile (did it exit on SIGTERM?).\n");
}

if (import.meta.main) {
  for (const path of Deno.args) {
    console.log(
      profileMarkdown(path, summarizeProfile(JSON.parse(await Deno.readTextFile(path)), 25)),
    );
  }
}
