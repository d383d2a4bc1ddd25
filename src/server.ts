/**
 * The server: accepts connections (plain TCP and TLS: the same room, the same rules), runs the
 * hub coroutine over the central queue, carries out the hub's effects (start writers, close
 * sockets, save bans), ticks timers, serves the metrics page and shuts down gracefully.
 */
import { BanStore } from "./ban_store.ts";
import { ClusterLink } from "./cluster.ts";
import type { Config } from "./config.ts";
import { Connection, type ConnectionHost } from "./connection.ts";
import { Hub, type HubEffects, type HubEvent } from "./hub.ts";
import { type Logger, LogThrottle } from "./log.ts";
import { serveMetrics, type ShellSnapshot } from "./metrics.ts";
import type { BanRecord } from "./moderation.ts";
import { AsyncQueue } from "./queue.ts";
import { type TlsFiles, TlsPort, type TlsStream } from "./tls.ts";
import { serveWeb, type WsStream } from "./web.ts";

export type { TlsFiles } from "./tls.ts";

/** What a server is built from. */
export interface ServerOptions {
  config: Config;
  log: Logger;
  motd?: readonly string[];
  bans?: readonly BanRecord[];
  /** Where bans are saved; none keeps them in memory. */
  banStore?: BanStore;
  /** The TLS certificate chain and key (PEM), when --tls-port is on. */
  tls?: TlsFiles;
  /** The clock, epoch ms (tests may pass their own). */
  now?: () => number;
  random?: () => number;
}

/** Redis could not be reached (or refused us) at start, with --redis. */
export class ClusterError extends Error {
  override name = "ClusterError";
}

