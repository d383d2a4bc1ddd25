/**
 * The web port: the chat page for browsers and its WebSocket, another shell adapter. A browser's
 * connection posts the same hub events as a telnet one and drains the same bounded outbox: one
 * text frame per write, carrying whole lines; its messages are lines (the same limits and
 * moderation apply); pings notice a browser that went away. The page is served with a strict
 * Content-Security-Policy and shows everything as text.
 */
import { ByteQueue } from "./byte_queue.ts";
import type { ByteStream } from "./connection.ts";
import type { Logger } from "./log.ts";
import { parseIp } from "./moderation.ts";
import { APP_CSS, APP_JS, pageHtml } from "./web_page.ts";

/** Seconds of silence after which a ping is sent; a browser that does not answer is dropped. */
export const WS_IDLE_SECONDS = 30;
/** Bytes of messages a browser may have waiting to be read before it is cut off. */
const WS_READ_AHEAD = 64 * 1024;
/** Bytes the WebSocket may hold unsent before the writer waits (the outbox fills meanwhile). */
const WS_SEND_BUFFER = 256 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; " +
    "frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cache-control": "no-cache",
};

/** What the web port needs from the server. */
export interface WebHost {
  /** A browser's WebSocket is open: adopt it as a client from `ip`. */
  adopt(stream: WsStream): void;
  /** Longest line, for bounding messages. */
  maxLine: number;
}

/** Options of the web port. */
export interface WebOptions {
  hostname: string;
  port: number;
  name: string;
  /** Reverse proxies whose X-Forwarded-For is believed (canonical addresses). */
  trustProxy: readonly string[];
  /** Origins besides the page's own that may open the WebSocket. */
  origins: readonly string[];
  /** Share the port with other processes (--reuse-port). */
  reusePort?: boolean;
}

/**
 * The address a request really comes from: the peer, or, when the peer is a trusted proxy, the
 * rightmost address in X-Forwarded-For that is not itself a trusted proxy.
 */
export function clientAddress(
  peer: string,
  forwardedFor: string | null,
  trusted: readonly string[],
): string {
  const direct = parseIp(peer);
  const ip = "ip" in direct ? direct.ip : peer;
  if (!forwardedFor || !trusted.includes(ip)) return ip;
  const hops = forwardedFor.split(",").map((h) => h.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = parseIp(hops[i]);
    if (!("ip" in hop)) return ip; // a spoofed or broken header: believe only the peer
    if (!trusted.includes(hop.ip)) return hop.ip;
  }
  return ip;
}

/**
 * Whether a browser page from `origin` may open the WebSocket: its own page (the same host as
 * the request) or one listed in --web-origins. A request without Origin is no browser page.
 */
export function originAllowed(
  origin: string | null,
  host: string | null,
  allowed: readonly string[],
): boolean {
  if (origin === null) return true;
  if (allowed.includes(origin)) return true;
  try {
    return host !== null && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** Serves the page, its assets and /ws on `opts.hostname:opts.port`. */
export function serveWeb(
  opts: WebOptions,
  host: WebHost,
  log: Logger,
): Deno.HttpServer<Deno.NetAddr> {
  const page = pageHtml(opts.name);
  const text = (body: string, type: string, status = 200) =>
    new Response(body, { status, headers: { ...SECURITY_HEADERS, "content-type": type } });
  return Deno.serve({
    hostname: opts.hostname,
    port: opts.port,
    ...(opts.reusePort ? { reusePort: true } : {}),
    onListen: () => {},
    onError: (e) => {
      log.warn("web request failed", { error: e instanceof Error ? e.message : String(e) });
      return new Response("internal error\n", { status: 500 });
    },
  }, (req, info) => {
    const url = new URL(req.url);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET" } });
    }
    switch (url.pathname) {
      case "/":
        return text(page, "text/html; charset=utf-8");
      case "/app.js":
        return text(APP_JS, "text/javascript; charset=utf-8");
      case "/app.css":
        return text(APP_CSS, "text/css; charset=utf-8");
      case "/ws": {
        if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
          return text("this is the chat's WebSocket; open / in a browser\n", "text/plain", 426);
        }
        // Read before the upgrade: afterwards the request (and its info) is closed.
        const peer = info.remoteAddr.hostname;
        const peerPort = info.remoteAddr.port;
        const ip = clientAddress(peer, req.headers.get("x-forwarded-for"), opts.trustProxy);
        const proxied = ip !== peer && opts.trustProxy.length > 0;
        const hostHeader = (proxied && req.headers.get("x-forwarded-host")) ||
          req.headers.get("host");
        if (!originAllowed(req.headers.get("origin"), hostHeader, opts.origins)) {
          log.info("websocket refused: foreign origin", {
            origin: req.headers.get("origin") ?? "",
          });
          return text("forbidden: this page's origin may not use the chat\n", "text/plain", 403);
        }
        const { socket, response } = Deno.upgradeWebSocket(req, {
          idleTimeout: WS_IDLE_SECONDS,
        });
        const stream = new WsStream(socket, ip, peerPort, host.maxLine);
        socket.addEventListener("open", () => host.adopt(stream), { once: true });
        return response;
      }
      default:
        return text("not found\n", "text/plain", 404);
    }
  });
}

