/**
 * Keeps the server's memory bounded under password hashing. Each Argon2id hash allocates one
 * 19 MiB block and frees it. glibc's malloc raises its mmap threshold to the size of the largest
 * block it has freed (the "dynamic mmap threshold"), so from the first hash on every such block
 * comes from a heap arena instead of its own mapping, and freed arena memory is kept: measured in a
 * bare Deno script, 60 sequential hashes took RSS from 30 to 395 MiB and 20 concurrent ones to
 * 719 MiB, never returned. A fixed threshold of 1 MiB (which also turns the dynamic one off) gives
 * every large block its own mapping, returned when freed: 34–38 MiB after the same hashes.
 *
 * The threshold can be set two ways, and every way the server starts uses one:
 * - `MALLOC_MMAP_THRESHOLD_=1048576` in the environment, read by glibc when the process starts:
 *   `deno task serve`, the Dockerfile and the systemd unit set it (no extra permission);
 * - `mallopt(M_MMAP_THRESHOLD, 1 MiB)` through FFI at start, when FFI is allowed (a compiled
 *   binary, `deno run -A`): {@linkcode boundMallocArenas} does it.
 * Re-executing the process with the variable set was the third way, and was rejected: it needs
 * `--allow-run`, doubles start-up and puts a second process between a supervisor and the server.
 *
 * @example
 * ```ts
 * const how = boundMallocArenas(Deno.env.toObject()); // "environment", "mallopt", ...
 * ```
 *
 * @module
 */

/** The threshold: blocks from 1 MiB up get their own mapping, returned to the OS when freed. */
export const MMAP_THRESHOLD = 1024 * 1024;
const M_MMAP_THRESHOLD = -3;

/** How the threshold was set, or why it could not be. */
export type MallocTuning =
  | "environment"
  | "mallopt"
  | "not-linux"
  | "no-ffi-permission"
  | "no-glibc";

/**
 * Sets glibc's mmap threshold unless the environment already does; says how it went. Call once,
 * at start (it is process-wide; worker isolates share it).
 *
 * @example
 * ```ts
 * if (boundMallocArenas(env) === "no-ffi-permission") log.warn("set MALLOC_MMAP_THRESHOLD_");
 * ```
 */
export function boundMallocArenas(env: Record<string, string | undefined>): MallocTuning {
  if (env.MALLOC_MMAP_THRESHOLD_) return "environment";
  if (Deno.build.os !== "linux") return "not-linux";
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return "no-ffi-permission";
  }
  let lib: Deno.DynamicLibrary<{ mallopt: { parameters: ["i32", "i32"]; result: "i32" } }>;
  try {
    lib = Deno.dlopen("libc.so.6", { mallopt: { parameters: ["i32", "i32"], result: "i32" } });
  } catch {
    return "no-glibc"; // musl, for one, returns large blocks to the OS by itself
  }
  try {
    return lib.symbols.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) === 1 ? "mallopt" : "no-glibc";
  } finally {
    lib.close();
  }
}
