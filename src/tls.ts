/**
 * The TLS port. It is built on `node:net` and `node:tls` rather than `Deno.listenTls`, for two
 * things a public server needs that Deno's own TLS listener cannot do (Deno 2.9, measured): a
 * connection closed in the middle of its handshake is only really closed once the client sends
 * something, so a silent client would hold a descriptor for as long as it likes; and a listener's
 * certificate is fixed, so a renewal would mean rebinding the port. Here a handshake that does not
 * finish in time is dropped at once, and a renewed certificate applies to the next connection.
 * A finished connection is handed to the shell as a {@link TlsStream}, which reads and writes
 * like a `Deno.Conn`.
 */
import net from "node:net";
import tls from "node:tls";
import { ByteQueue } from "./byte_queue.ts";
import { normalizeIp } from "./moderation.ts";

/** A certificate chain and its private key, as PEM text. */
export interface TlsFiles {
  cert: string;
  key: string;
}

/** TLS handshakes one address may have in progress at once; more are closed at once. */
export const MAX_HANDSHAKES_PER_IP = 8;
/** TLS handshakes in progress at once, from everyone. */
export const MAX_HANDSHAKES = 512;
/** Decrypted bytes a stream holds for its reader before it stops reading the socket. */
const READ_AHEAD = 64 * 1024;

/** What a {@link TlsPort} tells the server. */
export interface TlsPortEvents {
  /** A client finished its handshake. */
  connection(conn: TlsStream): void;
  /** A handshake failed, timed out or was refused (`why` in a few words, no address). */
  failed(why: string): void;
  /** A client connected (before its handshake), for counting. */
  accepted(): void;
}

/**
 * Checks a certificate and key (PEM) for use; returns why not (not PEM, no key, a key that does
 * not match the certificate), or undefined when they work. node:tls accepts anything here, so
 * Deno's own TLS stack checks the pair, on a listener bound for the moment and closed at once.
 */
export function checkTls(files: TlsFiles): string | undefined {
  try {
    Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: files.cert, key: files.key }).close();
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** A listening TLS port. */
export class TlsPort {
  readonly #server: net.Server;
  #context: tls.SecureContext;
  readonly #events: TlsPortEvents;
  readonly #timeout: number;
  readonly #pending = new Map<string, number>();
  #handshaking = 0;
  #closed = false;

  private constructor(
    server: net.Server,
    context: tls.SecureContext,
    events: TlsPortEvents,
    timeoutMs: number,
  ) {
    this.#server = server;
    this.#context = context;
    this.#events = events;
    this.#timeout = timeoutMs;
  }

