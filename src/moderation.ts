/**
 * Moderation as pure data: the rate rule, per-address strikes, and the ban list with its file
 * format. Nothing here reads a clock or touches a file; callers pass `now` and do the I/O.
 */

/** True when a line at `now` comes sooner than `rateLimit` ms after the last accepted one. */
export function tooSoon(lastAccepted: number, now: number, rateLimit: number): boolean {
  return rateLimit > 0 && now - lastAccepted < rateLimit;
}

/** What the server remembers about one IP address (strikes outlive connections). */
export interface AddressState {
  /** Open connections from this address. */
  conns: number;
  strikes: number;
  /** When the address last did anything (connect, line, strike), for forgetting it later. */
  lastSeen: number;
}

/** Per-address state, kept bounded: idle addresses are forgotten after a while. */
export class Addresses {
  readonly #map = new Map<string, AddressState>();

  /** The state for `ip`, created on first use. */
  get(ip: string, now: number): AddressState {
    let a = this.#map.get(ip);
    if (!a) {
      a = { conns: 0, strikes: 0, lastSeen: now };
      this.#map.set(ip, a);
    }
    return a;
  }

  /** The state for `ip` if the server knows it. */
  peek(ip: string): AddressState | undefined {
    return this.#map.get(ip);
  }

  /** Addresses currently remembered. */
  get size(): number {
    return this.#map.size;
  }

  /**
   * Forgets addresses with no connections: at once when they have no strikes, otherwise once
   * they have been quiet for `keepStrikesFor` ms (strikes survive a reconnect, not forever).
   */
  prune(now: number, keepStrikesFor: number): void {
    for (const [ip, a] of this.#map) {
      if (a.conns > 0) continue;
      if (a.strikes === 0 || now - a.lastSeen >= keepStrikesFor) this.#map.delete(ip);
    }
  }
}

/** One ban: who, until when (epoch ms), why, by whom, since when. */
export interface BanRecord {
  ip: string;
  until: number;
  reason: string;
  by: string;
  since: number;
}

/** The active bans, keyed by address. */
export class BanList {
  readonly #bans = new Map<string, BanRecord>();

  constructor(records: Iterable<BanRecord> = []) {
    for (const r of records) this.#bans.set(r.ip, r);
  }

  /** The ban on `ip` if it is still running at `now`. */
  active(ip: string, now: number): BanRecord | undefined {
    const b = this.#bans.get(ip);
    return b && b.until > now ? b : undefined;
  }

  /** Adds or replaces the ban on `record.ip`. */
  add(record: BanRecord): void {
    this.#bans.set(record.ip, record);
  }

  /** Lifts the ban on `ip`; false if there was none. */
  remove(ip: string): boolean {
    return this.#bans.delete(ip);
  }

  /** Drops bans that have run out; true if any were dropped. */
  prune(now: number): boolean {
    let changed = false;
    for (const [ip, b] of this.#bans) {
      if (b.until <= now) {
        this.#bans.delete(ip);
        changed = true;
      }
    }
    return changed;
  }

  /** Bans still running at `now`, soonest to end first. */
  list(now: number): BanRecord[] {
    return [...this.#bans.values()].filter((b) => b.until > now).sort((a, b) => a.until - b.until);
  }

  /** Every stored ban, for saving. */
  snapshot(): BanRecord[] {
    return [...this.#bans.values()].map((b) => ({ ...b }));
  }

  /** Bans stored (running or not yet pruned). */
  get size(): number {
    return this.#bans.size;
  }
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
    if (typeof e?.ip !== "string" || !isIp(e.ip) || !Number.isFinite(until)) {
      throw new BanFileError(`entry ${i + 1} needs an "ip" address and an "until" time`);
    }
    if (until <= now) return;
    out.push({
      ip: e.ip,
      until,
      reason: typeof e.reason === "string" ? e.reason : "",
      by: typeof e.by === "string" ? e.by : "",
      since: Number.isFinite(since) ? since : now,
    });
  });
  return out;
}

/** The ban file's JSON for a list of bans (times as ISO 8601, readable and editable). */
export function serializeBans(records: readonly BanRecord[]): string {
  const bans = records.map((b) => ({
    ip: b.ip,
    until: new Date(b.until).toISOString(),
    reason: b.reason,
    by: b.by,
    since: new Date(b.since).toISOString(),
  }));
  return JSON.stringify({ version: 1, bans }, null, 2) + "\n";
}

/** Maps IPv4-mapped IPv6 (`::ffff:1.2.3.4`) to plain IPv4 so one person has one address. */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1] : ip.toLowerCase();
}

/** True for a textual IPv4 or IPv6 address (what `/ban` and `/unban` accept). */
export function isIp(text: string): boolean {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) return v4.slice(1).every((p) => Number(p) <= 255);
  return text.includes(":") && /^[0-9a-f:.]+$/i.test(text) && text.length <= 45;
}
