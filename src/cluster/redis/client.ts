/**
 * A Redis client for running several Shat processes over one Redis: a pipelining command client
 * ({@link RedisClient}) and a pub/sub subscriber on its own connection ({@link RedisSubscriber}).
 *
 * Both reconnect on their own after any loss, with capped, jittered exponential backoff, and say
 * so through callbacks: pub/sub is at most once (a lagging subscriber is cut off; messages sent
 * while it is away are gone), so the caller must learn of every gap to look for what it missed.
 *
 * Policies (each a {@link RedisOptions} field):
 * - Commands are pipelined: encoded at once into one buffer, written once per event-loop turn,
 *   replies matched in order.
 * - A command with no reply within `commandTimeoutMs` is rejected and the connection is dropped
 *   and re-made, since a reply that never came leaves the stream out of step.
 * - At most `maxPending` commands wait at once; past that a command is rejected at once.
 * - While reconnecting, commands wait (by default; `whenDisconnected: "fail"` rejects them at
 *   once) for at most `commandTimeoutMs`. Commands already sent when a connection dies are
 *   rejected: Redis may or may not have run them, so they are never silently sent twice.
 */
import {
  type RedisArg,
  RedisError,
  RespParser,
  RespProtocolError,
  type RespValue,
  RespWriter,
} from "./resp.ts";

import { describeError } from "../../lib/errors.ts";
export { type RedisArg, RedisError, type RespValue } from "./resp.ts";

import { endpointAddress, parseRedisUrl, type RedisEndpoint } from "./url.ts";
export { endpointAddress, parseRedisUrl, type RedisEndpoint } from "./url.ts";

/**
 * The pause before reconnect attempt `attempt` (0 for the first): `minMs` doubled per attempt,
 * capped at `maxMs`, then "equal jitter" (a random point in its upper half) so that many
 * processes cut off by one Redis restart do not all come back in the same millisecond.
 */
export function backoffDelay(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + random() * (base / 2));
}

/** Why a client-side failure happened, for callers that react differently to each. */
export type RedisClientErrorKind =
  /** The initial connect could not reach Redis (refused, DNS, TLS, no reply). */
  | "unreachable"
  /** Redis refused the connection setup (AUTH, SELECT, SUBSCRIBE). */
  | "rejected"
  /** The connection died after the command was sent: it may or may not have run. */
  | "disconnected"
  /** Reconnecting with `whenDisconnected: "fail"`: the command was not sent. */
  | "unavailable"
  /** No reply (or no connection) within `commandTimeoutMs`. */
  | "timeout"
  /** `maxPending` commands were already waiting: the command was not sent. */
  | "queue-full"
  /** The client was closed. */
  | "closed";

/** A failure on the client's side (as opposed to an error reply, which is a RedisError). */
export class RedisClientError extends Error {
  /** What went wrong; the message says it in one line for people. */
  readonly kind: RedisClientErrorKind;

  constructor(kind: RedisClientErrorKind, message: string) {
    super(message);
    this.name = "RedisClientError";
    this.kind = kind;
  }
}

/** What a reconnect callback is told. */
export interface ReconnectInfo {
  /** Why the previous connection was lost (as passed to onDisconnect). */
  reason: string;
  /** Attempts this took, counting the one that succeeded. */
  attempts: number;
  /** From the loss to the new connection being ready. */
  downtimeMs: number;
}

/** What a failed reconnect attempt callback is told. */
export interface ReconnectFailure {
  reason: string;
  attempt: number;
  /** The pause before the next attempt. */
  retryInMs: number;
}

/** Connection settings and lifecycle callbacks, shared by the client and the subscriber. */
export interface RedisOptions {
  /** Reply deadline per command; 0 disables. Default 5000. */
  commandTimeoutMs?: number;
  /** TCP connect deadline. Default 5000. */
  connectTimeoutMs?: number;
  /** Commands in flight plus waiting before new ones are rejected. Default 10000. */
  maxPending?: number;
  /** Commands issued while reconnecting: wait (bounded by the timeout) or fail at once. */
  whenDisconnected?: "wait" | "fail";
  /** First reconnect pause (before jitter). Default 50. */
  reconnectMinMs?: number;
  /** Longest reconnect pause (before jitter). Default 3000. */
  reconnectMaxMs?: number;
  /** PING an idle connection this often so a silently dead one is noticed; 0 disables. */
  pingIntervalMs?: number;
  /** Extra PEM root certificates for `rediss://` (e.g. a private CA). */
  caCerts?: string[];
  /** The first connection is ready (called once, just before connect() resolves). */
  onConnect?: () => void;
  /** An established connection was lost; reconnecting starts. Not called for close(). */
  onDisconnect?: (reason: string) => void;
  /** A new connection is ready after a loss (for a subscriber: re-subscribed). */
  onReconnect?: (info: ReconnectInfo) => void;
  /** One reconnect attempt failed; another follows after `retryInMs`. */
  onReconnectFailed?: (info: ReconnectFailure) => void;
}

