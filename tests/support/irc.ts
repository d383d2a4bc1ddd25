/**
 * An IRC test client over a real socket, as a script or a small bot would write one: it sends
 * raw lines, splits what the server sends on CR LF at the byte level (so each line's size on
 * the wire is known, and a line cut inside a UTF-8 character shows up as invalid), parses each
 * with the server's own parser, and can connect from any 127.x address.
 */
import net from "node:net";
import { type IrcMessage, parseMessage } from "../../src/chat/irc/wire.ts";
import { type TestServer, until } from "./helpers.ts";

/** One line the server sent: its text, its size on the wire (CR LF included), parsed. */
export interface IrcLine {
  text: string;
  bytes: number;
  msg: IrcMessage;
}

/** What {@link IrcClient.waitFor} looks for: a command (or numeric), or a test. */
export type IrcMatch = string | ((m: IrcMessage, line: IrcLine) => boolean);

const encoder = new TextEncoder();

/** The IRC port of a test server started with `ircPort: 0`. */
export function ircPort(s: TestServer): number {
  const addr = s.server.ircAddr;
  if (!addr) throw new Error("the server has no IRC port (start it with ircPort: 0)");
  return addr.port;
}

/** A line-oriented IRC client for tests. */
export class IrcClient {
  readonly socket: net.Socket;
  /** Every line received, in order. */
  readonly lines: IrcLine[] = [];
  /** Lines that were not valid UTF-8 (a split inside a character), as hex. */
  readonly invalid: string[] = [];
  /** Answer the server's PING with PONG as a client does (off: a silent client). */
  autoPong = false;
  ended = false;
  readonly closed: Promise<void>;
  #pending = new Uint8Array(0);
  #decoder = new TextDecoder("utf-8", { fatal: true });
  #syncs = 0;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Uint8Array) => this.#feed(new Uint8Array(chunk)));
    socket.on("error", () => {});
    this.closed = new Promise((resolve) =>
      socket.on("close", () => {
        this.ended = true;
        resolve();
      })
    );
  }

  /** Connects to the IRC port `port` from `from` (any 127.x address). */
  static connect(port: number, from = "127.0.0.1"): Promise<IrcClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port, localAddress: from });
      s.once("connect", () => resolve(new IrcClient(s)));
      s.once("error", reject);
    });
  }

  /**
   * Connects and registers as `nick` (NICK, USER); resolves once the welcome is over (the end
   * of the MOTD, or 422 when there is none).
   */
  static async register(port: number, nick: string, from = "127.0.0.1"): Promise<IrcClient> {
    const c = await IrcClient.connect(port, from);
    await c.send(`NICK ${nick}`, `USER ${nick} 0 * :${nick} the tester`);
    await c.waitFor((m) => m.command === "376" || m.command === "422");
    return c;
  }

  #feed(chunk: Uint8Array): void {
    const buf = new Uint8Array(this.#pending.length + chunk.length);
    buf.set(this.#pending);
    buf.set(chunk, this.#pending.length);
    let start = 0;
    for (let i = 0; i + 1 < buf.length; i++) {
      if (buf[i] !== 0x0d || buf[i + 1] !== 0x0a) continue;
      this.#line(buf.subarray(start, i));
      start = i + 2;
      i++;
    }
    this.#pending = buf.slice(start);
  }

  #line(bytes: Uint8Array): void {
    let text: string;
    try {
      text = this.#decoder.decode(bytes);
    } catch {
      this.invalid.push([...bytes].map((b) => b.toString(16).padStart(2, "0")).join(""));
      text = new TextDecoder().decode(bytes);
    }
    const msg = parseMessage(text) ?? { tags: {}, source: "", command: "", params: [] };
    this.lines.push({ text, bytes: bytes.length + 2, msg });
    if (this.autoPong && msg.command === "PING") void this.send(`PONG :${msg.params[0] ?? ""}`);
  }

  /** Sends each line with CR LF, all in one write. */
  send(...lines: string[]): Promise<void> {
    return this.write(lines.map((l) => l + "\r\n").join(""));
  }

  /** Sends raw text or bytes. */
  write(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed || !this.socket.writable) return resolve();
      this.socket.write(typeof data === "string" ? encoder.encode(data) : data, () => resolve());
    });
  }

  /** How many lines have come so far: a mark for {@link waitFor} and {@link since}. */
  mark(): number {
    return this.lines.length;
  }

  /** Messages received after `mark`. */
  since(mark: number): IrcMessage[] {
    return this.lines.slice(mark).map((l) => l.msg);
  }

  /** Every message received. */
  get messages(): IrcMessage[] {
    return this.lines.map((l) => l.msg);
  }

  /** Waits for a message matching `match` received after `from`; returns it. */
  async waitFor(match: IrcMatch, from = 0, ms = 5_000): Promise<IrcMessage> {
    const test = typeof match === "string" ? (m: IrcMessage) => m.command === match : match;
    let found: IrcLine | undefined;
    const describe = typeof match === "string" ? match : match.toString().slice(0, 120);
    await until(
      () => (found = this.lines.slice(from).find((l) => test(l.msg, l))) !== undefined,
      `IRC message ${describe}; got:\n${this.lines.slice(from).map((l) => l.text).join("\n")}`,
      ms,
    );
    return found!.msg;
  }

  /**
   * A barrier: PING with a fresh token and wait for its PONG. Everything the server had to
   * say in answer to what this client sent before is in front of it.
   */
  async sync(ms = 5_000): Promise<void> {
    const token = `sync-${++this.#syncs}`;
    const from = this.mark();
    await this.send(`PING :${token}`);
    await this.waitFor((m) => m.command === "PONG" && m.params.at(-1) === token, from, ms);
  }

  /** Waits until the server has closed the connection. */
  async waitClosed(ms = 5_000): Promise<void> {
    await until(() => this.ended || this.socket.readableEnded, "the server to close", ms);
  }

  /** Closes the connection (if the server did not) and waits until it is gone. */
  async close(): Promise<void> {
    if (!this.ended) this.socket.destroy();
    await this.closed;
  }
}

/** `nick!user@host` of a member as the server shows it (see maskOf). */
export function mask(ircNick: string): string {
  return `${ircNick}!${ircNick.slice(0, 10)}@shat`;
}
