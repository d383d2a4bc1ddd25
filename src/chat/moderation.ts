/**
 * Moderation as pure data: the rate rule, per-address strikes and allowances, and the ban list.
 * Nothing here reads a clock or touches a file; callers pass `now` and do the I/O.
 */
import { type Bucket, fullBucket, take, waitFor } from "../lib/bucket.ts";

/** True when a line at `now` comes sooner than `rateLimit` ms after the last accepted one. */
export function tooSoon(lastAccepted: number, now: number, rateLimit: number): boolean {
  return rateLimit > 0 && now - lastAccepted < rateLimit;
}

/** How many new connections one address may open at once, and how fast after that. */
export interface ConnectRate {
  /** Connections allowed in a burst (0 = no limit). */
  burst: number;
  /** The time in which a whole burst is earned back, ms. */
  per: number;
}

/** What the server remembers about one IP address (strikes outlive connections). */
export interface AddressState {
  /** Open connections from this address. */
  conns: number;
  strikes: number;
  /**
   * Strikes for wrong secrets (room token, operator token): a floor under `strikes` that good
   * lines cannot wear away, so guessing slowly still ends in a ban. Forgotten once no secret has
   * been wrong for the strike memory.
   */
  secretStrikes: number;
  lastSecretStrike: number;
  /** When the address last did anything (connect, line, strike), for forgetting it later. */
  lastSeen: number;
  /**
   * The address's line allowance: as many lines per rate-limit interval as it has connections
   * open, so people sharing an address (NAT) are each as free as alone, while a flood through
   * fresh connections is held to what one connection may send.
   */
  lines: Bucket;
  /** The address's allowance of new connections. */
  connects: Bucket;
  /** The address's allowance of new rooms. */
  rooms: Bucket;
  /** The address's allowance of new accounts (/register). */
  registers: Bucket;
  /** The address's allowance of password checks (/identify, /password, /unregister). */
  passwords: Bucket;
}

/**
 * True when the address may send one more line at `at`: its allowance holds one line per
 * `rateLimit` ms for each open connection (at least one), and a full bucket holds one line per
 * connection. Anyone who keeps their own lines `rateLimit` apart never runs it dry.
 */
export function addressMaySend(a: AddressState, at: number, rateLimit: number): boolean {
  if (rateLimit <= 0) return true;
  const n = Math.max(1, a.conns);
  return take(a.lines, 1, n, n / rateLimit, at);
}

/**
 * True when bucket `b` allows one more at `now` under `rate` (a burst, then a steady pace);
 * a refusal costs nothing. Used for new connections and new rooms per address.
 */
export function mayBurst(b: Bucket, now: number, rate: ConnectRate): boolean {
  if (rate.burst <= 0) return true;
  return take(b, 1, rate.burst, rate.burst / rate.per, now);
}

/** Milliseconds until a bucket refused by {@link mayBurst} allows one more. */
export function burstWait(b: Bucket, now: number, rate: ConnectRate): number {
  if (rate.burst <= 0) return 0;
  return waitFor(b, 1, rate.burst, rate.burst / rate.per, now);
}

/** Per-address state, kept bounded: idle addresses are forgotten after a while. */
export class Addresses {
  readonly #map = new Map<string, AddressState>();

  /** The state for `ip`, created on first use. */
  get(ip: string, now: number): AddressState {
    let a = this.#map.get(ip);
    if (!a) {
      a = {
        conns: 0,
        strikes: 0,
        secretStrikes: 0,
        lastSecretStrike: 0,
        lastSeen: now,
        lines: fullBucket(),
        connects: fullBucket(),
        rooms: fullBucket(),
        registers: fullBucket(),
        passwords: fullBucket(),
      };
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
   * Lifts the secret-strike floor of addresses that gave no wrong secret for `memory` ms, and
   * forgets addresses with no connections: once they have been quiet for `quiet` ms (their
   * allowances are full again by then) when they have no strikes, otherwise once they have been
   * quiet for `memory` ms (strikes survive a reconnect, not forever).
   */
  prune(now: number, memory: number, quiet = 0): void {
    for (const [ip, a] of this.#map) {
      if (a.secretStrikes > 0 && now - a.lastSecretStrike >= memory) a.secretStrikes = 0;
      if (a.conns > 0) continue;
      const idle = now - a.lastSeen;
      if (a.strikes === 0 ? idle >= quiet : idle >= memory) this.#map.delete(ip);
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

/** The longest ban the server gives or keeps: a year. */
export const MAX_BAN_MS = 365 * 86_400_000;
