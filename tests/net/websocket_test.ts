/**
 * The WebSocket frame reader and the HTTP head parser of the web port, without sockets: frames
 * split anywhere, the message limit enforced from a frame's header (so a fragmented message can
 * never grow past it), control frames, and protocol errors; request heads bounded and strict.
 */
import assert from "node:assert/strict";
import { HEAD_MAX, MAX_HEADERS, parseHead } from "../../src/net/http.ts";
import {
  acceptKey,
  CLOSE_PROTOCOL,
  CLOSE_TOO_BIG,
  encodeFrame,
  FrameReader,
  type FrameSink,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_TEXT,
} from "../../src/net/websocket.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A client frame: masked, as browsers send them. */
function clientFrame(op: number, payload: Uint8Array, fin = true, declared?: number): Uint8Array {
  const n = declared ?? payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | op];
  if (n < 126) head.push(0x80 | n);
  else if (n < 65_536) head.push(0x80 | 126, n >> 8, n & 0xff);
  else {
    head.push(0x80 | 127);
    const hi = Math.floor(n / 2 ** 32);
    for (const v of [hi >>> 24, (hi >>> 16) & 255, (hi >>> 8) & 255, hi & 255]) head.push(v);
    const lo = n >>> 0;
    for (const v of [lo >>> 24, (lo >>> 16) & 255, (lo >>> 8) & 255, lo & 255]) head.push(v);
  }
  const mask = [0x12, 0x34, 0x56, 0x78];
  const out = new Uint8Array(head.length + 4 + payload.length);
  out.set(head);
  out.set(mask, head.length);
  for (let i = 0; i < payload.length; i++) out[head.length + 4 + i] = payload[i] ^ mask[i & 3];
  return out;
}

