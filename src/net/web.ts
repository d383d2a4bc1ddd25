/**
 * The web port: the chat page for browsers and its WebSocket, another shell adapter. Its sockets
 * are accepted by the server's own accept loop, like the plain port's, and each is a connection
 * to the hub from the moment it is accepted: the same bans, per-address caps, connect rate and
 * total cap apply, and an HTTP connection that does nothing is closed after a header or idle
 * timeout. The HTTP here is small on purpose (src/net/http.ts, one socket's life in
 * src/net/http_connection.ts): GET and HEAD for the page and its two assets, and the upgrade to a
 * WebSocket (src/net/websocket.ts), after which the socket is a chat connection like a telnet
 * one. The page is served with a strict Content-Security-Policy and shows everything as text.
 * With --api-token the port also takes the HTTP API ({@link HttpApi}): a bot's line posted to a
 * room, judged by the hub like a person's.
 */
import { hasToken, type HttpRequest, response } from "./http.ts";
import { type Logger, LogThrottle } from "../ops/log.ts";
import { ipKey, parseIp } from "../lib/ip.ts";
import { sameSecret } from "../lib/secret.ts";
import { longerThan } from "../lib/utf8.ts";
import type { Outbox } from "../chat/events.ts";
import { APP_CSS, appJs, pageHtml } from "./web_page.ts";
import { acceptKey, validKey, WsStream } from "./websocket.ts";

export { WS_IDLE_SECONDS } from "./websocket.ts";

/** Time a client has to send a whole request head, from its first byte (or from connecting). */
export const HEADER_TIMEOUT_MS = 10_000;
/** Time an HTTP connection may stay open with no request under way (keep-alive). */
export const IDLE_TIMEOUT_MS = 5_000;
/** Requests served on one connection before it is closed. */
export const MAX_REQUESTS = 100;
/** Longest text from a request (an Origin, a Host) that goes into a log line. */
export const LOGGED_TEXT = 64;
/** Most bytes of an API request's body (its JSON). */
export const API_BODY_MAX = 16 * 1024;
/** Most time an API post waits for the hub's answer before it is answered 503. */
export const API_WAIT_MS = 5_000;

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
  /** Command lines that carry a secret, which the page's Up never recalls. */
  secretLine: RegExp;
  /** The HTTP API's bearer token (--api-token); "" (or absent): the API is off (404). */
  apiToken?: string;
  /** A line being typed whose secret part has begun: the page's input hides it as a password. */
  secretArgs: RegExp;
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
  /**
   * Posts a bot's line for the HTTP API as coming from `ip` (the hub's `post` event) and
   * resolves with the hub's answer, or a 503 when none comes in time (absent: no API here).
   */
  post?(ip: string, post: ApiRequest): Promise<PostAnswer>;
}

/** The line an API request asks to post, once its head and body are checked. */
export interface ApiRequest {
  /** The room's name as the path gave it (URL-decoded, no `#`); the hub checks it. */
  room: string;
  nick: string;
  text: string;
}

/** How the hub answered a post (effects.posted): an HTTP status and a short message. */
export interface PostAnswer {
  status: number;
  message: string;
  /** For a 429: the seconds to wait (the Retry-After header). */
  retryAfter?: number;
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
  /** The HTTP API's paths (absent: none here). */
  readonly api?: HttpApi;
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
  readonly #script: string;
  /** Refusals are logged once per address and kind, then counted (see {@link sweep}). */
  readonly #refusals = new LogThrottle(60_000);
  readonly #sockets = new Set<WsStream>();

  readonly api: HttpApi;

