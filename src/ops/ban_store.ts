/**
 * The ban file on disk: loaded once at start, rewritten atomically (temporary file written
 * readable by its owner only and synced to disk, then renamed over the old one) whenever the hub
 * reports a change. Writes never overlap; a burst of changes collapses into one write of the
 * newest list.
 */
import type { Logger } from "./log.ts";
import { type BanRecord, parseBanFile, serializeBans } from "../chat/moderation.ts";

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
