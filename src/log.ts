/**
 * Logging for the server and the CLI, on LogTape: human lines or JSON Lines (`LOG_FORMAT=json`) on
 * the console, JSON Lines to a file, control characters escaped in every logged value, and a
 * buffered console for the server, which logs every request.
 *
 * @example
 * ```ts
 * import { closeLogging, setupLogging } from "./log.ts";
 *
 * await setupLogging({ level: "info", console: "stderr" });
 * await closeLogging();
 * ```
 *
 * @module
 */
import {
  configure,
  getJsonLinesFormatter,
  getTextFormatter,
  type LogLevel,
  type LogRecord,
  reset,
  type Sink,
  withFilter,
} from "@logtape/logtape";
import { getFileSink } from "@logtape/file";
import { dirname } from "node:path";
import { escapingFormatter } from "./log_escape.ts";

/** Options for {@linkcode setupLogging}. */
export interface LoggingOptions {
  level: LogLevel;
  /** Human lines on stderr (the CLI) or stdout (the server); false for none. */
  console?: "stdout" | "stderr" | false;
  /** Level for the console when it should differ from `level`. */
  consoleLevel?: LogLevel;
  /**
   * Gather console lines and write them together (the server, which logs every request): within
   * {@linkcode CONSOLE_FLUSH_MS}, at once for warnings and worse, and on {@linkcode closeLogging}
   * or exit. Otherwise every line is written as it comes.
   */
  bufferConsole?: boolean;
  /** Console lines as text (the default) or one JSON object per line (`LOG_FORMAT=json`). */
  format?: "text" | "json";
  /** JSON lines appended to this file; its folder is created. */
  file?: string;
}

const textFormatter = escapingFormatter(
  getTextFormatter({ timestamp: "date-time-timezone", value: "bare" }),
);
/**
 * One object per line: `@timestamp`, `level`, `message` (rendered), `logger` and the record's
 * properties at the top level (`method`, `path`, `status`, `ms`, `requestId`, ...), as log
 * shippers index them. Control characters are escaped visibly first, as in the text format.
 */
const jsonLines = getJsonLinesFormatter({ properties: "flatten", message: "rendered" });

/** A message with its values as they are, not quoted (LogTape's JSON renderer quotes strings). */
function bareMessage(parts: readonly unknown[]): string {
  let text = "";
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (i % 2 === 0 || typeof part === "string") text += String(part);
    else if (typeof part === "object" && part !== null) text += JSON.stringify(part);
    else text += String(part);
  }
  return text;
}

const jsonFormatter = escapingFormatter((record: LogRecord): string =>
  jsonLines({ ...record, message: [bareMessage(record.message)] })
);
const encoder = new TextEncoder();

type Formatter = (record: LogRecord) => string;

function writerSink(out: { writeSync(p: Uint8Array): number }, format: Formatter): Sink {
  return (record: LogRecord) => {
    const line = encoder.encode(format(record));
    let written = 0;
    while (written < line.length) written += out.writeSync(line.subarray(written));
  };
}

/** The longest a buffered console line waits. */
export const CONSOLE_FLUSH_MS = 50;
// Written at once when this much text waits.
const CONSOLE_FLUSH_CHARS = 32 * 1024;
const URGENT: ReadonlySet<LogLevel> = new Set(["warning", "error", "fatal"]);

/**
 * Like {@linkcode writerSink}, but one write for many lines: a synchronous write per request
 * line was ~5% of the server's CPU under load. Nothing is lost short of a kill: warnings and errors
 * flush at once (with what came before them), and disposal (`closeLogging`), `Deno.exit`, the end
 * of the program and a crash flush the rest.
 */
function bufferedWriterSink(
  out: { writeSync(p: Uint8Array): number },
  format: Formatter,
): Sink & Disposable {
  let parts: string[] = [];
  let chars = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (parts.length === 0) return;
    const bytes = encoder.encode(parts.join(""));
    parts = [];
    chars = 0;
    let written = 0;
    while (written < bytes.length) written += out.writeSync(bytes.subarray(written));
  };
  const sink = (record: LogRecord) => {
    const text = format(record);
    parts.push(text);
    chars += text.length;
    if (chars >= CONSOLE_FLUSH_CHARS || URGENT.has(record.level)) flush();
    else if (timer === undefined) {
      timer = setTimeout(flush, CONSOLE_FLUSH_MS);
      // Waiting lines must not keep the process alive; `unload` writes them.
      Deno.unrefTimer(timer);
    }
  };
  // A crash (an uncaught error or rejection) writes what is waiting too; only a kill loses it.
  const events = ["unload", "error", "unhandledrejection"] as const;
  for (const e of events) globalThis.addEventListener(e, flush);
  return Object.assign(sink, {
    [Symbol.dispose]() {
      for (const e of events) globalThis.removeEventListener(e, flush);
      flush();
    },
  });
}

/**
 * Configures LogTape once per process. Categories start with `"taskapi"` (server) or `"ingest"`
 * (loader); both go to the same sinks.
 *
 * @example
 * ```ts
 * await setupLogging({ level: "info", console: "stderr", file: "logs/ingest.log" });
 * getLogger(["ingest"]).info("started {file}", { file: "data.csv" });
 * ```
 */
export async function setupLogging(options: LoggingOptions): Promise<void> {
  const sinks: Record<string, Sink> = {};
  const names: string[] = [];
  if (options.console) {
    const out = options.console === "stdout" ? Deno.stdout : Deno.stderr;
    const format = options.format === "json" ? jsonFormatter : textFormatter;
    const sink = options.bufferConsole ? bufferedWriterSink(out, format) : writerSink(out, format);
    sinks.console = withFilter(sink, options.consoleLevel ?? options.level);
    names.push("console");
  }
  if (options.file) {
    await Deno.mkdir(dirname(options.file), { recursive: true });
    sinks.file = getFileSink(options.file, {
      formatter: escapingFormatter(
        getJsonLinesFormatter({ properties: "nest:properties", message: "rendered" }),
      ),
      lazy: true,
    }) as unknown as Sink;
    sinks.file = withFilter(sinks.file, options.level);
    names.push("file");
  }
  await configure({
    reset: true,
    sinks,
    loggers: [
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
      { category: ["taskapi"], lowestLevel: "debug", sinks: names },
      { category: ["ingest"], lowestLevel: "debug", sinks: names },
    ],
  });
}

/** Flushes and closes the sinks (the file sink buffers). */
export async function closeLogging(): Promise<void> {
  await reset();
}

/**
 * Properties for logging an exception: its message and full stack trace, which JSON would
 * otherwise drop.
 */
export function errorFields(err: unknown): { error: string; stack?: string } {
  if (err instanceof Error) return { error: err.message, stack: err.stack };
  return { error: String(err) };
}
