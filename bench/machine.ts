/** What machine the figures were measured on: cores, memory, CPU model, OS and versions. */
import { run } from "./proc.ts";
import { psql, serverVersion } from "./pg.ts";

export interface MachineInfo {
  cores: number;
  memoryGiB: number;
  cpuModel: string;
  kernel: string;
  os: string;
  deno: string;
  v8: string;
  postgres: string;
  postgresSettings: string;
  wrk: string;
  pgbench: string;
  date: string;
}

function readOr(path: string, fallback = ""): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return fallback;
  }
}

/** Reads the machine's description from /proc, /etc/os-release and the tools' `--version`. */
export async function machineInfo(): Promise<MachineInfo> {
  const cpuinfo = readOr("/proc/cpuinfo");
  const model = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? "unknown";
  const mem = Number(readOr("/proc/meminfo").match(/MemTotal:\s+(\d+) kB/)?.[1] ?? NaN);
  const os = readOr("/etc/os-release").match(/^PRETTY_NAME="?([^"\n]+)"?/m)?.[1] ?? Deno.build.os;
  const version = async (cmd: string, args: string[]) => {
    const r = await run(cmd, args).catch(() => undefined);
    return r ? (r.stdout + r.stderr).trim().split("\n")[0] : "not installed";
  };
  let postgres = "unknown";
  let postgresSettings = "";
  try {
    postgres = await serverVersion();
    postgresSettings = (await psql(
      "postgres",
      "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) FROM pg_settings " +
        "WHERE name IN ('shared_buffers','synchronous_commit','fsync','max_wal_size','wal_level','max_connections')",
    )).trim();
  } catch { /* keep unknown */ }
  return {
    cores: navigator.hardwareConcurrency,
    memoryGiB: mem / 1024 / 1024,
    cpuModel: model,
    kernel: readOr("/proc/sys/kernel/osrelease").trim(),
    os,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    postgres,
    postgresSettings,
    wrk: (await version("wrk", ["--version"])).replace(/ \[.*$/, ""),
    pgbench: await version("pgbench", ["--version"]),
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  };
}
