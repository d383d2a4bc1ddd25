/**
 * One client socket: a reader loop that turns bytes into clean lines and posts them to the hub,
 * and a writer that drains the client's outbox with one coalesced write at a time. Policy lives
 * in the hub; this file only moves bytes and keeps its own buffers small and bounded.
 */
import { LineFramer } from "./framing.ts";
import type { HubEvent } from "./hub.ts";
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

/** What a connection needs from the server around it. */
export interface ConnectionHost {
  post(ev: HubEvent): void;
  /** The connection's socket is closed and its reader has stopped. */
  ended(id: number): void;
  maxLine: number;
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
  #inflight = 0;
  #resume: (() => void) | null = null;
  #linger: ReturnType<typeof setTimeout> | undefined;
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
   * Closes the connection. With `flush`, what the outbox holds is sent first, the write side is
   * shut, and input is discarded until the client hangs up or {@link LINGER_MS} passes (closing
   * with unread input would reset the connection and could destroy the last message).
   */
  close(flush: boolean): void {
    if (this.#closed) return;
    if (!flush) {
      this.#hardClose();
      return;
    }
    if (this.#closing) return;
    this.#closing = true;
    this.#linger = setTimeout(() => this.#hardClose(), LINGER_MS);
    // The writer ends by shutting the write side; start it if the last words are still queued.
    if (this.#writing) return;
    if (this.outbox.bytes > 0) void this.#write();
    else this.#afterFlush();
  }

  async #read(): Promise<void> {
    let buf = new Uint8Array(SMALL_READ);
    let reason = "connection closed";
    const framer = this.#framer;
    try {
      while (!this.#closed) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        if (this.#closing) continue;
        const data = this.#telnet.filter(buf.subarray(0, n));
        const lines: string[] = [];
        framer.overlong = 0;
        framer.push(data, (line) => lines.push(cleanLine(line)), this.#telnet.dropped);
        const partial = framer.partial;
        if (lines.length > 0 || framer.overlong > 0 || partial !== this.#wasPartial) {
          this.#wasPartial = partial;
          this.#inflight++;
          this.#host.post({
            type: "input",
            id: this.id,
            lines,
            partial,
            overlong: framer.overlong,
          });
        }
        if (n === buf.length && buf.length < LARGE_READ) {
          buf = new Uint8Array(Math.min(buf.length * 4, LARGE_READ));
        } else if (n <= SMALL_READ && buf.length > SMALL_READ) {
          buf = new Uint8Array(SMALL_READ);
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
    if (this.#closing && !this.#closed) this.#afterFlush();
  }

  #afterFlush(): void {
    this.conn.closeWrite().catch(() => this.#hardClose());
  }

  #hardClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    clearTimeout(this.#linger);
    this.outbox.clear();
    try {
      this.conn.close();
    } catch {
      // already closed by the runtime
    }
    const resume = this.#resume;
    this.#resume = null;
    resume?.();
  }
}
