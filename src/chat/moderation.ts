/**
 * Moderation as pure data: the rate rule, per-address strikes, and the ban list with its file
 * format. Nothing here reads a clock or touches a file; callers pass `now` and do the I/O.
 */

/** True when a line at `now` comes sooner than `rateLimit` ms after the last accepted one. */
export function tooSoon(lastAccepted: number, now: number, rateLimit: number): boolean {
  return rateLimit > 0 && now - lastAccepted < rateLimit;
}

/**
 * A token bucket kept as two numbers, so it costs nothing until it is used. `at` starts at
 * -Infinity, which reads as "full": nothing has been taken yet.
 */
export interface Bucket {
  tokens: number;
  at: number;
}

/** A bucket that has not been used yet (full, whatever its capacity turns out to be). */
export function fullBucket(): Bucket {
  return { tokens: 0, at: -Infinity };
}

/**
 * Refills `b` up to time `now` at `perMs` tokens per millisecond, capped at `cap`, then takes
 * `n` tokens if it holds that many. Times that go backwards are treated as no time passing.
 */
export function take(b: Bucket, n: number, cap: number, perMs: number, now: number): boolean {
  const elapsed = b.at === -Infinity ? Infinity : Math.max(0, now - b.at);
  const tokens = elapsed === Infinity ? cap : Math.min(cap, b.tokens + elapsed * perMs);
  if (now > b.at) b.at = now;
  if (tokens >= n) {
    b.tokens = tokens - n;
    return true;
  }
  b.tokens = tokens;
  return false;
}

/** Milliseconds until `b` holds `n` tokens again (0 if it already does). */
export function waitFor(b: Bucket, n: number, cap: number, perMs: number, now: number): number {
  if (b.at === -Infinity) return 0;
  const tokens = Math.min(cap, b.tokens + Math.max(0, now - b.at) * perMs);
  return tokens >= n ? 0 : Math.ceil((n - tokens) / perMs);
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

/** The longest ban the server gives or keeps: a year. */
export const MAX_BAN_MS = 365 * 86_400_000;

/** An address in its one canonical spelling, or why the text is not an address. */
export type IpParse = { ip: string } | { error: string };

/**
 * Parses an IP address strictly into its canonical form: IPv4 as four decimal parts without
 * leading zeros (`127.0.0.07` is refused: some tools read it as octal), IPv6 per RFC 5952
 * (lower case, no leading zeros, the longest run of zero groups as `::`), and IPv4-mapped IPv6
 * (`::ffff:1.2.3.4`) as the plain IPv4 address it is, so one host has one spelling everywhere.
 */
export function parseIp(text: string): IpParse {
  const t = text.trim();
  if (t.includes(":")) return parseIp6(t);
  if (!/^[0-9.]+$/.test(t)) return { error: "not an IP address" };
  return parseIp4(t);
}

function parseIp4(t: string): IpParse {
  const parts = t.split(".");
  if (parts.length !== 4) return { error: "an IPv4 address has four parts, like 192.0.2.7" };
  for (const p of parts) {
    if (p === "" || p.length > 3) return { error: "each IPv4 part is a number 0-255" };
    if (p.length > 1 && p[0] === "0") {
      return { error: "leading zeros are ambiguous (some tools read them as octal)" };
    }
    if (Number(p) > 255) return { error: "each IPv4 part is a number 0-255" };
  }
  return { ip: parts.join(".") };
}

function parseIp6(t: string): IpParse {
  const bad = { error: "not a valid IPv6 address" };
  if (t.includes("%")) return { error: "zone indexes (%eth0) cannot be banned" };
  if (!/^[0-9a-f:.]+$/i.test(t) || t.length > 45) return bad;
  let head = t;
  let v4: number[] | null = null;
  const lastColon = t.lastIndexOf(":");
  if (t.slice(lastColon + 1).includes(".")) {
    const four = parseIp4(t.slice(lastColon + 1));
    if ("error" in four) return bad;
    v4 = four.ip.split(".").map(Number);
    head = t.slice(0, lastColon + 1);
    if (!head.endsWith("::")) head = head.slice(0, -1);
  }
  const halves = head.split("::");
  if (halves.length > 2) return bad;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const left = groups(halves[0]);
  const right = halves.length === 2 ? groups(halves[1]) : [];
  const want = v4 ? 6 : 8;
  for (const g of [...left, ...right]) if (!/^[0-9a-f]{1,4}$/i.test(g)) return bad;
  const have = left.length + right.length;
  if (halves.length === 1 ? have !== want : have > want - 1) return bad;
  const words = [
    ...left.map((g) => parseInt(g, 16)),
    ...Array(want - have).fill(0),
    ...right.map((g) => parseInt(g, 16)),
  ];
  if (v4) words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
  // IPv4-mapped: one host, one spelling.
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return { ip: `${words[6] >> 8}.${words[6] & 255}.${words[7] >> 8}.${words[7] & 255}` };
  }
  return { ip: formatIp6(words) };
}