/** A listener that could not be bound: which flag, where, and the runtime's error. */
export class ListenError extends Error {
  override name = "ListenError";
  constructor(
    readonly flag: "--port" | "--tls-port" | "--metrics-port" | "--web-port",
    readonly host: string,
    readonly port: number,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
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
/**
 * Write pacing. On loopback a write costs 10-20 µs of CPU whatever its size, so a room of 1000
 * at a line per millisecond would spend all its time writing a line at a time. The server
 * counts the clients it wrote to in each window of PACE_WINDOW_MS; with D of them, a client
 * written to less than D / WRITES_PER_MS ms ago (at most MAX_WRITE_GAP_MS) waits out the rest
 * of that time, and its next write carries everything that came meanwhile: a busy room of 1000
 * gets the lines of ~30 ms in each write. A quiet server, or someone not written to lately, is
 * written to at once.
 */
export const WRITES_PER_MS = 30;
/** Writers started in one turn of the event loop; the rest start in the next turns. */
export const START_CHUNK = 1024;
export const MAX_WRITE_GAP_MS = 50;
export const PACE_WINDOW_MS = 50;

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
  /** How long a client just written to waits before the next write (see WRITES_PER_MS). */
  #writeGap = 0;
  /** The current pacing window: when it started, and the clients written to in it. */
  #windowAt = 0;
  #windowClients = 0;
  /** Clients waiting out the gap, in the order they started waiting, and the one timer. */
  #later: Connection[] = [];
  #laterTimer: ReturnType<typeof setTimeout> | undefined;
  #listener: Deno.TcpListener | null = null;
  #tlsPort: TlsPort | null = null;
  #tls: TlsFiles | undefined;
  #metrics: Deno.HttpServer<Deno.NetAddr> | null = null;
  #web: Deno.HttpServer<Deno.NetAddr> | null = null;
  /** A spare descriptor, given up to accept-and-refuse when the process runs out. */
  #reserve: Deno.TcpListener | null = null;
  #node: string | null = null;
  #cluster: ClusterLink | null = null;
  #nextId = 1;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #lagTimer: ReturnType<typeof setInterval> | undefined;
  /** Sleeping accept loops (after an accept error), woken at shutdown. */
  readonly #sleepers = new Set<() => void>();
  #stopping = false;
  #hubDone: Promise<void> = Promise.resolve();
  readonly #accepting: Promise<void>[] = [];
  #stopped: Promise<void> | null = null;
  readonly #acceptErrors = new LogThrottle(10_000);
  readonly #tlsErrors = new LogThrottle(60_000);
  readonly #shell = {
    accepted: {} as Record<string, number>,
    tlsHandshakeFailures: 0,
    /** Event-loop delays of the last 10 s (sampled every 250 ms), in ms. */
    lags: new Array<number>(40).fill(0),
    lagIndex: 0,
    /** When the lag timer last fired (performance.now), 0 before the first time. */
    lagAt: 0,
  };
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
    this.#tls = opts.tls;
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
    if (opts.config.redis) {
      this.#node = crypto.randomUUID().slice(0, 8);
      effects.cluster = (out) => this.#cluster?.send(out);
    }
    this.#hub = new Hub({
      config: opts.config,
      log: opts.log,
      effects,
      motd: opts.motd,
      bans: opts.bans,
      random: opts.random,
      node: this.#node ?? undefined,
    });
  }

  /**
   * With --redis: connects to Redis and takes the cluster's state, before {@link listen}.
   * Throws {@link ClusterError} (one line) if Redis cannot be reached or refuses.
   */
  async joinCluster(): Promise<void> {
    const cfg = this.config;
    if (!cfg.redis || this.#cluster) return;
    try {
      this.#cluster = await ClusterLink.start({
        url: cfg.redis,
        prefix: cfg.redisPrefix,
        node: this.#node!,
        log: this.#log,
        deliver: (msg) => this.#queue.push({ type: "cluster", msg }),
        strikeMemoryMs: Math.max(cfg.banDuration, 60_000),
      });
    } catch (e) {
      throw new ClusterError(e instanceof Error ? e.message : String(e));
    }
    this.#log.info("joined the cluster", { node: this.#node!, prefix: cfg.redisPrefix });
  }

  /**
   * Binds the plain and metrics ports (those that are on) and starts serving; the TLS port
   * follows with {@link listenTls}. Throws {@link ListenError} naming the flag whose address
   * cannot be bound; nothing is left listening then. Returns the plain address (undefined when
   * --port is off).
   */
  listen(): Deno.NetAddr {
    const cfg = this.config;
    try {
      if (cfg.port !== -1) {
        try {
          this.#listener = cfg.reusePort
            ? Deno.listen({ hostname: cfg.host, port: cfg.port, reusePort: true })
            : Deno.listen({ hostname: cfg.host, port: cfg.port });
        } catch (e) {
          throw new ListenError("--port", cfg.host, cfg.port, e);
        }
        this.#logListening("listening", this.#listener.addr as Deno.NetAddr);
      }
      if (cfg.webPort !== -1) {
        try {
          this.#web = serveWeb({
            hostname: cfg.host,
            port: cfg.webPort,
            name: cfg.name,
            trustProxy: cfg.trustProxy,
            origins: cfg.webOrigins,
            reusePort: cfg.reusePort,
          }, {
            adopt: (stream) => {
              this.#shell.accepted.ws = (this.#shell.accepted.ws ?? 0) + 1;
              this.#adopt(stream, "ws");
            },
            maxLine: cfg.maxLine,
          }, this.#log);
        } catch (e) {
          throw new ListenError("--web-port", cfg.host, cfg.webPort, e);
        }
        this.#logListening("listening for the web page", this.#web.addr);
      }
      if (cfg.metricsPort !== -1) {
        try {
          this.#metrics = serveMetrics(cfg.metricsHost, cfg.metricsPort, {
            snapshot: () => ({ hub: this.#hub.snapshot(), shell: this.#shellSnapshot() }),
            healthy: () => !this.#stopping,
          }, this.#log);
        } catch (e) {
          throw new ListenError("--metrics-port", cfg.metricsHost, cfg.metricsPort, e);
        }
        this.#lagTimer = setInterval(() => this.#sampleLag(), 250);
      }
    } catch (e) {
      this.#closeListeners();
      void this.#metrics?.shutdown();
      void this.#web?.shutdown();
      clearInterval(this.#lagTimer);
      throw e;
    }
    try {
      this.#reserve = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    } catch {
      this.#reserve = null;
    }
    this.#hubDone = this.#runHub();
    if (this.#listener) this.#accepting.push(this.#acceptLoop(this.#listener));
    this.#ticker = setInterval(() => this.#tick(), tickInterval(this.config));
    return this.#listener?.addr as Deno.NetAddr;
  }

  /**
   * Binds the TLS port (when --tls-port is on, after {@link listen}): the same room and rules as
   * the plain port. Rejects with {@link ListenError} when it cannot be bound.
   */
  async listenTls(): Promise<Deno.NetAddr | undefined> {
    const cfg = this.config;
    if (cfg.tlsPort === -1 || this.#tlsPort) return this.#tlsPort?.addr;
    const shell = this.#shell;
    try {
      this.#tlsPort = await TlsPort.listen(
        cfg.host,
        cfg.tlsPort,
        this.#tls!,
        cfg.tlsHandshakeTimeout,
        {
          accepted: () => {
            shell.accepted.tls = (shell.accepted.tls ?? 0) + 1;
          },
          failed: (why) => this.#tlsFailed(why),
          connection: (conn) => this.#adopt(conn, "tls"),
        },
      );
    } catch (e) {
      throw new ListenError("--tls-port", cfg.host, cfg.tlsPort, toDenoError(e));
    }
    this.#logListening("listening for TLS", this.#tlsPort.addr);
    return this.#tlsPort.addr;
  }

  #logListening(what: string, addr: Deno.NetAddr): void {
    this.#log.info(what, {
      host: this.#log.safeMode ? undefined : addr.hostname,
      port: addr.port,
      name: this.config.name,
    });
  }

  /** The plain TCP address (after {@link listen}; undefined when --port is off). */
  get addr(): Deno.NetAddr {
    return this.#listener?.addr as Deno.NetAddr;
  }

  /** The TLS address (after {@link listenTls}, when --tls-port is on). */
  get tlsAddr(): Deno.NetAddr | undefined {
    return this.#tlsPort?.addr;
  }

  /** The web page's address (after {@link listen}, when --web-port is on). */
  get webAddr(): Deno.NetAddr | undefined {
    return this.#web?.addr;
  }

  /** The metrics address (after {@link listen}, when --metrics-port is on). */
  get metricsAddr(): Deno.NetAddr | undefined {
    return this.#metrics?.addr;
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
   * Serves new TLS connections with a new certificate and key (a renewal), without a restart;
   * connections already open keep theirs. A pair that cannot be used changes nothing, and why
   * is returned.
   */
  reloadTls(files: TlsFiles): string | undefined {
    if (!this.#tlsPort || this.#stopping) return "TLS is off";
    const problem = this.#tlsPort.reload(files);
    if (!problem) this.#tls = files;
    return problem;
  }

  /**
   * Stops accepting, tells every client `Server is shutting down.`, waits up to
   * {@link SHUTDOWN_GRACE_MS} for outboxes to drain, closes everything and saves the bans.
   * The health check answers 503 from the start of it.
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
    for (const wake of [...this.#sleepers]) wake();
    this.#queue.push({ type: "shutdown" });
    this.#queue.close();
    await this.#hubDone;
    // The others hear that everyone here left, then that this process is gone.
    await this.#cluster?.close();
    // Whoever was waiting for a turn to write was closed with a flush, which writes anyway.
    clearTimeout(this.#laterTimer);
    await Promise.all(this.#accepting);
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
    clearInterval(this.#lagTimer);
    await this.#metrics?.shutdown();
    this.#log.info("stopped");
  }

  #closeListeners(): void {
    void this.#tlsPort?.close();
    // The web port stops taking requests; the WebSockets it opened are clients like any other.
    void this.#web?.shutdown();
    for (const l of [this.#listener, this.#reserve]) {
      try {
        l?.close();
      } catch {
        // already closed
      }
    }
    this.#reserve = null;
  }

  #tick(): void {
    this.#queue.push({ type: "tick" });
    for (const { count } of this.#tlsErrors.sweep(this.#now())) {
      this.#log.warn("more TLS handshakes failed", { times: count, within: "60s" });
    }
  }

  /** Measures how late a 250 ms timer fires: the event loop's delay. */
  #sampleLag(): void {
    const now = performance.now();
    const s = this.#shell;
    const last = s.lagAt;
    s.lagAt = now;
    if (last === 0) return;
    s.lags[s.lagIndex] = Math.max(0, now - last - 250);
    s.lagIndex = (s.lagIndex + 1) % s.lags.length;
  }

  #shellSnapshot(): ShellSnapshot {
    const s = this.#shell;
    return {
      accepted: { ...s.accepted },
      tlsHandshakeFailures: s.tlsHandshakeFailures,
      bytesIn: this.#connHost.bytesIn,
      loopLag: Math.max(...s.lags) / 1_000,
      rss: Deno.memoryUsage().rss,
      ...(this.#cluster ? { cluster: { ...this.#cluster.stats } } : {}),
    };
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
      // stop after MAX_INFLIGHT unhandled events, so what piles up stays bounded.
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
      const more = this.#queue.takeAll();
      if (more.length > 0) this.#handle(more);
      const kick = this.#toKick;
      this.#toKick = [];
      this.#startWriters(kick);
    }
  }

  /**
   * Starts the writers of `kick`, but a client written to less than the current gap ago waits
   * for the rest of it (see WRITES_PER_MS).
   */
  #startWriters(kick: Connection[]): void {
    const now = performance.now();
    this.#pace(now);
    const gap = this.#writeGap;
    if (kick.length > START_CHUNK) {
      // A write starts at once (the kernel takes it during the call), so thousands of writers
      // started together would all send the first line of a burst before the rest of it is even
      // read. Started a chunk per turn, the later ones get the whole burst in one write.
      const rest = kick.slice(START_CHUNK);
      kick = kick.slice(0, START_CHUNK);
      setTimeout(() => {
        if (!this.#stopping) this.#startWriters(rest);
      }, 0);
    }
    for (const c of kick) {
      if (c.waiting) continue;
      if (now - c.lastKick >= gap) {
        this.#start(c, now);
      } else {
        c.waiting = true;
        c.dueAt = c.lastKick + gap;
        this.#later.push(c);
      }
    }
    if (this.#later.length > 0 && this.#laterTimer === undefined) this.#armLater();
  }

  #start(c: Connection, now: number): void {
    if (c.lastKick < this.#windowAt) this.#windowClients++;
    c.lastKick = now;
    c.kick();
  }

  /** Closes the pacing window when it is over: the gap follows how many were written to. */
  #pace(now: number): void {
    if (now - this.#windowAt < PACE_WINDOW_MS) return;
    const clients = now - this.#windowAt < 2 * PACE_WINDOW_MS ? this.#windowClients : 0;
    this.#writeGap = Math.min(MAX_WRITE_GAP_MS, clients / WRITES_PER_MS);
    this.#windowAt = now;
    this.#windowClients = 0;
  }

  #armLater(): void {
    const wait = Math.max(0, this.#later[0].dueAt - performance.now());
    this.#laterTimer = setTimeout(() => {
      this.#laterTimer = undefined;
      const now = performance.now();
      this.#pace(now);
      const list = this.#later;
      let i = 0;
      for (; i < list.length && list[i].dueAt <= now + 1; i++) {
        list[i].waiting = false;
        this.#start(list[i], now);
      }
      this.#later = i === list.length ? [] : list.slice(i);
      if (this.#later.length > 0) this.#armLater();
    }, wait);
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
    hub.flush(now);
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    let backoff = 5;
    while (!this.#stopping) {
      let conn: Deno.Conn;
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
      const shell = this.#shell;
      shell.accepted.tcp = (shell.accepted.tcp ?? 0) + 1;
      this.#adopt(conn, "tcp");
    }
  }

  #tlsFailed(why: string): void {
    this.#shell.tlsHandshakeFailures++;
    if (this.#tlsErrors.first("tls", this.#now())) {
      this.#log.info("TLS handshake failed", { reason: why });
    }
  }

  /**
   * Out of descriptors: frees the spare one, accepts the waiting client, tells it the server
   * is full and closes it, then takes the spare back. Keeps a full server from spinning on the
   * same pending connection, and the client learns why instead of hanging.
   */
  async #shed(listener: Deno.Listener): Promise<boolean> {
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
      closeQuietly(conn);
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

  #adopt(conn: Deno.Conn | TlsStream | WsStream, transport: "tcp" | "tls" | "ws"): void {
    const id = this.#nextId++;
    const remote = conn.remoteAddr as Deno.NetAddr;
    if (transport === "tcp") {
      try {
        (conn as Deno.TcpConn).setNoDelay(true);
      } catch {
        // not fatal: only latency
      }
    }
    const c = new Connection(id, conn, this.#connHost, transport !== "ws");
    this.#conns.set(id, c);
    this.#queue.push({
      type: "open",
      id,
      ip: remote.hostname,
      port: remote.port,
      outbox: c.outbox,
      transport,
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleepers.add(wake);
    });
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/** A node:net listen error as the Deno error class main.ts explains (address in use, ...). */
function toDenoError(e: unknown): unknown {
  const code = (e as { code?: string }).code;
  const msg = e instanceof Error ? e.message : String(e);
  if (code === "EADDRINUSE") return new Deno.errors.AddrInUse(msg);
  if (code === "EACCES") return new Deno.errors.PermissionDenied(msg);
  if (code === "EADDRNOTAVAIL") return new Deno.errors.AddrNotAvailable(msg);
  return e;
}
