/**
 * One client socket: a reader loop that turns bytes into clean lines and posts them to the hub,
 * and a writer that drains the client's outbox with one coalesced write at a time. Policy lives
 * in the hub; this file only moves bytes and keeps its own buffers small and bounded.
 *
 * A telnet client that lets the server echo (character mode) gets a line editor: its keys are
 * edited here and only finished lines go to the hub, and every write of the hub's lines is
 * wrapped in an erase of the prompt and input before it and a redraw after it, so incoming
 * messages never land in the middle of what the person is typing.
 *
 * In screen-reader mode (the hub's `lineMode` effect) there is no line editor: the client
 * is asked back into line mode and the hub's lines go out exactly as they are, with no erase and
 * no redraw around them.
 */
import { LineFramer } from "./framing.ts";
import type { CloseMode, HubEvent, Outbox } from "../chat/events.ts";
import { type Bucket, charge, fullBucket, take } from "../lib/bucket.ts";
import { describeError } from "../lib/errors.ts";
import { longerThan } from "../lib/utf8.ts";
import { cleanLine, cleanText } from "../lib/sanitize.ts";
import { TelnetSession } from "./telnet.ts";
import { columns, type Completion, LineEditor, MAX_LISTED } from "../terminal/editor.ts";
import { gather, LARGE_READ, releaseRead, SMALL_READ, smallRead } from "./buffers.ts";

export { LARGE_READ, SMALL_READ } from "./buffers.ts";

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
/**
 * Echo and telnet answers a client may leave unsent (they are not in the hub's outbox); past it
 * the server stops reading from the client until they are written, so the server's own echo
 * never counts against a client, and one that types without reading only waits.
 */
export const MAX_OWN = 64 * 1024;

/**
 * Editor work (see LineEditor's EditResult.work: cells walked and written) charged to the input
 * allowance as one byte: a key that makes the editor redraw a long line costs the sender as
 * much as the bytes of that redraw would, so no key sequence costs more than a small, bounded
 * share of the server.
 */
export const WORK_PER_BYTE = 4;
/** Editor work done for one read at most; the rest of the keys wait for the allowance. */
export const MAX_EDIT_WORK = 16 * 1024;

/** Editor work done by the read being handled (one reader runs at a time). */
let editWork = 0;

/** The socket a connection reads and writes: a `Deno.Conn`, a TlsStream or a WsStream. */
export interface ByteStream {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  /** True while nothing can be written yet (a TLS handshake under way). */
  readonly pending?: boolean;
}

/** What a connection needs from the server around it. */
export interface ConnectionHost {
  post(ev: HubEvent): void;
  /** The connection's socket is closed and its reader has stopped. */
  ended(id: number): void;
  /** The clock (epoch ms) that stamps input when it is read. */
  now(): number;
  /**
   * The earliest time bytes read at `now` may have arrived, the reader having read last at
   * `since`: earlier than `now` only when the server was stalled meanwhile.
   */
  earliest(since: number, now: number): number;
  maxLine: number;
  /** Bytes per second read from one connection (0 = no limit). */
  maxInputRate: number;
  /** Bytes read from every connection so far. */
  bytesIn: number;
  /** Whether a line carries a secret (the operator token, a room key): Up never recalls it. */
  secret(line: string): boolean;
  /** Where the secret part of a line being typed starts (a password), or -1: drawn as stars. */
  secretFrom(line: string): number;
  /** Tab completion for client `id`'s line editor (see LineEditor's Completer), `max` listed. */
  complete(id: number, word: string, atLineStart: boolean, max: number): Completion;
}

/** Connection's #flags. */
const PLAIN = 1;
const WRITING = 2;
const CLOSING = 4;
const CLOSED = 8;
const WAS_PARTIAL = 16;
const REFUSING = 32;
const READER = 64;
const IRC = 128;

/** A connection's input allowance and the pause it imposes (see Connection's #charge). */
interface Allowance {
  /** Bytes it may still read (see ConnectionHost.maxInputRate); may run into debt. */
  bytes: Bucket;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Ends the pause early (the connection closes). */
  unpause: (() => void) | null;
}

