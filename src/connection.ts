/**
 * One client socket: a reader loop that turns bytes into clean lines and posts them to the hub,
 * and a writer that drains the client's outbox with one coalesced write at a time. Policy lives
 * in the hub; this file only moves bytes and keeps its own buffers small and bounded.
 */
import { LineFramer } from "./framing.ts";
import type { CloseMode, HubEvent } from "./hub.ts";
import { type Bucket, fullBucket, take } from "./moderation.ts";
import { Outbox } from "./outbox.ts";
import { cleanLine, TelnetFilter } from "./sanitize.ts";

/**
 * Read buffer while a connection is quiet: idle clients must cost little memory (most chat lines
 * fit; a longer burst grows the buffer for as long as reads keep filling it).
 */
export const SMALL_READ = 128;
/** Largest read buffer, reached by doubling while reads keep filling the buffer. */
export const LARGE_READ = 64 * 1024;
/** Most bytes handed to one write call (what is left waits for the next). */
export const MAX_WRITE = 256 * 1024;
/** Input events a connection may have waiting in the hub's queue before it stops reading. */
export const MAX_INFLIGHT = 4;
/** How long a closing connection may take to flush and say goodbye. */
export const LINGER_MS = 2_000;
/** Most a refused connection waits for its one line to be written before it is closed. */
export const REFUSE_MS = 250;
/** Input read and thrown away while closing, past which the connection is closed at once. */
export const CLOSING_DISCARD = 64 * 1024;
/**
 * Telnet command bytes a connection may send in a burst, and per second after it. Real clients
 * send a few dozen bytes at connect and on a resize (NAWS), or a keepalive now and then; a
 * storm of negotiation is struck.
 */
export const TELNET_BURST = 2048;
export const TELNET_RATE = 64;

/** What a connection needs from the server around it. */
export interface ConnectionHost {
  post(ev: HubEvent): void;
  /** The connection's socket is closed and its reader has stopped. */
  ended(id: number): void;
  /** The clock (epoch ms) that stamps input when it is read. */
  now(): number;
  maxLine: number;
  /** Bytes per second read from one connection (0 = no limit). */
  maxInputRate: number;
  /** Bytes read from every connection so far. */
  bytesIn: number;
}

/** Describes a socket error in a few words for the "left (reason)" notice and the log. */
export function describeError(e: unknown): string {
  if (e instanceof Deno.errors.ConnectionReset) return "connection reset";
  if (e instanceof Deno.errors.BrokenPipe) return "connection broken";
  if (e instanceof Deno.errors.TimedOut) return "connection timed out";
  if (e instanceof Deno.errors.ConnectionAborted) return "connection aborted";
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\s*\(os error \d+\)/, "").toLowerCase() || "connection error";
}

/** A connected client's socket and buffers. */
export class Connection {
  readonly id: number;
  readonly conn: Deno.TcpConn;
  readonly outbox: Outbox = new Outbox();
  readonly #host: ConnectionHost;
  readonly #framer: LineFramer;
  readonly #telnet = new TelnetFilter();
  #writing = false;
  /** Close requested: discard input, flush output, then close. */
  #closing = false;
  #closed = false;
  #wasPartial = false;
  /** Close as soon as the queued line is written (a refused connection). */
  #refusing = false;
  #inflight = 0;
  #resume: (() => void) | null = null;
  #linger: ReturnType<typeof setTimeout> | undefined;
  #pauseTimer: ReturnType<typeof setTimeout> | undefined;
  #unpause: (() => void) | null = null;
  /** Input allowance in bytes (see ConnectionHost.maxInputRate); may run into debt. */
  #inputTokens = 0;
  #inputAt = -Infinity;
  #telnetBudget: Bucket | null = null;
  /** Resolves once the socket is closed and the reader has stopped. */
  readonly done: Promise<void>;

  constructor(id: number, conn: Deno.TcpConn, host: ConnectionHost) {
    this.id = id;
    this.conn = conn;
    this.#host = host;
    this.#framer = new LineFramer(host.maxLine);
    this.done = this.#read();
  }

  /** True once the socket is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The hub has handled one of this connection's input events. */
  processed(): void {
    this.#inflight--;
    if (this.#inflight < MAX_INFLIGHT && this.#resume) {
      const resume = this.#resume;
      this.#resume = null;
      resume();
    }
  }