/** RFC 5952 text for eight 16-bit words. */
function formatIp6(words: number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((w) => w.toString(16)).join(":");
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

/** IPv6 prefix length per-address rules key on by default (--ipv6-prefix): one /64, one site. */
export const IPV6_PREFIX = 64;

/** The eight 16-bit words of a canonical IPv6 address (as {@link parseIp} writes it). */
function words6(ip: string): number[] {
  const halves = ip.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const left = groups(halves[0]);
  const right = halves.length === 2 ? groups(halves[1]) : [];
  return [...left, ...Array(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The key every per-address rule uses for the canonical address `ip` (connections per address,
 * connect rate, strikes, bans): an IPv4 address is its own key; an IPv6 address stands for its
 * network of the first `v6Prefix` bits, written `2001:db8:1:2::/64` (at 128, the address itself),
 * since anyone with a /64 (most IPv6 users) holds every address in it.
 */
export function ipKey(ip: string, v6Prefix = IPV6_PREFIX): string {
  if (!ip.includes(":") || ip.includes("/")) return ip; // IPv4, or a key already
  const p = parseIp(ip);
  if (!("ip" in p)) return ip;
  if (!p.ip.includes(":") || v6Prefix >= 128) return p.ip;
  const w = words6(p.ip);
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, v6Prefix - 16 * i));
    w[i] &= keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff;
  }
  return `${formatIp6(w)}/${v6Prefix}`;
}

/**
 * A ban key as stored (a ban file, Redis): an address, or an IPv6 network `ADDR/N` (N 1-128,
 * whatever --ipv6-prefix was when it was stored), in canonical form.
 */
export function parseKey(text: string): IpParse {
  const slash = text.indexOf("/");
  if (slash < 0) return parseIp(text);
  const p = parseIp(text.slice(0, slash));
  const bits = text.slice(slash + 1);
  if ("error" in p || !p.ip.includes(":") || !/^[1-9]\d{0,2}$/.test(bits) || Number(bits) > 128) {
    return { error: "not an address or an IPv6 network" };
  }
  return { ip: ipKey(p.ip, Number(bits)) };
}

/**
 * A stored ban key (see {@link parseKey}) as this server keys bans now: a network stored under
 * another prefix length is taken at `v6Prefix` from its first address.
 */
export function rekey(key: string, v6Prefix = IPV6_PREFIX): IpParse {
  const p = parseKey(key);
  if ("error" in p) return p;
  return { ip: ipKey(p.ip.replace(/\/\d+$/, ""), v6Prefix) };
}

/**
 * What an operator typed as an address to ban or unban, as the key bans are kept under (see
 * {@link ipKey}): an address, or an IPv6 network written with the prefix length in use.
 */
export function parseBanTarget(text: string, v6Prefix = IPV6_PREFIX): IpParse {
  const t = text.trim();
  const slash = t.indexOf("/");
  if (slash < 0) {
    const p = parseIp(t);
    return "ip" in p ? { ip: ipKey(p.ip, v6Prefix) } : p;
  }
  const p = parseIp(t.slice(0, slash));
  if ("error" in p) return p;
  if (!p.ip.includes(":") || t.slice(slash + 1) !== String(v6Prefix) || v6Prefix >= 128) {
    return {
      error: v6Prefix >= 128
        ? "write the address alone"
        : `an address, or an IPv6 network written with /${v6Prefix} (--ipv6-prefix)`,
    };
  }
  return { ip: ipKey(p.ip, v6Prefix) };
}

/** Dotted IPv4 with no leading zeros and parts of at most 255. */
const CANONICAL_IP4 =
  /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * The canonical spelling of a connection's address (as {@link parseIp}); anything the parser
 * does not know is kept as it came, in lower case.
 */
export function normalizeIp(ip: string): string {
  // The common case, what Deno reports for an IPv4 peer, is already canonical.
  if (CANONICAL_IP4.test(ip)) return ip;
  const p = parseIp(ip);
  return "ip" in p ? p.ip : ip.toLowerCase();
}
