/**
 * The TLS port. TLS is done by `node:tls` on connections the server's own accept loop takes
 * (the one every port shares, which survives running out of descriptors; Deno's `node:net`
 * listener stops accepting for good after that, measured on Deno 2.9), rather than by
 * `Deno.listenTls`, for two things a public server needs that Deno's own TLS listener cannot do:
 * a connection closed in the middle of its handshake is only really closed once the client
 * sends something, so a silent client would hold a descriptor for as long as it likes; and a
 * listener's certificate is fixed, so a renewal would mean rebinding the port. Here a handshake
 * that does not finish in time is dropped at once, and a renewed certificate applies to the next
 * connection.
 *
 * A connection is handed to the shell as a {@link TlsStream} as soon as it is accepted, before
 * its handshake, so the hub's rules (bans, the connect rate, the caps) decide before any TLS work
 * is spent on it; it reads and writes like a `Deno.Conn` once {@link TlsStream.secured}.
 * Handshakes in progress are capped fairly: per address, per network, and in total, where the
 * total still lets in a newcomer from a network that has none in progress.
 */
import { Duplex } from "node:stream";
import tls from "node:tls";
import { ByteQueue } from "../lib/byte_queue.ts";
import { describeError } from "../lib/errors.ts";
import { ipKey, IPV6_PREFIX, normalizeIp } from "../lib/ip.ts";

/** A certificate chain and its private key, as PEM text. */
export interface TlsFiles {
  cert: string;
  key: string;
}

/** TLS handshakes one address (an IPv6 /64) may have in progress at once; more are closed. */
export const MAX_HANDSHAKES_PER_IP = 8;
/** TLS handshakes one network (an IPv4 /24, an IPv6 /48) may have in progress at once. */
export const MAX_HANDSHAKES_PER_NET = 32;
/**
 * TLS handshakes in progress past which only networks with fewer than {@link NEWCOMER_SHARE}
 * in progress get a new one, up to {@link HARD_MAX_HANDSHAKES}: a few networks cannot fill it.
 */
export const MAX_HANDSHAKES = 512;
export const NEWCOMER_SHARE = 2;
export const HARD_MAX_HANDSHAKES = 4096;
/** Decrypted bytes a stream holds for its reader before it stops reading the socket. */
const READ_AHEAD = 64 * 1024;
/** Bytes read from the TCP connection at a time (a TLS record is at most 16 KiB). */
const RAW_READ = 4096;

/** What a {@link TlsPort} tells the server. */
export interface TlsPortEvents {
  /**
   * A client connected and may handshake: its stream reads and writes once
   * {@link TlsStream.secured} resolves (it rejects when the handshake fails or times out).
   */
  connection(conn: TlsStream): void;
  /** A handshake failed, timed out or was refused (`why` in a few words, no address). */
  failed(why: string): void;
  /** A client connected (before its handshake), for counting. */
  accepted(): void;
}

