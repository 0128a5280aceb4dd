/**
 * What machine the figures were measured on: cores, memory, CPU model, OS and versions.
 *
 * @module
 */
import { psql } from "./pg.ts";
import { run } from "./proc.ts";

const SETTINGS = "shared_buffers synchronous_commit fsync max_wal_size wal_level max_connections";
const read = (path: string) => Deno.readTextFile(path).catch(() => "");
const firstLine = (cmd: string) =>
  run(cmd, ["--version"]).then((r) => (r.stdout + r.stderr).trim().split("\n")[0]);

/** Reads the machine's description from /proc, /etc/os-release, PostgreSQL and the tools. */
export async function machineInfo() {
  const [meminfo, cpuinfo, os] = await Promise.all(
    ["/proc/meminfo", "/proc/cpuinfo", "/etc/os-release"].map(read),
  );
  return {
    cores: navigator.hardwareConcurrency,
    memoryGiB: Number(meminfo.match(/MemTotal:\s+(\d+) kB/)?.[1]) / 1024 / 1024,
    cpuModel: cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? "unknown",
    kernel: (await read("/proc/sys/kernel/osrelease")).trim(),
    os: os.match(/^PRETTY_NAME="?([^"\n]+)"?/m)?.[1] ?? Deno.build.os,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    postgres: `PostgreSQL ${(await psql("postgres", "SHOW server_version")).trim()}`,
    postgresSettings: (await psql(
      "postgres",
      "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) " +
        `FROM pg_settings WHERE name IN ('${SETTINGS.split(" ").join("', '")}')`,
    )).trim(),
    wrk: (await firstLine("wrk")).replace(/ \[.*$/, ""),
    pgbench: await firstLine("pgbench"),
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  };
}

/** What {@linkcode machineInfo} reads. */
export type MachineInfo = Awaited<ReturnType<typeof machineInfo>>;
