/**
 * Shared test helpers: a hub driven by a fake clock (no sockets), an in-process server on an
 * ephemeral port, and a line-oriented TCP client that can connect from any 127.x address.
 */
import net from "node:net";
import { type Config, DEFAULTS } from "../../src/ops/config.ts";
import type { ClusterIn, ClusterOut } from "../../src/cluster/bus.ts";
import { type AuditEntry, type CloseMode, Hub, type HubEvent } from "../../src/chat/hub.ts";
import type { WordFilter } from "../../src/chat/filter.ts";
import { Logger, MemoryLog } from "../../src/ops/log.ts";
import type { BanRecord } from "../../src/chat/moderation.ts";
import { Outbox } from "../../src/chat/shared_log.ts";
import { Server } from "../../src/shell/server.ts";
import { TelnetSession } from "../../src/net/telnet.ts";
import { Keeper } from "../../src/shell/keeper.ts";
import type { Store, StoreStart, StoreWrite } from "../../src/store/types.ts";

/** A config for tests: the defaults, no ban file, no store, plus the given changes. */
export function testConfig(over: Partial<Config> = {}): Config {
  return { ...DEFAULTS, banFile: "", store: "off", host: "127.0.0.1", port: 0, ...over };
}

/** Cheap scrypt parameters for tests (real ones take a good part of a second each). */
export const TEST_PASSWORD_PARAMS = "scrypt:16:1:1:16";

/** A repeatable random source, so guest nicks are stable between runs. */
export function seededRandom(seed = 42): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const decoder = new TextDecoder();

/** A hub with a fake clock; records what it asked of the shell. */
export class HubHarness {
  now = 1_700_000_000_000;
  readonly hub: Hub;
  readonly log = new MemoryLog();
  readonly outboxes = new Map<number, Outbox>();
  /** Client id → how the hub asked for it to be closed. */
  readonly closed = new Map<number, CloseMode>();
  readonly woken: number[] = [];
  /** Client id → whether the hub last asked its connection for screen-reader line mode. */
  readonly lineModes = new Map<number, boolean>();
  /** Client id → the last prompt the hub gave it. */
  readonly prompts = new Map<number, string>();
  readonly saves: BanRecord[][] = [];
  /** What the hub asked the cluster link to carry (with `node`). */
  readonly cluster: ClusterOut[] = [];
  /** What the hub asked to append to the audit log. */
  readonly audits: AuditEntry[] = [];
  /** The answers to HTTP API posts: ticket → status, message, seconds to wait. */
  readonly answers = new Map<number, { status: number; message: string; retryAfter?: number }>();
  /** What the hub asked the store to remember (with `keep`, and no store). */
  readonly kept: StoreWrite[] = [];
  /** With a store: the shell's side of it (answers are handled by {@link settle}). */
  readonly keeper?: Keeper;
  /** Answers the keeper posted, not handled yet. */
  readonly #posted: HubEvent[] = [];

  constructor(
    over: Partial<Config> = {},
    opts: {
      motd?: string[];
      bans?: BanRecord[];
      level?: Config["logLevel"];
      /** Makes the hub one of several processes, with this id. */
      node?: string;
      /** Remembers in this store (its `start` is what the hub begins with). */
      store?: Store;
      /** The word filter to start with. */
      filter?: WordFilter;
      /** What the hub begins with, when there is no store. */
      memory?: StoreStart;
      /** Records what the hub asks to remember in {@link kept} (when there is no store). */
      keep?: boolean;
    } = {},
  ) {
    const config = testConfig(over);
    const log = new Logger(opts.level ?? "debug", config.safeMode, this.log.sink);
    const keeper = opts.store
      ? new Keeper({
        store: opts.store,
        retention: config.retention,
        log,
        post: (ev) => this.#posted.push(ev),
        now: () => this.now,
        passwordParams: TEST_PASSWORD_PARAMS,
      })
      : undefined;
    this.keeper = keeper;
    this.hub = new Hub({
      config,
      log,
      effects: {
        wake: (id) => this.woken.push(id),
        close: (id, mode) => this.closed.set(id, mode),
        saveBans: (bans) => {
          this.saves.push(bans);
          keeper?.saveBans(bans);
        },
        prompt: (id, text) => this.prompts.set(id, text),
        lineMode: (id, on) => this.lineModes.set(id, on),
        audit: (entry) => this.audits.push(entry),
        posted: (ticket, status, message, retryAfter) =>
          this.answers.set(ticket, { status, message, retryAfter }),
        ...(opts.keep && !keeper ? { remember: (w: StoreWrite) => this.kept.push(w) } : {}),
        ...(opts.node ? { cluster: (out: ClusterOut) => this.cluster.push(out) } : {}),
        ...(keeper ? { remember: (w) => keeper.remember(w), ask: (work) => keeper.ask(work) } : {}),
      },
      node: opts.node,
      motd: opts.motd,
      bans: opts.bans ?? opts.store?.start.bans,
      memory: opts.memory ?? opts.store?.start,
      filter: opts.filter,
      random: seededRandom(),
      clock: () => "12:00",
    });
  }

