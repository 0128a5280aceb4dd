/**
 * The rejects file: a CSV with the input's columns (its header, its delimiter) plus `_line` and
 * `_reason`. Rejects are buffered per batch and written, then synced, just before the batch's
 * commit; the load state records the file's length with the batch, and a resume truncates the
 * file back to that length. So each rejected record is in the file exactly once, across any
 * number of crashes.
 *
 * @example
 * ```ts
 * const w = await RejectsWriter.open({ path: "in.rejects.csv", header: ["a"], delimiter: "," });
 * w.add(["12x"], 2, 'a: not an integer: "12x"');
 * const committedBytes = await w.flush();
 * w.close();
 * ```
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/**
 * The default rejects file: `FILE.rejects.csv` next to the input (a plain CSV, also for a gzip
 * input); `stdin.rejects.csv` in the current folder for standard input (`-`).
 *
 * @example
 * ```ts
 * defaultRejectsPath("data/people.csv"); // "data/people.rejects.csv"
 * defaultRejectsPath("data/people.csv.gz"); // "data/people.rejects.csv"
 * defaultRejectsPath("people.txt"); // "people.txt.rejects.csv"
 * defaultRejectsPath("-"); // "stdin.rejects.csv"
 * ```
 */
export function defaultRejectsPath(input: string): string {
  if (input === "-") return "stdin.rejects.csv";
  const plain = input.replace(/\.gz$/i, "");
  return /\.csv$/i.test(plain) ? plain.replace(/\.csv$/i, ".rejects.csv") : `${plain}.rejects.csv`;
}

async function sameFile(a: string, b: string): Promise<boolean> {
  try {
    const [x, y] = await Promise.all([Deno.stat(a), Deno.stat(b)]);
    return x.dev === y.dev && x.ino !== null && x.ino === y.ino;
  } catch {
    return false;
  }
}

/** Options for {@linkcode RejectsWriter.open}. */
export interface RejectsOptions {
  /** The rejects file. */
  path: string;
  /** The input's header: the file's columns, before `_line` and `_reason`. */
  header: readonly string[];
  /** The input's delimiter, used in the rejects file too. */
  delimiter: string;
  /**
   * Resume: keep the file up to this many bytes (the committed part) and append after it.
   * @default {undefined: start the file over}
   */
  resumeAt?: number;
  /**
   * The input file: a rejects file that is the input itself is refused.
   * @default {not checked}
   */
  input?: string;
}

const encoder = new TextEncoder();

/** Quotes one CSV field when it needs it (RFC 4180). */
export function csvField(value: string, delimiter: string): string {
  if (
    value.includes(delimiter) || value.includes('"') || value.includes("\n") ||
    value.includes("\r")
  ) {
    return `"${value.replaceAll('"', '""')}"`;
  }
  return value;
}

/** The rejects file of one load, open for appending; disposing of it closes it. */
export class RejectsWriter implements Disposable {
  readonly path: string;
  readonly #file: Deno.FsFile;
  readonly #delimiter: string;
  readonly #columns: number;
  #buffer: (string | Uint8Array)[] = [];
  #offset: number;
  /** Rejected records written or buffered by this writer. */
  count = 0;
  /**
   * On resume: bytes of committed rejects the file no longer had (deleted or truncated by
   * someone); those records are gone from it, and the file starts over.
   */
  lostBytes = 0;

  private constructor(
    path: string,
    file: Deno.FsFile,
    delimiter: string,
    offset: number,
    columns: number,
  ) {
    this.path = path;
    this.#columns = columns;
    this.#file = file;
    this.#delimiter = delimiter;
    this.#offset = offset;
  }

  /** Opens (creating or truncating) the file; writes the header when the file starts empty. */
  static async open(options: RejectsOptions): Promise<RejectsWriter> {
    if (options.input !== undefined && await sameFile(options.path, options.input)) {
      throw new UsageError(`the rejects file "${options.path}" is the input file itself`);
    }
    let file: Deno.FsFile;
    try {
      file = await Deno.open(options.path, { read: true, write: true, create: true });
    } catch (err) {
      throw new UsageError(
        `cannot write the rejects file "${options.path}": ${(err as Error).message}`,
        { cause: err },
      );
    }
    const size = (await file.stat()).size;
    // A fresh load starts the file over; a resume keeps exactly the committed part.
    let offset = options.resumeAt === undefined ? 0 : Math.min(options.resumeAt, size);
    const missing = options.resumeAt === undefined ? 0 : options.resumeAt - offset;
    if (missing > 0) offset = 0; // the file lost committed rejects: start it over, header first
    if (size !== offset) await file.truncate(offset);
    await file.seek(offset, Deno.SeekMode.Start);
    const w = new RejectsWriter(
      options.path,
      file,
      options.delimiter,
      offset,
      options.header.length,
    );
    w.lostBytes = missing;
    if (offset === 0) {
      w.#buffer.push(
        [...options.header, "_line", "_reason"].map((h) => csvField(h, options.delimiter)).join(
          options.delimiter,
        ) + "\n",
      );
      offset = await w.flush();
    }
    return w;
  }

  /** Bytes of the file written so far. */
  get offset(): number {
    return this.#offset;
  }

  /**
   * One rejected record as a line of the rejects file: its fields unchanged, its line and the
   * reason. A record with the wrong number of fields is fitted to the header so that `_line`
   * and `_reason` stay in their columns for any CSV reader: missing fields are empty, surplus
   * fields are joined, with the delimiter, into the last column (their text kept whole).
   */
  format(fields: readonly string[], line: number, reason: string): string {
    const d = this.#delimiter;
    const n = this.#columns;
    let row = fields;
    if (fields.length !== n) {
      row = fields.length < n
        ? [...fields, ...Array(n - fields.length).fill("")]
        : [...fields.slice(0, n - 1), fields.slice(n - 1).join(d)];
    }
    let out = "";
    for (let i = 0; i < row.length; i++) out += csvField(row[i], d) + d;
    return out + line + d + csvField(reason, d) + "\n";
  }

  /** Buffers one rejected record (see {@linkcode format}). */
  add(fields: readonly string[], line: number, reason: string): void {
    this.#buffer.push(this.format(fields, line, reason));
    this.count++;
  }

  /** Buffers records already formatted and encoded (UTF-8), `count` of them. */
  addEncoded(bytes: Uint8Array, count: number): void {
    if (bytes.length === 0) return;
    this.#buffer.push(bytes);
    this.count += count;
  }

  /** Records buffered and not yet written. */
  get pending(): number {
    return this.#buffer.length;
  }

  /** Writes what is buffered and syncs it to disk; returns the file's new length. */
  async flush(): Promise<number> {
    if (this.#buffer.length === 0) return this.#offset;
    const parts = this.#buffer.map((p) => typeof p === "string" ? encoder.encode(p) : p);
    this.#buffer = [];
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
    let done = 0;
    while (done < bytes.length) done += await this.#file.write(bytes.subarray(done));
    // The batch commits right after; its rejects must not be lost by a crash after that.
    await this.#file.syncData();
    this.#offset += bytes.length;
    return this.#offset;
  }

  /** Closes the file; safe to call twice. */
  close(): void {
    try {
      this.#file.close();
    } catch {
      // already closed
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
