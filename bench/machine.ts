/**
 * What machine the figures were measured on: cores, memory, CPU model, OS and versions.
 *
 * @module
 */
import { psql } from "./pg.ts";
import { run } from "./proc.ts";

/** What {@linkcode machineInfo} reads. */
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

const read = (path: string) => Deno.readTextFile(path).catch(() => "");
const firstLine = async (cmd: string, args: string[]) => {
  const r = await run(cmd, args);
  return (r.stdout + r.stderr).trim().split("\n")[0];
};

/** Reads the machine's description from /proc, /etc/os-release, PostgreSQL and the tools. */
export async function machineInfo(): Promise<MachineInfo> {
  const settings = [
    "shared_buffers",
    "synchronous_commit",
    "fsync",
    "max_wal_size",
    "wal_level",
    "max_connections",
  ];
  return {
    cores: navigator.hardwareConcurrency,
    memoryGiB: Number((await read("/proc/meminfo")).match(/MemTotal:\s+(\d+) kB/)?.[1]) / 1024 /
      1024,
    cpuModel: (await read("/proc/cpuinfo")).match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ??
      "unknown",
    kernel: (await read("/proc/sys/kernel/osrelease")).trim(),
    os: (await read("/etc/os-release")).match(/^PRETTY_NAME="?([^"\n]+)"?/m)?.[1] ?? Deno.build.os,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    postgres: `PostgreSQL ${(await psql("postgres", "SHOW server_version")).trim()}`,
    postgresSettings: (await psql(
      "postgres",
      "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) FROM pg_settings " +
        `WHERE name IN (${settings.map((s) => `'${s}'`).join(", ")})`,
    )).trim(),
    wrk: (await firstLine("wrk", ["--version"])).replace(/ \[.*$/, ""),
    pgbench: await firstLine("pgbench", ["--version"]),
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  };
}