  /** Applies one event, then flushes as the server does after each batch. */
  handle(ev: HubEvent): void {
    this.hub.handle(ev, this.now);
    this.hub.flush(this.now);
    this.keeper?.flush();
  }

  /** Waits for the work the hub handed the shell (passwords, reads) and handles the answers. */
  async settle(): Promise<void> {
    while (true) {
      await this.keeper?.settled();
      const ev = this.#posted.shift();
      if (!ev) return;
      this.handle(ev);
    }
  }

  /** A new connection from `ip` (on the port of `transport`); returns what it was told. */
  open(id: number, ip = "10.0.0.1", port = 40_000 + id, transport?: string): string[] {
    const outbox = new Outbox();
    this.outboxes.set(id, outbox);
    this.handle({ type: "open", id, ip, port, outbox, ...(transport ? { transport } : {}) });
    return this.read(id);
  }

  /**
   * An IRC client from `ip` that registers as `nick` (NICK, USER) and joins `rooms`; returns
   * what it was told (the welcome numerics, the JOIN replies).
   */
  irc(id: number, nick: string, rooms: string[] = [], ip = "10.0.0.1"): string[] {
    this.open(id, ip, 40_000 + id, "irc");
    this.send(id, `NICK ${nick}`, `USER ${nick} 0 * :${nick} here`);
    if (rooms.length > 0) this.send(id, `JOIN ${rooms.join(",")}`);
    return this.read(id);
  }

  /** Lines typed by client `id`, all arriving (read together) at the current time. */
  send(id: number, ...lines: string[]): void {
    this.input(id, lines, false);
  }

  /**
   * Raw input event (partial lines, over-long lines, telnet floods), read at `at` (default
   * now; the hub may get to it later than that).
   */
  input(
    id: number,
    lines: string[],
    partial: boolean,
    overlong = 0,
    opts: { at?: number; from?: number; bytes?: number; telnetFloods?: number } = {},
  ): void {
    const bytes = opts.bytes ??
      lines.reduce((n, l) => n + new TextEncoder().encode(l).length + 2, 0);
    this.handle({
      type: "input",
      id,
      at: opts.at ?? this.now,
      ...(opts.from !== undefined ? { from: opts.from } : {}),
      bytes,
      lines,
      partial,
      overlong,
      telnetFloods: opts.telnetFloods ?? 0,
    });
  }

  /** Something from the cluster link. */
  fromCluster(msg: ClusterIn): void {
    this.handle({ type: "cluster", msg });
  }

  /** The client hung up. */
  hangUp(id: number, reason = "connection closed"): void {
    this.handle({ type: "closed", id, reason });
  }

  /** Moves the fake clock and lets the hub's timers run. */
  advance(ms: number): void {
    this.now += ms;
    this.handle({ type: "tick" });
  }

  /** Takes and returns every line waiting in client `id`'s outbox. */
  read(id: number): string[] {
    const ob = this.outboxes.get(id)!;
    const parts: string[] = [];
    for (let b = ob.take(); b; b = ob.take()) parts.push(decoder.decode(b));
    ob.armed = false;
    const text = parts.join("");
    if (text === "") return [];
    if (!text.endsWith("\r\n")) throw new Error(`output does not end with CRLF: ${text}`);
    return text.slice(0, -2).split("\r\n");
  }

  /** Opens clients 1..n and empties their outboxes; returns their nicks. */
  crowd(n: number, ip = (i: number) => `10.0.0.${i}`): string[] {
    const nicks: string[] = [];
    for (let i = 1; i <= n; i++) {
      this.open(i, ip(i));
      nicks.push(this.hub.nickOf(i)!);
    }
    for (let i = 1; i <= n; i++) this.read(i);
    return nicks;
  }
}

/** A server running in-process on an ephemeral loopback port, logging to memory. */
export interface TestServer {
  server: Server;
  port: number;
  log: MemoryLog;
  stop(): Promise<void>;
}