/**
 * A browser's WebSocket with the part of `Deno.Conn` the shell uses. Each message is one typed
 * line; `read` hands them over as bytes ending in LF. `write` sends one text frame and waits
 * while the socket holds too much unsent, so the hub's outbox (and its slow-reader bound) does
 * the queueing. A message far past the line limit, or messages arriving faster than they are
 * read (the server reads a connection at most --max-input-rate), end the connection.
 */
export class WsStream implements ByteStream {
  readonly remoteAddr: Deno.NetAddr;
  readonly #socket: WebSocket;
  readonly #maxMessage: number;
  readonly #in = new ByteQueue();
  #ended = false;
  #waiting: ((n: number | null) => void) | null = null;
  #buf: Uint8Array | null = null;

  constructor(socket: WebSocket, ip: string, port: number, maxLine: number) {
    this.#socket = socket;
    this.#maxMessage = maxLine * 4;
    this.remoteAddr = { transport: "tcp", hostname: ip, port };
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (e) => {
      const size = typeof e.data === "string" ? e.data.length : (e.data as ArrayBuffer).byteLength;
      if (size > this.#maxMessage) {
        socket.close(1009, "message too big");
        this.#end();
        return;
      }
      let data: Uint8Array;
      if (typeof e.data === "string") data = encoder.encode(e.data + "\n");
      else {
        data = new Uint8Array(size + 1);
        data.set(new Uint8Array(e.data as ArrayBuffer));
        data[size] = 0x0a;
      }
      this.#in.push(data);
      if (this.#in.size > WS_READ_AHEAD) {
        socket.close(1008, "too much input");
        this.#end();
        return;
      }
      this.#deliver();
    });
    socket.addEventListener("close", () => this.#end());
    socket.addEventListener("error", () => this.#end());
  }

  #end(): void {
    this.#ended = true;
    this.#deliver();
  }

  /** Reads into `p`: the number of bytes, or null once the browser is gone. */
  read(p: Uint8Array): Promise<number | null> {
    if (this.#in.size > 0) return Promise.resolve(this.#in.take(p));
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.#waiting = resolve;
      this.#buf = p;
    });
  }

  #deliver(): void {
    const resolve = this.#waiting;
    if (!resolve) return;
    const buf = this.#buf!;
    this.#waiting = null;
    this.#buf = null;
    if (this.#in.size > 0) resolve(this.#in.take(buf));
    else if (this.#ended) resolve(null);
    else {
      this.#waiting = resolve;
      this.#buf = buf;
    }
  }

  /** Sends `p` (whole lines) as one text frame. */
  async write(p: Uint8Array): Promise<number> {
    const s = this.#socket;
    if (s.readyState !== WebSocket.OPEN) throw new Deno.errors.BrokenPipe("websocket closed");
    s.send(decoder.decode(p));
    while (s.bufferedAmount > WS_SEND_BUFFER && s.readyState === WebSocket.OPEN) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return p.length;
  }

  /** Closes after what was sent (the close frame follows the last text frame). */
  closeWrite(): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  /** Closes the WebSocket; a pending read ends with null. */
  close(): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.close(1000, "bye");
    this.#end();
  }
}