  /**
   * Binds `host:port` and serves TLS with `files`; rejects with the runtime's error (with a
   * `code` such as EADDRINUSE) when the address cannot be bound.
   */
  static listen(
    host: string,
    port: number,
    files: TlsFiles,
    timeoutMs: number,
    events: TlsPortEvents,
  ): Promise<TlsPort> {
    const context = tls.createSecureContext({ cert: files.cert, key: files.key });
    const server = net.createServer();
    const p = new TlsPort(server, context, events, timeoutMs);
    server.on("connection", (sock: net.Socket) => p.#accept(sock));
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port }, () => {
        server.off("error", reject);
        server.on("error", () => {}); // accept errors are per connection; nothing to do here
        resolve(p);
      });
    });
  }

  /** The bound address. */
  get addr(): Deno.NetAddr {
    const a = this.#server.address() as net.AddressInfo;
    return { transport: "tcp", hostname: a.address, port: a.port };
  }

  /** Uses `files` for the connections that come next; returns why not, if they are unusable. */
  reload(files: TlsFiles): string | undefined {
    const problem = checkTls(files);
    if (problem) return problem;
    try {
      this.#context = tls.createSecureContext({ cert: files.cert, key: files.key });
      return undefined;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  /** Stops listening (connections already handed over are not affected). */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #accept(sock: net.Socket): void {
    this.#events.accepted();
    const ip = normalizeIp(sock.remoteAddress ?? "");
    const pending = this.#pending.get(ip) ?? 0;
    if (this.#closed || pending >= MAX_HANDSHAKES_PER_IP || this.#handshaking >= MAX_HANDSHAKES) {
      this.#events.failed("too many handshakes at once");
      sock.destroy();
      return;
    }
    this.#pending.set(ip, pending + 1);
    this.#handshaking++;
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      const left = (this.#pending.get(ip) ?? 1) - 1;
      if (left > 0) this.#pending.set(ip, left);
      else this.#pending.delete(ip);
      this.#handshaking--;
      return true;
    };
    const secure = new tls.TLSSocket(sock, { isServer: true, secureContext: this.#context });
    const timer = setTimeout(() => {
      if (!settle()) return;
      this.#events.failed("timed out");
      sock.destroy(); // the raw socket: closed at once, whatever state TLS is in
      secure.destroy();
    }, this.#timeout);
    secure.once("secure", () => {
      if (!settle()) return;
      if (this.#closed) {
        secure.destroy();
        return;
      }
      this.#events.connection(new TlsStream(secure, sock));
    });
    const fail = (e: unknown) => {
      if (!settle()) return;
      this.#events.failed(describe(e));
      secure.destroy();
      sock.destroy();
    };
    secure.once("error", fail);
    secure.once("close", () => fail(new Error("closed before the handshake")));
  }
}

function describe(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\s*\(os error \d+\)/, "").slice(0, 120) || "handshake error";
}

/**
 * A finished TLS connection with the part of `Deno.Conn` the shell uses: `read` resolves with
 * the bytes decrypted so far (null at the end), `write` once the bytes are handed on, `close`
 * at once. Reading stops (and TCP pushes back) while {@link READ_AHEAD} bytes wait unread.
 */
export class TlsStream {
  readonly remoteAddr: Deno.NetAddr;
  readonly #socket: tls.TLSSocket;
  readonly #raw: net.Socket;
  readonly #in = new ByteQueue();
  #ended = false;
  #error: Error | null = null;
  #waiting: ((n: number | null) => void) | null = null;
  #buf: Uint8Array | null = null;
  #failWait: ((e: Error) => void) | null = null;

  constructor(socket: tls.TLSSocket, raw: net.Socket) {
    this.#socket = socket;
    this.#raw = raw;
    this.remoteAddr = {
      transport: "tcp",
      hostname: raw.remoteAddress ?? "",
      port: raw.remotePort ?? 0,
    };
    socket.on("data", (chunk: Uint8Array) => {
      this.#in.push(chunk);
      if (this.#in.size > READ_AHEAD) socket.pause();
      this.#deliver();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#deliver();
    });
    socket.on("error", (e: Error) => {
      this.#error = e;
      this.#deliver();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#deliver();
    });
  }

  /** Reads into `p`: the number of bytes, or null once the client is done. */
  read(p: Uint8Array): Promise<number | null> {
    if (this.#in.size > 0 || this.#ended || this.#error) return this.#take(p);
    return new Promise((resolve, reject) => {
      this.#buf = p;
      this.#waiting = resolve;
      this.#failWait = reject;
    });
  }

  #take(p: Uint8Array): Promise<number | null> {
    if (this.#in.size > 0) return Promise.resolve(this.#copy(p));
    if (this.#error) return Promise.reject(this.#error);
    return Promise.resolve(null);
  }

  #copy(p: Uint8Array): number {
    const n = this.#in.take(p);
    if (this.#in.size <= READ_AHEAD && this.#socket.isPaused()) this.#socket.resume();
    return n;
  }

  #deliver(): void {
    const resolve = this.#waiting;
    if (!resolve) return;
    const reject = this.#failWait!;
    const buf = this.#buf!;
    this.#waiting = this.#failWait = null;
    this.#buf = null;
    if (this.#in.size > 0) resolve(this.#copy(buf));
    else if (this.#error) reject(this.#error);
    else if (this.#ended) resolve(null);
    else {
      this.#waiting = resolve;
      this.#failWait = reject;
      this.#buf = buf;
    }
  }

  /** Writes all of `p`; resolves with its length once it is handed on. */
  write(p: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.#socket.destroyed) return reject(new Deno.errors.BrokenPipe("closed"));
      this.#socket.write(p, (e?: Error | null) => (e ? reject(e) : resolve(p.length)));
    });
  }

  /** Ends the sending side (the client sees the end after what was written). */
  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#socket.end(() => resolve()));
  }

  /** Closes at once; a pending read ends with null. */
  close(): void {
    this.#socket.destroy();
    this.#raw.destroy();
    this.#ended = true;
    this.#deliver();
  }
}