/** Records what a reader reports. */
function recorder() {
  const events: string[] = [];
  let message = "";
  let held = 0;
  const sink: FrameSink = {
    data: (b) => {
      message += dec.decode(b, { stream: true });
      held += b.length;
    },
    end: () => {
      events.push(`msg:${message}`);
      message = "";
    },
    ping: (p) => events.push(`ping:${dec.decode(p)}`),
    close: (code) => events.push(`close:${code}`),
    error: (code, why) => events.push(`error:${code}:${why}`),
  };
  return { events, sink, held: () => held };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

Deno.test("websocket: frames split at every byte give the same messages and controls", () => {
  const stream = concat(
    clientFrame(OP_TEXT, enc.encode("héllo")),
    clientFrame(OP_TEXT, enc.encode("frag"), false),
    clientFrame(OP_PING, enc.encode("p")),
    clientFrame(OP_CONTINUATION, enc.encode("mented"), true),
    clientFrame(OP_BINARY, enc.encode("bin")),
    clientFrame(OP_CLOSE, new Uint8Array([0x03, 0xe8])),
  );
  const whole = recorder();
  new FrameReader(1024).feed(stream.slice(), whole.sink);
  assert.deepEqual(whole.events, [
    "msg:héllo",
    "ping:p",
    "msg:fragmented",
    "msg:bin",
    "close:1000",
  ]);
  for (let cut = 1; cut < stream.length; cut++) {
    const r = recorder();
    const reader = new FrameReader(1024);
    reader.feed(stream.slice(0, cut), r.sink);
    reader.feed(stream.slice(cut), r.sink);
    assert.deepEqual(r.events, whole.events, `split at ${cut}`);
  }
});

Deno.test("websocket: a fragmented message is refused at the frame that crosses the limit", () => {
  const r = recorder();
  const reader = new FrameReader(16 * 1024);
  reader.feed(clientFrame(OP_TEXT, new Uint8Array(8 * 1024).fill(0x61), false), r.sink);
  reader.feed(clientFrame(OP_CONTINUATION, new Uint8Array(8 * 1024).fill(0x62), false), r.sink);
  assert.deepEqual(r.events, [], "16 KiB so far: within the limit");
  // The next frame declares 1 GiB: refused from its header, before any of its payload.
  const header = clientFrame(OP_CONTINUATION, new Uint8Array(0), false, 1024 ** 3);
  reader.feed(header, r.sink);
  assert.deepEqual(r.events, [`error:${CLOSE_TOO_BIG}:message too big`]);
  const before = r.held();
  reader.feed(new Uint8Array(64 * 1024).fill(0x63), r.sink);
  assert.equal(r.held(), before, "nothing after the refusal is read");
  assert.equal(before, 16 * 1024, "what was held never passed the limit");
});

Deno.test("websocket: one frame over the limit is refused from its header", () => {
  const r = recorder();
  new FrameReader(1000).feed(clientFrame(OP_TEXT, new Uint8Array(1001)).subarray(0, 8), r.sink);
  assert.deepEqual(r.events, [`error:${CLOSE_TOO_BIG}:message too big`]);
  const ok = recorder();
  new FrameReader(1000).feed(clientFrame(OP_TEXT, new Uint8Array(1000).fill(0x41)), ok.sink);
  assert.equal(ok.events.length, 1);
  assert.equal(ok.events[0].length, "msg:".length + 1000);
});

Deno.test("websocket: protocol errors are refused with 1002", () => {
  const cases: [string, Uint8Array][] = [
    ["unmasked", new Uint8Array([0x81, 0x01, 0x41])],
    ["reserved bits", new Uint8Array([0xc1, 0x80, 0, 0, 0, 0])],
    ["unknown opcode", clientFrame(3, new Uint8Array(0))],
    ["continuation of nothing", clientFrame(OP_CONTINUATION, enc.encode("x"))],
    [
      "a message inside a message",
      concat(
        clientFrame(OP_TEXT, enc.encode("a"), false),
        clientFrame(OP_TEXT, enc.encode("b")),
      ),
    ],
    ["a fragmented ping", clientFrame(OP_PING, enc.encode("x"), false)],
    ["a long ping", clientFrame(OP_PING, new Uint8Array(126))],
  ];
  for (const [name, bytes] of cases) {
    const r = recorder();
    new FrameReader(1024).feed(bytes, r.sink);
    assert.equal(r.events.length, 1, name);
    assert.ok(r.events[0].startsWith(`error:${CLOSE_PROTOCOL}:`), `${name}: ${r.events[0]}`);
  }
});

Deno.test("websocket: server frames and the handshake key", () => {
  assert.deepEqual([...encodeFrame(OP_TEXT, enc.encode("hi"))], [0x81, 2, 0x68, 0x69]);
  const mid = encodeFrame(OP_TEXT, new Uint8Array(300));
  assert.deepEqual([...mid.subarray(0, 4)], [0x81, 126, 1, 44]);
  const big = encodeFrame(OP_TEXT, new Uint8Array(70_000));
  assert.deepEqual([...big.subarray(0, 10)], [0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
  // RFC 6455, section 1.3.
  assert.equal(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

Deno.test("http: request heads are parsed strictly and within bounds", () => {
  const head = (text: string) => {
    const b = enc.encode(text);
    return parseHead(b, b.length);
  };
  const ok = head("GET /ws?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nX: 1\r\nX: 2\r\n\r\n");
  assert.ok("request" in ok);
  assert.equal(ok.request.path, "/ws");
  assert.equal(ok.request.headers.get("upgrade"), "websocket");
  assert.equal(ok.request.headers.get("x"), "1, 2");
  assert.ok("incomplete" in head("GET / HTTP/1.1\r\nHost: a\r\n"));
  assert.ok("request" in head("\r\nGET / HTTP/1.0\n\n"), "leading blank line, bare LF");
  const status = (text: string) => {
    const r = head(text);
    return "status" in r ? r.status : 0;
  };
  assert.equal(status("GET / HTTP/1.1\r\n\r\n"), 400, "no Host");
  assert.equal(status("GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n"), 400, "absolute form");
  assert.equal(status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400, "two Hosts");
  assert.equal(status("GET / HTTP/1.1\r\nHost: a\r\n bad fold\r\n\r\n"), 400);
  assert.equal(status("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n"), 400, "control byte");
  assert.equal(status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"), 501);
  assert.equal(status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400);
  const many = "GET / HTTP/1.1\r\nHost: a\r\n" + "X: y\r\n".repeat(MAX_HEADERS) + "\r\n";
  assert.equal(status(many), 431);
  const huge = enc.encode("GET / HTTP/1.1\r\nHost: a\r\nX: " + "y".repeat(HEAD_MAX));
  const r = parseHead(huge, huge.length);
  assert.ok("status" in r && r.status === 431, "a head that never ends is refused at the bound");
});
