/**
 * One batch of a load, as it fills: its rows as COPY text (written as records are transformed),
 * the line each row came from, and its rejected records already formatted for the rejects file.
 * It is sealed when it holds its records; its COPY may stream while it still fills. Its buffers
 * come from a {@linkcode BatchPool} and go back there once the batch is committed, so a load
 * allocates them once, whatever the input's size.
 *
 * @example
 * ```ts
 * const pool = new BatchPool();
 * const batch = pool.take();
 * batch.out.put("1\tAda\n");
 * batch.lines.push(2);
 * batch.records++;
 * batch.seal({});
 * const whole = await batch.whole(); // { rows: 1, rowText(0) → "1\tAda\n" }
 * pool.give(batch);
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { CopyBuffer } from "./copy_text.ts";
import type { CsvRecord } from "./csv_record.ts";
import type { Schema } from "./schema.ts";
import type { Widening } from "./widen.ts";

/** A batch's rows, complete: what isolating the rows the database refused needs. */
export interface WholeBatch {
  /** Number of rows. */
  rows: number;
  /** Row `i` alone as COPY text. */
  rowText: (i: number) => string | Uint8Array;
}

/** A row the database refused: its index among the batch's rows, and the database's message. */
export interface RefusedRow {
  index: number;
  message: string;
}

/**
 * A growable list of line numbers in a typed array: pooled with the COPY buffer, it makes no
 * garbage per batch (a JS array of 20,000 numbers would be promoted, then dropped).
 */
export class LineList {
  #arr = new Float64Array(1024);
  /** Lines in the list. */
  length = 0;

  /** Appends a line. */
  push(line: number): void {
    if (this.length === this.#arr.length) {
      const next = new Float64Array(this.#arr.length * 2);
      next.set(this.#arr);
      this.#arr = next;
    }
    this.#arr[this.length++] = line;
  }

  /** The `i`th line. */
  at(i: number): number {
    return this.#arr[i];
  }
}

/**
 * The fields of a batch's loaded records, kept until the batch commits: where the input cannot
 * be read a second time (a pipe), what the rejects file gets for a row the database refuses.
 * One copy of each record's bytes into one growing buffer, and two offsets per field: no object
 * per record.
 */
export class KeptRecords {
  #bytes = new Uint8Array(1 << 16);
  #pos = 0;
  /** Per field: start and end in `#bytes`. */
  #bounds = new Int32Array(1 << 12);
  #nBounds = 0;
  /** Per record: its first entry in `#bounds`; one more at the end. */
  #first = new Int32Array(1 << 10);
  /** Records kept. */
  length = 0;

  /** Forgets every record (the buffers stay, for the next batch). */
  clear(): void {
    this.#pos = this.#nBounds = this.length = 0;
  }

  /** Forgets the last record kept (its bytes stay until {@linkcode clear}). */
  pop(): void {
    this.length--;
    this.#nBounds = this.#first[this.length];
  }

  /** Keeps a copy of the record's fields. */
  add(rec: CsvRecord): void {
    const n = rec.count;
    const base = n ? rec.starts[0] : 0;
    const end = n ? rec.ends[n - 1] : 0;
    this.#bytes = room(this.#bytes, this.#pos + end - base);
    this.#bytes.set(rec.bytes.subarray(base, end), this.#pos);
    this.#bounds = room(this.#bounds, this.#nBounds + 2 * n);
    const shift = this.#pos - base;
    for (let f = 0; f < n; f++) {
      this.#bounds[this.#nBounds++] = rec.starts[f] + shift;
      this.#bounds[this.#nBounds++] = rec.ends[f] + shift;
    }
    this.#pos += end - base;
    this.#first = room(this.#first, this.length + 2);
    this.#first[++this.length] = this.#nBounds;
  }

  /** The fields of the `i`th record kept. */
  fields(i: number): string[] {
    const out: string[] = [];
    for (let k = this.#first[i]; k < this.#first[i + 1]; k += 2) {
      out.push(utf8.decode(this.#bytes.subarray(this.#bounds[k], this.#bounds[k + 1])));
    }
    return out;
  }
}

const utf8 = new TextDecoder();

/** `a`, or a copy of it twice as long or more, with room for `need` elements. */
function room<T extends Uint8Array | Int32Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  const next = new (a.constructor as new (n: number) => T)(Math.max(need, a.length * 2));
  next.set(a);
  return next;
}

/** Bytes of COPY text sent at least at a time while a batch streams (see `copyText`). */
const COPY_PIECE_BYTES = 64 << 10;

/** A view of bytes as a node Buffer, without a copy: node streams take a Uint8Array slower. */
function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The rows of a batch's COPY text: COPY escapes newlines, so its lines are its rows. */
function splitRows(bytes: Uint8Array): Uint8Array[] {
  const rows: Uint8Array[] = [];
  let start = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, start)) {
    rows.push(bytes.subarray(start, i + 1));
    start = i + 1;
  }
  return rows;
}

/** See the module documentation. */
export class Batch {
  /** The rows as COPY text. */
  readonly out: CopyBuffer;
  /**
   * The line of each row in `out`, to find a row the database refuses in the input again. Not
   * its text: keeping it would keep every chunk of input alive until the batch commits.
   */
  readonly lines: LineList;
  /**
   * Rejected records, formatted for the rejects file and encoded: keeping their field strings
   * would keep the chunks of input they point into alive until the batch commits.
   */
  readonly rejectText: CopyBuffer;
  /**
   * The fields of each row in `out`, when the input cannot be read again (see
   * {@linkcode KeptRecords}); empty otherwise.
   */
  readonly kept: KeptRecords;
  /** Records consumed, loaded or rejected. */
  records = 0;
  /** Records in `rejectText`. */
  rejected = 0;
  /** Records in `rejectText` per reason. */
  reasons: Record<string, number> = {};
  /** The line of the last record consumed; 0 while there is none. */
  lastLine = 0;
  /**
   * Columns the batch's first row widened (see `widen.ts`): its transaction alters them before
   * its COPY, and its commit records {@linkcode schema}.
   */
  widenings: readonly Widening[] = [];
  /** The schema with the widened types, when {@linkcode widenings} has any. */
  schema: Schema | undefined;
  /** Values defaulted in this run up to the end of this batch, per column. */
  defaulted: Record<string, number> = {};
  /** No record follows: committing this batch completes the load. */
  final = false;
  /** No more records will come. */
  sealed = false;
  /** Resolves when the batch is sealed. */
  readonly whenSealed: Promise<void>;
  /** Settles when the batch is committed, or has failed. */
  done: Promise<void> = Promise.resolve();
  #markSealed!: () => void;
  /** Wakes the COPY feed waiting for more rows. */
  #wake: (() => void) | undefined;
  #rows: Uint8Array[] | undefined;

