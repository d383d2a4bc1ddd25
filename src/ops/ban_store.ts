/**
 * The ban file on disk: loaded once at start, rewritten atomically (temporary file written
 * readable by its owner only and synced to disk, then renamed over the old one) whenever the hub
 * reports a change. Writes never overlap; a burst of changes collapses into one write of the
 * newest list.
 */
import type { Logger } from "./log.ts";
import { type BanRecord, MAX_BAN_MS } from "../chat/moderation.ts";
import { parseKey } from "../lib/ip.ts";

/** The temporary file a ban file is written through. */
export function tempPath(path: string): string {
  return `${path}.tmp`;
}

/**
 * Reads the bans in `path`, dropping expired ones. A missing file means no bans; a file that
 * cannot be read or parsed throws {@link BanFileError} (or the read error), so the caller can
 * refuse to start instead of overwriting it.
 */
export async function loadBans(path: string, now: number): Promise<BanRecord[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  if (text.trim() === "") return [];
  return parseBanFile(text, now);
}

/** Keeps the ban file in step with the hub's ban list. */
export class BanStore {
  readonly path: string;
  readonly #log: Logger;
  #pending: BanRecord[] | null = null;
  #writing: Promise<void> | null = null;

  constructor(path: string, log: Logger) {
    this.path = path;
    this.#log = log;
  }

  /** Schedules a write of `bans` (the newest list wins if several arrive while writing). */
  save(bans: BanRecord[]): void {
    this.#pending = bans;
    if (!this.#writing) this.#writing = this.#drain();
  }

  /** Resolves when every scheduled write has finished. */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  async #drain(): Promise<void> {
    while (this.#pending) {
      const bans = this.#pending;
      this.#pending = null;
      const { text, skipped } = serializeBans(bans);
      if (skipped > 0) {
        this.#log.error("bans with impossible times were left out of the ban file", {
          file: this.path,
          skipped,
        });
      }
      try {
        await writeAtomically(this.path, text);
        this.#log.debug("ban file saved", { file: this.path, bans: bans.length - skipped });
      } catch (e) {
        this.#log.error("could not save the ban file", {
          file: this.path,
          error: e instanceof Error ? e.message : String(e),
        });
      }
    }
    this.#writing = null;
  }
}

/**
 * Replaces `path` with `text` so that a crash leaves either the old file or the new one: the
 * text goes to a temporary file (mode 0600: bans name addresses), is synced to disk, and the
 * temporary file is renamed over `path`.
 */
async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = tempPath(path);
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
  try {
    await Deno.chmod(tmp, 0o600); // the file may have existed with looser permissions
    const bytes = new TextEncoder().encode(text);
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.rename(tmp, path);
}

/** A ban file whose content cannot be used; the message says what is wrong. */
export class BanFileError extends Error {
  override name = "BanFileError";
}

/**
 * Reads the ban file's JSON. Expired entries are dropped; anything malformed throws
 * {@link BanFileError} so the server refuses to start rather than lose or overwrite bans.
 */
export function parseBanFile(text: string, now: number): BanRecord[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new BanFileError(`not valid JSON (${(e as Error).message})`);
  }
  const list = (data as { bans?: unknown })?.bans;
  if (typeof data !== "object" || data === null || !Array.isArray(list)) {
    throw new BanFileError('expected an object with a "bans" list');
  }
  const out: BanRecord[] = [];
  list.forEach((entry: unknown, i: number) => {
    const e = entry as Record<string, unknown>;
    const until = typeof e?.until === "string" ? Date.parse(e.until) : NaN;
    const since = typeof e?.since === "string" ? Date.parse(e.since) : NaN;
    const ip = typeof e?.ip === "string" ? parseKey(e.ip) : { error: "missing" };
    if (!("ip" in ip) || !Number.isFinite(until)) {
      throw new BanFileError(`entry ${i + 1} needs an "ip" address and an "until" time`);
    }
    if (until <= now) return;
    out.push({
      ip: ip.ip,
      until: Math.min(until, now + MAX_BAN_MS),
      reason: typeof e.reason === "string" ? e.reason : "",
      by: typeof e.by === "string" ? e.by : "",
      since: Number.isFinite(since) ? since : now,
    });
  });
  return out;
}

/**
 * The ban file's JSON for a list of bans (times as ISO 8601, readable and editable). A record
 * whose times cannot be written (out of the date range) is left out and counted in `skipped`,
 * so one bad record never stops the others from being saved.
 */
export function serializeBans(records: readonly BanRecord[]): { text: string; skipped: number } {
  const bans = [];
  let skipped = 0;
  for (const b of records) {
    try {
      bans.push({
        ip: b.ip,
        until: new Date(b.until).toISOString(),
        reason: b.reason,
        by: b.by,
        since: new Date(b.since).toISOString(),
      });
    } catch {
      skipped++;
    }
  }
  return { text: JSON.stringify({ version: 1, bans }, null, 2) + "\n", skipped };
}
