/**
 * The audit log: every operator action the hub reports (its `audit` effect) appended to
 * `audit.jsonl` in --data-dir, one JSON object per line, readable by its owner only. Writes
 * happen off the hub coroutine, one at a time, each carrying everything queued meanwhile; while
 * they fail the entries wait (up to {@link AUDIT_QUEUE_MAX}, then the oldest give way) and the
 * next entry tries again. At start the last entries are read back for /audit.
 */
import type { AuditEntry } from "../chat/events.ts";
import type { Logger } from "../ops/log.ts";

/** The audit log's file name in --data-dir. */
export const AUDIT_FILE = "audit.jsonl";
/** Most entries waiting while writes fail; past it the oldest are dropped. */
export const AUDIT_QUEUE_MAX = 10_000;
/** Entries read back at start. */
export const AUDIT_TAIL_ENTRIES = 200;
/** How much of the end of the file is read back at start. */
export const AUDIT_TAIL_BYTES = 256 * 1024;

/** The fields after `action` and `by`, in the order a line shows them; empty ones are left out. */
const OPTIONAL = ["account", "address", "target", "room", "detail"] as const;

/** One entry as a line of audit.jsonl (without the newline). */
export function auditLine(e: AuditEntry): string {
  let time: string;
  try {
    time = new Date(e.at).toISOString();
  } catch {
    time = new Date(0).toISOString(); // an impossible time: the entry is kept all the same
  }
  const obj: Record<string, string> = { time, action: e.action, by: e.by };
  for (const k of OPTIONAL) if (e[k] !== "") obj[k] = e[k];
  return JSON.stringify(obj);
}

/** A line of audit.jsonl as an entry; null for a line that is not one (blank, cut, edited). */
export function parseAuditLine(line: string): AuditEntry | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const at = typeof o.time === "string" ? Date.parse(o.time) : NaN;
  if (!Number.isFinite(at) || typeof o.action !== "string" || typeof o.by !== "string") {
    return null;
  }
  const text = (k: string) => typeof o[k] === "string" ? o[k] as string : "";
  return {
    at,
    action: o.action,
    by: o.by,
    account: text("account"),
    address: text("address"),
    target: text("target"),
    room: text("room"),
    detail: text("detail"),
  };
}

/**
 * The last `max` entries of the audit log at `path`, oldest first, from its last
 * {@link AUDIT_TAIL_BYTES} only; lines that are not entries are skipped. A missing file has
 * none; any other read error is thrown.
 */
export async function readAuditTail(
  path: string,
  max = AUDIT_TAIL_ENTRIES,
  tailBytes = AUDIT_TAIL_BYTES,
): Promise<AuditEntry[]> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  let bytes: Uint8Array;
  let start: number;
  try {
    const size = (await file.stat()).size;
    start = Math.max(0, size - tailBytes);
    await file.seek(start, Deno.SeekMode.Start);
    bytes = new Uint8Array(size - start);
    let off = 0;
    while (off < bytes.length) {
      const n = await file.read(bytes.subarray(off));
      if (n === null) break;
      off += n;
    }
    bytes = bytes.subarray(0, off);
  } finally {
    file.close();
  }
  const lines = new TextDecoder().decode(bytes).split("\n");
  if (start > 0) lines.shift(); // read from the middle of a line
  const out: AuditEntry[] = [];
  for (const line of lines) {
    const e = line.trim() === "" ? null : parseAuditLine(line);
    if (e) out.push(e);
  }
  return out.slice(-max);
}

/** Appends the hub's audit entries to the audit log file. */
export class AuditLog {
  readonly path: string;
  readonly #log: Logger;
  readonly #max: number;
  #queue: AuditEntry[] = [];
  #writing: Promise<void> | null = null;
  /** The last write failed: the next one is tried when an entry comes (or at close). */
  #failing = false;
  /** A failed write may have left part of a line: the next write starts on a new line. */
  #cut = false;
  /** Entries dropped in the current failure streak. */
  #droppedNow = 0;
  #failures = 0;
  #dropped = 0;

  /** `maxQueued`: most entries kept waiting while writes fail (tests make it small). */
  constructor(path: string, log: Logger, maxQueued = AUDIT_QUEUE_MAX) {
    this.path = path;
    this.#log = log;
    this.#max = Math.max(1, maxQueued);
  }

  /** Writes that failed so far (for the metrics). */
  get failures(): number {
    return this.#failures;
  }

  /** Entries dropped so far because too many waited while writes failed. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Entries not written yet. */
  get pending(): number {
    return this.#queue.length;
  }

  /**
   * Queues `entry`; it is written with the others queued in the same turn of the event loop,
   * after the write in progress. Never waits.
   */
  append(entry: AuditEntry): void {
    this.#queue.push(entry);
    this.#trim();
    this.#writing ??= this.#drain();
  }

  /** Resolves when the writes in progress are done (entries left by a failure stay queued). */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  /** Writes what is queued (one more try after failures) and reports what could not be. */
  async close(): Promise<void> {
    await this.flush();
    if (this.#queue.length > 0) {
      this.#writing = this.#drain();
      await this.flush();
    }
    if (this.#queue.length > 0) {
      this.#log.error("audit log entries lost at shutdown", {
        file: this.path,
        entries: this.#queue.length,
      });
    }
  }

  /** Drops the oldest entries past the cap. */
  #trim(): void {
    const over = this.#queue.length - this.#max;
    if (over <= 0) return;
    this.#queue.splice(0, over);
    this.#dropped += over;
    if (this.#droppedNow === 0) {
      this.#log.error("audit log entries dropped: too many waiting while writes fail", {
        file: this.path,
        waiting: this.#max,
      });
    }
    this.#droppedNow += over;
  }

  async #drain(): Promise<void> {
    // Entries appended in this turn (one batch of the hub's) go out in one write.
    await Promise.resolve();
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      const text = (this.#cut ? "\n" : "") + batch.map(auditLine).join("\n") + "\n";
      try {
        await appendText(this.path, text);
      } catch (e) {
        this.#queue = batch.concat(this.#queue);
        this.#trim();
        this.#failures++;
        this.#cut = true;
        if (!this.#failing) {
          this.#failing = true;
          this.#log.error("audit log not written", {
            file: this.path,
            error: describe(e),
            waiting: this.#queue.length,
          });
        }
        break;
      }
      this.#cut = false;
      if (this.#failing) {
        this.#failing = false;
        this.#log.info("audit log written again", { file: this.path, dropped: this.#droppedNow });
        this.#droppedNow = 0;
      }
    }
    this.#writing = null;
  }
}

/** Appends `text` to `path` (created readable by its owner only), all of it or an error. */
async function appendText(path: string, text: string): Promise<void> {
  const file = await Deno.open(path, { append: true, create: true, mode: 0o600 });
  try {
    const bytes = new TextEncoder().encode(text);
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
  } finally {
    file.close();
  }
}

function describe(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such directory";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.IsADirectory) return "it is a directory";
  return (e instanceof Error ? e.message : String(e)).replace(/\s*\(os error \d+\).*$/, "");
}