  constructor(buffers: BatchBuffers) {
    this.out = buffers.out;
    this.lines = buffers.lines;
    this.rejectText = buffers.rejectText;
    this.kept = buffers.kept;
    this.whenSealed = new Promise<void>((resolve) => (this.#markSealed = resolve));
  }

  /** Adds a rejected record, already formatted as a line of the rejects file. */
  reject(line: string, reason: string): void {
    this.rejectText.put(line);
    this.rejected++;
    this.reasons[reason] = (this.reasons[reason] ?? 0) + 1;
  }

  /** Ends the batch: no record will be added. */
  seal(defaulted: Record<string, number>): void {
    this.defaulted = defaulted;
    this.sealed = true;
    this.#markSealed();
    this.#wake?.();
  }

  /** Lets a waiting {@linkcode copyText} send what was written since it last sent. */
  wake(): void {
    this.#wake?.();
  }

  /**
   * The batch's COPY text as it is written: yields what is new each time the source has been
   * through a slice of records, and ends once the batch is sealed. The source only yields
   * between records, so every piece ends on a row boundary. Pieces are 64 KiB or more: each is
   * a CopyData message and socket writes, and smaller ones cost measurable CPU.
   */
  async *copyText(): AsyncGenerator<Uint8Array> {
    let sent = 0;
    for (;;) {
      const end = this.out.pos;
      if (end > sent && (end - sent >= COPY_PIECE_BYTES || this.sealed)) {
        const piece = this.out.buf.subarray(sent, end);
        sent = end;
        yield bufferOf(piece);
        continue;
      }
      if (this.sealed) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /** The whole COPY text of a sealed batch, as one piece. */
  allCopyText(): Uint8Array[] {
    return [bufferOf(this.out.bytes())];
  }

  /** The batch's rows, one by one, once it is sealed. */
  async whole(): Promise<WholeBatch> {
    await this.whenSealed;
    return {
      rows: this.lines.length,
      rowText: (i) => bufferOf((this.#rows ??= splitRows(this.out.bytes()))[i]),
    };
  }
}

/**
 * Reuses batch buffers batch after batch: allocating megabytes per batch and freeing them
 * fragments the C heap, and the process's memory would creep up with the input's size.
 */
export class BatchPool {
  readonly #free: BatchBuffers[] = [];

  /** A new, empty batch on pooled buffers. */
  take(): Batch {
    const b = this.#free.pop() ?? {
      out: new CopyBuffer(4 << 20),
      lines: new LineList(),
      rejectText: new CopyBuffer(1 << 16),
      kept: new KeptRecords(),
    };
    b.out.pos = 0;
    b.lines.length = 0;
    b.rejectText.pos = 0;
    b.kept.clear();
    return new Batch(b);
  }

  /** Takes back a batch's buffers once it is committed or has failed. */
  give(batch: Batch): void {
    const { out, lines, rejectText, kept } = batch;
    this.#free.push({ out, lines, rejectText, kept });
  }
}

/** The buffers a batch fills, reused batch after batch. */
interface BatchBuffers {
  out: CopyBuffer;
  lines: LineList;
  rejectText: CopyBuffer;
  kept: KeptRecords;
}