type Settings = Required<Omit<RedisOptions, `on${string}` | "caCerts">>;

const DEFAULTS: Settings = {
  commandTimeoutMs: 5_000,
  connectTimeoutMs: 5_000,
  maxPending: 10_000,
  whenDisconnected: "wait",
  reconnectMinMs: 50,
  reconnectMaxMs: 3_000,
  pingIntervalMs: 10_000,
};

function settings(o: RedisOptions): Settings {
  const s: Settings = {
    commandTimeoutMs: o.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs,
    connectTimeoutMs: o.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    maxPending: o.maxPending ?? DEFAULTS.maxPending,
    whenDisconnected: o.whenDisconnected ?? DEFAULTS.whenDisconnected,
    reconnectMinMs: o.reconnectMinMs ?? DEFAULTS.reconnectMinMs,
    reconnectMaxMs: o.reconnectMaxMs ?? DEFAULTS.reconnectMaxMs,
    pingIntervalMs: o.pingIntervalMs ?? DEFAULTS.pingIntervalMs,
  };
  for (const [k, v] of Object.entries(s)) {
    if (typeof v === "number" && !(Number.isFinite(v) && v >= 0)) {
      throw new RangeError(`redis option ${k} must be a non-negative number`);
    }
  }
  if (s.maxPending < 1) throw new RangeError("redis option maxPending must be at least 1");
  if (s.whenDisconnected !== "wait" && s.whenDisconnected !== "fail") {
    throw new RangeError(`redis option whenDisconnected must be "wait" or "fail"`);
  }
  return s;
}

/** A command on its way: its promise's settlers and what the reply matching needs. */
class Pending {
  /** Set while the command waits for a connection (it is encoded only when sent). */
  args: readonly RedisArg[] | null = null;
  constructor(
    readonly resolve: (v: RespValue) => void,
    readonly reject: (e: Error) => void,
    readonly bytes: boolean,
    /** Replies still expected (SUBSCRIBE a b c gets one per channel). */
    public replies: number,
    public deadline: number,
  ) {}
}

