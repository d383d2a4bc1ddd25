/**
 * The server: accepts connections (plain TCP, TLS and the web page: the same room, the same
 * rules), runs the hub coroutine over the central queue, carries out the hub's effects (start
 * writers, close sockets, save bans), ticks timers, serves the metrics page and shuts down
 * gracefully. Every listener is served by one accept loop that survives running out of
 * descriptors, and every accepted socket is a connection the hub admits or refuses at once.
 */
import { BanStore } from "../ops/ban_store.ts";
import { ClusterLink } from "../cluster/link.ts";
import type { Config } from "../ops/config.ts";
import { type ByteStream, Connection, type ConnectionHost } from "../net/connection.ts";
import { response } from "../net/http.ts";
import { SECRET_ARGS, SECRET_LINE, secretStart } from "../chat/commands/mod.ts";
import {
  type AuditEntry,
  type CloseMode,
  Hub,
  type HubEffects,
  type HubEvent,
} from "../chat/hub.ts";
import type { WordFilter } from "../chat/filter.ts";
import { type Logger, LogThrottle } from "../ops/log.ts";
import { API_OUTCOMES, type ShellSnapshot } from "../ops/metrics.ts";
import { Acceptor, closeQuietly } from "./accept.ts";
import type { AuditLog } from "./audit_log.ts";
import { busRules } from "./bus_rules.ts";
import { MetricsSite } from "./metrics_site.ts";
import { WritePacer } from "./pacing.ts";
import { BEAT_MS, StallClock } from "./stall.ts";
import type { BanRecord } from "../chat/moderation.ts";
import { AsyncQueue } from "../lib/queue.ts";
import { Outbox } from "../chat/shared_log.ts";
import { type TlsFiles, TlsPort, type TlsStream } from "../net/tls.ts";
import { MemoryStore } from "../store/memory.ts";
import type { Store } from "../store/types.ts";
import { Keeper } from "./keeper.ts";
import { passwordQueue } from "./passwords.ts";
import { HttpConnection } from "../net/http_connection.ts";
import {
  API_WAIT_MS,
  type ApiRequest,
  type HttpHost,
  type HttpSite,
  type HttpTimeouts,
  type PostAnswer,
  WebSite,
} from "../net/web.ts";

export type { TlsFiles } from "../net/tls.ts";

/** What a server is built from. */
export interface ServerOptions {
  config: Config;
  log: Logger;
  motd?: readonly string[];
  bans?: readonly BanRecord[];
  /**
   * Where bans are saved instead of the store (with --store off, or --redis); none: in the
   * store.
   */
  banStore?: BanStore;
  /** Bans are kept in memory only (--ban-file ""), not in the store. */
  bansInMemory?: boolean;
  /** Where history, accounts and kept rooms are kept (none: in memory, --store off). */
  store?: Store;
  /** Where room lines are kept instead of `store` (--retention 0: in memory). */
  lines?: Store;
  /** The scrypt parameters of new passwords (tests pass cheap ones). */
  passwordParams?: string;
  /** The TLS certificate chain and key (PEM), when --tls-port is on. */
  tls?: TlsFiles;
  /** The clock, epoch ms (tests may pass their own). */
  now?: () => number;
  /** The web port's header and idle timeouts (tests shorten them). */
  httpTimeouts?: HttpTimeouts;
  random?: () => number;
  /** The word filter (--filter-file) to start with; none: nothing is masked. */
  filter?: WordFilter | null;
  /** Where operator actions are appended (audit.jsonl); none: only the log hears of them. */
  auditLog?: AuditLog;
  /** The latest entries of the audit log, oldest first (see readAuditTail). */
  audit?: readonly AuditEntry[];
}

/** Redis could not be reached (or refused us) at start, with --redis. */
export class ClusterError extends Error {
  override name = "ClusterError";
}