  /** Starts the writer if the outbox has bytes and none is running. */
  kick(): void {
    if (!this.#writing && !this.#closed) void this.#write();
  }

  /**
   * Closes the connection. `drop` closes at once. `refuse` makes one attempt to write what the
   * outbox holds and closes (within {@link REFUSE_MS}), so a refused client holds no descriptor.
   * `flush` sends what the outbox holds, shuts the write side, and discards input until the
   * client hangs up or {@link LINGER_MS} passes (closing with unread input would reset the
   * connection and could destroy the last message).
   */
  close(mode: CloseMode): void {
    if (this.#closed) return;
    if (mode === "drop") {
      this.#hardClose();
      return;
    }
    if (this.#closing) return;
    this.#closing = true;
    this.#refusing = mode === "refuse";
    this.#linger = setTimeout(() => this.#hardClose(), this.#refusing ? REFUSE_MS : LINGER_MS);
    // The writer ends by shutting the write side; start it if the last words are still queued.
    if (this.#writing) return;
    if (this.outbox.bytes > 0) void this.#write();
    else this.#afterFlush();
  }

  async #read(): Promise<void> {
    let buf = new Uint8Array(SMALL_READ);
    let reason = "connection closed";
    const framer = this.#framer;
    const host = this.#host;
    const maxLine = host.maxLine;
    let bytes = 0;
    let discarded = 0;
    try {
      while (!this.#closed) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        host.bytesIn += n;
        const at = host.now();
        if (this.#closing) {
          if ((discarded += n) > CLOSING_DISCARD) break;
          if (host.maxInputRate > 0) await this.#pause(this.#charge(n, at));
          continue;
        }
        bytes += n;
        const data = this.#telnet.filter(buf.subarray(0, n));
        const telnetFloods = this.#telnet.dropped > 0 ? this.#countTelnet(at) : 0;
        const lines: string[] = [];
        framer.overlong = 0;
        framer.push(data, (line) => {
          const text = cleanLine(line);
          // Cleaning can make text longer than its bytes (U+FFFD is 3 bytes): the limit is on
          // what would be sent.
          if (text.length * 3 > maxLine && utf8Length(text) > maxLine) framer.overlong++;
          else lines.push(text);
        });
        const partial = framer.partial;
        if (
          lines.length > 0 || framer.overlong > 0 || telnetFloods > 0 ||
          partial !== this.#wasPartial
        ) {
          this.#wasPartial = partial;
          this.#inflight++;
          host.post({
            type: "input",
            id: this.id,
            at,
            bytes,
            lines,
            partial,
            overlong: framer.overlong,
            telnetFloods,
          });
          bytes = 0;
        }
        if (n === buf.length && buf.length < LARGE_READ) {
          buf = new Uint8Array(Math.min(buf.length * 4, LARGE_READ));
        } else if (n <= SMALL_READ && buf.length > SMALL_READ) {
          buf = new Uint8Array(SMALL_READ);
        }
        if (host.maxInputRate > 0) {
          const wait = this.#charge(n, at);
          if (wait > 0) await this.#pause(wait);
        }
        if (this.#inflight >= MAX_INFLIGHT && !this.#closed) {
          await new Promise<void>((resolve) => (this.#resume = resolve));
        }
      }
    } catch (e) {
      reason = describeError(e);
    }
    framer.reset();
    if (!this.#closing && !this.#closed) this.#host.post({ type: "closed", id: this.id, reason });
    this.#hardClose();
    this.#host.ended(this.id);
  }

  async #write(): Promise<void> {
    this.#writing = true;
    const ob = this.outbox;
    try {
      while (!this.#closed) {
        const buf = ob.take(MAX_WRITE);
        if (!buf) break;
        let off = 0;
        while (off < buf.length) {
          off += await this.conn.write(off === 0 ? buf : buf.subarray(off));
        }
      }
    } catch (e) {
      if (!this.#closed) {
        if (!this.#closing) {
          this.#host.post({ type: "closed", id: this.id, reason: describeError(e) });
        }
        this.#hardClose();
      }
    }
    this.#writing = false;
    ob.armed = false;
    if (this.#closing && !this.#closed) {
      if (this.#refusing) this.#hardClose();
      else this.#afterFlush();
    }
  }

  /**
   * Charges `n` bytes read at `at` to the input allowance (`maxInputRate` bytes per second,
   * after a burst) and returns how long to wait before reading again: past the allowance the
   * reader waits, the kernel's buffers fill and TCP slows the sender down, so a flood costs the
   * sender time instead of costing the server CPU.
   */
  #charge(n: number, at: number): number {
    const rate = this.#host.maxInputRate;
    const burst = Math.max(LARGE_READ, rate);
    const elapsed = this.#inputAt === -Infinity ? Infinity : Math.max(0, at - this.#inputAt);
    this.#inputTokens = Math.min(burst, this.#inputTokens + (elapsed * rate) / 1_000) - n;
    this.#inputAt = at;
    return this.#inputTokens >= 0 ? 0 : Math.ceil((-this.#inputTokens * 1_000) / rate);
  }

  /** Waits `ms` before the next read (cut short if the connection closes). */
  #pause(ms: number): Promise<void> {
    if (ms <= 0 || this.#closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#unpause = resolve;
      this.#pauseTimer = setTimeout(() => {
        this.#unpause = null;
        resolve();
      }, ms);
    });
  }

  /** Charges telnet command bytes to their budget; 1 when the budget is overdrawn. */
  #countTelnet(at: number): number {
    const b = this.#telnetBudget ??= fullBucket();
    if (take(b, this.#telnet.dropped, TELNET_BURST, TELNET_RATE / 1_000, at)) return 0;
    b.at = -Infinity; // full again: one strike per overdrawn burst
    return 1;
  }

  #afterFlush(): void {
    this.conn.closeWrite().catch(() => this.#hardClose());
  }

  #hardClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    clearTimeout(this.#linger);
    clearTimeout(this.#pauseTimer);
    this.outbox.clear();
    try {
      this.conn.close();
    } catch {
      // already closed by the runtime
    }
    const resume = this.#resume;
    this.#resume = null;
    resume?.();
    const unpause = this.#unpause;
    this.#unpause = null;
    unpause?.();
  }
}

/** Bytes `text` takes in UTF-8. */
function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
