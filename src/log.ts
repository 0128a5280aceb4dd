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

/** Options for {@linkcode setupLogging}. */
export interface LoggingOptions {
  level: LogLevel;
  /** Human lines on stderr (the CLI) or stdout (the server); false for none. */
  console?: "stdout" | "stderr" | false;
  /** Level for the console when it should differ from `level`. */
  consoleLevel?: LogLevel;
  /** JSON lines appended to this file; its folder is created. */
  file?: string;
}

const textFormatter = getTextFormatter({ timestamp: "date-time-timezone", value: "bare" });
const encoder = new TextEncoder();

function writerSink(out: { writeSync(p: Uint8Array): number }): Sink {
  return (record: LogRecord) => {
    const line = encoder.encode(textFormatter(record));
    let written = 0;
    while (written < line.length) written += out.writeSync(line.subarray(written));
  };
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
    sinks.console = withFilter(writerSink(out), options.consoleLevel ?? options.level);
    names.push("console");
  }
  if (options.file) {
    await Deno.mkdir(dirname(options.file), { recursive: true });
    sinks.file = getFileSink(options.file, {
      formatter: getJsonLinesFormatter({ properties: "nest:properties", message: "rendered" }),
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