/** An array queue with O(1) shift (Array#shift is O(n) on long queues). */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  peek(): T | undefined {
    return this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head >= 4096 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

/** One socket and everything tied to it; a reconnect makes a new Link. */
class Link {
  readonly parser = new RespParser();
  readonly writer = new RespWriter();
  readonly inflight = new Fifo<Pending>();
  dead = false;
  reason = "";
  writing = false;
  flushQueued = false;
  reader: Promise<void> = Promise.resolve();
  writeTask: Promise<void> = Promise.resolve();
  /** Bound once per link, so scheduling a flush allocates nothing. */
  flush: () => void = () => {};

  constructor(readonly conn: Deno.Conn) {}
}

/** A command the connection setup sends before anything else. */
export interface HandshakeStep {
  args: RedisArg[];
  /** How the step is named in an error ("AUTH", "SELECT 2"). */
  what: string;
  /** Replies it gets (SUBSCRIBE gets one per channel). */
  replies: number;
  /** A failure is ignored instead of failing the connection. */
  optional?: boolean;
}

/** Where a connection stands. */
export type RedisStatus = "connecting" | "ready" | "reconnecting" | "closed";

class SetupError extends Error {
  constructor(readonly kind: "unreachable" | "rejected", message: string) {
    super(message);
  }
}

/**
 * What the client and the subscriber share: one connection at a time, its setup, pipelined
 * sending, reply matching, timeouts and the reconnect loop.
 */
export abstract class RedisConnection {
  /** Where this connects (credentials included; never log it whole). */
  readonly endpoint: RedisEndpoint;
  readonly #s: Settings;
  readonly #o: RedisOptions;
  /** Bulk strings as bytes for replies no command asked for (pub/sub messages). */
  readonly #pushBytes: boolean;
  #state: RedisStatus = "connecting";
  #link: Link | null = null;
  readonly #waiting = new Fifo<Pending>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pinger: ReturnType<typeof setInterval> | undefined;
  #loop: Promise<void> = Promise.resolve();
  #sleepTimer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | null = null;
  #connectAbort: AbortController | null = null;
  #closing: Promise<void> | null = null;
  #lastReason = "";
  #writes = 0;
  #reconnects = 0;

  protected constructor(endpoint: RedisEndpoint, options: RedisOptions, pushBytes: boolean) {
    this.endpoint = endpoint;
    this.#s = settings(options);
    this.#o = options;
    this.#pushBytes = pushBytes;
  }

  /** Where the connection stands now. */
  get status(): RedisStatus {
    return this.#state;
  }

  /** Counters for tests and benchmarks: socket writes made, reconnects completed. */
  get stats(): { writes: number; reconnects: number; pending: number } {
    return {
      writes: this.#writes,
      reconnects: this.#reconnects,
      pending: (this.#link?.inflight.length ?? 0) + this.#waiting.length,
    };
  }

  /**
   * Stops for good: no more reconnects; every command not yet answered is rejected with kind
   * "closed"; resolves once the socket, timers and reader have all stopped. No callback fires.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  /** Commands the setup sends on every connection, in order; subclasses add theirs. */
  protected handshake(): HandshakeStep[] {
    const ep = this.endpoint;
    const steps: HandshakeStep[] = [];
    if (ep.password) {
      steps.push({
        args: ep.username ? ["AUTH", ep.username, ep.password] : ["AUTH", ep.password],
        what: "AUTH",
        replies: 1,
      });
    }
    if (ep.db !== 0) steps.push({ args: ["SELECT", ep.db], what: `SELECT ${ep.db}`, replies: 1 });
    return steps;
  }

  /** Takes a reply that answers no command (a pub/sub message); true if it was one. */
  protected onPush(_value: RespValue): boolean {
    return false;
  }

  /** Makes the first connection; rejects with a one-line RedisClientError if it cannot. */
  protected async start(): Promise<void> {
    try {
      await this.#open();
    } catch (e) {
      await this.close(); // the setup's reply timer, if any
      const addr = endpointAddress(this.endpoint);
      if (e instanceof SetupError) {
        throw new RedisClientError(
          e.kind,
          e.kind === "unreachable"
            ? `cannot reach redis at ${addr}: ${e.message}`
            : `redis at ${addr} ${e.message}`,
        );
      }
      throw e;
    }
    this.#emit(() => this.#o.onConnect?.());
  }

  /**
   * Sends a command (or queues it while reconnecting) and resolves with its reply, or `replies`
   * replies for commands that get several (the last one wins). An error reply rejects with a
   * RedisError; see {@link RedisClientErrorKind} for the rest.
   */
  protected enqueue(args: readonly RedisArg[], bytes: boolean, replies = 1): Promise<RespValue> {
    const state = this.#state;
    if (state === "closed") return Promise.reject(this.#closedError());
    const link = this.#link;
    if ((link?.inflight.length ?? 0) + this.#waiting.length >= this.#s.maxPending) {
      return Promise.reject(
        new RedisClientError(
          "queue-full",
          `redis queue full: ${this.#s.maxPending} commands already pending`,
        ),
      );
    }
    if (state === "ready" && link !== null) return this.#send(link, args, bytes, replies);
    if (state === "reconnecting" && this.#s.whenDisconnected === "fail") {
      return Promise.reject(this.#unavailableError());
    }
    const { promise, resolve, reject } = Promise.withResolvers<RespValue>();
    const p = new Pending(
      resolve,
      reject,
      bytes,
      replies,
      performance.now() + this.#s.commandTimeoutMs,
    );
    p.args = args;
    this.#waiting.push(p);
    this.#armTimer();
    return promise;
  }

  #send(
    link: Link,
    args: readonly RedisArg[],
    bytes: boolean,
    replies: number,
  ): Promise<RespValue> {
    if (link.dead) {
      const lost = `redis connection lost (${link.reason})`;
      return Promise.reject(new RedisClientError("disconnected", lost));
    }
    try {
      link.writer.command(args);
    } catch (e) {
      return Promise.reject(e);
    }
    const { promise, resolve, reject } = Promise.withResolvers<RespValue>();
    link.inflight.push(
      new Pending(resolve, reject, bytes, replies, performance.now() + this.#s.commandTimeoutMs),
    );
    this.#kick(link);
    this.#armTimer();
    return promise;
  }

  #kick(link: Link): void {
    if (link.flushQueued || link.writing) return;
    link.flushQueued = true;
    // A microtask runs after the caller's synchronous burst: one write carries all of it.
    queueMicrotask(link.flush);
  }

  async #write(link: Link): Promise<void> {
    link.writing = true;
    try {
      for (let buf = link.writer.take(); buf !== null && !link.dead; buf = link.writer.take()) {
        let off = 0;
        while (off < buf.length) {
          this.#writes++;
          off += await link.conn.write(off === 0 ? buf : buf.subarray(off));
        }
        link.writer.recycle(buf);
      }
    } catch (e) {
      this.#lost(link, describeError(e));
    }
    link.writing = false;
  }

  async #read(link: Link): Promise<void> {
    const parser = link.parser;
    let reason = "connection closed by server";
    try {
      for (;;) {
        const n = await link.conn.read(parser.space());
        if (n === null) break;
        parser.commit(n);
        this.#dispatch(link);
        if (link.dead) return;
      }
    } catch (e) {
      if (link.dead) return;
      reason = e instanceof RespProtocolError ? `protocol error: ${e.message}` : describeError(e);
    }
    this.#lost(link, reason);
  }

  #dispatch(link: Link): void {
    const parser = link.parser;
    const q = link.inflight;
    for (;;) {
      const head = q.peek();
      parser.bytes = head === undefined ? this.#pushBytes : head.bytes;
      const v = parser.next();
      if (v === undefined) return;
      if (this.onPush(v)) {
        if (link.dead) return; // the message callback closed us
        continue;
      }
      if (head === undefined) {
        this.#lost(link, "protocol error: a reply came with no command waiting for it");
        return;
      }
      if (v instanceof RedisError) {
        q.shift();
        head.reject(v);
      } else if (--head.replies <= 0) {
        q.shift();
        head.resolve(v);
      }
    }
  }

  /** Connects and runs the setup; on success the link is current and waiting commands go out. */
  async #open(): Promise<void> {
    const ep = this.endpoint;
    const ac = new AbortController();
    this.#connectAbort = ac;
    const ms = this.#s.connectTimeoutMs;
    const t = setTimeout(() => ac.abort(), ms);
    let conn: Deno.Conn;
    try {
      const tcp = await Deno.connect({ hostname: ep.hostname, port: ep.port, signal: ac.signal });
      conn = ep.tls
        ? await Deno.startTls(tcp, { hostname: ep.hostname, caCerts: this.#o.caCerts })
        : tcp;
    } catch (e) {
      throw new SetupError(
        "unreachable",
        this.#state === "closed"
          ? "client closed"
          : ac.signal.aborted
          ? `no connection within ${ms} ms`
          : describeError(e),
      );
    } finally {
      clearTimeout(t);
      this.#connectAbort = null;
    }
    const link = new Link(conn);
    link.flush = () => {
      link.flushQueued = false;
      if (!link.writing && !link.dead) link.writeTask = this.#write(link);
    };
    if (this.#isClosed()) {
      conn.close();
      throw new SetupError("unreachable", "client closed");
    }
    this.#link = link;
    link.reader = this.#read(link);

    let steps = this.handshake();
    if (!steps.some((s) => !s.optional)) {
      // Nothing else would prove the peer speaks RESP before we call the connection ready.
      steps = [...steps, { args: ["PING"], what: "PING", replies: 1 }];
    }
    const gates: Promise<unknown>[] = [];
    for (const step of steps) {
      const reply = this.#send(link, step.args, this.#pushBytes, step.replies);
      if (step.optional) {
        reply.catch(() => {});
        continue;
      }
      gates.push(reply.catch((e) => {
        if (e instanceof RedisError) {
          this.#lost(link, `${step.what} failed`);
          throw new SetupError("rejected", `rejected ${step.what}: ${oneLine(e.message)}`);
        }
        throw new SetupError("unreachable", link.reason || oneLine(String(e)));
      }));
    }
    try {
      await Promise.all(gates);
      if (link.dead) throw new SetupError("unreachable", link.reason);
    } catch (e) {
      this.#lost(link, e instanceof Error ? e.message : String(e));
      await link.reader;
      await link.writeTask;
      throw e;
    }
    this.#state = "ready";
    const deadline = performance.now() + this.#s.commandTimeoutMs;
    for (let p = this.#waiting.shift(); p !== undefined; p = this.#waiting.shift()) {
      try {
        link.writer.command(p.args!);
      } catch (e) {
        p.reject(e instanceof Error ? e : new Error(String(e)));
        continue;
      }
      p.args = null;
      // The reply deadline starts now: time spent waiting for the connection is not held
      // against a healthy new connection.
      p.deadline = deadline;
      link.inflight.push(p);
    }
    this.#kick(link);
    if (this.#s.pingIntervalMs > 0) this.#pinger = setInterval(this.#ping, this.#s.pingIntervalMs);
  }

  #ping = (): void => {
    const link = this.#link;
    if (this.#state !== "ready" || link === null || link.inflight.length > 0) return;
    this.#send(link, ["PING"], this.#pushBytes, 1).catch(() => {});
  };

  /** Drops a link (once): rejects what it carried, and starts reconnecting if it was ready. */
  #lost(link: Link, reason: string): void {
    if (link.dead) return;
    link.dead = true;
    link.reason = reason;
    try {
      link.conn.close();
    } catch {
      // already closed by the runtime
    }
    link.writer.clear();
    const closing = this.#state === "closed";
    const err = closing ? this.#closedError() : new RedisClientError(
      "disconnected",
      `redis connection lost (${reason}); the command may or may not have run`,
    );
    for (let p = link.inflight.shift(); p !== undefined; p = link.inflight.shift()) p.reject(err);
    if (this.#link !== link) return;
    this.#link = null;
    this.#lastReason = reason;
    clearInterval(this.#pinger);
    this.#pinger = undefined;
    if (closing || this.#state !== "ready") return; // setup failed: #open's caller handles it
    this.#state = "reconnecting";
    if (this.#s.whenDisconnected === "fail") this.#rejectWaiting(null);
    // Started before the callback runs, so a close() from inside the callback also stops it.
    this.#loop = this.#reconnect(reason);
    this.#emit(() => this.#o.onDisconnect?.(reason));
  }

  async #reconnect(reason: string): Promise<void> {
    const since = performance.now();
    const { reconnectMinMs: min, reconnectMaxMs: max } = this.#s;
    let delay = backoffDelay(0, min, max);
    for (let attempt = 1;; attempt++) {
      await this.#sleep(delay);
      if (this.#isClosed()) return;
      try {
        await this.#open();
      } catch (e) {
        if (this.#isClosed()) return;
        delay = backoffDelay(attempt, min, max);
        const why = e instanceof Error ? e.message : String(e);
        this.#lastReason = why;
        this.#emit(() => this.#o.onReconnectFailed?.({ reason: why, attempt, retryInMs: delay }));
        continue;
      }
      this.#reconnects++;
      const info = { reason, attempts: attempt, downtimeMs: performance.now() - since };
      this.#emit(() => this.#o.onReconnect?.(info));
      return;
    }
  }

  /** A method, not a field test, so TypeScript does not carry a narrowing across an await. */
  #isClosed(): boolean {
    return this.#state === "closed";
  }

  #sleep(ms: number): Promise<void> {
    // A callback may have closed us; a timer started now would outlive close().
    if (this.#isClosed()) return Promise.resolve();
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#sleepTimer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
    });
  }

  #armTimer(): void {
    if (this.#timer === undefined && this.#s.commandTimeoutMs > 0) {
      this.#timer = setTimeout(this.#onTimer, this.#s.commandTimeoutMs);
    }
  }

  /**
   * One timer serves every command: deadlines grow in issue order, so only the oldest command
   * of each queue can be due; the timer re-arms for the next deadline.
   */
  #onTimer = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    const ms = this.#s.commandTimeoutMs;
    for (
      let p = this.#waiting.peek();
      p !== undefined && p.deadline <= now;
      p = this.#waiting.peek()
    ) {
      this.#waiting.shift();
      p.reject(
        new RedisClientError(
          "timeout",
          `redis command timed out after ${ms} ms waiting for a connection (${this.#lastReason})`,
        ),
      );
    }
    const link = this.#link;
    const head = link?.inflight.peek();
    if (link && head && head.deadline <= now) {
      link.inflight.shift();
      head.reject(
        new RedisClientError("timeout", `redis command timed out after ${ms} ms (reconnecting)`),
      );
      this.#lost(link, `no reply within ${ms} ms`);
    }
    let next = Infinity;
    const w = this.#waiting.peek();
    if (w) next = w.deadline;
    const h = this.#link?.inflight.peek();
    if (h) next = Math.min(next, h.deadline);
    if (next !== Infinity && this.#state !== "closed") {
      this.#timer = setTimeout(this.#onTimer, Math.max(1, Math.ceil(next - now)));
    }
  };

  #rejectWaiting(err: Error | null): void {
    for (let p = this.#waiting.shift(); p !== undefined; p = this.#waiting.shift()) {
      p.reject(err ?? this.#unavailableError());
    }
  }

  #unavailableError(): RedisClientError {
    const addr = endpointAddress(this.endpoint);
    return new RedisClientError(
      "unavailable",
      `redis unavailable: reconnecting to ${addr} (${this.#lastReason})`,
    );
  }

  #closedError(): RedisClientError {
    return new RedisClientError("closed", "redis client closed");
  }

  /** Runs a caller's callback; its exceptions must not break the connection's own loops. */
  #emit(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      reportError(e);
    }
  }

  async #shutdown(): Promise<void> {
    this.#state = "closed";
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearInterval(this.#pinger);
    this.#pinger = undefined;
    clearTimeout(this.#sleepTimer);
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
    this.#connectAbort?.abort();
    this.#rejectWaiting(this.#closedError());
    const link = this.#link;
    if (link) this.#lost(link, "client closed");
    await this.#loop;
    if (link) {
      await link.reader;
      await link.writeTask;
    }
  }
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

/** Commands that would turn a command connection into a subscriber and break reply matching. */
const SUBSCRIBER_ONLY = new Set(["SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR"]);

/**
 * The command connection: send any command, get its reply. Many commands may be in flight; a
 * burst issued in one event-loop turn goes out in one write. Create it with
 * {@link RedisClient.connect}.
 */
export class RedisClient extends RedisConnection {
  /** Scripts by SHA1, loaded again on every new connection (a restarted Redis forgot them). */
  readonly #scripts = new Map<string, string>();

  private constructor(endpoint: RedisEndpoint, options: RedisOptions) {
    super(endpoint, options, false);
  }

  /**
   * Connects (and AUTHs and SELECTs if the URL says so). Rejects with a RedisClientError whose
   * message is one line, e.g. `cannot reach redis at 127.0.0.1:6390: connection refused`; there
   * is no retry for the first connection, only after it was once established.
   */
  static async connect(
    url = "redis://127.0.0.1:6379",
    options: RedisOptions = {},
  ): Promise<RedisClient> {
    const client = new RedisClient(parseRedisUrl(url), options);
    await client.start();
    return client;
  }

  /** Sends a command; bulk strings in the reply come back as strings. */
  send(args: readonly RedisArg[]): Promise<RespValue> {
    const name = args[0];
    if (typeof name === "string" && name.length <= 11 && SUBSCRIBER_ONLY.has(name.toUpperCase())) {
      return Promise.reject(
        new TypeError(`${name} needs its own connection: use RedisSubscriber`),
      );
    }
    return this.enqueue(args, false);
  }

  /** Sends a command; bulk strings in the reply come back as Uint8Array copies. */
  sendBytes(args: readonly RedisArg[]): Promise<RespValue> {
    return this.enqueue(args, true);
  }

  /** PING; resolves with "PONG". */
  async ping(): Promise<string> {
    return expectString(await this.send(["PING"]), "PING");
  }

  /** PUBLISH; resolves with how many subscribers (on this Redis) received it. */
  async publish(channel: string, message: string | Uint8Array): Promise<number> {
    return expectNumber(await this.send(["PUBLISH", channel, message]), "PUBLISH");
  }

  /** GET; null when the key does not exist. */
  async get(key: string): Promise<string | null> {
    const v = await this.send(["GET", key]);
    return v === null ? null : expectString(v, "GET");
  }

  /** SET with optional flags (`"EX", 60`, `"NX"`); "OK", or null when NX/XX prevented it. */
  async set(key: string, value: RedisArg, ...flags: RedisArg[]): Promise<string | null> {
    const v = await this.send(["SET", key, value, ...flags]);
    return v === null ? null : expectString(v, "SET");
  }

  /** INCR; the new value. */
  async incr(key: string): Promise<number> {
    return expectNumber(await this.send(["INCR", key]), "INCR");
  }

  /** DEL; how many keys existed. */
  async del(...keys: string[]): Promise<number> {
    return expectNumber(await this.send(["DEL", ...keys]), "DEL");
  }

  /**
   * Prepares a Lua script: computes its SHA1, loads it now (so a syntax error surfaces here),
   * and has every later connection load it again before any other command, so a restarted Redis
   * has it before the first EVALSHA reaches it. {@link RedisScript.run} also recovers from
   * NOSCRIPT (a SCRIPT FLUSH) by sending the source with EVAL.
   */
  async script(source: string): Promise<RedisScript> {
    const sha = await sha1Hex(source);
    const loaded = await this.send(["SCRIPT", "LOAD", source]);
    if (loaded !== sha) {
      throw new Error(`redis returned SHA1 ${String(loaded)} for a script whose SHA1 is ${sha}`);
    }
    this.#scripts.set(sha, source);
    return new RedisScript(this, source, sha);
  }

  protected override handshake(): HandshakeStep[] {
    const steps = super.handshake();
    for (const source of this.#scripts.values()) {
      steps.push({
        args: ["SCRIPT", "LOAD", source],
        what: "SCRIPT LOAD",
        replies: 1,
        optional: true,
      });
    }
    return steps;
  }
}

/** A Lua script bound to a client; made by {@link RedisClient.script}. */
export class RedisScript {
  /** The Lua source. */
  readonly source: string;
  /** Its SHA1 in hex, as EVALSHA wants it. */
  readonly sha: string;
  readonly #client: RedisClient;

  /** Use {@link RedisClient.script}, which also loads it. */
  constructor(client: RedisClient, source: string, sha: string) {
    this.#client = client;
    this.source = source;
    this.sha = sha;
  }

  /**
   * EVALSHA with these KEYS and ARGV; on NOSCRIPT, EVAL with the source (which also loads it)
   * and return that reply. Note the retry runs after commands sent behind the first attempt.
   */
  run(keys: readonly RedisArg[] = [], args: readonly RedisArg[] = []): Promise<RespValue> {
    const tail = [keys.length, ...keys, ...args];
    return this.#client.send(["EVALSHA", this.sha, ...tail]).catch((e) => {
      if (!(e instanceof RedisError) || e.code !== "NOSCRIPT") throw e;
      return this.#client.send(["EVAL", this.source, ...tail]);
    });
  }
}