const encoder = new TextEncoder();
const rawDecoder = new TextDecoder();
const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * An IRC line as it came, decoded (invalid UTF-8 becomes U+FFFD), with NUL removed: the IRC door
 * parses it and cleans each text it takes.
 */
function rawLine(bytes: Uint8Array): string {
  const text = rawDecoder.decode(bytes);
  return text.includes("\0") ? text.replaceAll("\0", "") : text;
}

/** A connected client's socket and buffers. */
export class Connection {
  readonly id: number;
  readonly conn: ByteStream;
  readonly outbox: Outbox;
  /** Pacing, kept by the server: when its writer was last started (performance.now() ms). */
  lastKick = 0;
  /** Waiting for its turn to write (and until when). */
  waiting = false;
  dueAt = 0;
  readonly #host: ConnectionHost;
  /** Made on the first read: a connection that never sends a byte costs nothing for them. */
  #framer: LineFramer | null = null;
  #telnet: TelnetSession | null = null;
  /** The line editor, once the client is in character mode. */
  #editor: LineEditor | null = null;
  /** The prompt the hub last gave (shown by the editor). */
  #prompt = "";
  /** Keys the editor has not taken yet (its work for one read was used up). */
  #keys: Uint8Array | null = null;
  /**
   * Bytes for the client that are not the hub's, in order: telnet answers and the editor's
   * echo. They go out before the hub's lines, so the editor's idea of the screen holds.
   */
  #own: Uint8Array[] | null = null;
  #ownBytes = 0;
  /** The booleans below, a bit each: an idle connection's fields are most of what it costs. */
  #flags = 0;
  #inflight = 0;
  /** When the last read returned (epoch ms): bytes read next came after it. */
  #readAt: number;
  /** Wakes the reader waiting for the hub to catch up or for its echo to be sent. */
  #resume: (() => void) | null = null;
  #linger: ReturnType<typeof setTimeout> | undefined;
  /** Made on the first charge: a connection that never sends a byte costs nothing for it. */
  #allowance: Allowance | null = null;
  #telnetBudget: Bucket | null = null;
  /** Resolves once the socket is closed and the reader has stopped. */
  readonly done: Promise<void>;

  /**
   * `telnet` false: the peer cannot speak telnet (a browser's WebSocket): its bytes are lines,
   * and it is never offered a telnet option. `irc`: an IRC client: no telnet either, and its
   * lines go to the hub as they came (decoded; the hub's IRC door cleans what it takes as text,
   * once CTCP and IRC formatting, which are control bytes, are taken off).
   */
  constructor(
    id: number,
    conn: ByteStream,
    host: ConnectionHost,
    telnet: boolean | "irc",
    outbox: Outbox,
  ) {
    this.id = id;
    this.conn = conn;
    this.outbox = outbox;
    this.#host = host;
    this.#readAt = host.now();
    if (telnet === "irc") this.#flags = PLAIN | IRC;
    else if (!telnet) this.#flags = PLAIN;
    this.done = this.#read();
  }

