/**
 * The server: accepts connections, runs the hub coroutine over the central queue, carries out
 * the hub's effects (start writers, close sockets, save bans), ticks timers and shuts down
 * gracefully.
 */
import { BanStore } from "./ban_store.ts";
import type { Config } from "./config.ts";
import { Connection, type ConnectionHost } from "./connection.ts";
import { Hub, type HubEffects, type HubEvent } from "./hub.ts";
import { type Logger, LogThrottle } from "./log.ts";
import type { BanRecord } from "./moderation.ts";
import { AsyncQueue } from "./queue.ts";

/** What a server is built from. */
export interface ServerOptions {
  config: Config;
  log: Logger;
  motd?: readonly string[];
  bans?: readonly BanRecord[];
  /** Where bans are saved; none keeps them in memory. */
  banStore?: BanStore;
  /** The clock, epoch ms (tests may pass their own). */
  now?: () => number;
  random?: () => number;
}

/** How often the hub gets a tick: often enough for the shortest timeout, at most once a second. */
export function tickInterval(config: Config): number {
  const timeouts = [config.lineTimeout, config.idleTimeout, config.token ? config.authTimeout : 0]
    .filter((t) => t > 0);
  const shortest = Math.min(5_000, ...timeouts);
  return Math.max(20, Math.min(1_000, Math.floor(shortest / 5)));
}

/** Most time a graceful shutdown waits for outboxes to drain. */
export const SHUTDOWN_GRACE_MS = 2_000;

function isFdExhaustion(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === "EMFILE" || code === "ENFILE" ||
    (e instanceof Error && /too many open files/i.test(e.message));
}

