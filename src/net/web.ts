/**
 * The web port: the chat page for browsers and its WebSocket, another shell adapter. Its sockets
 * are accepted by the server's own accept loop, like the plain port's, and each is a connection
 * to the hub from the moment it is accepted: the same bans, per-address caps, connect rate and
 * total cap apply, and an HTTP connection that does nothing is closed after a header or idle
 * timeout. The HTTP here is small on purpose (src/http.ts): GET and HEAD for the page and its
 * two assets, and the upgrade to a WebSocket (src/websocket.ts), after which the socket is a chat
 * connection like a telnet one. The page is served with a strict Content-Security-Policy and
 * shows everything as text.
 */
import { hasToken, HEAD_MAX, type HttpRequest, parseHead, response } from "./http.ts";
import { type Logger, LogThrottle } from "../ops/log.ts";
import { ipKey, parseIp } from "../lib/ip.ts";
import type { Outbox } from "../chat/shared_log.ts";
import { APP_CSS, APP_JS, pageHtml } from "./web_page.ts";
import {
  acceptKey,
  CLOSE_POLICY,
  closePayload,
  encodeFrame,
  OP_CLOSE,
  OP_TEXT,
  validKey,
  WsStream,
} from "./websocket.ts";

export { WS_IDLE_SECONDS } from "./websocket.ts";

/** Time a client has to send a whole request head, from its first byte (or from connecting). */
export const HEADER_TIMEOUT_MS = 10_000;
/** Time an HTTP connection may stay open with no request under way (keep-alive). */
export const IDLE_TIMEOUT_MS = 5_000;
/** Requests served on one connection before it is closed. */
export const MAX_REQUESTS = 100;
/** Longest text from a request (an Origin, a Host) that goes into a log line. */
export const LOGGED_TEXT = 64;

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; " +
    "frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cache-control": "no-cache",
};

/** Options of the web port. */
export interface WebOptions {
  name: string;
  /** Reverse proxies whose X-Forwarded-For is believed (canonical addresses). */
  trustProxy: readonly string[];
  /** Origins besides the page's own that may open the WebSocket. */
  origins: readonly string[];
  /**
   * The host names the page is served as (--web-hosts; any port). When set, a request naming
   * another host is refused (DNS rebinding); IP addresses and localhost are always accepted.
   */
  hosts: readonly string[];
  /** Longest line, for bounding messages. */
  maxLine: number;
  /** The header and idle timeouts (tests shorten them; default {@link TIMEOUTS}). */
  timeouts?: HttpTimeouts;
}

/** How long an HTTP connection may take to send a request head, and may idle between requests. */
export interface HttpTimeouts {
  header: number;
  idle: number;
}

/** The timeouts of every HTTP port. */
export const TIMEOUTS: Readonly<HttpTimeouts> = {
  header: HEADER_TIMEOUT_MS,
  idle: IDLE_TIMEOUT_MS,
};

/** What an HTTP connection needs from the server. */
export interface HttpHost {
  /**
   * Admits the connection as coming from `ip` (the hub's "open"): at once, or, from a trusted
   * proxy, at its first request, when the address it speaks for is known.
   */
  admit(id: number, ip: string, port: number, outbox: Outbox): void;
  /** The connection became a WebSocket: from now on it is served as a chat connection. */
  upgrade(id: number, stream: WsStream, outbox: Outbox): void;
  /** The connection is closed (`reason` for the hub, null when the hub itself closed it). */
  ended(id: number, reason: string | null): void;
}

/** What an HTTP port serves: answers to requests, and for the web page, WebSocket upgrades. */
export interface HttpSite {
  /** Reverse proxies whose X-Forwarded-For is believed (canonical addresses). */
  readonly trustProxy: readonly string[];
  readonly timeouts: Readonly<HttpTimeouts>;
  /** The answer to a request, and whether the connection may stay open after it. */
  answer(req: HttpRequest, ip: string): { bytes: Uint8Array; keep: boolean };
  /** Checks an upgrade to a WebSocket and starts it (absent: no WebSockets here). */
  upgrade?(req: HttpRequest, ip: string, proxied: boolean): { ok: boolean; bytes: Uint8Array };
  /** Makes the WebSocket of an accepted upgrade. */
  socket?(conn: Deno.Conn, ip: string, port: number, early: Uint8Array): WsStream;
  /** Logs a refused request (once per address and kind in a while). */
  refused(kind: string, ip: string, message: string, fields?: Record<string, string>): void;
}

