/**
 * Reads a V8 `.cpuprofile` (from `deno run --cpu-prof --cpu-prof-dir=DIR`) and lists the functions
 * with the most self time, and the shares by package (node-postgres, hono, the app's own src/,
 * garbage collection...). Shares are of the busy time: `(idle)` and `(program)` are left out of the
 * denominator.
 *
 * @example
 * ```sh
 * deno run -A bench/profile.ts bench/.out/prof_api/CPU.*.cpuprofile
 * ```
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** One line of the summary. */
export interface ProfileEntry {
  name: string;
  where: string;
  selfMs: number;
  share: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  busyMs: number;
  top: ProfileEntry[];
  byPackage: ProfileEntry[];
}

function shortUrl(url: string): string {
  if (!url) return "";
  const npm = url.match(/\/npm\/[^/]+\/([^/]+(?:\/[^/]+)?)\/(\d[^/]*)\/(.*)$/);
  if (npm) return `npm:${npm[1].startsWith("@") ? npm[1] : npm[1].split("/")[0]}/${npm[3]}`;
  const i = url.indexOf("/src/");
  if (i >= 0) return url.slice(i + 1);
  const j = url.indexOf("/bench/");
  if (j >= 0) return url.slice(j + 1);
  return url.replace(/^.*\/(ext|node)\//, "$1:").replace(/^file:\/\//, "");
}

/** Which package a frame belongs to, for the per-package shares. */
export function packageOf(frame: CallFrame): string {
  const u = frame.url;
  if (!u) {
    const n = frame.functionName;
    return n.startsWith("(") ? n : "(native / builtins)";
  }
  const npm = u.match(/\/npm\/[^/]+\/((?:@[^/]+\/)?[^/]+)\//);
  if (npm) return `npm:${npm[1]}`;
  if (u.includes("/src/")) {
    return "app " + u.slice(u.indexOf("/src/") + 1).split("/").slice(0, 2).join("/");
  }
  if (u.startsWith("ext:") || u.startsWith("node:")) {
    return "deno runtime (" + u.split("/")[0] + ")";
  }
  return u.split("/").slice(-1)[0];
}

/** Summarises one profile: the top `n` functions by self time and the shares per package. */
export function summarizeProfile(file: string, profile: CpuProfile, n = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const self = new Map<number, number>();
  if (profile.samples && profile.timeDeltas) {
    for (let i = 0; i < profile.samples.length; i++) {
      const dt = profile.timeDeltas[i + 1] ?? 0;
      self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
    }
  } else {
    const interval = (profile.endTime - profile.startTime) /
      Math.max(1, profile.nodes.reduce((a, x) => a + (x.hitCount ?? 0), 0));
    for (const x of profile.nodes) self.set(x.id, (x.hitCount ?? 0) * interval);
  }
  const fn = new Map<string, ProfileEntry>();
  const pkg = new Map<string, ProfileEntry>();
  let total = 0;
  let busy = 0;
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const name = node.callFrame.functionName || "(anonymous)";
    if (name === "(idle)" || name === "(program)") continue;
    busy += us;
    const where = node.callFrame.url
      ? `${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`
      : "";
    const key = `${name}@${where}`;
    const e = fn.get(key) ?? { name, where, selfMs: 0, share: 0 };
    e.selfMs += us / 1000;
    fn.set(key, e);
    const p = packageOf(node.callFrame);
    const pe = pkg.get(p) ?? { name: p, where: "", selfMs: 0, share: 0 };
    pe.selfMs += us / 1000;
    pkg.set(p, pe);
  }
  const finish = (m: Map<string, ProfileEntry>, k: number) =>
    [...m.values()]
      .map((e) => ({ ...e, share: busy > 0 ? (e.selfMs * 1000) / busy : 0 }))
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, k);
  return {
    file,
    totalMs: total / 1000,
    busyMs: busy / 1000,
    top: finish(fn, n),
    byPackage: finish(pkg, 10),
  };
}

/** Reads and summarises every `.cpuprofile` in `dir` (there is one per process). */
export async function summarizeDir(dir: string, n = 15): Promise<ProfileSummary[]> {
  const out: ProfileSummary[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (!e.name.endsWith(".cpuprofile")) continue;
    const path = `${dir}/${e.name}`;
    out.push(summarizeProfile(path, JSON.parse(await Deno.readTextFile(path)), n));
  }
  return out.sort((a, b) => b.busyMs - a.busyMs);
}

/** A table cell: a `|` (in a RegExp's source, say) would end the cell. */
function cell(text: string): string {
  return text.replaceAll("|", "\\|");
}

/** Renders a summary as Markdown. */
export function profileMarkdown(title: string, s: ProfileSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const lines = [
    `#### ${title}`,
    "",
    `${(s.busyMs / 1000).toFixed(1)} s busy of ${(s.totalMs / 1000).toFixed(1)} s sampled.`,
    "",
    "| self time | share of busy | function | where |",
    "| ---: | ---: | --- | --- |",
    ...s.top.map((e) =>
      `| ${e.selfMs.toFixed(0)} ms | ${pct(e.share)} | \`${cell(e.name)}\` | ${cell(e.where)} |`
    ),
    "",
    "| by package | share of busy |",
    "| --- | ---: |",
    ...s.byPackage.map((e) => `| ${e.name} | ${pct(e.share)} |`),
    "",
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  for (const path of Deno.args) {
    const s = summarizeProfile(path, JSON.parse(await Deno.readTextFile(path)), 25);
    console.log(profileMarkdown(path, s));
  }
}