/** Hex SHA1 of a string's UTF-8 bytes, as Redis names scripts. */
export async function sha1Hex(text: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text)),
  );
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}

function expectString(v: RespValue, what: string): string {
  if (typeof v !== "string") throw new TypeError(`unexpected reply to ${what}: ${describe(v)}`);
  return v;
}

function expectNumber(v: RespValue, what: string): number {
  if (typeof v !== "number") throw new TypeError(`unexpected reply to ${what}: ${describe(v)}`);
  return v;
}

function describe(v: RespValue): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  return typeof v;
}

/** How a subscriber receives messages: as strings, or (with `bytes: true`) as raw bytes. */
export type MessageHandler =
  | {
    bytes?: false;
    /**
     * Each message, in order, called synchronously as replies are parsed (no promise per
     * message). `pattern` is set for messages matched by psubscribe.
     */
    onMessage: (channel: string, payload: string, pattern: string | null) => void;
  }
  | {
    bytes: true;
    /** As above, with the payload as a Uint8Array the callee may keep. */
    onMessage: (channel: string, payload: Uint8Array, pattern: string | null) => void;
  };

/** Options for {@link RedisSubscriber.connect}. */
export type SubscriberOptions = RedisOptions & MessageHandler;

const textDecoder = new TextDecoder();