  constructor(opts: WebOptions, log: Logger) {
    this.opts = opts;
    this.trustProxy = opts.trustProxy;
    this.timeouts = opts.timeouts ?? TIMEOUTS;
    this.#log = log;
    this.#page = pageHtml(opts.name);
    this.#script = appJs(opts.secretLine, opts.secretArgs);
    this.api = new HttpApi(opts.apiToken ?? "", opts.maxLine, opts.hosts, this);
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
        return text(200, this.#script, "text/javascript; charset=utf-8");
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

/** A header value (read as Latin-1, byte for byte) as the UTF-8 text its bytes spell. */
function utf8(latin1: string): string {
  return new TextDecoder().decode(Uint8Array.from(latin1, (ch) => ch.charCodeAt(0)));
}

/** The HTTP API's one route: a line posted to a room. */
const API_ROUTE = /^\/api\/rooms\/([^/]{1,100})\/messages$/;

/** The headers of every API answer: JSON, never cached, never shown as a page. */
const API_HEADERS: Record<string, string> = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
};

/** An answer of the API with whether the connection may stay open after it. */
export interface ApiAnswer {
  bytes: Uint8Array;
  keep: boolean;
}

/**
 * The HTTP API on the web port (with --api-token): `POST /api/rooms/NAME/messages` with
 * `Authorization: Bearer TOKEN` and a JSON body `{"nick": ..., "text": ...}` posts a line as
 * that nick. This checks the request's form in two steps, so that a request without the token
 * is refused before its body is read: {@link head}, then (after the body is read) {@link body};
 * the hub judges the post itself (the nick, the room, the pace) and {@link answer} turns its
 * answer into the response. Every answer is JSON: `{"error": "..."}` for a refusal.
 */
export class HttpApi {
  readonly #token: string;
  readonly #maxLine: number;
  readonly #hosts: readonly string[];
  readonly #site: Pick<HttpSite, "refused">;

  constructor(
    token: string,
    maxLine: number,
    hosts: readonly string[],
    site: Pick<HttpSite, "refused">,
  ) {
    this.#token = token;
    this.#maxLine = maxLine;
    this.#hosts = hosts;
    this.#site = site;
  }

  /** Whether the API is on (a token was given). */
  get on(): boolean {
    return this.#token !== "";
  }

  /** Whether `req` is the API's to answer: every path under /api/, whether the API is on or not. */
  claims(req: HttpRequest): boolean {
    return req.path === "/api" || req.path.startsWith("/api/");
  }

  /**
   * Checks an API request's head, in the order a client can fix things: the host, the API on,
   * the path, the method, the token (before anything of the body is read), the content type
   * and the declared length. Returns the answer of a refusal, or the body's length to read.
   */
  head(req: HttpRequest, ip: string): ApiAnswer | { read: number } {
    // The body of a refused request is not read: the connection closes after the answer.
    const unread = req.contentLength > 0;
    const head = req.method === "HEAD";
    const fail = (status: number, error: string, extra: Record<string, string> = {}) =>
      this.#fail(status, error, extra, !unread, head);
    if (!hostAllowed(req.headers.get("host"), this.#hosts)) {
      this.#site.refused("host", ip, "web request refused: unknown host", {
        host: clip(req.headers.get("host") ?? ""),
      });
      return fail(421, "this server does not serve that host name");
    }
    if (!this.on) return fail(404, "not found (the HTTP API is off)");
    if (!API_ROUTE.test(req.path)) return fail(404, "not found");
    if (req.method !== "POST") {
      return fail(405, "method not allowed: POST a JSON body", { allow: "POST" });
    }
    const auth = /^Bearer +(\S+) *$/i.exec(req.headers.get("authorization") ?? "");
    if (!auth || !sameSecret(utf8(auth[1]), this.#token)) {
      this.#site.refused("api-token", ip, "api request refused: missing or wrong token");
      // A wrong token closes the connection: each guess costs a connection (--connect-rate).
      return this.#fail(
        401,
        "a bearer token is needed (Authorization: Bearer TOKEN)",
        {
          "www-authenticate": 'Bearer realm="shat"',
        },
        false,
        head,
      );
    }
    const type = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (type !== "application/json") {
      return fail(400, "the body must be JSON (Content-Type: application/json)");
    }
    if (req.contentLength > API_BODY_MAX) {
      return fail(413, `the body is too large (over ${API_BODY_MAX} bytes)`);
    }
    return { read: req.contentLength };
  }

  /**
   * Checks an API request's body (read whole, at most {@link API_BODY_MAX} bytes): UTF-8 JSON
   * with a string `nick` and a string `text` no longer than --max-line. Returns the post to make,
   * or the answer of a refusal.
   */
  body(req: HttpRequest, bytes: Uint8Array): ApiAnswer | { post: ApiRequest } {
    const fail = (status: number, error: string) => this.#fail(status, error, {}, true);
    let name: string;
    try {
      name = decodeURIComponent(API_ROUTE.exec(req.path)![1]);
    } catch {
      return fail(404, "no such room");
    }
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch {
      return fail(400, "the body is not JSON (UTF-8)");
    }
    const o = value as { nick?: unknown; text?: unknown } | null;
    if (
      typeof o !== "object" || o === null || Array.isArray(o) || typeof o.nick !== "string" ||
      typeof o.text !== "string"
    ) {
      return fail(400, 'the body must be a JSON object with a string "nick" and a string "text"');
    }
    if (longerThan(o.text, this.#maxLine)) {
      return fail(413, `the text is too long (over ${this.#maxLine} bytes)`);
    }
    const room = name.startsWith("#") ? name.slice(1) : name;
    return { post: { room, nick: o.nick, text: o.text } };
  }

  /** The response to the hub's answer to a post (the body was read: the connection may stay). */
  answer(a: PostAnswer): ApiAnswer {
    if (a.status === 201) {
      return {
        bytes: response(201, API_HEADERS, JSON.stringify({ ok: true, message: a.message }) + "\n"),
        keep: true,
      };
    }
    const extra: Record<string, string> = {};
    if (a.status === 429 || a.status === 503) {
      extra["retry-after"] = String(Math.max(1, a.retryAfter ?? 1));
    }
    return this.#fail(a.status, a.message, extra, a.status !== 503);
  }

  #fail(
    status: number,
    error: string,
    extra: Record<string, string>,
    keep: boolean,
    head = false,
  ): ApiAnswer {
    const body = JSON.stringify({ error }) + "\n";
    return { bytes: response(status, { ...API_HEADERS, ...extra }, body, head), keep };
  }
}