/** A running chat server. */
export class Server {
  readonly config: Config;
  readonly #log: Logger;
  readonly #queue = new AsyncQueue<HubEvent>();
  readonly #hub: Hub;
  readonly #conns = new Map<number, Connection>();
  readonly #banStore?: BanStore;
  readonly #now: () => number;
  #toKick: Connection[] = [];
  #listener: Deno.TcpListener | null = null;
  /** A spare descriptor, given up to accept-and-refuse when the process runs out. */
  #reserve: Deno.TcpListener | null = null;
  #nextId = 1;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #sleepTimer: ReturnType<typeof setTimeout> | undefined;
  #wakeSleep: (() => void) | null = null;
  #stopping = false;
  #hubDone: Promise<void> = Promise.resolve();
  #acceptDone: Promise<void> = Promise.resolve();
  #stopped: Promise<void> | null = null;
  readonly #acceptErrors = new LogThrottle(10_000);
  /** Shared by every connection (one object, not a closure per socket: idle memory counts). */
  readonly #connHost: ConnectionHost = {
    post: (ev) => this.#queue.push(ev),
    ended: (id) => this.#conns.delete(id),
    now: () => this.#now(),
    maxLine: 0,
    maxInputRate: 0,
    bytesIn: 0,
    complete: (id, word, atLineStart) => this.#hub.complete(id, word, atLineStart),
  };

  constructor(opts: ServerOptions) {
    this.config = opts.config;
    this.#log = opts.log;
    this.#banStore = opts.banStore;
    this.#now = opts.now ?? Date.now;
    this.#connHost.maxLine = opts.config.maxLine;
    this.#connHost.maxInputRate = opts.config.maxInputRate;
    const effects: HubEffects = {
      wake: (id) => {
        const c = this.#conns.get(id);
        if (c) this.#toKick.push(c);
      },
      close: (id, mode) => this.#conns.get(id)?.close(mode),
      saveBans: (bans) => this.#banStore?.save(bans),
      prompt: (id, text) => this.#conns.get(id)?.setPrompt(text),
    };
    this.#hub = new Hub({
      config: opts.config,
      log: opts.log,
      effects,
      motd: opts.motd,
      bans: opts.bans,
      random: opts.random,
    });
  }

  /**
   * Binds the listening socket and starts serving. Throws the runtime's error if the address
   * cannot be bound (the caller turns it into one line for the person).
   */
  listen(): Deno.NetAddr {
    const listener = Deno.listen({ hostname: this.config.host, port: this.config.port });
    this.#listener = listener;
    try {
      this.#reserve = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    } catch {
      this.#reserve = null;
    }
    const addr = listener.addr as Deno.NetAddr;
    this.#log.info("listening", {
      host: this.#log.safeMode ? undefined : addr.hostname,
      port: addr.port,
      name: this.config.name,
    });
    this.#hubDone = this.#runHub();
    this.#acceptDone = this.#acceptLoop(listener);
    this.#ticker = setInterval(() => this.#queue.push({ type: "tick" }), tickInterval(this.config));
    return addr;
  }

  /** The bound address (after {@link listen}). */
  get addr(): Deno.NetAddr {
    return this.#listener!.addr as Deno.NetAddr;
  }

  /** Open sockets, including those being refused or closed. */
  get sockets(): number {
    return this.#conns.size;
  }

  /** Members in the room. */
  get online(): number {
    return this.#hub.online;
  }

  /** Bytes read from all clients so far. */
  get bytesIn(): number {
    return this.#connHost.bytesIn;
  }

  /**
   * Stops accepting, tells every client `Server is shutting down.`, waits up to
   * {@link SHUTDOWN_GRACE_MS} for outboxes to drain, closes everything and saves the bans.
   */
  shutdown(): Promise<void> {
    this.#stopped ??= this.#shutdown();
    return this.#stopped;
  }

  async #shutdown(): Promise<void> {
    this.#stopping = true;
    this.#log.info("shutting down", { clients: this.#hub.connections });
    this.#closeListeners();
    clearInterval(this.#ticker);
    this.#wakeSleep?.();
    this.#queue.push({ type: "shutdown" });
    this.#queue.close();
    await this.#hubDone;
    await this.#acceptDone;
    const all = () => Promise.all([...this.#conns.values()].map((c) => c.done));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      all(),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_GRACE_MS))),
    ]);
    clearTimeout(timer);
    for (const c of this.#conns.values()) c.close("drop");
    await all();
    await this.#banStore?.flush();
    this.#log.info("stopped");
  }

  #closeListeners(): void {
    for (const l of [this.#listener, this.#reserve]) {
      try {
        l?.close();
      } catch {
        // already closed
      }
    }
    this.#reserve = null;
  }

  async #runHub(): Promise<void> {
    while (true) {
      const batch = await this.#queue.drain();
      if (!batch) break;
      this.#handle(batch);
      if (this.#toKick.length === 0) continue;
      // Output is waiting. Give input already on its way (the rest of a burst, other senders'
      // lines) one turn of the event loop to arrive and handle it too, so that each client
      // gets one write for all of it instead of one per batch. While the hub waits, readers
      // stop after MAX_INFLIGHT unhandled events, so what piles up meanwhile stays bounded.
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
      const more = this.#queue.takeAll();
      if (more.length > 0) this.#handle(more);
      const kick = this.#toKick;
      this.#toKick = [];
      for (const c of kick) c.kick();
    }
  }

  #handle(batch: HubEvent[]): void {
    const hub = this.#hub;
    const now = this.#now();
    for (const ev of batch) {
      try {
        hub.handle(ev, now);
      } catch (e) {
        this.#log.error("internal error while handling an event", {
          event: ev.type,
          error: e instanceof Error ? (e.stack ?? e.message) : String(e),
        });
      }
      if (ev.type === "input") this.#conns.get(ev.id)?.processed();
    }
  }

  async #acceptLoop(listener: Deno.TcpListener): Promise<void> {
    let backoff = 5;
    while (!this.#stopping) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
        backoff = 5;
      } catch (e) {
        if (this.#stopping || e instanceof Deno.errors.BadResource) break;
        const fds = isFdExhaustion(e);
        if (this.#acceptErrors.first(fds ? "fds" : "other", this.#now())) {
          this.#log.warn(
            fds ? "out of file descriptors: refusing new connections" : "accept failed",
            { error: e instanceof Error ? e.message : String(e), clients: this.#conns.size },
          );
        }
        this.#reportAcceptErrors();
        if (fds && this.#reserve && await this.#shed(listener)) continue;
        await this.#sleep(backoff);
        backoff = Math.min(backoff * 2, 1_000);
        continue;
      }
      this.#reportAcceptErrors();
      this.#adopt(conn);
    }
  }

  /**
   * Out of descriptors: frees the spare one, accepts the waiting client, tells it the server
   * is full and closes it, then takes the spare back. Keeps a full server from spinning on the
   * same pending connection, and the client learns why instead of hanging.
   */
  async #shed(listener: Deno.TcpListener): Promise<boolean> {
    try {
      this.#reserve?.close();
    } catch {
      // ignore
    }
    this.#reserve = null;
    try {
      const conn = await listener.accept();
      const bye = new TextEncoder().encode("Server is full. Please try again later.\r\n");
      await conn.write(bye).catch(() => 0);
      try {
        conn.close();
      } catch {
        // ignore
      }
    } catch {
      // nothing to shed after all
    }
    if (this.#stopping) return false;
    try {
      this.#reserve = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      return true;
    } catch {
      return false;
    }
  }

  #reportAcceptErrors(): void {
    for (const { key, count } of this.#acceptErrors.sweep(this.#now())) {
      this.#log.warn(
        key === "fds" ? "connections refused for lack of file descriptors" : "accept failures",
        { times: count, within: "10s" },
      );
    }
  }

  #adopt(conn: Deno.TcpConn): void {
    const id = this.#nextId++;
    const remote = conn.remoteAddr as Deno.NetAddr;
    try {
      conn.setNoDelay(true);
    } catch {
      // not fatal: only latency
    }
    const c = new Connection(id, conn, this.#connHost);
    this.#conns.set(id, c);
    this.#queue.push({
      type: "open",
      id,
      ip: remote.hostname,
      port: remote.port,
      outbox: c.outbox,
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wakeSleep = () => {
        clearTimeout(this.#sleepTimer);
        this.#wakeSleep = null;
        resolve();
      };
      this.#sleepTimer = setTimeout(() => this.#wakeSleep?.(), ms);
    });
  }
}
