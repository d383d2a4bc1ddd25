/**
 * Sanctions: what the hub remembers of each address (strikes, allowances) and the ban list.
 * A strike is told to the person with the count; at --max-strikes the address is banned, and a
 * ban closes every connection from it (through `dropBanned`, wired by the hub to Sessions).
 */
import { ipKey, normalizeIp, rekey } from "../lib/ip.ts";
import { formatDuration } from "../lib/units.ts";
import type { Client } from "./client.ts";
import type { ClientTable } from "./clients.ts";
import type { HubContext } from "./context.ts";
import type { Fanout } from "./fanout.ts";
import { Addresses, BanList, type BanRecord, MAX_BAN_MS } from "./moderation.ts";
import type { Outbound } from "./sync.ts";

/** How a banned client leaves: the hub drops it with this reason and last words. */
export type DropBanned = (c: Client, reason: string, message: string, now: number) => void;

/** Strikes, allowances and bans, by address key. */
export class Sanctions {
  readonly #ctx: HubContext;
  readonly #clients: ClientTable;
  readonly #fanout: Fanout;
  readonly #sync: Outbound;
  readonly #dropBanned: DropBanned;
  readonly addresses = new Addresses();
  readonly #bans: BanList;

  constructor(
    ctx: HubContext,
    clients: ClientTable,
    fanout: Fanout,
    sync: Outbound,
    bans: readonly BanRecord[],
    dropBanned: DropBanned,
  ) {
    this.#ctx = ctx;
    this.#clients = clients;
    this.#fanout = fanout;
    this.#sync = sync;
    this.#dropBanned = dropBanned;
    // Bans are kept under address keys; a ban file from another --ipv6-prefix is keyed anew.
    this.#bans = new BanList(bans.map((b) => {
      const key = rekey(b.ip, ctx.config.ipv6Prefix);
      return { ...b, ip: "ip" in key ? key.ip : b.ip };
    }));
  }

  /** The key per-address rules use for `ip` (see ipKey and --ipv6-prefix). */
  key(ip: string): string {
    return ipKey(normalizeIp(ip), this.#ctx.config.ipv6Prefix);
  }

  /** The ban on the address key `key`, if one runs at `now`. */
  active(key: string, now: number): BanRecord | undefined {
    return this.#bans.active(key, now);
  }

  /** Bans stored (running or not yet pruned). */
  get banCount(): number {
    return this.#bans.size;
  }

  /** Running bans, soonest to end first. */
  list(now: number): BanRecord[] {
    return this.#bans.list(now);
  }

  /**
   * A strike against `c`'s address, telling `c` the message (if any) with the count; at the
   * limit the address is banned. A `secret` strike (a wrong token) is one good lines cannot
   * take away. Returns false if it got the address banned (and `c` disconnected).
   */
  strike(c: Client, why: string, now: number, message = "", secret = false): boolean {
    const ctx = this.#ctx;
    const a = c.addr;
    const max = ctx.config.maxStrikes;
    a.strikes++;
    a.lastSeen = now;
    ctx.stats.strikes++;
    this.#sync.strike(c.addrKey, 1);
    if (secret) {
      a.secretStrikes++;
      a.lastSecretStrike = now;
    }
    ctx.log.info("strike", {
      client: c.id,
      nick: c.nick || undefined,
      strikes: `${a.strikes}/${max}`,
      reason: why,
    });
    if (a.strikes < max) {
      if (message) this.#fanout.tell(c, `${message} (strike ${a.strikes} of ${max})`);
      return true;
    }
    if (message) this.#fanout.tell(c, message);
    this.banForSpam(c.addrKey, now);
    return false;
  }

  /**
   * A secret strike against an address whose connection is gone (a wrong password answered
   * after its client hung up): hanging up never makes a guess free.
   */
  strikeAddress(key: string, why: string, now: number): void {
    const ctx = this.#ctx;
    const a = this.addresses.get(key, now);
    a.strikes++;
    a.secretStrikes++;
    a.lastSecretStrike = now;
    a.lastSeen = now;
    ctx.stats.strikes++;
    this.#sync.strike(key, 1);
    const max = ctx.config.maxStrikes;
    ctx.log.info("strike", {
      addr: ctx.log.addr(key),
      strikes: `${a.strikes}/${max}`,
      reason: why,
    });
    if (a.strikes >= max && !this.active(key, now)) this.banForSpam(key, now);
  }

  /** The server's ban of an address key that reached --max-strikes (here, or elsewhere). */
  banForSpam(key: string, now: number): void {
    const ms = this.#ctx.config.banDuration;
    this.ban(key, ms, "spamming", "server", now, [
      "You have been banned for spamming.",
      `The ban ends in ${formatDuration(ms)}.`,
    ]);
  }

  /**
   * Bans the address key `key` for `ms` (at most a year), tells the others unless the ban came
   * from them, and closes every connection from it with `message`. Returns how many.
   */
  ban(
    key: string,
    ms: number,
    reason: string,
    by: string,
    now: number,
    message: string[],
    fromCluster = false,
  ): number {
    const ctx = this.#ctx;
    ms = Math.min(ms, MAX_BAN_MS);
    ctx.stats.bans++;
    const ban = { ip: key, until: now + ms, reason, by, since: now };
    this.#bans.add(ban);
    this.save();
    if (!fromCluster) this.#sync.banned(ban);
    const a = this.addresses.peek(key);
    if (a) a.strikes = a.secretStrikes = 0;
    ctx.log.warn("address banned", {
      addr: ctx.log.addr(key),
      for: formatDuration(ms),
      reason,
      by,
    });
    const targets = [...this.#clients.values()].filter((c) => c.addrKey === key);
    const why = reason === "spamming" ? "banned for spamming" : "banned";
    for (const c of targets) this.#dropBanned(c, why, message.join("\r\n"), now);
    return targets.length;
  }

  /** A ban another process made (or Redis kept): applied here unless it is one already. */
  fromCluster(b: BanRecord, now: number): void {
    const target = rekey(b.ip, this.#ctx.config.ipv6Prefix);
    if (!("ip" in target) || !(b.until > now)) return; // not a ban Shat makes
    if (this.#bans.active(target.ip, now)) return;
    this.ban(target.ip, b.until - now, b.reason, b.by, now, [
      b.by === "server"
        ? "You have been banned for spamming."
        : `You have been banned by ${b.by}${b.reason ? `: ${b.reason}` : "."}`,
    ], true);
  }

  /** Lifts the ban on `ip` (an address or a key); false if there was none. */
  unban(ip: string): boolean {
    const key = this.key(ip);
    if (!this.#bans.remove(key)) return false;
    const a = this.addresses.peek(key);
    if (a) a.strikes = a.secretStrikes = 0;
    this.save();
    this.#sync.unbanned(key);
    return true;
  }

  /** Lifts a ban another process lifted (or Redis no longer has); false if there was none. */
  lift(key: string): boolean {
    if (!this.#bans.remove(key)) return false;
    this.save();
    return true;
  }

  /** The ban list changed: the shell saves it. */
  save(): void {
    this.#ctx.effects.saveBans(this.#bans.snapshot());
  }

  /** Drops bans that ran out, and forgets addresses quiet long enough. */
  tick(now: number): void {
    const cfg = this.#ctx.config;
    if (this.#bans.prune(now)) this.save();
    // An address is remembered until its allowances are full again (and its strikes, if any,
    // for the strike memory).
    const quiet = Math.max(cfg.rateLimit, cfg.connectRate.burst > 0 ? cfg.connectRate.per : 0);
    this.addresses.prune(now, cfg.banDuration, quiet);
  }
}
