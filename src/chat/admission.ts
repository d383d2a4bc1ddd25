/**
 * Admission: whether a new connection is taken. A banned address, an address opening
 * connections faster than --connect-rate, a full server (--max-clients) and an address at
 * --max-per-ip (counting its connections on the other processes) are refused with one line and
 * closed at once; refusals are logged once per address and minute, then counted.
 */
import { LogThrottle } from "../ops/log.ts";
import { ipKey, normalizeIp } from "../lib/ip.ts";
import { formatDuration } from "../lib/units.ts";
import { Client } from "./client.ts";
import type { ClientTable } from "./clients.ts";
import type { HubContext } from "./context.ts";
import type { Fanout } from "./fanout.ts";
import type { Mirror } from "./mirror.ts";
import { burstWait, mayBurst } from "./moderation.ts";
import type { Sanctions } from "./sanctions.ts";
import type { Outbox } from "./shared_log.ts";

const encoder = new TextEncoder();

/** What a new connection brings. */
export interface Arrival {
  id: number;
  ip: string;
  port: number;
  outbox: Outbox;
  transport: string;
}

/** The door: takes a connection, or refuses it with a reason. */
export class Admission {
  readonly #ctx: HubContext;
  readonly #clients: ClientTable;
  readonly #fanout: Fanout;
  readonly #sanctions: Sanctions;
  readonly #mirror: Mirror;
  readonly #refusals = new LogThrottle(60_000);

  constructor(
    ctx: HubContext,
    clients: ClientTable,
    fanout: Fanout,
    sanctions: Sanctions,
    mirror: Mirror,
  ) {
    this.#ctx = ctx;
    this.#clients = clients;
    this.#fanout = fanout;
    this.#sanctions = sanctions;
    this.#mirror = mirror;
  }

  /** The client for a new connection, now in the table; or undefined, refused and closed. */
  open(a: Arrival, now: number): Client | undefined {
    const ctx = this.#ctx;
    const cfg = ctx.config;
    const ip = normalizeIp(a.ip);
    const key = ipKey(ip, cfg.ipv6Prefix);
    const ban = this.#sanctions.active(key, now);
    if (ban) {
      const left = formatDuration(ban.until - now);
      ctx.stats.refusedBanned++;
      this.#refuse(a, `You are still temporarily banned. Try again in ${left}.`);
      if (this.#refusals.first(`ban ${key}`, now)) {
        ctx.log.info("refused banned address", { addr: ctx.log.addr(ip, a.port), left });
      }
      return undefined;
    }
    const addr = this.#sanctions.addresses.get(key, now);
    addr.lastSeen = now;
    if (!mayBurst(addr.connects, now, cfg.connectRate)) {
      ctx.stats.refusedThrottled++;
      const wait = formatDuration(Math.max(1_000, burstWait(addr.connects, now, cfg.connectRate)));
      this.#refuse(a, `Too many new connections from your address. Try again in ${wait}.`);
      this.#logRefusal("throttle", key, ip, now);
      return undefined;
    }
    if (cfg.maxClients > 0 && this.#clients.size >= cfg.maxClients) {
      ctx.stats.refusedFull++;
      this.#refuse(a, "Server is full. Please try again later.");
      if (this.#refusals.first("full", now)) {
        ctx.log.warn("server full: refusing connections", { limit: cfg.maxClients });
      }
      return undefined;
    }
    if (cfg.maxPerIp > 0 && addr.conns + this.#mirror.fromIp(key) >= cfg.maxPerIp) {
      ctx.stats.refusedPerAddress++;
      this.#refuse(a, `Too many connections from your address (limit ${cfg.maxPerIp}).`);
      this.#logRefusal("perip", key, ip, now);
      return undefined;
    }
    const c = new Client(a.id, ip, key, a.port, a.outbox, addr, now, a.transport);
    a.outbox.owner = a.id;
    addr.conns++;
    this.#clients.add(c);
    return c;
  }

  /** Answers a connection the hub will not take, then closes it at once. */
  #refuse(a: Arrival, message: string): void {
    // An IRC client shows an ERROR as the reason it was let go; a terminal shows the line.
    const irc = a.transport === "irc" || a.transport === "ircs";
    a.outbox.push(encoder.encode(irc ? `ERROR :${message}\r\n` : message + "\r\n"));
    this.#fanout.wakeWriter(a.id, a.outbox);
    this.#ctx.effects.close(a.id, "refuse");
  }

  /** The first refusal of its kind from an address in a minute is logged; the rest counted. */
  #logRefusal(kind: "throttle" | "perip", key: string, ip: string, now: number): void {
    if (!this.#refusals.first(`${kind} ${key}`, now)) return;
    const { log, config: cfg } = this.#ctx;
    if (kind === "throttle") {
      log.warn("connections from one address too fast: refusing", {
        addr: log.addr(ip),
        limit: `${cfg.connectRate.burst}/${formatDuration(cfg.connectRate.per)}`,
      });
    } else {
      log.warn("too many connections from one address", {
        addr: log.addr(ip),
        limit: cfg.maxPerIp,
      });
    }
  }

  /** Logs how many refusals each address had in the minute that ended. */
  summarize(now: number): void {
    const log = this.#ctx.log;
    for (const { key, count } of this.#refusals.sweep(now)) {
      const [kind, ip] = key.split(" ");
      const fields = { times: count, within: "60s" };
      if (kind === "ban") {
        log.info("refused banned address again", { addr: log.addr(ip), ...fields });
      } else if (kind === "full") {
        log.warn("server full: more connections refused", fields);
      } else if (kind === "throttle") {
        log.warn("more connections from one address refused as too fast", {
          addr: log.addr(ip),
          ...fields,
        });
      } else {
        log.warn("more connections refused from one address", { addr: log.addr(ip), ...fields });
      }
    }
  }
}
