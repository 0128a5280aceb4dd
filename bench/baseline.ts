/**
 * The API against an earlier commit of itself, side by side in one run: `GET /tasks` and
 * `POST /tasks` on the current server and on a server of `--baseline-ref` (checked out into a
 * temporary `git worktree`, removed after), each on its own fresh database and users (the earlier
 * commit's schema is not this one's). The rounds alternate current and baseline, and a ratio is
 * the median of the rounds' own current ÷ baseline ratios, which the machine's drift hits alike.
 *
 * @module
 */
import {
  type ApiFigures,
  ApiStage,
  describeLoad,
  scenarioFigures,
  type ServerSpec,
} from "./api_bench.ts";
import { type LoadResult, runWrk } from "./load_gen.ts";
import { psql, withDatabase } from "./pg.ts";
import { registerUndo, run, runOk } from "./proc.ts";
import { measureRounds } from "./rounds.ts";
import { median, ratio } from "./stats.ts";
import { API_ENV as ENV, POST_BODY } from "./scenarios.ts";

/** The start of this round of work, when nothing else is given. */
export const BASELINE_REF = "715a137";

/** Scenario ids this section measures (`--scenarios` may name them). */
export const BASELINE_IDS = [
  "baseline_get_now",
  "baseline_get",
  "baseline_post_now",
  "baseline_post",
];

/** Options for {@linkcode baselineBench}. */
export interface BaselineOptions {
  ref: string;
  outDir: string;
  reps: number;
  durationSec: number;
  log(msg: string): void;
}

const USERS = { get: { tasks: 1000 }, post: { tasks: 0 } };
const BODY = JSON.stringify(POST_BODY);
const LOADS = {
  get: { path: "/tasks?page=1&per_page=10", user: "get" },
  post: { path: "/tasks", user: "post", method: "POST" as const, body: BODY },
};

/**
 * Measures `GET /tasks` (1,000 tasks, per_page=10) and `POST /tasks` on this checkout and on
 * `o.ref`; returns their figures and the ratios current ÷ baseline.
 *
 * @example
 * ```ts
 * const figures = await baselineBench({ ref: "715a137", outDir, reps: 3, durationSec: 10, log });
 * ```
 */
export async function baselineBench(o: BaselineOptions): Promise<ApiFigures> {
  const dir = await Deno.makeTempDir({ prefix: "taskapi_baseline_" });
  const remove = async () => {
    await run("git", ["worktree", "remove", "--force", dir]);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const undo = registerUndo(remove);
  try {
    await runOk("git", ["worktree", "add", "--detach", "--quiet", dir, o.ref]);
    const commit = (await runOk("git", ["-C", dir, "rev-parse", "--short", "HEAD"])).trim();
    // The earlier commit's entry point: main.ts serves at every commit of this project.
    const then: ServerSpec = { args: ["main.ts"], cwd: dir, env: () => ENV };
    const now: ServerSpec = { args: ["cli.ts", "serve"], env: () => ENV };
    await runOk("sh", ["-c", `cd '${dir}' && deno cache main.ts`]);
    o.log(`  baseline ${o.ref} (${commit}) in ${dir}`);
    return await withDatabase("bench_now", (nowDb) =>
      withDatabase("bench_then", async (thenDb) => {
        const plan = (api: ServerSpec) => ({ servers: { api }, users: USERS });
        await using current = await ApiStage.open(nowDb, o.outDir, plan(now), ["api"]);
        await using baseline = await ApiStage.open(thenDb, o.outDir, plan(then), ["api"]);
        return await measure(o, commit, current, baseline);
      }));
  } finally {
    undo.release();
    await remove();
  }
}

async function measure(
  o: BaselineOptions,
  commit: string,
  current: ApiStage,
  baseline: ApiStage,
): Promise<ApiFigures> {
  const notes = [...current.notes, ...baseline.notes];
  const target = (id: string) => {
    const stage = id.endsWith("_now") ? current : baseline;
    const load = LOADS[id.startsWith("baseline_get") ? "get" : "post"];
    return { stage, load: stage.httpLoad({ server: "api", ...load }, o.durationSec) };
  };
  const runs = await measureRounds<LoadResult>({
    ids: BASELINE_IDS,
    reps: o.reps,
    step: 1,
    before: () => psql(current.db, "CHECKPOINT").then(() => {}),
    after: async (id) => await target(id).stage.restore(),
    run: (id) => {
      const { stage, load } = target(id);
      return runWrk(load, stage.roles(), o.outDir);
    },
    describe: describeLoad,
    log: o.log,
    notes,
  });
  const label = (id: string) =>
    `${id.startsWith("baseline_get") ? "`GET /tasks` (1,000 tasks)" : "`POST /tasks`"}, ${
      id.endsWith("_now") ? "current, beside the baseline" : `baseline ${commit}`
    }`;
  const scenarios = BASELINE_IDS.map((id) => scenarioFigures(id, label(id), runs.get(id)!, notes));
  const ratios = (["get", "post"] as const).map((what) => {
    const [of, to] = [`baseline_${what}_now`, `baseline_${what}`];
    const perRound = runs.get(of)!.map((r) =>
      ratio(r.rps, runs.get(to)!.find((b) => b.rep === r.rep)?.rps ?? NaN)
    );
    return {
      label: `API ${what.toUpperCase()} ÷ baseline ${commit} (median of the rounds' ratios: ${
        perRound.map((x) => x.toFixed(2)).join(" / ")
      })`,
      of,
      to,
      value: median(perRound),
    };
  });
  return { scenarios, ratios, notes };
}
