/**
 * The embedded database's folder (`DATA_DIR`): one process at a time, and private to its owner.
 *
 * Two PGlite instances on one folder overwrite each other's files: a server and a loader run at
 * once lost every loaded row, or whole tables, without a word. {@linkcode lockDataDir} takes an
 * exclusive OS file lock (`flock`) on `DATA_DIR/taskapi.lock`; a second process stops at once
 * with a {@linkcode DataDirInUseError}, touching nothing. The kernel releases the lock when the
 * process ends, however it ends (`kill -9` included), so there is never a stale lock to clean up.
 * Within one process the lock is shared (the server takes it before it reads or creates its
 * secret, then the database opens under it).
 *
 * The folder holds password hashes, tasks and the JWT secret: it is created with mode 0700, and
 * {@linkcode tightenDataDir} takes every group and other permission off what is in it (PGlite
 * writes most of its files with mode 0666).
 *
 * @example
 * ```ts
 * const lock = await lockDataDir("./data"); // throws DataDirInUseError when another process has it
 * try {
 *   // ... open PGlite under ./data/pgdata
 * } finally {
 *   lock.release();
 * }
 * ```
 *
 * @module
 */
import { AppError, EXIT_USAGE } from "../errors.ts";

/** Another process has the embedded database open: exit 2 (503 if it ever reached a client). */
export class DataDirInUseError extends AppError {
  constructor(readonly dataDir: string) {
    super(
      `DATA_DIR "${dataDir}" is in use by another process (a running server or loader): ` +
        "stop it first, or set DATABASE_URL to use a PostgreSQL server that both can share",
      { status: 503, exitCode: EXIT_USAGE },
    );
  }
}

/** A held lock on a `DATA_DIR`; {@linkcode DataDirLock.release} once per {@linkcode lockDataDir}. */
export interface DataDirLock {
  readonly dataDir: string;
  release(): void;
}

const LOCK_FILE = "taskapi.lock";
/** The folders this process holds: the lock file's handle and how many holders share it. */
const held = new Map<string, { file: Deno.FsFile; holders: number }>();

/**
 * Creates `dataDir` (mode 0700) when missing and locks it for this process.
 *
 * @example
 * ```ts
 * const lock = await lockDataDir(config.dataDir);
 * ```
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const key = await Deno.realPath(dataDir);
  let entry = held.get(key);
  if (!entry) {
    const file = await Deno.open(`${key}/${LOCK_FILE}`, {
      read: true,
      write: true,
      create: true,
      mode: 0o600,
    });
    if (!await file.tryLock(true)) {
      file.close();
      throw new DataDirInUseError(dataDir);
    }
    entry = { file, holders: 0 };
    held.set(key, entry);
  }
  entry.holders++;
  let released = false;
  return {
    dataDir,
    release() {
      if (released) return;
      released = true;
      if (--entry.holders > 0) return;
      held.delete(key);
      // Closing the file releases the lock.
      entry.file.close();
    },
  };
}

/**
 * Takes group and other permissions off `dataDir` and everything in it that this user owns: the
 * folder becomes 0700, a file 0600 (or 0700 when executable). Folders and files of other users
 * are left alone.
 *
 * @example
 * ```ts
 * await tightenDataDir("./data");
 * ```
 */
export async function tightenDataDir(dataDir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  const uid = Deno.uid();
  const tighten = async (path: string) => {
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return; // gone meanwhile (PostgreSQL's own)
      throw err;
    }
    if (info.isSymlink || info.mode === null || (uid !== null && info.uid !== uid)) return;
    if ((info.mode & 0o077) !== 0) await Deno.chmod(path, info.mode & 0o700);
    if (!info.isDirectory) return;
    for await (const entry of Deno.readDir(path)) await tighten(`${path}/${entry.name}`);
  };
  await tighten(dataDir);
}
