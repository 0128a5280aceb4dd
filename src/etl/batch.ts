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
  /** Records consumed, loaded or rejected. */
  records = 0;
  /** Records in `rejectText`. */
  rejected = 0;
  /** Records in `rejectText` per reason. */
  reasons: Record<string, number> = {};
  /** The line of the last record consumed; 0 while there is none. */
  lastLine = 0;
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

  constructor(out: CopyBuffer, lines: LineList, rejectText: CopyBuffer) {
    this.out = out;
    this.lines = lines;
    this.rejectText = rejectText;
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
  readonly #free: { out: CopyBuffer; lines: LineList; rejectText: CopyBuffer }[] = [];

  /** A new, empty batch on pooled buffers. */
  take(): Batch {
    const b = this.#free.pop() ??
      { out: new CopyBuffer(4 << 20), lines: new LineList(), rejectText: new CopyBuffer(1 << 16) };
    b.out.pos = 0;
    b.lines.length = 0;
    b.rejectText.pos = 0;
    return new Batch(b.out, b.lines, b.rejectText);
  }

  /** Takes back a batch's buffers once it is committed or has failed. */
  give(batch: Batch): void {
    this.#free.push({ out: batch.out, lines: batch.lines, rejectText: batch.rejectText });
  }
}
