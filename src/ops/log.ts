/**
 * Leveled logging to stderr as `LEVEL message key=value`, or as one JSON object per line for log
 * shippers (the same fields, plus the time). Every client address goes through
 * {@link Logger.addr}, the one redaction point: in safe mode it never returns an address.
 * A leaf: it imports nothing of ours, so any module may log without pulling in the options.
 */

/** Log levels, least to most severe. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Log line formats: `key=value` text, or one JSON object per line. */
export const LOG_FORMATS = ["text", "json"] as const;
/** One of {@link LOG_FORMATS}. */
export type LogFormat = typeof LOG_FORMATS[number];

/** Fields attached to a log line; values are quoted when they contain spaces or quotes. */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** Where finished log lines go (one call per line, without the newline). */
export type LogSink = (line: string) => void;

const encoder = new TextEncoder();

/** Writes a line to stderr synchronously, so nothing is lost when the process exits. */
export function stderrSink(line: string): void {
  const bytes = encoder.encode(line + "\n");
  let off = 0;
  try {
    while (off < bytes.length) off += Deno.stderr.writeSync(bytes.subarray(off));
  } catch {
    // stderr is gone (closed pipe): there is nowhere left to report to.
  }
}

/** The text shown in place of an address in safe mode. */
export const HIDDEN = "hidden";

/** A leveled logger; cheap to call below its level. */
export class Logger {
  readonly #min: number;
  readonly #sink: LogSink;
  /** True when client addresses must never be logged. */
  readonly safeMode: boolean;
  readonly #json: boolean;

  constructor(
    level: LogLevel = "info",
    safeMode = false,
    sink: LogSink = stderrSink,
    format: LogFormat = "text",
  ) {
    this.#min = LOG_LEVELS.indexOf(level);
    this.safeMode = safeMode;
    this.#sink = sink;
    this.#json = format === "json";
  }

  /** Whether a message at this level would be written (to skip building costly fields). */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= this.#min;
  }

  /**
   * The only way a client address enters a log line: `ip:port` normally, {@link HIDDEN} in safe
   * mode. Callers pass the raw address; they never format one themselves.
   */
  addr(ip: string, port?: number): string {
    if (this.safeMode) return HIDDEN;
    if (port === undefined) return ip;
    return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
  }

  debug(message: string, fields?: LogFields): void {
    if (this.#min <= 0) this.#write("DEBUG", message, fields);
  }
  info(message: string, fields?: LogFields): void {
    if (this.#min <= 1) this.#write("INFO", message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    if (this.#min <= 2) this.#write("WARN", message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.#write("ERROR", message, fields);
  }

  #write(level: string, message: string, fields?: LogFields): void {
    if (this.#json) {
      const obj: Record<string, unknown> = {
        time: new Date().toISOString(),
        level: level.toLowerCase(),
        msg: message,
      };
      if (fields) {
        for (const [k, v] of Object.entries(fields)) if (v !== undefined) obj[k] = v;
      }
      this.#sink(JSON.stringify(obj));
      return;
    }
    let line = `${level} ${message}`;
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        if (v === undefined) continue;
        line += ` ${k}=${quote(String(v))}`;
      }
    }
    this.#sink(line);
  }
}

/** Quotes a field value when needed so a log line stays one parseable line. */
function quote(v: string): string {
  if (v !== "" && !/[\s"=\\\p{Cc}]/u.test(v)) return v;
  return JSON.stringify(v);
}

/** A logger that keeps its lines in memory, for tests and for the bench's quiet runs. */
export class MemoryLog {
  readonly lines: string[] = [];
  readonly sink: LogSink = (line) => {
    this.lines.push(line);
  };
  /** Everything logged so far, one line per entry. */
  text(): string {
    return this.lines.join("\n");
  }
}

/**
 * Keeps a repeated event from flooding the log: the first occurrence of a key is logged, the
 * repeats within the window are only counted, and {@link sweep} reports the counts.
 */
export class LogThrottle {
  readonly #window: number;
  readonly #max: number;
  readonly #seen = new Map<string, { since: number; count: number }>();

  constructor(windowMs: number, maxKeys = 10_000) {
    this.#window = windowMs;
    this.#max = maxKeys;
  }

  /** True if this occurrence should be logged now; otherwise it is counted. */
  first(key: string, now: number): boolean {
    const s = this.#seen.get(key);
    if (s) {
      s.count++;
      return false;
    }
    if (this.#seen.size >= this.#max) return false;
    this.#seen.set(key, { since: now, count: 0 });
    return true;
  }

  /** Closes windows that have run out; returns the keys that had repeats, with their counts. */
  sweep(now: number): { key: string; count: number }[] {
    const out: { key: string; count: number }[] = [];
    for (const [key, s] of this.#seen) {
      if (now - s.since < this.#window) continue;
      this.#seen.delete(key);
      if (s.count > 0) out.push({ key, count: s.count });
    }
    return out;
  }
}
