/**
 * What the Redis client and the subscriber share ({@link RedisConnection}): one connection at a
 * time, its setup, pipelined sending, reply matching, timeouts and the reconnect loop.
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
import { describeError } from "../../lib/errors.ts";
import { backoffDelay, type RedisOptions, type Settings, settings } from "./options.ts";
import { type RedisArg, RedisError, RespProtocolError, type RespValue } from "./resp.ts";
import { endpointAddress, type RedisEndpoint } from "./url.ts";
import { Fifo, Pending, Wire } from "./wire.ts";

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

/** Why a connection's setup failed; {@link RedisConnection.start} words it for people. */
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
  readonly #settings: Settings;
  readonly #options: RedisOptions;
  /** Bulk strings as bytes for replies no command asked for (pub/sub messages). */
  readonly #pushBytes: boolean;
  #state: RedisStatus = "connecting";
  #wire: Wire | null = null;
  readonly #waiting = new Fifo<Pending>();
  #deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  #pinger: ReturnType<typeof setInterval> | undefined;
  #reconnectLoop: Promise<void> = Promise.resolve();
  #sleepTimer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | null = null;
  #connectAbort: AbortController | null = null;
  #closing: Promise<void> | null = null;
  #lastReason = "";
  #writes = 0;
  #reconnects = 0;

  protected constructor(endpoint: RedisEndpoint, options: RedisOptions, pushBytes: boolean) {
    this.endpoint = endpoint;
    this.#settings = settings(options);
    this.#options = options;
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
      pending: (this.#wire?.inflight.length ?? 0) + this.#waiting.length,
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
    const { username, password, db } = this.endpoint;
    const steps: HandshakeStep[] = [];
    if (password) {
      steps.push({
        args: username ? ["AUTH", username, password] : ["AUTH", password],
        what: "AUTH",
        replies: 1,
      });
    }
    if (db !== 0) steps.push({ args: ["SELECT", db], what: `SELECT ${db}`, replies: 1 });
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
    this.#emit(() => this.#options.onConnect?.());
  }

  /**
   * Sends a command (or queues it while reconnecting) and resolves with its reply, or `replies`
   * replies for commands that get several (the last one wins). An error reply rejects with a
   * RedisError; see {@link RedisClientErrorKind} for the rest.
   */
  protected enqueue(args: readonly RedisArg[], bytes: boolean, replies = 1): Promise<RespValue> {
    const state = this.#state;
    if (state === "closed") return Promise.reject(this.#closedError());
    const wire = this.#wire;
    if ((wire?.inflight.length ?? 0) + this.#waiting.length >= this.#settings.maxPending) {
      return Promise.reject(
        new RedisClientError(
          "queue-full",
          `redis queue full: ${this.#settings.maxPending} commands already pending`,
        ),
      );
    }
    if (state === "ready" && wire !== null) return this.#send(wire, args, bytes, replies);
    if (state === "reconnecting" && this.#settings.whenDisconnected === "fail") {
      return Promise.reject(this.#unavailableError());
    }
    const { promise, resolve, reject } = Promise.withResolvers<RespValue>();
    const command = new Pending(
      resolve,
      reject,
      bytes,
      replies,
      performance.now() + this.#settings.commandTimeoutMs,
    );
    command.args = args;
    this.#waiting.push(command);
    this.#armTimer();
    return promise;
  }

  #send(
    wire: Wire,
    args: readonly RedisArg[],
    bytes: boolean,
    replies: number,
  ): Promise<RespValue> {
    if (wire.dead) {
      const lost = `redis connection lost (${wire.reason})`;
      return Promise.reject(new RedisClientError("disconnected", lost));
    }
    try {
      wire.writer.command(args);
    } catch (e) {
      return Promise.reject(e);
    }
    const { promise, resolve, reject } = Promise.withResolvers<RespValue>();
    wire.inflight.push(
      new Pending(
        resolve,
        reject,
        bytes,
        replies,
        performance.now() + this.#settings.commandTimeoutMs,
      ),
    );
    this.#kick(wire);
    this.#armTimer();
    return promise;
  }

  #kick(wire: Wire): void {
    if (wire.flushQueued || wire.writing) return;
    wire.flushQueued = true;
    // A microtask runs after the caller's synchronous burst: one write carries all of it.
    queueMicrotask(wire.flush);
  }

  async #write(wire: Wire): Promise<void> {
    wire.writing = true;
    try {
      for (let buf = wire.writer.take(); buf !== null && !wire.dead; buf = wire.writer.take()) {
        let off = 0;
        while (off < buf.length) {
          this.#writes++;
          off += await wire.conn.write(off === 0 ? buf : buf.subarray(off));
        }
        wire.writer.recycle(buf);
      }
    } catch (e) {
      this.#lost(wire, describeError(e));
    }
    wire.writing = false;
  }

  async #read(wire: Wire): Promise<void> {
    const parser = wire.parser;
    let reason = "connection closed by server";
    try {
      for (;;) {
        const n = await wire.conn.read(parser.space());
        if (n === null) break;
        parser.commit(n);
        this.#dispatch(wire);
        if (wire.dead) return;
      }
    } catch (e) {
      if (wire.dead) return;
      reason = e instanceof RespProtocolError ? `protocol error: ${e.message}` : describeError(e);
    }
    this.#lost(wire, reason);
  }

  /** Matches every whole reply read so far to its command (or hands it to {@link onPush}). */
  #dispatch(wire: Wire): void {
    const parser = wire.parser;
    const inflight = wire.inflight;
    for (;;) {
      const head = inflight.peek();
      parser.bytes = head === undefined ? this.#pushBytes : head.bytes;
      const reply = parser.next();
      if (reply === undefined) return;
      if (this.onPush(reply)) {
        if (wire.dead) return; // the message callback closed us
        continue;
      }
      if (head === undefined) {
        this.#lost(wire, "protocol error: a reply came with no command waiting for it");
        return;
      }
      if (reply instanceof RedisError) {
        inflight.shift();
        head.reject(reply);
      } else if (--head.replies <= 0) {
        inflight.shift();
        head.resolve(reply);
      }
    }
  }

  /** Connects and runs the setup; on success the wire is current and waiting commands go out. */
  async #open(): Promise<void> {
    const conn = await this.#dial();
    const wire = new Wire(conn);
    wire.flush = () => {
      wire.flushQueued = false;
      if (!wire.writing && !wire.dead) wire.writeTask = this.#write(wire);
    };
    if (this.#isClosed()) {
      conn.close();
      throw new SetupError("unreachable", "client closed");
    }
    this.#wire = wire;
    wire.reader = this.#read(wire);
    await this.#setUp(wire);
    this.#state = "ready";
    this.#sendWaiting(wire);
    this.#kick(wire);
    if (this.#settings.pingIntervalMs > 0) {
      this.#pinger = setInterval(this.#ping, this.#settings.pingIntervalMs);
    }
  }

  /** Opens the socket (TCP, then TLS for `rediss://`) within the connect deadline. */
  async #dial(): Promise<Deno.Conn> {
    const { hostname, port, tls } = this.endpoint;
    const abort = new AbortController();
    this.#connectAbort = abort;
    const ms = this.#settings.connectTimeoutMs;
    const timer = setTimeout(() => abort.abort(), ms);
    try {
      const tcp = await Deno.connect({ hostname, port, signal: abort.signal });
      return tls ? await Deno.startTls(tcp, { hostname, caCerts: this.#options.caCerts }) : tcp;
    } catch (e) {
      throw new SetupError(
        "unreachable",
        this.#state === "closed"
          ? "client closed"
          : abort.signal.aborted
          ? `no connection within ${ms} ms`
          : describeError(e),
      );
    } finally {
      clearTimeout(timer);
      this.#connectAbort = null;
    }
  }

  /** Sends the handshake on a new wire and waits for it; a failure drops the wire and throws. */
  async #setUp(wire: Wire): Promise<void> {
    let steps = this.handshake();
    if (!steps.some((s) => !s.optional)) {
      // Nothing else would prove the peer speaks RESP before we call the connection ready.
      steps = [...steps, { args: ["PING"], what: "PING", replies: 1 }];
    }
    const gates: Promise<unknown>[] = [];
    for (const step of steps) {
      const reply = this.#send(wire, step.args, this.#pushBytes, step.replies);
      if (step.optional) {
        reply.catch(() => {});
        continue;
      }
      gates.push(reply.catch((e) => {
        if (e instanceof RedisError) {
          this.#lost(wire, `${step.what} failed`);
          throw new SetupError("rejected", `rejected ${step.what}: ${oneLine(e.message)}`);
        }
        throw new SetupError("unreachable", wire.reason || oneLine(String(e)));
      }));
    }
    try {
      await Promise.all(gates);
      if (wire.dead) throw new SetupError("unreachable", wire.reason);
    } catch (e) {
      this.#lost(wire, e instanceof Error ? e.message : String(e));
      await wire.reader;
      await wire.writeTask;
      throw e;
    }
  }

  /** Moves the commands that waited for a connection onto the ready wire, in order. */
  #sendWaiting(wire: Wire): void {
    const deadline = performance.now() + this.#settings.commandTimeoutMs;
    for (let cmd = this.#waiting.shift(); cmd !== undefined; cmd = this.#waiting.shift()) {
      try {
        wire.writer.command(cmd.args!);
      } catch (e) {
        cmd.reject(e instanceof Error ? e : new Error(String(e)));
        continue;
      }
      cmd.args = null;
      // The reply deadline starts now: time spent waiting for the connection is not held
      // against a healthy new connection.
      cmd.deadline = deadline;
      wire.inflight.push(cmd);
    }
  }

  #ping = (): void => {
    const wire = this.#wire;
    if (this.#state !== "ready" || wire === null || wire.inflight.length > 0) return;
    this.#send(wire, ["PING"], this.#pushBytes, 1).catch(() => {});
  };

  /** Drops a wire (once): rejects what it carried, and starts reconnecting if it was ready. */
  #lost(wire: Wire, reason: string): void {
    if (wire.dead) return;
    wire.dead = true;
    wire.reason = reason;
    try {
      wire.conn.close();
    } catch {
      // already closed by the runtime
    }
    wire.writer.clear();
    const closing = this.#state === "closed";
    const err = closing ? this.#closedError() : new RedisClientError(
      "disconnected",
      `redis connection lost (${reason}); the command may or may not have run`,
    );
    for (let cmd = wire.inflight.shift(); cmd !== undefined; cmd = wire.inflight.shift()) {
      cmd.reject(err);
    }
    if (this.#wire !== wire) return;
    this.#wire = null;
    this.#lastReason = reason;
    clearInterval(this.#pinger);
    this.#pinger = undefined;
    if (closing || this.#state !== "ready") return; // setup failed: #open's caller handles it
    this.#state = "reconnecting";
    if (this.#settings.whenDisconnected === "fail") this.#rejectWaiting(null);
    // Started before the callback runs, so a close() from inside the callback also stops it.
    this.#reconnectLoop = this.#reconnect(reason);
    this.#emit(() => this.#options.onDisconnect?.(reason));
  }

  async #reconnect(reason: string): Promise<void> {
    const since = performance.now();
    const { reconnectMinMs: min, reconnectMaxMs: max } = this.#settings;
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
        this.#emit(() =>
          this.#options.onReconnectFailed?.({ reason: why, attempt, retryInMs: delay })
        );
        continue;
      }
      this.#reconnects++;
      const info = { reason, attempts: attempt, downtimeMs: performance.now() - since };
      this.#emit(() => this.#options.onReconnect?.(info));
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
    if (this.#deadlineTimer === undefined && this.#settings.commandTimeoutMs > 0) {
      this.#deadlineTimer = setTimeout(this.#onTimer, this.#settings.commandTimeoutMs);
    }
  }

  /**
   * One timer serves every command: deadlines grow in issue order, so only the oldest command
   * of each queue can be due; the timer re-arms for the next deadline.
   */
  #onTimer = (): void => {
    this.#deadlineTimer = undefined;
    const now = performance.now();
    const ms = this.#settings.commandTimeoutMs;
    for (
      let cmd = this.#waiting.peek();
      cmd !== undefined && cmd.deadline <= now;
      cmd = this.#waiting.peek()
    ) {
      this.#waiting.shift();
      cmd.reject(
        new RedisClientError(
          "timeout",
          `redis command timed out after ${ms} ms waiting for a connection (${this.#lastReason})`,
        ),
      );
    }
    const wire = this.#wire;
    const head = wire?.inflight.peek();
    if (wire && head && head.deadline <= now) {
      wire.inflight.shift();
      head.reject(
        new RedisClientError("timeout", `redis command timed out after ${ms} ms (reconnecting)`),
      );
      this.#lost(wire, `no reply within ${ms} ms`);
    }
    let next = Infinity;
    const waiting = this.#waiting.peek();
    if (waiting) next = waiting.deadline;
    const sent = this.#wire?.inflight.peek();
    if (sent) next = Math.min(next, sent.deadline);
    if (next !== Infinity && this.#state !== "closed") {
      this.#deadlineTimer = setTimeout(this.#onTimer, Math.max(1, Math.ceil(next - now)));
    }
  };

  #rejectWaiting(err: Error | null): void {
    for (let cmd = this.#waiting.shift(); cmd !== undefined; cmd = this.#waiting.shift()) {
      cmd.reject(err ?? this.#unavailableError());
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
    clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = undefined;
    clearInterval(this.#pinger);
    this.#pinger = undefined;
    clearTimeout(this.#sleepTimer);
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
    this.#connectAbort?.abort();
    this.#rejectWaiting(this.#closedError());
    const wire = this.#wire;
    if (wire) this.#lost(wire, "client closed");
    await this.#reconnectLoop;
    if (wire) {
      await wire.reader;
      await wire.writeTask;
    }
  }
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}
