/**
 * WebSocket (RFC 6455) for the web port, on a plain TCP connection of our own rather than the
 * runtime's: the runtime assembles a fragmented message before anyone can look at its size (a
 * text frame without FIN and its continuations grew a server by 1.2 GiB in seconds), so here the
 * message limit holds while the message arrives: the frame that would cross it is refused from
 * its header, before its payload is read, and nothing larger than a read buffer is ever held.
 *
 * {@link FrameReader} is the pure part (frames in, message pieces and control frames out);
 * {@link WsStream} gives a connection the `read`/`write` of a `Deno.Conn`: each message is one
 * typed line (read as bytes ending in LF), and each write goes out as one text frame carrying
 * whole lines.
 */
import { createHash } from "node:crypto";
import { ByteQueue } from "../lib/byte_queue.ts";

/** The GUID a handshake's Sec-WebSocket-Key is hashed with (RFC 6455, section 1.3). */
const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** The Sec-WebSocket-Accept answer for a client's Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash("sha1").update(key + WS_GUID).digest("base64");
}

/** A Sec-WebSocket-Key as RFC 6455 asks: 16 bytes in base64. */
export function validKey(key: string): boolean {
  return /^[A-Za-z0-9+/]{22}==$/.test(key);
}

/** Opcodes. */
export const OP_CONTINUATION = 0;
export const OP_TEXT = 1;
export const OP_BINARY = 2;
export const OP_CLOSE = 8;
export const OP_PING = 9;
export const OP_PONG = 10;

/** Close codes the server sends. */
export const CLOSE_NORMAL = 1000;
export const CLOSE_PROTOCOL = 1002;
export const CLOSE_POLICY = 1008;
export const CLOSE_TOO_BIG = 1009;

/** Encodes one server frame (servers never mask). */
export function encodeFrame(op: number, payload: Uint8Array, fin = true): Uint8Array {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const out = new Uint8Array(head + n);
  out[0] = (fin ? 0x80 : 0) | op;
  if (n < 126) {
    out[1] = n;
  } else if (n < 65_536) {
    out[1] = 126;
    out[2] = n >> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = 127;
    const view = new DataView(out.buffer);
    view.setUint32(2, Math.floor(n / 2 ** 32));
    view.setUint32(6, n >>> 0);
  }
  out.set(payload, head);
  return out;
}