/** A listener that could not be bound: which flag, where, and the runtime's error. */
export class ListenError extends Error {
  override name = "ListenError";
  constructor(
    readonly flag:
      | "--port"
      | "--tls-port"
      | "--metrics-port"
      | "--web-port"
      | "--irc-port"
      | "--irc-tls-port",
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
 * Connections the kernel holds for a port before they are accepted (capped by the system's
 * net.core.somaxconn): after a restart a few thousand clients reconnect at once, and Deno's
 * default of 511 lost a fifth of them.
 */
export const BACKLOG = 4096;
/** Connections the metrics port serves at once (it is for a scraper and a health check). */
export const MAX_METRICS_CONNECTIONS = 64;
/** What an accept loop hands a new socket to. */
type Adopt = (conn: Deno.TcpConn) => void;

/**
 * What the server keeps per socket: a chat connection, or a web connection before its
 * upgrade. Both are closed by the hub and paced the same way.
 */
interface Peer {
  close(mode: CloseMode): void;
  kick(): void;
  setPrompt(text: string): void;
  setLineOnly?(on: boolean): void;
  processed?(): void;
  admitted?(): void;
  readonly done: Promise<void>;
  lastKick: number;
  waiting: boolean;
  dueAt: number;
}

const FULL_LINE = new TextEncoder().encode("Server is full. Please try again later.\r\n");
const FULL_IRC = new TextEncoder().encode("ERROR :Server is full. Please try again later.\r\n");
const FULL_HTTP = response(
  503,
  { "content-type": "text/plain", connection: "close" },
  "Server is full. Please try again later.\n",
);

/** A running chat server. */
export class Server {
  readonly config: Config;
  readonly #log: Logger;
  readonly #queue = new AsyncQueue<HubEvent>();
  readonly #hub: Hub;
  readonly #conns = new Map<number, Peer>();
  readonly #banStore?: BanStore;
  readonly #keeper: Keeper;
  readonly #auditLog?: AuditLog;
  readonly #now: () => number;
  /** Clients whose outbox got bytes in the current batch: their writers start after it. */
  #toKick: Peer[] = [];
  readonly #pacer = new WritePacer(() => this.#stopping);
  #listener: Deno.TcpListener | null = null;
  #webListener: Deno.TcpListener | null = null;
  #metricsListener: Deno.TcpListener | null = null;
  #tlsListener: Deno.TcpListener | null = null;
  #tlsPort: TlsPort | null = null;
  #ircListener: Deno.TcpListener | null = null;
  #ircTlsListener: Deno.TcpListener | null = null;
  #ircTlsPort: TlsPort | null = null;
  #tls: TlsFiles | undefined;
  #site: WebSite | null = null;
  #metricsSite: MetricsSite | null = null;
  #metricsOpen = 0;
  readonly #httpTimeouts: HttpTimeouts | undefined;
  #acceptor: Acceptor | null = null;
  #node: string | null = null;
  #cluster: ClusterLink | null = null;
  #nextId = 1;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #lagTimer: ReturnType<typeof setInterval> | undefined;
  #beatTimer: ReturnType<typeof setInterval> | undefined;
  readonly #stalls: StallClock;
  #stopping = false;
  #hubDone: Promise<void> = Promise.resolve();
  readonly #accepting: Promise<void>[] = [];
  #stopped: Promise<void> | null = null;
  readonly #tlsErrors = new LogThrottle(60_000);
  /** HTTP API posts waiting for the hub's answer: ticket → what answers the request. */
  readonly #posts = new Map<number, (a: PostAnswer) => void>();
  #nextPost = 1;
  /** What the shell counts for the metrics page (the hub counts the rest). */
  readonly #counts = {
    accepted: {} as Record<string, number>,
    tlsHandshakeFailures: 0,
    /** Event-loop delays of the last 10 s (sampled every 250 ms), in ms. */
    lags: new Array<number>(40).fill(0),
    lagIndex: 0,
    /** When the lag timer last fired (performance.now), 0 before the first time. */
    lagAt: 0,
    /** HTTP API posts answered, by outcome (see API_OUTCOMES). */
    apiPosts: {} as Record<string, number>,
  };
  /** Shared by every connection (one object, not a closure per socket: idle memory counts). */
  readonly #connHost: ConnectionHost = {
    post: (ev) => this.#queue.push(ev),
    ended: (id) => this.#conns.delete(id),
    now: () => this.#now(),
    earliest: (since, now) => this.#stalls.earliest(since, now),
    maxLine: 0,
    maxInputRate: 0,
    bytesIn: 0,
    complete: (id, word, atLineStart, max) => this.#hub.complete(id, word, atLineStart, max),
    secret: (line) => SECRET_LINE.test(line),
    secretFrom: (line) => secretStart(line),
  };
  /** What web connections ask of the server. */
  readonly #httpHost: HttpHost = {
    admit: (id, ip, port, outbox) =>
      this.#queue.push({ type: "open", id, ip, port, outbox, transport: "http", pending: true }),
    upgrade: (id, stream, outbox) => {
      this.#count("ws");
      this.#conns.set(id, new Connection(id, stream, this.#connHost, false, outbox));
      this.#queue.push({ type: "start", id, transport: "ws" });
    },
    ended: (id, reason) => {
      this.#conns.delete(id);
      if (reason !== null) this.#queue.push({ type: "closed", id, reason });
    },
    post: (ip, post) => this.#post(ip, post),
  };

  constructor(opts: ServerOptions) {
    this.config = opts.config;
    this.#log = opts.log;
    this.#banStore = opts.banStore;
    this.#auditLog = opts.auditLog;
    this.#now = opts.now ?? Date.now;
    this.#stalls = new StallClock(this.#now());
    this.#httpTimeouts = opts.httpTimeouts;
    this.#tls = opts.tls;
    this.#connHost.maxLine = opts.config.maxLine;
    this.#connHost.maxInputRate = opts.config.maxInputRate;
    const store = opts.store ?? new MemoryStore();
    const keeper = this.#keeper = new Keeper({
      store,
      lines: opts.lines,
      retention: opts.config.retention,
      log: opts.log,
      post: (ev) => this.#queue.push(ev),
      now: this.#now,
      passwordParams: opts.passwordParams,
    });
    const effects: HubEffects = {
      wake: (id) => {
        const c = this.#conns.get(id);
        if (c) this.#toKick.push(c);
      },
      close: (id, mode) => this.#conns.get(id)?.close(mode),
      saveBans: (bans) => {
        if (this.#banStore) this.#banStore.save(bans);
        else if (!opts.bansInMemory) keeper.saveBans(bans);
      },
      remember: (w) => keeper.remember(w),
      ask: (work) => keeper.ask(work),
      prompt: (id, text) => this.#conns.get(id)?.setPrompt(text),
      lineMode: (id, on) => this.#conns.get(id)?.setLineOnly?.(on),
      admitted: (id) => this.#conns.get(id)?.admitted?.(),
      posted: (ticket, status, message, retryAfter) =>
        this.#posts.get(ticket)?.({ status, message, retryAfter }),
    };
    const auditLog = opts.auditLog;
    if (auditLog) effects.audit = (entry) => auditLog.append(entry);
    if (opts.config.redis) {
      this.#node = crypto.randomUUID().slice(0, 8);
      effects.cluster = (out) => this.#cluster?.send(out);
    }
    this.#hub = new Hub({
      config: opts.config,
      log: opts.log,
      effects,
      motd: opts.motd,
      bans: opts.bans ?? store.start.bans,
      memory: store.start,
      random: opts.random,
      node: this.#node ?? undefined,
      filter: opts.filter ?? null,
      audit: opts.audit,
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
        rules: busRules(cfg.maxLine),
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
        this.#listener = this.#bind("--port", cfg.host, cfg.port, cfg.reusePort);
        this.#logListening("listening", this.#listener.addr);
      }
      if (cfg.ircPort !== -1) {
        this.#ircListener = this.#bind("--irc-port", cfg.host, cfg.ircPort, cfg.reusePort);
        this.#logListening("listening for IRC", this.#ircListener.addr);
      }
      if (cfg.webPort !== -1) {
        this.#webListener = this.#bind("--web-port", cfg.host, cfg.webPort, cfg.reusePort);
        this.#site = new WebSite({
          name: cfg.name,
          trustProxy: cfg.trustProxy,
          origins: cfg.webOrigins,
          hosts: cfg.webHosts,
          maxLine: cfg.maxLine,
          timeouts: this.#httpTimeouts,
          secretLine: SECRET_LINE,
          secretArgs: SECRET_ARGS,
          apiToken: cfg.apiToken,
        }, this.#log);
        this.#logListening("listening for the web page", this.#webListener.addr);
        if (cfg.apiToken) this.#log.info("HTTP API on: POST /api/rooms/NAME/messages");
      } else if (cfg.apiToken) {
        this.#log.warn("--api-token is set but --web-port is off: the HTTP API is not served");
      }
      if (cfg.metricsPort !== -1) {
        this.#metricsListener = this.#bind("--metrics-port", cfg.metricsHost, cfg.metricsPort);
        this.#metricsSite = new MetricsSite({
          snapshot: () => ({ hub: this.#hub.snapshot(), shell: this.#shellSnapshot() }),
          healthy: () => !this.#stopping,
          problems: () => this.#problems(),
        }, this.#log);
        const a = this.#metricsListener.addr;
        this.#log.info("metrics listening", { host: a.hostname, port: a.port });
        this.#lagTimer = setInterval(() => this.#sampleLag(), 250);
      }
    } catch (e) {
      this.#closeListeners();
      throw e;
    }
    const acceptor = this.#acceptor = new Acceptor(this.#log, this.#now, () => this.#conns.size);
    this.#hubDone = this.#runHub();
    const accept = (l: Deno.TcpListener | null, full: Uint8Array, adopt: Adopt) => {
      if (l) this.#accepting.push(acceptor.loop(l, full, adopt));
    };
    accept(this.#listener, FULL_LINE, (c) => this.#adoptTcp(c));
    accept(this.#ircListener, FULL_IRC, (c) => this.#adoptIrc(c));
    accept(this.#webListener, FULL_HTTP, (c) => this.#adoptWeb(c));
    accept(this.#metricsListener, FULL_HTTP, (c) => this.#serveMetrics(c));
    this.#ticker = setInterval(() => this.#tick(), tickInterval(this.config));
    this.#keeper.startPruning();
    if (cfg.rateLimit > 0) {
      this.#beatTimer = setInterval(() => this.#stalls.beat(this.#now()), BEAT_MS);
    }
    return this.#listener?.addr as Deno.NetAddr;
  }

  /** Binds one TCP port for `flag`, or throws {@link ListenError} naming it. */
  #bind(
    flag: ListenError["flag"],
    hostname: string,
    port: number,
    reusePort = false,
  ): Deno.TcpListener {
    try {
      return Deno.listen({
        hostname,
        port,
        tcpBacklog: BACKLOG,
        ...(reusePort ? { reusePort: true } : {}),
      });
    } catch (e) {
      throw new ListenError(flag, hostname, port, e);
    }
  }

  /**
   * Binds the TLS port (when --tls-port is on, after {@link listen}): the same room and rules as
   * the plain port. Rejects with {@link ListenError} when it cannot be bound.
   */
  async listenTls(): Promise<Deno.NetAddr | undefined> {
    const cfg = this.config;
    if (this.#stopping) return undefined; // stopped while starting: nothing more to open
    if (cfg.ircTlsPort !== -1 && !this.#ircTlsListener) this.#listenIrcTls();
    if (cfg.tlsPort === -1 || this.#tlsListener) return this.#tlsListener?.addr;
    const listener = this.#bind("--tls-port", cfg.host, cfg.tlsPort);
    this.#tlsListener = listener;
    const port = this.#tlsPort = new TlsPort(this.#tls!, cfg.tlsHandshakeTimeout, {
      accepted: () => this.#count("tls"),
      failed: (why) => this.#tlsFailed(why),
      connection: (stream) => this.#adoptTls(stream),
    }, cfg.ipv6Prefix);
    this.#accepting.push(this.#acceptor!.loop(listener, new Uint8Array(0), (c) => port.accept(c)));
    this.#logListening("listening for TLS", listener.addr);
    return await Promise.resolve(listener.addr);
  }

  /** Binds the IRC-over-TLS port: IRC clients, after a TLS handshake like the TLS port's. */
  #listenIrcTls(): void {
    const cfg = this.config;
    const listener = this.#bind("--irc-tls-port", cfg.host, cfg.ircTlsPort);
    this.#ircTlsListener = listener;
    const port = this.#ircTlsPort = new TlsPort(this.#tls!, cfg.tlsHandshakeTimeout, {
      accepted: () => this.#count("ircs"),
      failed: (why) => this.#tlsFailed(why),
      connection: (stream) => {
        const id = this.#adopt(stream, "ircs", true, "irc");
        stream.secured.then(() => this.#queue.push({ type: "start", id }), () => {});
      },
    }, cfg.ipv6Prefix);
    this.#accepting.push(this.#acceptor!.loop(listener, FULL_IRC, (c) => port.accept(c)));
    this.#logListening("listening for IRC over TLS", listener.addr);
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
    return this.#tlsListener?.addr;
  }

  /** The IRC address (after {@link listen}, when --irc-port is on). */
  get ircAddr(): Deno.NetAddr | undefined {
    return this.#ircListener?.addr;
  }

  /** The IRC-over-TLS address (after {@link listenTls}, when --irc-tls-port is on). */
  get ircTlsAddr(): Deno.NetAddr | undefined {
    return this.#ircTlsListener?.addr;
  }

  /** The web page's address (after {@link listen}, when --web-port is on). */
  get webAddr(): Deno.NetAddr | undefined {
    return this.#webListener?.addr;
  }

  /** The metrics address (after {@link listen}, when --metrics-port is on). */
  get metricsAddr(): Deno.NetAddr | undefined {
    return this.#metricsListener?.addr;
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
    const ports = [this.#tlsPort, this.#ircTlsPort].filter((p) => p !== null);
    if (ports.length === 0 || this.#stopping) return "TLS is off";
    // Both TLS ports (chat and IRC) serve the same pair: checked once, then taken by both.
    const problem = ports[0].reload(files);
    if (problem) return problem;
    for (const port of ports.slice(1)) port.reload(files);
    this.#tls = files;
    return undefined;
  }

  /**
   * Masks what people say with a new word filter (SIGHUP reread --filter-file); null: no
   * filter. The hub takes it in its turn, after the events already queued.
   */
  reloadFilter(filter: WordFilter | null): void {
    if (this.#stopping) return;
    this.#queue.push({ type: "filter", filter });
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
    this.#queue.push({ type: "shutdown" });
    this.#queue.close();
    await this.#hubDone;
    // API posts the hub will never answer now.
    for (const done of [...this.#posts.values()]) {
      done({ status: 503, message: "the server is shutting down", retryAfter: 5 });
    }
    // The hub's last operator actions are written (it reports them after each batch).
    await this.#auditLog?.close();
    // What the room said up to the end is written, then the store is closed.
    await this.#keeper.close();
    // The others hear that everyone here left, then that this process is gone.
    await this.#cluster?.close();
    // Whoever was waiting for a turn to write was closed with a flush, which writes anyway.
    this.#pacer.stop();
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
    clearInterval(this.#beatTimer);
    this.#log.info("stopped");
  }

  #closeListeners(): void {
    this.#tlsPort?.close();
    this.#ircTlsPort?.close();
    // The web port stops taking requests; the WebSockets it opened are clients like any other.
    const listeners = [
      this.#listener,
      this.#webListener,
      this.#metricsListener,
      this.#tlsListener,
      this.#ircListener,
      this.#ircTlsListener,
    ];
    for (const l of listeners) {
      try {
        l?.close();
      } catch {
        // already closed
      }
    }
    this.#acceptor?.stop();
  }

  #tick(): void {
    this.#queue.push({ type: "tick" });
    const now = this.#now();
    for (const { count } of this.#tlsErrors.sweep(now)) {
      this.#log.warn("more TLS handshakes failed", { times: count, within: "60s" });
    }
    this.#site?.sweep(now, performance.now());
  }

  /** One more connection accepted on `transport`'s port. */
  #count(transport: string): void {
    const a = this.#counts.accepted;
    a[transport] = (a[transport] ?? 0) + 1;
  }

  /** Measures how late a 250 ms timer fires: the event loop's delay. */
  #sampleLag(): void {
    const now = performance.now();
    const s = this.#counts;
    const last = s.lagAt;
    s.lagAt = now;
    if (last === 0) return;
    s.lags[s.lagIndex] = Math.max(0, now - last - 250);
    s.lagIndex = (s.lagIndex + 1) % s.lags.length;
  }

  #shellSnapshot(): ShellSnapshot {
    const s = this.#counts;
    return {
      accepted: { ...s.accepted },
      tlsHandshakeFailures: s.tlsHandshakeFailures,
      bytesIn: this.#connHost.bytesIn,
      loopLag: Math.max(...s.lags) / 1_000,
      rss: Deno.memoryUsage().rss,
      store: { ...this.#keeper.health, pruned: this.#keeper.pruned },
      passwordsWaiting: passwordQueue(),
      ...(this.#auditLog ? { auditWriteFailures: this.#auditLog.failures } : {}),
      apiPosts: { ...s.apiPosts },
      ...(this.#cluster ? { cluster: { ...this.#cluster.stats } } : {}),
    };
  }

  /** What /healthz reports besides being up: a store that is failing. */
  #problems(): string[] {
    const h = this.#keeper.health;
    if (h.ok) return [];
    return [`store failing: ${h.error || "unknown error"}; ${h.pending} writes waiting`];
  }

  /** The store's side of the server (tests wait on it). */
  get keeper(): Keeper {
    return this.#keeper;
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
      this.#pacer.start(kick);
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
      if (ev.type === "input") this.#conns.get(ev.id)?.processed?.();
    }
    hub.flush(now);
    this.#keeper.flush();
  }

  #tlsFailed(why: string): void {
    this.#counts.tlsHandshakeFailures++;
    if (this.#tlsErrors.first("tls", this.#now())) {
      this.#log.info("TLS handshake failed", { reason: why });
    }
  }

  /** A plain TCP client: a chat connection from the start. */
  #adoptTcp(conn: Deno.TcpConn): void {
    this.#count("tcp");
    this.#adopt(conn, "tcp", false);
  }

  /** An IRC client on the IRC port. */
  #adoptIrc(conn: Deno.TcpConn): void {
    this.#count("irc");
    this.#adopt(conn, "irc", false, "irc");
  }

  /**
   * A TLS client, before its handshake: the hub admits or refuses it at once (a refused one is
   * closed before any TLS work), and it becomes a chat connection once the handshake is done.
   */
  #adoptTls(stream: TlsStream): void {
    const id = this.#adopt(stream, "tls", true);
    stream.secured.then(() => this.#queue.push({ type: "start", id }), () => {});
  }

  /** A web port socket: HTTP until it upgrades to a WebSocket (see HttpHost). */
  #adoptWeb(conn: Deno.TcpConn): void {
    this.#count("http");
    const id = this.#nextId++;
    this.#conns.set(id, new HttpConnection(id, conn, this.#site!, this.#httpHost, new Outbox()));
  }

  /**
   * An HTTP API post (see src/chat/api_post.ts): given to the hub with a ticket; resolves with
   * the hub's answer, or a 503 when it does not come within {@link API_WAIT_MS}.
   */
  #post(ip: string, post: ApiRequest): Promise<PostAnswer> {
    return new Promise((resolve) => {
      const ticket = this.#nextPost++;
      const done = (a: PostAnswer) => {
        clearTimeout(timer);
        this.#posts.delete(ticket);
        const counts = this.#counts.apiPosts;
        const outcome = API_OUTCOMES[a.status] ?? "other";
        counts[outcome] = (counts[outcome] ?? 0) + 1;
        resolve(a);
      };
      const timer = setTimeout(
        () => done({ status: 503, message: "the server is busy: try again", retryAfter: 1 }),
        API_WAIT_MS,
      );
      this.#posts.set(ticket, done);
      if (!this.#queue.push({ type: "post", ticket, ip, ...post })) {
        done({ status: 503, message: "the server is shutting down", retryAfter: 5 });
      }
    });
  }

  /** A metrics scraper or health check: answered and closed, never a chat connection. */
  #serveMetrics(conn: Deno.TcpConn): void {
    if (this.#metricsOpen >= MAX_METRICS_CONNECTIONS) {
      void conn.write(FULL_HTTP).catch(() => 0).finally(() => closeQuietly(conn));
      return;
    }
    this.#metricsOpen++;
    const done = () => this.#metricsOpen--;
    const host: HttpHost = { admit: () => {}, upgrade: () => {}, ended: done };
    new HttpConnection(0, conn, this.#metricsSite as HttpSite, host, new Outbox(), false);
  }

  #adopt(
    conn: ByteStream & { remoteAddr: Deno.Addr },
    transport: string,
    pending: boolean,
    speaks: true | "irc" = true,
  ): number {
    const id = this.#nextId++;
    const remote = conn.remoteAddr as Deno.NetAddr;
    const c = new Connection(id, conn, this.#connHost, speaks, new Outbox());
    this.#conns.set(id, c);
    this.#queue.push({
      type: "open",
      id,
      ip: remote.hostname,
      port: remote.port,
      outbox: c.outbox,
      transport,
      pending,
    });
    return id;
  }
}