/** Starts a server with test defaults plus `over`. */
export function startServer(
  over: Partial<Config> = {},
  opts: { motd?: string[]; bans?: BanRecord[] } = {},
): TestServer {
  const config = testConfig({ logLevel: "debug", ...over });
  const log = new MemoryLog();
  const server = new Server({
    config,
    log: new Logger(config.logLevel, config.safeMode, log.sink),
    motd: opts.motd,
    bans: opts.bans,
    random: seededRandom(),
  });
  const addr = server.listen();
  return { server, port: addr.port, log, stop: () => server.shutdown() };
}

/** Resolves when `check` is true, polling; rejects with `what` after `ms`. */
export async function until(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A telnet-like test client: collects the lines the server sends. */
export class TestClient {
  readonly socket: net.Socket;
  readonly lines: string[] = [];
  /** Bytes received, for checks on raw output. */
  raw = "";
  #decoder = new TextDecoder("utf-8", { fatal: true });
  #pending = "";
  ended = false;
  readonly closed: Promise<void>;

  /** Telnet command bytes the server sent (a probe, answers), removed from `raw`. */
  telnetBytes = 0;
  /** 0xFF bytes received (IAC: a raw client must never get one). */
  ffBytes = 0;
  readonly #telnet = new TelnetSession({ binary: false });

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      for (let i = chunk.indexOf(0xff); i >= 0; i = chunk.indexOf(0xff, i + 1)) this.ffBytes++;
      const b = this.#telnet.feed(new Uint8Array(chunk));
      this.telnetBytes += this.#telnet.removed;
      // After its telnet probe the server wipes the row (`\r\e[K`) for clients that are no
      // terminal; that is not part of any line.
      const text = this.#decoder.decode(b, { stream: true }).replaceAll("\r\x1b[K", "");
      this.raw += text;
      this.#pending += text;
      let i;
      while ((i = this.#pending.indexOf("\r\n")) >= 0) {
        this.lines.push(this.#pending.slice(0, i));
        this.#pending = this.#pending.slice(i + 2);
      }
    });
    socket.on("error", () => {});
    this.closed = new Promise((resolve) =>
      socket.on("close", () => {
        this.ended = true;
        resolve();
      })
    );
  }

  /** Connects to the server at `port`, from `from` (any 127.x address). */
  static connect(port: number, from = "127.0.0.1"): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port, localAddress: from });
      s.once("connect", () => resolve(new TestClient(s)));
      s.once("error", reject);
    });
  }

  /** Connects and waits for the welcome banner; returns the client and its guest nick. */
  static async join(port: number, from = "127.0.0.1"): Promise<TestClient> {
    const c = await TestClient.connect(port, from);
    await c.waitFor((l) => l.startsWith("Type /help"));
    return c;
  }

  /** The nick the welcome banner gave this client. */
  get nick(): string {
    const m = this.lines.map((l) => /You are (guest-\d+) in #/.exec(l)).find(Boolean);
    if (!m) throw new Error("no welcome banner yet");
    return m[1];
  }

  /**
   * Sends a line ending in LF, as nc does, so the server takes this for a plain line-mode
   * client and never probes it for telnet.
   */
  send(text: string): Promise<void> {
    return this.write(text + "\n");
  }

  /** Sends raw bytes or text. */
  write(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed || !this.socket.writable) return resolve();
      this.socket.write(data, () => resolve());
    });
  }

  /** Waits for a line matching `match` (a substring or a test); returns it. */
  async waitFor(match: string | ((line: string) => boolean), ms = 5_000): Promise<string> {
    const test = typeof match === "string" ? (l: string) => l.includes(match) : match;
    let found: string | undefined;
    await until(() => (found = this.lines.find(test)) !== undefined, `line ${match}`, ms);
    return found!;
  }

  /** Waits until the server has closed the connection. */
  async waitClosed(ms = 5_000): Promise<void> {
    await until(() => this.ended || this.socket.readableEnded, "the server to close", ms);
  }

  /** Closes the connection and waits until it is gone. */
  async close(): Promise<void> {
    if (!this.ended) this.socket.destroy();
    await this.closed;
  }
}

/** Two fresh clients can still chat in both directions. */
export async function assertRoomWorks(port: number, from = "127.0.0.1"): Promise<void> {
  const a = await TestClient.join(port, from);
  const b = await TestClient.join(port, from);
  try {
    const word = `ping-${crypto.randomUUID()}`;
    await a.send(word);
    await b.waitFor(`<${a.nick}> ${word}`);
    await b.send(word + "-back");
    await a.waitFor(`<${b.nick}> ${word}-back`);
  } finally {
    await a.close();
    await b.close();
  }
}