  /** No telnet at all (a WebSocket). */
  get #plain(): boolean {
    return (this.#flags & PLAIN) !== 0;
  }
  get #writing(): boolean {
    return (this.#flags & WRITING) !== 0;
  }
  set #writing(on: boolean) {
    this.#flag(WRITING, on);
  }
  /** Close requested: discard input, flush output, then close. */
  get #closing(): boolean {
    return (this.#flags & CLOSING) !== 0;
  }
  set #closing(on: boolean) {
    this.#flag(CLOSING, on);
  }
  get #closed(): boolean {
    return (this.#flags & CLOSED) !== 0;
  }
  set #closed(on: boolean) {
    this.#flag(CLOSED, on);
  }
  get #wasPartial(): boolean {
    return (this.#flags & WAS_PARTIAL) !== 0;
  }
  set #wasPartial(on: boolean) {
    this.#flag(WAS_PARTIAL, on);
  }
  /** Close as soon as the queued line is written (a refused connection). */
  get #refusing(): boolean {
    return (this.#flags & REFUSING) !== 0;
  }
  set #refusing(on: boolean) {
    this.#flag(REFUSING, on);
  }
  #flag(bit: number, on: boolean): void {
    this.#flags = on ? this.#flags | bit : this.#flags & ~bit;
  }

  /** True once the socket is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The hub has handled one of this connection's input events. */
  processed(): void {
    this.#inflight--;
    if (this.#inflight < MAX_INFLIGHT) this.#wake();
  }

  #wake(): void {
    const resume = this.#resume;
    this.#resume = null;
    resume?.();
  }

  /** Starts the writer if there is something to write and none is running. */
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
    // A refusal before a TLS handshake is closed before any TLS work is done on it.
    if (mode === "drop" || (mode === "refuse" && this.conn.pending)) {
      this.#hardClose();
      return;
    }
    if (this.#closing) return;
    this.#closing = true;
    this.#refusing = mode === "refuse";
    this.#linger = setTimeout(() => this.#hardClose(), this.#refusing ? REFUSE_MS : LINGER_MS);
    // The writer ends by shutting the write side; start it if the last words are still queued.
    if (this.#writing) return;
    if (this.outbox.bytes > 0 || this.#ownBytes > 0) void this.#write();
    else this.#afterFlush();
  }

  async #read(): Promise<void> {
    // The loop keeps few locals and no closures: while a connection waits for input (most of
    // its life) its suspended frame is all it holds; the work on bytes is done in #input.
    let buf = smallRead();
    let reason = "connection closed";
    const host = this.#host;
    let bytes = 0;
    let discarded = 0;
    try {
      while (!this.#closed) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        host.bytesIn += n;
        const at = host.now();
        const from = host.earliest(this.#readAt, at);
        this.#readAt = at;
        if (this.#closing) {
          if ((discarded += n) > CLOSING_DISCARD) break;
          if (host.maxInputRate > 0) await this.#pause(this.#charge(n, at));
          continue;
        }
        bytes += n;
        editWork = 0;
        if (this.#input(buf.subarray(0, n), at, from, bytes)) bytes = 0;
        if (this.#ownBytes > 0) this.kick();
        if (n === buf.length && buf.length < LARGE_READ) {
          releaseRead(buf);
          buf = new Uint8Array(Math.min(buf.length * 4, LARGE_READ));
        } else if (n <= SMALL_READ && buf.length > SMALL_READ) {
          buf = smallRead();
        }
        const cost = Math.max(n, editWork / WORK_PER_BYTE);
        const wait = host.maxInputRate > 0 ? this.#charge(cost, at) : 0;
        if (wait > 0 || this.#keys) await this.#payForKeys(wait);
        if (this.#inflight >= MAX_INFLIGHT || this.#ownBytes > MAX_OWN) {
          await this.#caughtUp();
        }
      }
    } catch (e) {
      reason = describeError(e);
    }
    releaseRead(buf);
    this.#framer?.reset();
    if (!this.#closing && !this.#closed) this.#host.post({ type: "closed", id: this.id, reason });
    this.#hardClose();
    this.#host.ended(this.id);
  }

  /**
   * Waits out the input allowance (`wait` ms), then edits the keys the editor left for later a
   * read's worth at a time, each paid for the same way.
   */
  async #payForKeys(wait: number): Promise<void> {
    const host = this.#host;
    while (true) {
      if (wait > 0) await this.#pause(wait);
      if (!this.#keys || this.#closed) return;
      if (wait <= 0) await new Promise((resolve) => setTimeout(resolve, 0));
      this.#moreKeys(host.now());
      if (this.#ownBytes > 0) this.kick();
      const cost = editWork / WORK_PER_BYTE;
      wait = host.maxInputRate > 0 ? this.#charge(cost, host.now()) : 0;
    }
  }

  /** Waits until the hub has handled this connection's input and its echo went out. */
  async #caughtUp(): Promise<void> {
    while ((this.#inflight >= MAX_INFLIGHT || this.#ownBytes > MAX_OWN) && !this.#closed) {
      await this.#backlogged();
    }
  }

  /**
   * Handles `data` read at `at` (arrived from `from` on, see ConnectionHost.earliest): telnet,
   * framing or editing, and an input event for the hub when there is news (`bytes`: read since
   * the last event). True when an event was posted.
   */
  #input(data: Uint8Array, at: number, from: number, bytes: number): boolean {
    const framer = this.#framer ??= new LineFramer(this.#host.maxLine);
    let telnetFloods = 0;
    let telnet: TelnetSession | null = null;
    if (!this.#plain) {
      telnet = this.#telnet ??= this.#newTelnet();
      data = telnet.feed(data);
      const reply = telnet.takeReply();
      if (reply) this.#queue(reply);
      if (telnet.removed > 0) telnetFloods = this.#countTelnet(telnet.removed, at);
    }
    const lines: string[] = [];
    framer.overlong = 0;
    this.#route(data, telnet, lines);
    if (telnet?.terminalChanged) this.#postTerminal();
    return this.#report(lines, telnetFloods, at, from, bytes);
  }

  #newTelnet(): TelnetSession {
    const t = new TelnetSession();
    if (this.#flags & READER) t.setLineOnly(true);
    return t;
  }

  /** Tells the hub the terminal's mode and what TTYPE told of it. */
  #postTerminal(): void {
    const t = this.#telnet;
    this.#host.post({
      type: "terminal",
      id: this.id,
      charMode: this.#editor !== null,
      ...(t && t.termType ? { termType: t.termType } : {}),
      ...(t?.screenReader ? { screenReader: true } : {}),
    });
  }

  /**
   * Bytes typed in line mode go to the framer, keys in character mode to the editor; the mode
   * can change in the middle of a read (a client sends what it buffered right after agreeing to
   * character mode). Finished lines go to `lines`.
   */
  #route(data: Uint8Array, telnet: TelnetSession | null, lines: string[]): void {
    const framer = this.#framer!;
    const switched = telnet?.modeChangedAt ?? -1;
    const charMode = telnet?.charMode ?? false;
    let typed: Uint8Array = data;
    let keys: Uint8Array = EMPTY;
    if (switched >= 0 && charMode) {
      typed = data.subarray(0, switched);
      keys = data.subarray(switched);
    } else if (switched >= 0) {
      keys = data.subarray(0, switched);
      typed = data.subarray(switched);
    } else if (this.#editor) {
      typed = EMPTY;
      keys = data;
    }
    if (typed.length > 0 && this.#flags & IRC) {
      framer.push(typed, (line) => this.#accept(rawLine(line), lines));
    } else if (typed.length > 0) {
      framer.push(typed, (line) => {
        // Cleaning can make text longer than its bytes (U+FFFD is 3 bytes): the limit is on
        // what would be sent.
        this.#accept(cleanLine(line), lines);
      });
    }
    if (switched >= 0 && charMode) {
      this.#startEditor();
      const started = framer.takePartial();
      if (started.length > 0) this.#edit(started, lines);
    }
    if (keys.length > 0 && this.#editor) this.#edit(keys, lines);
    if (switched >= 0 && !charMode) this.#stopEditor();
    if (telnet?.resized && this.#editor) this.#echo(this.#editor.resize(telnet.width));
  }

  /** Posts an input event when a read brought news; true when it did. */
  #report(lines: string[], telnetFloods: number, at: number, from: number, bytes: number): boolean {
    const framer = this.#framer!;
    const partial = !this.#editor && framer.partial;
    if (
      lines.length > 0 || framer.overlong > 0 || telnetFloods > 0 ||
      partial !== this.#wasPartial
    ) {
      this.#wasPartial = partial;
      this.#inflight++;
      this.#host.post({
        type: "input",
        id: this.id,
        at,
        ...(from < at && lines.length > 1 ? { from } : {}),
        bytes,
        lines,
        partial,
        overlong: framer.overlong,
        telnetFloods,
      });
      return true;
    }
    return false;
  }

  async #write(): Promise<void> {
    this.#writing = true;
    const ob = this.outbox;
    try {
      while (!this.#closed && (this.#ownBytes > 0 || ob.due)) {
        const pieces = this.#next(ob);
        if (pieces.length === 0) break;
        for (let i = 0; i < pieces.length; i++) {
          const buf = pieces[i];
          let off = 0;
          while (off < buf.length) {
            off += await this.conn.write(off === 0 ? buf : buf.subarray(off));
          }
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
   * What to write next: the server's own bytes (telnet answers, echo) first, then the hub's lines.
   * For a character-mode client the lines are wrapped in one erase of the prompt and input and
   * one redraw, whatever the number of lines (no redraw after last words before a close).
   */
  #next(ob: Outbox): Uint8Array[] {
    const lines = ob.takeSlices(MAX_WRITE);
    const ed = this.#editor;
    // The common case: views into shared log blocks, written as they are, no copy.
    if (this.#ownBytes === 0 && (lines.length === 0 || !ed)) return gather(lines);
    const parts = this.#own ?? [];
    const wasFull = this.#ownBytes > MAX_OWN;
    this.#own = null;
    this.#ownBytes = 0;
    if (wasFull) this.#wake(); // the reader waited for this echo to go out
    if (lines.length > 0 && ed) {
      parts.push(encoder.encode(ed.erase()), ...lines);
      if (!this.#closing) parts.push(encoder.encode(ed.draw()));
    } else {
      parts.push(...lines);
    }
    return gather(parts);
  }

  /**
   * Queues bytes of the server's own (not the hub's) for the client. Past MAX_OWN the reader
   * stops until the writer has taken them (see #read): echo is never a reason to drop a client.
   */
  #queue(bytes: Uint8Array): void {
    if (bytes.length === 0 || this.#closed) return;
    (this.#own ??= []).push(bytes);
    this.#ownBytes += bytes.length;
  }

  #echo(text: string): void {
    if (text) this.#queue(encoder.encode(text));
  }

  /** Character mode began: from now on the server edits this client's line. */
  #startEditor(): void {
    const host = this.#host;
    const id = this.id;
    this.#editor = new LineEditor({
      maxLine: host.maxLine,
      prompt: this.#prompt,
      width: this.#telnet?.width ?? 0,
      keepSubmitted: false, // the hub shows the line back as the room sees it
      complete: (word, atLineStart) => host.complete(id, word, atLineStart, MAX_LISTED),
      // No secret is recalled by Up: nothing typed before the hub gave a prompt (before joining:
      // the room token), no operator token, no room key.
      remember: (line) => this.#prompt !== "" && !host.secret(line),
      mask: (line) => host.secretFrom(line),
    });
    this.#echo(this.#editor.draw());
    this.#postTerminal();
  }

  /** The client took echo back (line mode again). */
  #stopEditor(): void {
    this.#editor = null;
    this.#postTerminal();
  }

  /**
   * Screen-reader mode on or off (the hub's `lineMode` effect). On: the client is asked back into line
   * mode, the editor is dropped (with the line it held, which the client's own echo never
   * showed), and its prompt row blanked with spaces, not an escape sequence. Off: character
   * mode is offered again; the client's DO ECHO starts the editor as at the first time.
   */
  setLineOnly(on: boolean): void {
    if (((this.#flags & READER) !== 0) === on || this.#closed) return;
    this.#flag(READER, on);
    const t = this.#telnet;
    if (t) {
      t.setLineOnly(on);
      const reply = t.takeReply();
      if (reply) this.#queue(reply);
    }
    const ed = this.#editor;
    if (on && ed) {
      this.#editor = null;
      this.#keys = null;
      const cols = Math.min(columns(ed.prompt + ed.line), Math.max(ed.width, 1) - 1);
      if (cols > 0) this.#echo("\r" + " ".repeat(cols) + "\r");
    }
    this.kick();
  }

  /**
   * Keys through the editor: echo goes back at once, finished lines to `lines`. The editor does
   * at most MAX_EDIT_WORK for them; the keys it did not take wait in #keys.
   */
  #edit(keys: Uint8Array, lines: string[]): void {
    if (this.#keys) {
      // Earlier keys still wait: these go after them.
      const all = new Uint8Array(this.#keys.length + keys.length);
      all.set(this.#keys);
      all.set(keys, this.#keys.length);
      this.#keys = all;
      return;
    }
    const r = this.#editor!.feed(keys, MAX_EDIT_WORK);
    editWork += r.work;
    if (r.consumed < keys.length && !r.leave) this.#keys = keys.slice(r.consumed);
    this.#echo(r.echo);
    for (const line of r.lines) this.#accept(cleanText(line), lines);
    if (r.leave) lines.push("/quit"); // Ctrl-D on an empty line
  }

  /** A finished, cleaned line goes to `lines`, or is counted as over the length limit. */
  #accept(text: string, lines: string[]): void {
    if (longerThan(text, this.#host.maxLine)) this.#framer!.overlong++;
    else lines.push(text);
  }

  /** Edits the keys left from an earlier read, posting the lines they finish. */
  #moreKeys(at: number): void {
    const keys = this.#keys!;
    this.#keys = null;
    editWork = 0;
    if (!this.#editor) return;
    const lines: string[] = [];
    const framer = this.#framer!;
    framer.overlong = 0;
    this.#edit(keys, lines);
    if (lines.length === 0 && framer.overlong === 0) return;
    this.#inflight++;
    this.#host.post({
      type: "input",
      id: this.id,
      at,
      bytes: 0,
      lines,
      partial: false,
      overlong: framer.overlong,
      telnetFloods: 0,
    });
  }

  /** The hub gave this client a new prompt (it joined, or changed its nick). */
  setPrompt(text: string): void {
    this.#prompt = text;
    const ed = this.#editor;
    if (!ed || this.#closing) return;
    ed.prompt = text;
    this.#echo(ed.refresh());
    this.kick();
  }

  /**
   * Charges `n` bytes read at `at` to the input allowance (`maxInputRate` bytes per second,
   * after a burst) and returns how long to wait before reading again: past the allowance the
   * reader waits, the kernel's buffers fill and TCP slows the sender down, so a flood costs the
   * sender time instead of costing the server CPU.
   */
  #charge(n: number, at: number): number {
    const rate = this.#host.maxInputRate;
    const a = this.#allowance ??= { bytes: fullBucket(), timer: undefined, unpause: null };
    return charge(a.bytes, n, Math.max(LARGE_READ, rate), rate / 1_000, at);
  }

  /**
   * Waits until the hub has caught up with this connection's input (see {@link processed}) or
   * its echo has been taken by the writer.
   */
  #backlogged(): Promise<void> {
    return new Promise<void>((resolve) => (this.#resume = resolve));
  }

  /** Waits `ms` before the next read (cut short if the connection closes). */
  #pause(ms: number): Promise<void> {
    const a = this.#allowance;
    if (ms <= 0 || this.#closed || !a) return Promise.resolve();
    return new Promise<void>((resolve) => {
      a.unpause = resolve;
      a.timer = setTimeout(() => {
        a.unpause = null;
        resolve();
      }, ms);
    });
  }

  /** Charges telnet command bytes to their budget; 1 when the budget is overdrawn. */
  #countTelnet(removed: number, at: number): number {
    const b = this.#telnetBudget ??= fullBucket();
    if (take(b, removed, TELNET_BURST, TELNET_RATE / 1_000, at)) return 0;
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
    const a = this.#allowance;
    if (a) clearTimeout(a.timer);
    this.outbox.clear();
    this.#own = null;
    this.#ownBytes = 0;
    try {
      this.conn.close();
    } catch {
      // already closed by the runtime
    }
    const resume = this.#resume;
    this.#resume = null;
    resume?.();
    if (a) {
      const unpause = a.unpause;
      a.unpause = null;
      unpause?.();
    }
  }
}