/** A close frame's payload: the code, then the reason in UTF-8 (at most 123 bytes). */
export function closePayload(code: number, reason = ""): Uint8Array {
  const text = new TextEncoder().encode(reason).subarray(0, 123);
  const out = new Uint8Array(2 + text.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(text, 2);
  return out;
}

/** What a {@link FrameReader} finds, in order. */
export interface FrameSink {
  /** A piece of a data message's payload (a view that is reused after the call: copy it). */
  data(bytes: Uint8Array): void;
  /** The data message is complete. */
  end(): void;
  /** A ping with its payload (answer with a pong carrying it). */
  ping(payload: Uint8Array): void;
  /** The client closes with `code` (1005 when it gave none). */
  close(code: number): void;
  /** The client broke the protocol or the limit: close with `code`; nothing more is read. */
  error(code: number, why: string): void;
}

// Reader states.
const HEAD = 0;
const PAYLOAD = 1;
const FAILED = 2;

/**
 * Client frames in, pieces of messages out, with the message limit enforced as frames arrive:
 * a frame whose declared length would take its message past `maxMessage` is refused from its
 * header. Control frames (at most 125 bytes, never fragmented) are gathered whole; data is
 * handed on as it is unmasked, in place.
 */
export class FrameReader {
  readonly #max: number;
  #state = HEAD;
  readonly #head = new Uint8Array(14);
  #headLen = 0;
  #op = 0;
  #fin = false;
  #left = 0;
  readonly #mask = new Uint8Array(4);
  #maskAt = 0;
  /** A data message is open (its first frame came without FIN). */
  #inMessage = false;
  #messageSize = 0;
  /** A control frame's payload, gathered until whole. */
  #control: Uint8Array | null = null;
  #controlLen = 0;

  constructor(maxMessage: number) {
    this.#max = maxMessage;
  }

  /** Parses `data`, unmasking payloads in place, and tells `sink` what it found. */
  feed(data: Uint8Array, sink: FrameSink): void {
    let i = 0;
    while (i < data.length && this.#state !== FAILED) {
      if (this.#state === HEAD) {
        this.#head[this.#headLen++] = data[i++];
        if (this.#headLen === 2 && (this.#head[1] & 0x80) === 0) {
          return this.#fail(sink, CLOSE_PROTOCOL, "unmasked client frame");
        }
        const need = this.#headNeeds();
        if (this.#headLen === need) this.#startFrame(sink);
        continue;
      }
      const n = Math.min(this.#left, data.length - i);
      const piece = data.subarray(i, i + n);
      i += n;
      this.#unmask(piece);
      this.#left -= n;
      if (this.#op >= OP_CLOSE) {
        this.#control!.set(piece, this.#controlLen);
        this.#controlLen += n;
      } else if (n > 0) {
        sink.data(piece);
      }
      if (this.#left === 0) this.#endFrame(sink);
    }
  }

  /** Header bytes the frame being read needs (2 to 14, known once its first bytes are in). */
  #headNeeds(): number {
    if (this.#headLen < 2) return 2;
    const len = this.#head[1] & 0x7f;
    return 2 + (len === 126 ? 2 : len === 127 ? 8 : 0) + 4;
  }

  #fail(sink: FrameSink, code: number, why: string): void {
    this.#state = FAILED;
    sink.error(code, why);
  }

  #startFrame(sink: FrameSink): void {
    const h = this.#head;
    this.#headLen = 0;
    const b0 = h[0];
    const b1 = h[1];
    this.#fin = (b0 & 0x80) !== 0;
    const op = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) return this.#fail(sink, CLOSE_PROTOCOL, "reserved bits set");
    let len = b1 & 0x7f;
    let at = 2;
    if (len === 126) {
      len = (h[2] << 8) | h[3];
      at = 4;
    } else if (len === 127) {
      const view = new DataView(h.buffer, h.byteOffset, 10);
      const high = view.getUint32(2);
      if (high >= 0x200000) return this.#fail(sink, CLOSE_TOO_BIG, "message too big");
      len = high * 2 ** 32 + view.getUint32(6);
      at = 10;
    }
    this.#mask.set(h.subarray(at, at + 4));
    this.#maskAt = 0;
    if (op >= OP_CLOSE) {
      if (op !== OP_CLOSE && op !== OP_PING && op !== OP_PONG) {
        return this.#fail(sink, CLOSE_PROTOCOL, "unknown opcode");
      }
      if (!this.#fin || len > 125) return this.#fail(sink, CLOSE_PROTOCOL, "bad control frame");
      this.#control = new Uint8Array(len);
      this.#controlLen = 0;
    } else if (op === OP_CONTINUATION) {
      if (!this.#inMessage) return this.#fail(sink, CLOSE_PROTOCOL, "continuation of nothing");
    } else if (op === OP_TEXT || op === OP_BINARY) {
      if (this.#inMessage) return this.#fail(sink, CLOSE_PROTOCOL, "message inside a message");
      this.#inMessage = true;
      this.#messageSize = 0;
    } else {
      return this.#fail(sink, CLOSE_PROTOCOL, "unknown opcode");
    }
    if (op < OP_CLOSE) {
      // The limit holds for the message so far plus this frame, before any of it is read.
      this.#messageSize += len;
      if (this.#messageSize > this.#max) return this.#fail(sink, CLOSE_TOO_BIG, "message too big");
    }
    this.#op = op;
    this.#left = len;
    this.#state = PAYLOAD;
    if (len === 0) this.#endFrame(sink);
  }

  #unmask(piece: Uint8Array): void {
    const m = this.#mask;
    let k = this.#maskAt;
    for (let j = 0; j < piece.length; j++) {
      piece[j] ^= m[k];
      k = (k + 1) & 3;
    }
    this.#maskAt = k;
  }

  #endFrame(sink: FrameSink): void {
    this.#state = HEAD;
    const op = this.#op;
    if (op >= OP_CLOSE) {
      const payload = this.#control!.subarray(0, this.#controlLen);
      this.#control = null;
      if (op === OP_PING) sink.ping(payload);
      else if (op === OP_CLOSE) {
        sink.close(payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005);
        this.#state = FAILED; // nothing after a close is read
      }
      return;
    }
    if (this.#fin) {
      this.#inMessage = false;
      sink.end();
    }
  }
}

/** Seconds of silence after which a ping is sent; one more such wait without an answer ends it. */
export const WS_IDLE_SECONDS = 30;
/** Bytes read from the socket at a time. */
const READ_BUFFER = 4096;
/**
 * After a close frame, how long and how much the stream still reads (and drops) before it closes
 * the socket: closing with unread input would reset the connection and could destroy the close
 * frame before the browser reads it.
 */
const LINGER_MS = 1_000;
const LINGER_BYTES = 1024 * 1024;
const NEWLINE = new Uint8Array([0x0a]);
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/** The socket a {@link WsStream} runs over (a `Deno.Conn`, or anything that reads and writes). */
export interface RawSocket {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
}

/**
 * A browser's WebSocket with the part of `Deno.Conn` a connection uses. `read` pulls frames from
 * the socket only when asked, so TCP holds what the server is not ready for; each message is
 * handed over as its bytes and an LF. `write` sends whole lines as one text frame (a partial last
 * line waits for the next write, so no frame ever splits a character). Pings notice a browser
 * that went away ({@link idleCheck}).
 */
export class WsStream {
  readonly remoteAddr: Deno.NetAddr;
  readonly #socket: RawSocket;
  readonly #reader: FrameReader;
  readonly #in = new ByteQueue();
  #buf: Uint8Array | null = null;
  /** Bytes that came with the upgrade request, read before the socket. */
  #early: Uint8Array;
  #ended = false;
  #error: Error | null = null;
  #closeSent = false;
  /** A socket read is under way (the reader's); #shut then leaves the reading to it. */
  #reading = false;
  #shutting = false;
  /** The part of the last write after its last line end, sent with the next write. */
  #carry: Uint8Array = EMPTY;
  /** Writes go out one after another: pongs and close frames come between the writer's. */
  #tail: Promise<void> = Promise.resolve();
  /** When bytes last came (performance.now()), and when a ping went unanswered since. */
  #heardAt: number;
  #pingAt = 0;

  constructor(
    socket: RawSocket,
    ip: string,
    port: number,
    maxMessage: number,
    early: Uint8Array = EMPTY,
  ) {
    this.#socket = socket;
    this.#reader = new FrameReader(maxMessage);
    this.remoteAddr = { transport: "tcp", hostname: ip, port };
    this.#early = early;
    this.#heardAt = performance.now();
  }

  /** True once the browser is gone or the stream was closed. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Reads into `p`: the number of bytes, or null once the browser is gone. */
  async read(p: Uint8Array): Promise<number | null> {
    while (this.#in.size === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      let chunk: Uint8Array;
      if (this.#early.length > 0) {
        chunk = this.#early;
        this.#early = EMPTY;
      } else {
        const buf = this.#buf ??= new Uint8Array(READ_BUFFER);
        let n: number | null;
        this.#reading = true;
        try {
          n = await this.#socket.read(buf);
        } catch (e) {
          if (this.#ended) return null;
          throw e;
        } finally {
          this.#reading = false;
        }
        if (n === null) {
          this.#ended = true;
          return null;
        }
        chunk = buf.subarray(0, n);
      }
      this.#heardAt = performance.now();
      this.#pingAt = 0;
      this.#reader.feed(chunk, this.#sink);
    }
    return this.#in.take(p);
  }

  readonly #sink: FrameSink = {
    data: (bytes) => this.#in.push(bytes.slice()),
    end: () => this.#in.push(NEWLINE),
    ping: (payload) => void this.#send(encodeFrame(OP_PONG, payload.slice())),
    close: (code) => {
      this.#ended = true;
      if (!this.#closeSent) {
        this.#closeSent = true;
        void this.#send(encodeFrame(OP_CLOSE, code === 1005 ? EMPTY : closePayload(code)));
      }
    },
    error: (code, why) => {
      this.#error = new Error(why);
      this.#ended = true;
      this.#sendClose(code, why);
    },
  };

  #sendClose(code: number, reason: string): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    void this.#send(encodeFrame(OP_CLOSE, closePayload(code, reason)));
  }

  /** Queues `bytes` for the socket after everything before it; rejects if it cannot be sent. */
  #send(bytes: Uint8Array): Promise<void> {
    const run = async () => {
      let off = 0;
      while (off < bytes.length) {
        off += await this.#socket.write(off === 0 ? bytes : bytes.subarray(off));
      }
    };
    const p = this.#tail.then(run);
    this.#tail = p.catch(() => {});
    return p;
  }

  /** Sends the whole lines in `p` as one text frame; resolves with `p.length` once sent. */
  async write(p: Uint8Array): Promise<number> {
    if (this.#closeSent || this.#error) throw new Deno.errors.BrokenPipe("websocket closed");
    const last = p.lastIndexOf(0x0a);
    if (last < 0) {
      this.#carry = join(this.#carry, p);
      return p.length;
    }
    const lines = join(this.#carry, p.subarray(0, last + 1));
    this.#carry = last + 1 < p.length ? p.slice(last + 1) : EMPTY;
    await this.#send(encodeFrame(OP_TEXT, lines));
    return p.length;
  }

  /** Says goodbye (a close frame after what was sent) and shuts the sending side. */
  async closeWrite(): Promise<void> {
    this.#sendClose(CLOSE_NORMAL, "bye");
    await this.#tail;
    await this.#socket.closeWrite();
  }

  /**
   * Closes. After a close frame the socket is closed gracefully (the frame flushed, the sending
   * side shut, what the browser still sends read and dropped, within {@link LINGER_MS}), so the
   * browser gets the close code; otherwise at once. A pending read ends with null.
   */
  close(): void {
    this.#ended = true;
    if (this.#shutting) return;
    this.#shutting = true;
    if (!this.#closeSent || this.#reading) {
      this.#closeSocket();
      return;
    }
    void this.#linger();
  }

  async #linger(): Promise<void> {
    const timer = setTimeout(() => this.#closeSocket(), LINGER_MS);
    try {
      await this.#tail;
      await this.#socket.closeWrite();
      const buf = this.#buf ??= new Uint8Array(READ_BUFFER);
      let dropped = 0;
      while (dropped < LINGER_BYTES) {
        const n = await this.#socket.read(buf);
        if (n === null) break;
        dropped += n;
      }
    } catch {
      // closed meanwhile
    }
    clearTimeout(timer);
    this.#closeSocket();
  }

  #closeSocket(): void {
    try {
      this.#socket.close();
    } catch {
      // already closed
    }
  }

  /**
   * Pings a browser silent for {@link WS_IDLE_SECONDS} (`now` is performance.now()), and closes
   * one that stayed silent for as long again after its ping.
   */
  idleCheck(now: number): void {
    if (this.#ended || this.#closeSent) return;
    const idle = WS_IDLE_SECONDS * 1_000;
    if (this.#pingAt > 0) {
      if (now - this.#pingAt >= idle) this.close();
    } else if (now - this.#heardAt >= idle) {
      this.#pingAt = now;
      this.#send(encodeFrame(OP_PING, encoder.encode("shat"))).catch(() => {});
    }
  }
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
