/**
 * One socket of an HTTP port (the web page's, the metrics'), until it is done or becomes a
 * WebSocket: request heads read within the timeouts, answered by its site, and on the web port
 * refused with the hub's words when the hub refuses the connection. An HTTP API request's small
 * body is read here too (within the header timeout), once its head has passed the API's checks.
 */
import type { Outbox } from "../chat/events.ts";
import { hasToken, HEAD_MAX, type HttpRequest, parseHead, response } from "./http.ts";
import { parseIp } from "../lib/ip.ts";
import {
  type ApiAnswer,
  clientAddress,
  type HttpApi,
  type HttpHost,
  type HttpSite,
  MAX_REQUESTS,
} from "./web.ts";
import { CLOSE_POLICY, closePayload, encodeFrame, OP_CLOSE, OP_TEXT } from "./websocket.ts";

/** Most time a connection closing after an answer drops what the client still sends. */
export const LINGER_MS = 1_000;
/** Most bytes dropped so (the rest of an unread body, up to this). */
export const LINGER_BYTES = 64 * 1024;

const CONTINUE = response(100, {});

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
  /** Requests answered (a connection serves at most MAX_REQUESTS). */
  #served = 0;
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

  /** The request loop: one head at a time, each answered once the hub has decided. */
  async #run(): Promise<void> {
    try {
      this.#arm(this.#site.timeouts.header, "no request in time");
      while (!this.#closed) {
        const parsed = parseHead(this.#buf, this.#len);
        if ("incomplete" in parsed) {
          const n = await this.#conn.read(this.#room());
          if (n === null) break;
          this.#received(n);
          continue;
        }
        clearTimeout(this.#timer);
        if ("status" in parsed) {
          this.#site.refused(String(parsed.status), this.#ip, "web request refused", {
            why: parsed.why,
          });
          const bytes = response(parsed.status, { connection: "close" }, parsed.why + "\n");
          await this.#answerAndEnd(bytes, "bad request");
          break;
        }
        const req = parsed.request;
        if (this.#proxied) this.#forwarded(req);
        this.#waiting = true;
        await this.#decided;
        this.#waiting = false;
        if (this.#refusal !== null) {
          await this.#refuse(req, this.#refusal);
          break;
        }
        if (this.#closed || !await this.#serve(req)) break;
      }
    } catch (e) {
      this.#end(e instanceof Error ? e.message : String(e));
    }
    if (this.#upgraded) return;
    this.#shut();
    this.#host.ended(this.id, this.#reason);
  }

  /** Where the next read goes; the buffer grows (up to one byte past the longest head) when full. */
  #room(): Uint8Array {
    if (this.#len === this.#buf.length) {
      const bigger = new Uint8Array(Math.min(this.#buf.length * 2, HEAD_MAX + 1));
      bigger.set(this.#buf);
      this.#buf = bigger;
    }
    return this.#buf.subarray(this.#len);
  }

  /** `n` bytes were read: the first after an idle pause starts the head's own timeout. */
  #received(n: number): void {
    if (this.#idle) {
      this.#idle = false;
      this.#arm(this.#site.timeouts.header, "request head too slow");
    }
    this.#len += n;
  }

  /** Behind a trusted proxy the hub learns the address from the first request's head. */
  #forwarded(req: HttpRequest): void {
    this.#ip = clientAddress(this.#peer, req.headers.get("x-forwarded-for"), this.#site.trustProxy);
    if (!this.#admitted) {
      this.#admitted = true;
      this.#host.admit(this.id, this.#ip, this.#port, this.#outbox);
    }
  }

  /** Writes a last answer, then closes with `reason`. */
  async #answerAndEnd(bytes: Uint8Array, reason: string): Promise<void> {
    this.#answering = true;
    await this.#write(bytes);
    this.#end(reason);
  }

  /**
   * Answers one admitted request (or hands the socket over on an upgrade); true when the
   * connection stays open for the next request, with the bytes read past this one kept.
   */
  async #serve(req: HttpRequest): Promise<boolean> {
    const api = this.#site.api;
    if (api?.claims(req)) return await this.#api(api, req);
    if (req.contentLength > 0) {
      const bytes = response(400, { connection: "close" }, "bodies are not taken\n");
      await this.#answerAndEnd(bytes, "bad request");
      return false;
    }
    const rest = this.#buf.slice(req.length, this.#len);
    this.#len = 0;
    const site = this.#site;
    if (site.upgrade && site.socket && hasToken(req.headers.get("upgrade"), "websocket")) {
      await this.#upgrade(req, rest);
      return false;
    }
    return await this.#respond(req, site.answer(req, this.#ip), rest);
  }

  /**
   * Writes the answer to `req`; true when the connection stays open for the next request, with
   * `rest` (what was read past this request) kept for it.
   */
  async #respond(req: HttpRequest, a: ApiAnswer, rest: Uint8Array): Promise<boolean> {
    const close = !a.keep || req.minor === 0 || this.#proxied ||
      hasToken(req.headers.get("connection"), "close") || ++this.#served >= MAX_REQUESTS;
    this.#answering = true;
    await this.#write(close ? withClose(a.bytes) : a.bytes);
    this.#answering = false;
    if (close) {
      this.#end("request served");
      return false;
    }
    this.#buf.set(rest);
    this.#len = rest.length;
    this.#idle = rest.length === 0;
    const t = this.#site.timeouts;
    this.#arm(this.#idle ? t.idle : t.header, "idle");
    return true;
  }

  /**
   * An HTTP API request: its head checked first (a refusal, a wrong token above all, is answered
   * before any of the body is read, and the connection then closes), then its body read whole
   * (within the header timeout), checked, and posted to the hub, whose answer is the response.
   */
  async #api(api: HttpApi, req: HttpRequest): Promise<boolean> {
    const head = api.head(req, this.#ip);
    if ("bytes" in head) {
      if (head.keep) return await this.#respond(req, head, this.#buf.slice(req.length, this.#len));
      this.#answering = true;
      await this.#write(withClose(head.bytes));
      await this.#linger();
      return false;
    }
    if (hasToken(req.headers.get("expect"), "100-continue") && this.#len - req.length < head.read) {
      await this.#write(CONTINUE);
    }
    const read = await this.#readBody(req, head.read);
    if (!read) return false;
    const step = api.body(req, read.body);
    let answer: ApiAnswer;
    if ("bytes" in step) {
      answer = step;
    } else {
      const post = this.#host.post;
      answer = api.answer(
        post
          ? await post(this.#ip, step.post)
          : { status: 503, message: "the API is not served here" },
      );
      // The hub may have closed the connection meanwhile (a ban): its refusal is the answer.
      if (this.#closed || this.#answering) return false;
    }
    return await this.#respond(req, answer, read.rest);
  }

  /**
   * Reads the `length` bytes of `req`'s body (some may be in the buffer already) within the
   * header timeout, which answers 408 and closes; null when the connection ended first. `rest`:
   * what was read past the body (a pipelined request).
   */
  async #readBody(
    req: HttpRequest,
    length: number,
  ): Promise<{ body: Uint8Array; rest: Uint8Array } | null> {
    const body = new Uint8Array(length);
    const buffered = this.#buf.subarray(req.length, this.#len);
    let got = Math.min(length, buffered.length);
    body.set(buffered.subarray(0, got));
    const rest = buffered.slice(got);
    if (got < length) this.#arm(this.#site.timeouts.header, "request body too slow");
    while (got < length) {
      // #len stays above 0 meanwhile: the timeout answers 408 as for a head that never came.
      const n = await this.#conn.read(body.subarray(got));
      if (n === null || this.#closed) return null;
      got += n;
    }
    clearTimeout(this.#timer);
    return { body, rest };
  }

  /**
   * Closes after an answer that left the request's body unread: the connection's sending side
   * is closed at once, and what the client still sends is dropped for a moment (up to
   * {@link LINGER_BYTES}), so that closing does not reset the connection before the client has
   * read the answer.
   */
  async #linger(): Promise<void> {
    if (this.#closed) return;
    this.#answering = true;
    this.#arm(LINGER_MS, "request served");
    const scratch = new Uint8Array(4096);
    let dropped = 0;
    try {
      await this.#conn.closeWrite();
      while (!this.#closed && dropped < LINGER_BYTES) {
        const n = await this.#conn.read(scratch);
        if (n === null) break;
        dropped += n;
      }
    } catch {
      // closed by the timer, or by the client
    }
    this.#end("request served");
  }

  /**
   * Answers a WebSocket upgrade and, when it is accepted, gives the socket to the host. The
   * caller has checked that the site takes WebSockets (has `upgrade` and `socket`).
   */
  async #upgrade(req: HttpRequest, rest: Uint8Array): Promise<void> {
    const site = this.#site;
    const up = site.upgrade!(req, this.#ip, this.#proxied);
    this.#answering = true;
    await this.#write(up.bytes);
    this.#answering = false;
    if (!up.ok) return this.#end("upgrade refused");
    if (this.#closed) return;
    this.#upgraded = true;
    clearTimeout(this.#timer);
    this.#host.upgrade(this.id, site.socket!(this.#conn, this.#ip, this.#port, rest), this.#outbox);
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