function text(v: RespValue): string {
  return typeof v === "string" ? v : v instanceof Uint8Array ? textDecoder.decode(v) : String(v);
}

/** Whether a pub/sub reply's first element names `kind` (string or, in bytes mode, bytes). */
function isKind(v: RespValue, kind: string): boolean {
  if (typeof v === "string") return v === kind;
  if (!(v instanceof Uint8Array) || v.length !== kind.length) return false;
  for (let i = 0; i < v.length; i++) if (v[i] !== kind.charCodeAt(i)) return false;
  return true;
}

/**
 * The pub/sub connection (Redis needs one apart from the command connection). It remembers what
 * it is subscribed to and subscribes to all of it again on every new connection, before
 * calling `onReconnect`: messages published in between are lost, and that callback is the
 * caller's cue to look for what it missed. Create it with {@link RedisSubscriber.connect}.
 */
export class RedisSubscriber extends RedisConnection {
  readonly #channels = new Set<string>();
  readonly #patterns = new Set<string>();
  readonly #bytes: boolean;
  readonly #handler: MessageHandler;

  private constructor(endpoint: RedisEndpoint, options: SubscriberOptions) {
    super(endpoint, options, options.bytes === true);
    this.#bytes = options.bytes === true;
    this.#handler = options;
  }