/**
 * The address a request really comes from: the peer, or, when the peer is a trusted proxy, the
 * rightmost address in X-Forwarded-For that is not itself a trusted proxy.
 */
export function clientAddress(
  peer: string,
  forwardedFor: string | null | undefined,
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
  origin: string | null | undefined,
  host: string | null | undefined,
  allowed: readonly string[],
): boolean {
  if (origin === null || origin === undefined) return true;
  if (allowed.includes(origin)) return true;
  try {
    return host !== null && host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/**
 * Whether a request's Host may be served: any when no names are configured; otherwise one of
 * them, an IP address, or localhost (names a DNS-rebinding page cannot use), with any port.
 */
export function hostAllowed(host: string | undefined, names: readonly string[]): boolean {
  if (names.length === 0) return true;
  if (!host) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d{1,5})?$/.exec(host.trim());
  if (!m) return false;
  const name = m[1].toLowerCase();
  if (name === "localhost" || "ip" in parseIp(name.replace(/^\[|\]$/g, ""))) return true;
  return names.includes(name.replace(/\.$/, ""));
}

/** Cuts text a client sent to a length fit for a log line. */
export function clip(text: string, max = LOGGED_TEXT): string {
  return text.length > max ? text.slice(0, max) + "…" : text;
}

/** The web port's pages and rules, shared by its connections. */
export class WebSite implements HttpSite {
  readonly opts: WebOptions;
  readonly trustProxy: readonly string[];
  readonly timeouts: Readonly<HttpTimeouts>;
  readonly #log: Logger;
  readonly #page: string;
  /** Refusals are logged once per address and kind, then counted (see {@link sweep}). */
  readonly #refusals = new LogThrottle(60_000);
  readonly #sockets = new Set<WsStream>();

  constructor(opts: WebOptions, log: Logger) {
    this.opts = opts;
    this.trustProxy = opts.trustProxy;
    this.timeouts = opts.timeouts ?? TIMEOUTS;
    this.#log = log;
    this.#page = pageHtml(opts.name);
  }

  /** The WebSockets open now. */
  get sockets(): number {
    return this.#sockets.size;
  }

  /** Pings silent WebSockets, and logs how many refusals each address had lately. */
  sweep(now: number, perfNow: number): void {
    for (const s of this.#sockets) {
      if (s.ended) this.#sockets.delete(s);
      else s.idleCheck(perfNow);
    }
    for (const { key, count } of this.#refusals.sweep(now)) {
      const [kind, ip] = key.split(" ");
      this.#log.info("more web requests refused", {
        why: kind,
        addr: this.#log.addr(ip),
        times: count,
        within: "60s",
      });
    }
  }

  /** Logs a refused request the first time per address and kind in a minute. */
  refused(kind: string, ip: string, message: string, fields: Record<string, string> = {}): void {
    if (!this.#refusals.first(`${kind} ${ipKey(ip)}`, Date.now())) return;
    this.#log.info(message, { ...fields, addr: this.#log.addr(ip) });
  }

  /** The WebSocket of an accepted upgrade; the site pings it while it is silent. */
  socket(conn: Deno.Conn, ip: string, port: number, early: Uint8Array): WsStream {
    const s = new WsStream(conn, ip, port, this.opts.maxLine * 4, early);
    this.#sockets.add(s);
    return s;
  }

  /**
   * The answer to a request that is not an upgrade, and whether the connection stays open.
   * (`ip` is the address the request speaks for.)
   */
  answer(req: HttpRequest, ip: string): { bytes: Uint8Array; keep: boolean } {
    const o = this.opts;
    const head = req.method === "HEAD";
    const text = (status: number, body: string, type = "text/plain; charset=utf-8") => ({
      bytes: response(status, { ...SECURITY_HEADERS, "content-type": type }, body, head),
      keep: status < 400,
    });
    if (!hostAllowed(req.headers.get("host"), o.hosts)) {
      this.refused("host", ip, "web request refused: unknown host", {
        host: clip(req.headers.get("host") ?? ""),
      });
      return text(421, "this server does not serve that host name\n");
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return {
        bytes: response(405, { ...SECURITY_HEADERS, allow: "GET, HEAD" }, "method not allowed\n"),
        keep: false,
      };
    }
    switch (req.path) {
      case "/":
        return text(200, this.#page, "text/html; charset=utf-8");
      case "/app.js":
        return text(200, APP_JS, "text/javascript; charset=utf-8");
      case "/app.css":
        return text(200, APP_CSS, "text/css; charset=utf-8");
      case "/ws":
        return text(426, "this is the chat's WebSocket; open / in a browser\n");
      default:
        return text(404, "not found\n");
    }
  }

  /**
   * Checks a WebSocket upgrade: the handshake's form, the Host and the Origin. Returns the 101
   * answer, or a refusal.
   */
  upgrade(req: HttpRequest, ip: string, proxied: boolean): { ok: boolean; bytes: Uint8Array } {
    const o = this.opts;
    const h = req.headers;
    const refuse = (status: number, body: string, extra: Record<string, string> = {}) => ({
      ok: false,
      bytes: response(
        status,
        { ...SECURITY_HEADERS, ...extra, "content-type": "text/plain" },
        body,
      ),
    });
    if (!hostAllowed(h.get("host"), o.hosts)) {
      this.refused("host", ip, "web request refused: unknown host", {
        host: clip(h.get("host") ?? ""),
      });
      return refuse(421, "this server does not serve that host name\n");
    }
    if (req.path !== "/ws") return refuse(404, "not found\n");
    const key = h.get("sec-websocket-key") ?? "";
    if (
      req.method !== "GET" || !hasToken(h.get("connection"), "upgrade") || !validKey(key)
    ) {
      this.refused("upgrade", ip, "websocket refused: a broken upgrade request");
      return refuse(400, "a broken WebSocket upgrade\n");
    }
    if (h.get("sec-websocket-version") !== "13") {
      this.refused("upgrade", ip, "websocket refused: a broken upgrade request");
      return refuse(426, "WebSocket version 13 only\n", { "sec-websocket-version": "13" });
    }
    const hostHeader = (proxied && h.get("x-forwarded-host")) || h.get("host");
    if (!originAllowed(h.get("origin"), hostHeader, o.origins)) {
      this.refused("origin", ip, "websocket refused: foreign origin", {
        origin: clip(h.get("origin") ?? ""),
      });
      return refuse(403, "forbidden: this page's origin may not use the chat\n");
    }
    return {
      ok: true,
      bytes: response(101, {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-accept": acceptKey(key),
      }),
    };
  }
}

/**
 * One socket of an HTTP port until it becomes a WebSocket (or closes): reads request heads
 * within the timeouts, answers them, and hands the socket over on an upgrade. On the web port
 * the hub knows it from the start (as a pending "http" connection), so a refusal (a ban, a cap)
 * closes it with a 503 carrying the hub's words.
 */
export class HttpConnection {
  readonly id: number;
  readonly #conn: Deno.Conn;
  readonly #site: HttpSite;
  readonly #host: HttpHost;
  readonly #outbox: Outbox;
  readonly #peer: string;
  readonly #port: number;
  /** The peer is a trusted proxy: each request speaks for the address it forwards. */
  readonly #proxied: boolean;
  #admitted = false;
  #ip: string;
  #buf = new Uint8Array(1024);
  #len = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Why the connection is ending (null: the hub closed it). */
  #reason: string | null = "connection closed";
  #closed = false;
  /** A response is being written (a refusal must not cut into it). */
  #answering = false;
  #upgraded = false;
  /** Between requests (the idle timeout runs until the next one starts). */
  #idle = false;
  /** Settles once the hub has admitted the connection or closed it; requests wait for it. */
  readonly #decided: Promise<void>;
  #decide: () => void = () => {};
  /** A request waits for the hub's decision (a refusal is then answered to it). */
  #waiting = false;
  /** The hub's words when it refused the connection. */
  #refusal: string | null = null;
  /** Pacing fields the server keeps on every connection (unused until it is a chat one). */
  lastKick = 0;
  waiting = false;
  dueAt = 0;
  readonly done: Promise<void>;

  /**
   * `gated`: requests are answered only once the hub has decided ({@link admitted} or
   * {@link close}); without it (the metrics port) at once.
   */
  constructor(
    id: number,
    conn: Deno.Conn,
    site: HttpSite,
    host: HttpHost,
    outbox: Outbox,
    gated = true,
  ) {
    this.id = id;
    this.#decided = gated ? new Promise((resolve) => (this.#decide = resolve)) : Promise.resolve();
    this.#conn = conn;
    this.#site = site;
    this.#host = host;
    this.#outbox = outbox;
    const remote = conn.remoteAddr as Deno.NetAddr;
    const parsed = parseIp(remote.hostname);
    this.#peer = this.#ip = "ip" in parsed ? parsed.ip : remote.hostname;
    this.#port = remote.port;
    this.#proxied = site.trustProxy.includes(this.#peer);
    if (!this.#proxied) {
      this.#admitted = true;
      host.admit(id, this.#ip, this.#port, outbox);
    }
    this.done = this.#run();
  }

  /** The hub has nothing to write here before an upgrade; a refusal is written by {@link close}. */
  kick(): void {}

  /** The hub admitted the connection: its requests may be answered. */
  admitted(): void {
    this.#decide();
  }

  /** Prompts are for character-mode terminals. */
  setPrompt(_text: string): void {}

  /**
   * Closed by the hub. A refusal is answered with the hub's words: to a request waiting for the
   * decision (a WebSocket is opened just to carry them, so the page can show why), or as a 503
   * to a connection with no request under way. Anything else just closes.
   */
  close(mode: "flush" | "drop" | "refuse"): void {
    if (this.#closed || this.#upgraded) return;
    this.#reason = null;
    const said = new TextDecoder().decode(takeAll(this.#outbox)).trim();
    if (mode === "refuse" && said) {
      this.#refusal = said;
      if (this.#waiting) return this.#decide(); // the request is answered in #run
      if (!this.#answering) {
        this.#answering = true;
        void this.#write(refusalResponse(said)).finally(() => this.#shut());
        return;
      }
    }
    this.#decide();
    this.#shut();
  }

  #shut(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  /** Closes with `reason` for the hub unless something else closed it first. */
  #end(reason: string): void {
    if (!this.#closed && this.#reason !== null) this.#reason = reason;
    this.#shut();
  }

  #arm(ms: number, reason: string): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#timedOut(reason), ms);
  }

  #timedOut(reason: string): void {
    if (this.#closed || this.#upgraded) return;
    if (this.#len > 0 && !this.#answering) {
      // Half a request: tell the client, then close.
      this.#answering = true;
      this.#site.refused("timeout", this.#ip, "web request refused: the head never came");
      void this.#write(response(408, { connection: "close" }, "request timeout\n"))
        .finally(() => this.#end(reason));
    } else {
      this.#end(reason);
    }
  }

  /** Answers `req` with the hub's refusal, then closes. */
  async #refuse(req: HttpRequest, said: string): Promise<void> {
    this.#answering = true;
    const site = this.#site;
    const up = site.upgrade && hasToken(req.headers.get("upgrade"), "websocket")
      ? site.upgrade(req, this.#ip, this.#proxied)
      : null;
    if (up?.ok) {
      const text = new TextEncoder().encode(said + "\r\n");
      await this.#write(up.bytes);
      await this.#write(encodeFrame(OP_TEXT, text));
      await this.#write(encodeFrame(OP_CLOSE, closePayload(CLOSE_POLICY, "refused")));
    } else {
      await this.#write(up ? up.bytes : refusalResponse(said));
    }
    this.#shut();
  }

  async #write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    try {
      while (off < bytes.length) {
        off += await this.#conn.write(off === 0 ? bytes : bytes.subarray(off));
      }
    } catch {
      this.#end("connection broken");
    }
  }

  async #run(): Promise<void> {
    let served = 0;
    try {
      this.#arm(this.#site.timeouts.header, "no request in time");
      while (!this.#closed) {
        const parsed = parseHead(this.#buf, this.#len);
        if ("incomplete" in parsed) {
          if (this.#len === this.#buf.length) {
            const bigger = new Uint8Array(Math.min(this.#buf.length * 2, HEAD_MAX + 1));
            bigger.set(this.#buf);
            this.#buf = bigger;
          }
          const n = await this.#conn.read(this.#buf.subarray(this.#len));
          if (n === null) break;
          if (this.#idle) {
            this.#idle = false;
            this.#arm(this.#site.timeouts.header, "request head too slow");
          }
          this.#len += n;
          continue;
        }
        clearTimeout(this.#timer);
        if ("status" in parsed) {
          this.#site.refused(String(parsed.status), this.#ip, "web request refused", {
            why: parsed.why,
          });
          this.#answering = true;
          await this.#write(response(parsed.status, { connection: "close" }, parsed.why + "\n"));
          this.#end("bad request");
          break;
        }
        const req = parsed.request;
        if (this.#proxied) {
          this.#ip = clientAddress(
            this.#peer,
            req.headers.get("x-forwarded-for"),
            this.#site.trustProxy,
          );
          if (!this.#admitted) {
            this.#admitted = true;
            this.#host.admit(this.id, this.#ip, this.#port, this.#outbox);
          }
        }
        this.#waiting = true;
        await this.#decided;
        this.#waiting = false;
        if (this.#refusal !== null) {
          await this.#refuse(req, this.#refusal);
          break;
        }
        if (this.#closed) break;
        if (req.contentLength > 0) {
          this.#answering = true;
          await this.#write(response(400, { connection: "close" }, "bodies are not taken\n"));
          this.#end("bad request");
          break;
        }
        const rest = this.#buf.slice(req.length, this.#len);
        this.#len = 0;
        const site = this.#site;
        if (site.upgrade && site.socket && hasToken(req.headers.get("upgrade"), "websocket")) {
          const up = site.upgrade(req, this.#ip, this.#proxied);
          this.#answering = true;
          await this.#write(up.bytes);
          this.#answering = false;
          if (!up.ok) {
            this.#end("upgrade refused");
            break;
          }
          if (this.#closed) break;
          this.#upgraded = true;
          clearTimeout(this.#timer);
          this.#host.upgrade(
            this.id,
            site.socket(this.#conn, this.#ip, this.#port, rest),
            this.#outbox,
          );
          return;
        }
        const { bytes, keep } = site.answer(req, this.#ip);
        const close = !keep || req.minor === 0 || this.#proxied ||
          hasToken(req.headers.get("connection"), "close") || ++served >= MAX_REQUESTS;
        this.#answering = true;
        await this.#write(close ? withClose(bytes) : bytes);
        this.#answering = false;
        if (close) {
          this.#end("request served");
          break;
        }
        this.#buf.set(rest);
        this.#len = rest.length;
        this.#idle = rest.length === 0;
        const t = this.#site.timeouts;
        this.#arm(this.#idle ? t.idle : t.header, "idle");
      }
    } catch (e) {
      this.#end(e instanceof Error ? e.message : String(e));
    }
    if (this.#upgraded) return;
    this.#shut();
    this.#host.ended(this.id, this.#reason);
  }
}

/** A refused connection's answer: the hub's words, as a 503. */
function refusalResponse(said: string): Uint8Array {
  const type = "text/plain; charset=utf-8";
  return response(503, { "content-type": type, connection: "close" }, said + "\n");
}

/** The same response with `connection: close` added to its head. */
function withClose(bytes: Uint8Array): Uint8Array {
  const at = bytes.indexOf(0x0d); // the end of the status line
  const extra = new TextEncoder().encode("\r\nconnection: close");
  const out = new Uint8Array(bytes.length + extra.length);
  out.set(bytes.subarray(0, at));
  out.set(extra, at);
  out.set(bytes.subarray(at), at + extra.length);
  return out;
}

function takeAll(ob: Outbox): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (let b = ob.take(); b; b = ob.take()) {
    parts.push(b);
    size += b.length;
  }
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