/** The network an address belongs to, for the per-network cap: an IPv4 /24, an IPv6 /48. */
export function networkKey(ip: string): string {
  if (ip.includes(":")) return ipKey(ip, 48);
  const dot = ip.lastIndexOf(".");
  return dot < 0 ? ip : `${ip.slice(0, dot)}.0/24`;
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

/** The TLS side of a TLS port: its certificate, handshakes and their caps. */
export class TlsPort {
  #context: tls.SecureContext;
  readonly #events: TlsPortEvents;
  readonly #timeout: number;
  readonly #v6Prefix: number;
  /** Handshakes in progress, by address key and by network. */
  readonly #pending = new Map<string, number>();
  readonly #pendingNet = new Map<string, number>();
  #handshaking = 0;
  #closed = false;

  /** Serves TLS with `files` (checked with {@link checkTls} first) on the connections given it. */
  constructor(files: TlsFiles, timeoutMs: number, events: TlsPortEvents, v6Prefix = IPV6_PREFIX) {
    this.#context = tls.createSecureContext({ cert: files.cert, key: files.key });
    this.#events = events;
    this.#timeout = timeoutMs;
    this.#v6Prefix = v6Prefix;
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

  /** Takes no more connections (those handed over are not affected). */
  close(): void {
    this.#closed = true;
  }

  /** Whether one more handshake from `key` (of network `net`) fits in the caps. */
  #mayHandshake(key: string, net: string): boolean {
    const mine = this.#pending.get(key) ?? 0;
    const ours = this.#pendingNet.get(net) ?? 0;
    if (mine >= MAX_HANDSHAKES_PER_IP || ours >= MAX_HANDSHAKES_PER_NET) return false;
    if (this.#handshaking < MAX_HANDSHAKES) return true;
    return ours < NEWCOMER_SHARE && this.#handshaking < HARD_MAX_HANDSHAKES;
  }

  /** A connection the accept loop took: its handshake starts, if it fits in the caps. */
  accept(conn: Deno.TcpConn): void {
    this.#events.accepted();
    const remote = conn.remoteAddr as Deno.NetAddr;
    const ip = normalizeIp(remote.hostname);
    const key = ipKey(ip, this.#v6Prefix);
    const net = networkKey(ip);
    if (this.#closed || !this.#mayHandshake(key, net)) {
      this.#events.failed("too many handshakes at once");
      try {
        conn.close();
      } catch {
        // already closed
      }
      return;
    }
    const sock = rawSocket(conn);
    bump(this.#pending, key, 1);
    bump(this.#pendingNet, net, 1);
    this.#handshaking++;
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      bump(this.#pending, key, -1);
      bump(this.#pendingNet, net, -1);
      this.#handshaking--;
      return true;
    };
    const secure = new tls.TLSSocket(sock as never, {
      isServer: true,
      secureContext: this.#context,
    });
    const stream = new TlsStream(secure, sock, remote);
    const timer = setTimeout(() => {
      if (!settle()) return;
      this.#events.failed("timed out");
      stream.fail(new Error("TLS handshake timed out"));
    }, this.#timeout);
    secure.once("secure", () => {
      if (!settle()) return;
      if (this.#closed) stream.fail(new Error("server closing"));
      else stream.ready();
    });
    const fail = (e: unknown) => {
      if (!settle()) return;
      const why = describe(e);
      this.#events.failed(why);
      stream.fail(new Error(`TLS handshake failed: ${why}`));
    };
    secure.once("error", fail);
    secure.once("close", () => fail(new Error("closed before the handshake")));
    // The stream is the shell's from now on: the hub decides whether the handshake is worth
    // finishing (a refused connection is closed before any TLS work is done).
    this.#events.connection(stream);
  }
}

/**
 * A Deno connection as the stream `node:tls` runs over: reads when TLS wants more (so TCP pushes
 * back while the reader is full), writes all it is given, and closes the socket when destroyed.
 */
function rawSocket(conn: Deno.TcpConn): Duplex {
  let buf: Uint8Array | null = null;
  return new Duplex({
    read() {
      buf ??= new Uint8Array(RAW_READ);
      conn.read(buf).then(
        (n) => this.push(n === null ? null : buf!.slice(0, n)),
        (e) => this.destroy(e),
      );
    },
    write(chunk: Uint8Array, _encoding, done) {
      writeAll(conn, chunk).then(() => done(), (e) => done(e));
    },
    final(done) {
      conn.closeWrite().then(() => done(), () => done());
    },
    destroy(err, done) {
      try {
        conn.close();
      } catch {
        // already closed
      }
      done(err);
    },
  });
}

async function writeAll(conn: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(off === 0 ? bytes : bytes.subarray(off));
}

function bump(map: Map<string, number>, key: string, delta: number): void {
  const n = (map.get(key) ?? 0) + delta;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}

/** A handshake error in a few words (at most 120 characters: it comes from the client). */
function describe(e: unknown): string {
  return describeError(e).slice(0, 120) || "handshake error";
}

/**
 * A TLS connection with the part of `Deno.Conn` the shell uses: `read` resolves with the bytes
 * decrypted so far (null at the end), `write` once the bytes are handed on, `close` at once.
 * Until the handshake is done ({@link secured}) it is {@link pending}: reads wait, writes wait,
 * and a failed handshake fails them. Reading stops (and TCP pushes back) while
 * {@link READ_AHEAD} bytes wait unread.
 */
export class TlsStream {
  readonly remoteAddr: Deno.NetAddr;
  /** Resolves when the handshake is done; rejects when it failed or timed out. */
  readonly secured: Promise<void>;
  readonly #socket: tls.TLSSocket;
  readonly #raw: Duplex;
  readonly #in = new ByteQueue();
  #pending = true;
  #ended = false;
  #error: Error | null = null;
  #waiting: ((n: number | null) => void) | null = null;
  #buf: Uint8Array | null = null;
  #failWait: ((e: Error) => void) | null = null;
  #resolve!: () => void;
  #reject!: (e: Error) => void;

  constructor(socket: tls.TLSSocket, raw: Duplex, remote: Deno.NetAddr) {
    this.#socket = socket;
    this.#raw = raw;
    this.remoteAddr = remote;
    this.secured = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.secured.catch(() => {}); // a failure is also reported through reads and writes
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
      this.#error ??= e;
      this.#deliver();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#deliver();
    });
  }

  /** True until the handshake is done: nothing can be written yet. */
  get pending(): boolean {
    return this.#pending;
  }

  /** The handshake is done. */
  ready(): void {
    this.#pending = false;
    this.#resolve();
  }

  /** The handshake failed: reads and writes fail with `e`, and both sockets are closed. */
  fail(e: Error): void {
    this.#error ??= e;
    this.#reject(e);
    this.close();
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

  /** Writes all of `p` (after the handshake); resolves with its length once it is handed on. */
  async write(p: Uint8Array): Promise<number> {
    if (this.#pending) await this.secured;
    return await new Promise((resolve, reject) => {
      if (this.#socket.destroyed) return reject(new Deno.errors.BrokenPipe("closed"));
      this.#socket.write(p, (e?: Error | null) => (e ? reject(e) : resolve(p.length)));
    });
  }

  /** Ends the sending side (the client sees the end after what was written). */
  closeWrite(): Promise<void> {
    if (this.#pending) {
      this.close();
      return Promise.resolve();
    }
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