  /** Connects; rejects like {@link RedisClient.connect}. Subscribe afterwards. */
  static async connect(url: string, options: SubscriberOptions): Promise<RedisSubscriber> {
    const sub = new RedisSubscriber(parseRedisUrl(url), options);
    await sub.start();
    return sub;
  }

  /** Channels subscribed to (or to be, once reconnected). */
  get channels(): string[] {
    return [...this.#channels];
  }

  /** Patterns subscribed to (or to be, once reconnected). */
  get patterns(): string[] {
    return [...this.#patterns];
  }

  /**
   * Subscribes; resolves when Redis has confirmed every channel. The channels are remembered at
   * once: even if this rejects (timeout, connection lost) they are subscribed on reconnect, until
   * unsubscribed.
   */
  subscribe(...channels: string[]): Promise<void> {
    return this.#change("SUBSCRIBE", this.#channels, channels, true);
  }

  /** Unsubscribes from these channels (all of them when none are named). */
  unsubscribe(...channels: string[]): Promise<void> {
    return this.#change("UNSUBSCRIBE", this.#channels, channels, false);
  }

  /** Subscribes to glob patterns (`room:*`); messages then carry the matching pattern. */
  psubscribe(...patterns: string[]): Promise<void> {
    return this.#change("PSUBSCRIBE", this.#patterns, patterns, true);
  }

  /** Unsubscribes from these patterns (all of them when none are named). */
  punsubscribe(...patterns: string[]): Promise<void> {
    return this.#change("PUNSUBSCRIBE", this.#patterns, patterns, false);
  }

  async #change(cmd: string, set: Set<string>, names: string[], add: boolean): Promise<void> {
    if (this.status === "closed") throw new RedisClientError("closed", "redis client closed");
    const unique = [...new Set(names.length === 0 && !add ? set : names)];
    if (unique.length === 0) return;
    for (const n of unique) add ? set.add(n) : set.delete(n);
    await this.enqueue([cmd, ...unique], this.#bytes, unique.length);
  }

  protected override handshake(): HandshakeStep[] {
    const steps = super.handshake();
    if (this.#channels.size > 0) {
      const channels = [...this.#channels];
      steps.push({ args: ["SUBSCRIBE", ...channels], what: "SUBSCRIBE", replies: channels.length });
    }
    if (this.#patterns.size > 0) {
      const patterns = [...this.#patterns];
      steps.push({
        args: ["PSUBSCRIBE", ...patterns],
        what: "PSUBSCRIBE",
        replies: patterns.length,
      });
    }
    return steps;
  }

  protected override onPush(v: RespValue): boolean {
    if (!Array.isArray(v)) return false;
    let channel: RespValue;
    let payload: RespValue;
    let pattern: string | null = null;
    if (v.length === 3 && isKind(v[0], "message")) {
      channel = v[1];
      payload = v[2];
    } else if (v.length === 4 && isKind(v[0], "pmessage")) {
      pattern = text(v[1]);
      channel = v[2];
      payload = v[3];
    } else {
      return false;
    }
    try {
      const h = this.#handler;
      if (h.bytes === true) {
        h.onMessage(
          text(channel),
          payload instanceof Uint8Array ? payload : new Uint8Array(0),
          pattern,
        );
      } else {
        h.onMessage(text(channel), typeof payload === "string" ? payload : text(payload), pattern);
      }
    } catch (e) {
      // A bug in the callback must not cost the other messages or the connection.
      reportError(e);
    }
    return true;
  }
}
