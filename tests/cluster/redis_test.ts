/**
 * The Redis client: the RESP codec on its own (every split of a frame, limits), the client and
 * subscriber against a fake server (pipelining, errors, hang-ups, timeouts, the queue bound,
 * setup commands, scripts, re-subscribing), and, when redis-server is installed, against a real
 * one started here on a free port without persistence (pub/sub, a restart mid-subscription,
 * AUTH, TLS). With CI=true a missing redis-server fails those tests instead of skipping them.
 */
import assert from "node:assert/strict";
import { RedisClient } from "../../src/cluster/redis/client.ts";
import { RedisClientError, type RedisClientErrorKind } from "../../src/cluster/redis/connection.ts";
import {
  backoffDelay,
  type ReconnectFailure,
  type ReconnectInfo,
  type RedisOptions,
} from "../../src/cluster/redis/options.ts";
import {
  encodeCommand,
  RedisError,
  RESP_LIMITS,
  RespParser,
  RespProtocolError,
  type RespValue,
  RespWriter,
} from "../../src/cluster/redis/resp.ts";
import { RedisSubscriber } from "../../src/cluster/redis/subscriber.ts";
import { parseRedisUrl } from "../../src/cluster/redis/url.ts";
import { FakeRedis, sha1 } from "../support/fake_redis.ts";
import { freePort, RedisServer } from "../support/redis_server.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * Deno.test with the op and resource sanitizers on (this Deno leaves them off by default): a
 * timer, socket or read left behind by the client fails the test that leaked it.
 */
function test(name: string, fn: () => void | Promise<void>): void {
  Deno.test({ name, fn, sanitizeOps: true, sanitizeResources: true });
}

/** Polls until `cond` holds; fails with `what` after a generous deadline. */
async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Lifecycle callbacks that record what they were told. */
function recorder() {
  const ev = {
    connects: 0,
    disconnects: [] as string[],
    reconnects: [] as ReconnectInfo[],
    failures: [] as ReconnectFailure[],
  };
  const opts: RedisOptions = {
    onConnect: () => ev.connects++,
    onDisconnect: (r) => ev.disconnects.push(r),
    onReconnect: (i) => ev.reconnects.push(i),
    onReconnectFailed: (f) => ev.failures.push(f),
  };
  return { ev, opts };
}

/** Asserts that a promise rejects with a RedisClientError of this kind; returns it. */
async function rejectsKind(
  p: Promise<unknown>,
  kind: RedisClientErrorKind,
  message?: RegExp,
): Promise<RedisClientError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RedisClientError, `expected RedisClientError, got ${e}`);
    assert.equal(e.kind, kind, e.message);
    if (message) assert.match(e.message, message);
    return e;
  }
  throw new Error(`expected a rejection of kind ${kind}`);
}

/** Replies in a comparable shape (Error objects compare poorly). */
function norm(v: RespValue): unknown {
  if (v instanceof RedisError) return { error: v.message, code: v.code };
  if (Array.isArray(v)) return v.map(norm);
  if (v instanceof Uint8Array) return { bytes: [...v] };
  return v;
}

/** Parses chunks fed one after another, draining after each. */
function parseChunks(chunks: Uint8Array[], parser = new RespParser()): unknown[] {
  const out: unknown[] = [];
  for (const c of chunks) {
    parser.feed(c);
    for (let v = parser.next(); v !== undefined; v = parser.next()) out.push(norm(v));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Codec

/** One stream with every reply shape, including CRLF inside a bulk and multi-byte UTF-8. */
const MIXED = "+OK\r\n" +
  "-ERR bad thing happened\r\n" +
  ":42\r\n" +
  ":-7\r\n" +
  "$5\r\nhello\r\n" +
  "$0\r\n\r\n" +
  "$-1\r\n" +
  "*-1\r\n" +
  "*0\r\n" +
  "*3\r\n$1\r\na\r\n*2\r\n:1\r\n$-1\r\n*1\r\n*1\r\n+deep\r\n" +
  "$6\r\nhé€\r\n" +
  "+status with spaces\r\n" +
  "$4\r\na\r\nb\r\n" +
  "*2\r\n-WRONGTYPE nested error\r\n$3\r\nend\r\n" +
  "_\r\n" +
  ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\np\r\n";

const MIXED_VALUES = [
  "OK",
  { error: "ERR bad thing happened", code: "ERR" },
  42,
  -7,
  "hello",
  "",
  null,
  null,
  [],
  ["a", [1, null], [["deep"]]],
  "hé€",
  "status with spaces",
  "a\r\nb",
  [{ error: "WRONGTYPE nested error", code: "WRONGTYPE" }, "end"],
  null,
  ["message", "c", "p"],
];

test("resp: every reply shape parses from one chunk", () => {
  assert.deepEqual(parseChunks([enc.encode(MIXED)]), MIXED_VALUES);
});

test("resp: a stream split at every offset (and every pair of offsets) parses the same", () => {
  const all = enc.encode(MIXED);
  for (let i = 0; i <= all.length; i++) {
    assert.deepEqual(parseChunks([all.subarray(0, i), all.subarray(i)]), MIXED_VALUES, `at ${i}`);
  }
  for (let i = 0; i <= all.length; i++) {
    for (let j = i; j <= all.length; j++) {
      const got = parseChunks([all.subarray(0, i), all.subarray(i, j), all.subarray(j)]);
      assert.deepEqual(got, MIXED_VALUES, `at ${i}, ${j}`);
    }
  }
  const bytewise = [...all].map((b) => Uint8Array.of(b));
  assert.deepEqual(parseChunks(bytewise), MIXED_VALUES);
});

test("resp: an error reply is a RedisError value with its code, not a throw", () => {
  const p = new RespParser();
  p.feed(enc.encode("-NOSCRIPT No matching script. Please use EVAL.\r\n+after\r\n"));
  const e = p.next();
  assert.ok(e instanceof RedisError);
  assert.equal(e.code, "NOSCRIPT");
  assert.equal(e.message, "NOSCRIPT No matching script. Please use EVAL.");
  assert.equal(p.next(), "after");
  assert.equal(p.next(), undefined);
});

test("resp: bytes mode returns bulk strings as Uint8Array copies, switchable per value", () => {
  const p = new RespParser();
  p.feed(enc.encode("$3\r\n\x00\xff\r\n"));
  p.feed(Uint8Array.of(0x24, 0x33, 13, 10, 0, 0xff, 13, 13, 10, 0x24, 0x31, 13, 10, 0x78, 13, 10));
  // (the first feed's \xff was UTF-8-encoded to two bytes; only the raw feed is binary)
  p.bytes = true;
  const first = p.next();
  assert.ok(first instanceof Uint8Array);
  assert.deepEqual([...first], [0, 0xc3, 0xbf]);
  const second = p.next();
  assert.ok(second instanceof Uint8Array);
  assert.deepEqual([...second], [0, 0xff, 13]);
  p.bytes = false;
  assert.equal(p.next(), "x");
});

test("resp: a big bulk string arrives whole across many reads; the buffer shrinks after", () => {
  const size = 3 * 1024 * 1024 + 7;
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i++) payload[i] = (i * 31) & 0xff;
  const frame = new Uint8Array([
    ...enc.encode(`$${size}\r\n`),
    ...payload,
    13,
    10,
    0x3a,
    0x31,
    13,
    10,
  ]);
  const p = new RespParser();
  p.bytes = true;
  const got: RespValue[] = [];
  for (let off = 0; off < frame.length; off += 65_536) {
    p.feed(frame.subarray(off, off + 65_536));
    for (let v = p.next(); v !== undefined; v = p.next()) got.push(v);
  }
  assert.equal(got.length, 2);
  assert.deepEqual(got[0], payload);
  assert.equal(got[1], 1);
  assert.equal(p.buffered, 0);
  assert.ok(p.space().length <= 64 * 1024, "the read buffer went back to its small size");

  const text = "x".repeat(1_000_000);
  assert.deepEqual(parseChunks([enc.encode(`$${text.length}\r\n${text}\r\n`)]), [text]);
});

test("resp: absurd lengths and depths fail at the header, before any allocation", () => {
  const bad = (s: string, re: RegExp, limits = {}) => {
    const p = new RespParser(limits);
    p.feed(enc.encode(s));
    assert.throws(
      () => p.next(),
      (e: unknown) => e instanceof RespProtocolError && re.test(e.message),
    );
  };
  bad(`$${RESP_LIMITS.maxBulk + 1}\r\n`, /bulk string length over the limit/);
  bad("$99999999999999999999999999\r\n", /over the limit/);
  bad(`*${RESP_LIMITS.maxArray + 1}\r\n`, /array length over the limit/);
  bad("*1\r\n".repeat(65) + ":1\r\n", /nested deeper than 64/);
  bad("$-2\r\n", /negative bulk string length/);
  bad("*-5\r\n", /negative array length/);
  bad("$abc\r\n", /bad bulk string header/);
  bad("$\r\n", /bad bulk string header/);
  bad(":12x\r\n", /bad integer header/);
  bad("+OK\rX", /CR not followed by LF/);
  bad("$3\r\nabcd\r\n", /bulk string not followed by CRLF/);
  bad("?what\r\n", /unknown reply type byte 0x3f/);
  bad("|1\r\n+a\r\n+b\r\n", /attributes are not supported/);
  bad("+" + "a".repeat(100), /line longer than 64 bytes/, { maxLine: 64 });
  bad("$100\r\n", /over the limit of 10/, { maxBulk: 10 });
  // The limits are inclusive: exactly at them is fine.
  assert.deepEqual(parseChunks([enc.encode("*1\r\n".repeat(64) + ":1\r\n")]).length, 1);
});

test("resp: the RESP3 types a RESP2 connection could meet map to RESP2 shapes", () => {
  const stream = "_\r\n" + ">2\r\n+a\r\n:1\r\n" + "~2\r\n:1\r\n:2\r\n" + "%1\r\n+k\r\n+v\r\n" +
    "#t\r\n#f\r\n" + ",1.5\r\n,inf\r\n,-inf\r\n" + "(12345678901234\r\n" + "=7\r\ntxt:abc\r\n" +
    "!9\r\nERR oops!\r\n";
  assert.deepEqual(parseChunks([enc.encode(stream)]), [
    null,
    ["a", 1],
    [1, 2],
    ["k", "v"],
    1,
    0,
    1.5,
    Infinity,
    -Infinity,
    12345678901234,
    "abc",
    { error: "ERR oops!", code: "ERR" },
  ]);
});

test("resp: commands encode as arrays of bulk strings", () => {
  assert.equal(
    dec.decode(encodeCommand(["SET", "k", "v"])),
    "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
  );
  assert.equal(
    dec.decode(encodeCommand(["ZADD", "z", 42, -7, 0, 1.5, Infinity, -Infinity])),
    "*8\r\n$4\r\nZADD\r\n$1\r\nz\r\n$2\r\n42\r\n$2\r\n-7\r\n$1\r\n0\r\n$3\r\n1.5\r\n" +
      "$4\r\n+inf\r\n$4\r\n-inf\r\n",
  );
  assert.deepEqual(
    [...encodeCommand(["X", Uint8Array.of(0, 255, 13, 10)])],
    [...enc.encode("*2\r\n$1\r\nX\r\n$4\r\n"), 0, 255, 13, 10, 13, 10],
  );
  assert.equal(dec.decode(encodeCommand(["ECHO", "héllo"])), "*2\r\n$4\r\nECHO\r\n$6\r\nhéllo\r\n");
  assert.equal(dec.decode(encodeCommand(["ECHO", ""])), "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n");
});

test("resp: strings of every length and mix of UTF-8 widths round-trip through the parser", () => {
  const pieces = ["a", "é", "€", "😀", "\r\n", "\0"];
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const w = new RespWriter(16);
  const sent: string[][] = [];
  for (const n of [0, 1, 3, 4, 9, 10, 33, 34, 99, 100, 255, 256, 333, 334, 1000, 3334, 40_000]) {
    for (const mix of [1, 2, pieces.length]) {
      let s = "";
      while (s.length < n) s += pieces[Math.floor(rnd() * mix)];
      const args = ["ECHO", s, String(n)];
      w.command(args);
      sent.push(args);
    }
  }
  assert.deepEqual(parseChunks([w.take()!]), sent);
});

test("resp: a bad argument throws and leaves the writer as it was", () => {
  const w = new RespWriter();
  w.command(["PING"]);
  assert.throws(() => w.command(["SET", "k", NaN]), TypeError);
  assert.throws(() => w.command([]), TypeError);
  assert.throws(() => w.command(["SET", {} as unknown as string]), TypeError);
  w.command(["ECHO", "x"]);
  const out = w.take()!;
  assert.equal(dec.decode(out), "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n");
  assert.equal(w.take(), null);
  w.recycle(out);
  w.command(["PING"]);
  assert.equal(dec.decode(w.take()!), "*1\r\n$4\r\nPING\r\n");
});

// ---------------------------------------------------------------------------------------------
// Pure client helpers

test("redis: URLs give host, port, credentials, database and TLS", () => {
  assert.deepEqual(parseRedisUrl("redis://127.0.0.1:6390"), {
    tls: false,
    hostname: "127.0.0.1",
    port: 6390,
    username: "",
    password: "",
    db: 0,
  });
  assert.deepEqual(parseRedisUrl("rediss://al%69ce:p%40ss%3Aword@cache.example:7000/3"), {
    tls: true,
    hostname: "cache.example",
    port: 7000,
    username: "alice",
    password: "p@ss:word",
    db: 3,
  });
  const v6 = parseRedisUrl("redis://:secret@[::1]/");
  assert.equal(v6.hostname, "::1");
  assert.equal(v6.port, 6379);
  assert.equal(v6.password, "secret");
  assert.equal(v6.username, "");
  for (
    const [url, re] of [
      ["http://x:1", /unsupported redis URL scheme "http:"/],
      ["not a url", /invalid redis URL/],
      ["redis://h:1/x", /database must be a number/],
      ["redis://h:1/?db=2", /not supported/],
      ["redis://alice@h:1", /user but no password/],
    ] as const
  ) {
    assert.throws(() => parseRedisUrl(url), re);
  }
  // A bad URL's message never repeats it (it may hold a password).
  assert.throws(
    () => parseRedisUrl("redis://:hunter2@h:1/x"),
    (e: Error) => !/hunter2/.test(e.message),
  );
});

test("redis: backoff doubles from the minimum, is capped, and jitters within its upper half", () => {
  assert.equal(backoffDelay(0, 50, 3000, () => 0), 25);
  assert.equal(backoffDelay(0, 50, 3000, () => 1), 50);
  assert.equal(backoffDelay(1, 50, 3000, () => 1), 100);
  assert.equal(backoffDelay(3, 50, 3000, () => 0.5), 300);
  assert.equal(backoffDelay(10, 50, 3000, () => 1), 3000);
  assert.equal(backoffDelay(1000, 50, 3000, () => 0), 1500);
});

// ---------------------------------------------------------------------------------------------
// Client against the fake server

test("client: AUTH and SELECT go first, URL-decoded; without them a PING checks the peer", async () => {
  const fake = FakeRedis.start();
  const a = await RedisClient.connect(fake.url("us%65r:p%40ss@", "/3"));
  assert.equal(await a.send(["ECHO", "x"]), "x");
  assert.deepEqual(fake.conns[0].commands, [["AUTH", "user", "p@ss"], ["SELECT", "3"], [
    "ECHO",
    "x",
  ]]);
  const b = await RedisClient.connect(fake.url(":secret@"));
  await b.ping();
  assert.deepEqual(fake.conns[1].commands, [["AUTH", "secret"], ["PING"]]);
  const c = await RedisClient.connect(fake.url());
  assert.equal(await c.get("nothing"), null);
  assert.deepEqual(fake.conns[2].commands, [["PING"], ["GET", "nothing"]]);
  await Promise.all([a.close(), b.close(), c.close()]);
  await fake.close();
});

test("client: pipelined replies match their commands in order; a burst is one write", async () => {
  const fake = FakeRedis.start();
  const c = await RedisClient.connect(fake.url());
  const writes = c.stats.writes;
  const replies: Promise<RespValue>[] = [];
  for (let i = 0; i < 300; i++) replies.push(c.send(["ECHO", `m${i}`]));
  assert.equal(c.stats.pending, 300);
  const got = await Promise.all(replies);
  assert.deepEqual(got, replies.map((_, i) => `m${i}`));
  assert.equal(c.stats.writes - writes, 1, "300 commands issued in one turn went out in one write");
  assert.equal(await c.set("k", "v"), "OK");
  assert.equal(await c.get("k"), "v");
  await c.close();
  await fake.close();
});

test("client: an error reply rejects only its own command; the connection stays", async () => {
  const fake = FakeRedis.start();
  fake.handler = (cmd) => cmd[1] === "bad" ? "-ERR bad argument\r\n" : undefined;
  const { ev, opts } = recorder();
  const c = await RedisClient.connect(fake.url(), opts);
  const [a, b, d] = await Promise.allSettled([
    c.send(["ECHO", "one"]),
    c.send(["ECHO", "bad"]),
    c.send(["ECHO", "three"]),
  ]);
  assert.deepEqual(a, { status: "fulfilled", value: "one" });
  assert.equal(b.status, "rejected");
  assert.ok(b.status === "rejected" && b.reason instanceof RedisError && b.reason.code === "ERR");
  assert.deepEqual(d, { status: "fulfilled", value: "three" });
  await assert.rejects(
    c.send(["NOPE"]),
    (e) => e instanceof RedisError && /unknown command/.test(e.message),
  );
  assert.equal(await c.ping(), "PONG");
  assert.deepEqual(ev.disconnects, []);
  assert.equal(ev.connects, 1);
  assert.equal(fake.conns.length, 1);
  await c.close();
  await fake.close();
});

test("client: a hang-up mid-reply fails what was in flight, then reconnects with backoff", async () => {
  const fake = FakeRedis.start();
  fake.handler = (cmd, conn) => {
    if (cmd[1] !== "cut") return undefined;
    void conn.send("$10\r\nhel").then(() => conn.close());
    return null;
  };
  const { ev, opts } = recorder();
  const c = await RedisClient.connect(fake.url(), {
    ...opts,
    reconnectMinMs: 20,
    reconnectMaxMs: 400,
  });
  assert.equal(ev.connects, 1);
  // Nobody answers the reconnects until the listener comes back.
  await fake.stopListening();
  const cut = c.send(["ECHO", "cut"]);
  const behind = c.send(["ECHO", "behind"]);
  await rejectsKind(cut, "disconnected", /connection closed by server.*may or may not have run/);
  await rejectsKind(behind, "disconnected");
  await until(() => ev.failures.length >= 4, "four failed reconnect attempts");
  assert.deepEqual(ev.disconnects, ["connection closed by server"]);
  assert.equal(c.status, "reconnecting");
  const planned = ev.failures.map((f) => f.retryInMs);
  for (let i = 1; i < planned.length; i++) {
    assert.ok(planned[i] >= planned[i - 1], `backoff grows: ${planned}`);
    assert.ok(planned[i] <= 400, `backoff capped: ${planned}`);
  }
  assert.deepEqual(ev.failures.slice(0, 4).map((f) => f.attempt), [1, 2, 3, 4]);
  assert.equal(ev.failures[0].reason, "connection refused");
  fake.listen();
  await until(() => ev.reconnects.length === 1, "the reconnect callback");
  assert.equal(ev.reconnects[0].reason, "connection closed by server");
  assert.ok(ev.reconnects[0].attempts >= 5);
  assert.equal(c.status, "ready");
  assert.equal(await c.send(["ECHO", "back"]), "back");
  assert.equal(c.stats.reconnects, 1);
  await c.close();
  await fake.close();
});

test("client: a command with no reply times out and the connection is re-made", async () => {
  const fake = FakeRedis.start();
  const { ev, opts } = recorder();
  const c = await RedisClient.connect(fake.url(), {
    ...opts,
    commandTimeoutMs: 150,
    reconnectMinMs: 10,
  });
  fake.silent = true;
  const first = c.send(["ECHO", "a"]);
  const second = c.send(["ECHO", "b"]);
  await rejectsKind(first, "timeout", /timed out after 150 ms/);
  await rejectsKind(second, "disconnected", /no reply within 150 ms/);
  assert.deepEqual(ev.disconnects, ["no reply within 150 ms"]);
  fake.silent = false;
  await until(() => ev.reconnects.length === 1, "the reconnect");
  assert.equal(await c.send(["ECHO", "c"]), "c");
  await c.close();
  await fake.close();
});

test("client: past maxPending, new commands are refused at once; close() rejects the rest", async () => {
  const fake = FakeRedis.start();
  const c = await RedisClient.connect(fake.url(), { maxPending: 3 });
  fake.silent = true;
  const held = [1, 2, 3].map((i) => c.send(["ECHO", String(i)]));
  await rejectsKind(c.send(["ECHO", "4"]), "queue-full", /3 commands already pending/);
  const outcomes = held.map((p) => rejectsKind(p, "closed"));
  await c.close();
  await Promise.all(outcomes);
  await rejectsKind(c.send(["PING"]), "closed");
  assert.equal(c.status, "closed");
  await fake.close();
});

test("client: while reconnecting, commands wait (bounded by the timeout) and go out once back", async () => {
  const fake = FakeRedis.start();
  const { ev, opts } = recorder();
  const c = await RedisClient.connect(fake.url(), {
    ...opts,
    commandTimeoutMs: 300,
    reconnectMinMs: 10,
    reconnectMaxMs: 50,
  });
  await fake.stopListening();
  fake.dropAll();
  await until(() => ev.disconnects.length === 1, "the disconnect");
  // Waits past the timeout: rejected without touching any connection.
  await rejectsKind(c.send(["ECHO", "late"]), "timeout", /waiting for a connection \(.*refused\)/);
  const waiting = c.send(["ECHO", "w1"]);
  const waiting2 = c.send(["ECHO", "w2"]);
  fake.listen();
  assert.equal(await waiting, "w1");
  assert.equal(await waiting2, "w2");
  assert.equal(ev.reconnects.length, 1);
  const last = fake.conns[fake.conns.length - 1].commands;
  assert.deepEqual(last, [["PING"], ["ECHO", "w1"], ["ECHO", "w2"]]);
  await c.close();
  await fake.close();
});

test("client: with whenDisconnected 'fail', commands are refused at once while reconnecting", async () => {
  const fake = FakeRedis.start();
  const { ev, opts } = recorder();
  const c = await RedisClient.connect(fake.url(), {
    ...opts,
    whenDisconnected: "fail",
    reconnectMinMs: 10,
  });
  await fake.stopListening();
  fake.dropAll();
  await until(() => ev.disconnects.length === 1, "the disconnect");
  await rejectsKind(c.send(["PING"]), "unavailable", /reconnecting to 127\.0\.0\.1:\d+/);
  fake.listen();
  await until(() => ev.reconnects.length === 1, "the reconnect");
  assert.equal(await c.ping(), "PONG");
  await c.close();
  await fake.close();
});

test("client: the first connect fails with one clear line", async () => {
  const port = freePort();
  const e = await rejectsKind(RedisClient.connect(`redis://127.0.0.1:${port}`), "unreachable");
  assert.equal(e.message, `cannot reach redis at 127.0.0.1:${port}: connection refused`);

  const fake = FakeRedis.start();
  fake.handler = (cmd) =>
    cmd[0] === "AUTH"
      ? "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
      : undefined;
  const auth = await rejectsKind(RedisClient.connect(fake.url(":nope@")), "rejected");
  assert.equal(
    auth.message,
    `redis at 127.0.0.1:${fake.port} rejected AUTH: WRONGPASS invalid username-password pair or user is disabled.`,
  );
  assert.ok(!auth.message.includes("nope"));
  fake.handler = (cmd) => cmd[0] === "PING" ? "HTTP/1.1 400 Bad Request\r\n" : undefined;
  const junk = await rejectsKind(RedisClient.connect(fake.url()), "unreachable");
  assert.match(
    junk.message,
    /^cannot reach redis at 127\.0\.0\.1:\d+: protocol error: unknown reply type/,
  );
  fake.handler = null;
  fake.silent = true;
  const silent = await rejectsKind(
    RedisClient.connect(fake.url(), { commandTimeoutMs: 100 }),
    "unreachable",
  );
  assert.match(silent.message, /: no reply within 100 ms$/);
  for (const m of [e, auth, junk, silent]) assert.ok(!m.message.includes("\n"));
  await fake.close();
});

test("client: scripts go by SHA1; NOSCRIPT falls back to EVAL; reconnects load them first", async () => {
  const fake = FakeRedis.start();
  const { ev, opts } = recorder();
  const c = await RedisClient.connect(fake.url(), { ...opts, reconnectMinMs: 10 });
  const source = "return redis.call('INCR', KEYS[1]) -- é";
  const script = await c.script(source);
  assert.equal(script.sha, sha1(source));
  assert.deepEqual(fake.log.at(-1), ["SCRIPT", "LOAD", source]);
  assert.equal(await script.run(["k"], ["a", 1]), `ran ${script.sha}`);
  assert.deepEqual(fake.log.at(-1), ["EVALSHA", script.sha, "1", "k", "a", "1"]);

  fake.scripts.clear(); // as SCRIPT FLUSH would
  assert.equal(await script.run(["k"]), `ran ${script.sha}`);
  assert.deepEqual(fake.log.slice(-2), [
    ["EVALSHA", script.sha, "1", "k"],
    ["EVAL", source, "1", "k"],
  ]);

  fake.scripts.clear(); // as a restart would
  fake.dropAll();
  await until(() => ev.reconnects.length === 1, "the reconnect");
  assert.deepEqual(fake.conns[1].commands[0], ["SCRIPT", "LOAD", source]);
  assert.equal(await script.run([]), `ran ${script.sha}`);
  assert.deepEqual(fake.log.at(-1), ["EVALSHA", script.sha, "0"]);

  fake.handler = (cmd) => cmd[0] === "SCRIPT" ? "-ERR Error compiling script\r\n" : undefined;
  await assert.rejects(c.script("this is not lua"), /Error compiling script/);
  await c.close();
  await fake.close();
});

test("client: a protocol error drops the connection; the client reconnects", async () => {
  const fake = FakeRedis.start();
  fake.handler = (cmd) => cmd[1] === "junk" ? "?garbage\r\n" : undefined;
  const { ev, opts } = recorder();
  const c = await RedisClient.connect(fake.url(), { ...opts, reconnectMinMs: 10 });
  await rejectsKind(c.send(["ECHO", "junk"]), "disconnected");
  assert.match(ev.disconnects[0], /^protocol error: unknown reply type byte 0x3f$/);
  await until(() => ev.reconnects.length === 1, "the reconnect");
  assert.equal(await c.send(["ECHO", "ok"]), "ok");
  await c.close();
  await fake.close();
});

test("client: close() during the reconnect backoff stops everything, quietly", async () => {
  const fake = FakeRedis.start();
  const { ev, opts } = recorder();
  const c = await RedisClient.connect(fake.url(), { ...opts, reconnectMinMs: 60_000 });
  fake.dropAll();
  await until(() => ev.disconnects.length === 1, "the disconnect");
  const waiting = c.send(["PING"]);
  await c.close();
  await rejectsKind(waiting, "closed");
  assert.equal(c.status, "closed");
  assert.equal(ev.failures.length + ev.reconnects.length, 0);
  await c.close(); // twice is fine
  await fake.close();
});

test("client: close() called from inside onDisconnect stops the reconnecting too", async () => {
  const fake = FakeRedis.start();
  let closing: Promise<void> | null = null;
  const c: RedisClient = await RedisClient.connect(fake.url(), {
    onDisconnect: () => (closing = c.close()),
    onReconnectFailed: () => assert.fail("no attempt after close()"),
  });
  fake.dropAll();
  await until(() => closing !== null, "the disconnect");
  await closing;
  assert.equal(c.status, "closed");
  await fake.close();
});

test("client: subscribing needs its own connection", async () => {
  const fake = FakeRedis.start();
  const c = await RedisClient.connect(fake.url());
  await assert.rejects(c.send(["subscribe", "x"]), /RedisSubscriber/);
  await c.close();
  await fake.close();
});

// ---------------------------------------------------------------------------------------------
// Subscriber against the fake server

test("subscriber: messages arrive in order; after a reconnect it re-subscribes, then says so", async () => {
  const fake = FakeRedis.start();
  const got: string[] = [];
  const { ev, opts } = recorder();
  const sub = await RedisSubscriber.connect(fake.url(), {
    ...opts,
    reconnectMinMs: 10,
    onMessage: (channel, payload, pattern) => got.push(`${pattern ?? "-"} ${channel} ${payload}`),
  });
  await sub.subscribe("a", "b", "a");
  await sub.psubscribe("room:*");
  assert.deepEqual(sub.channels, ["a", "b"]);
  for (let i = 0; i < 50; i++) fake.publish(i % 2 ? "a" : "room:1", `m${i}`);
  await until(() => got.length === 50, "50 messages");
  assert.deepEqual(got.slice(0, 3), ["room:* room:1 m0", "- a m1", "room:* room:1 m2"]);
  assert.deepEqual(got, got.map((_, i) => i % 2 ? `- a m${i}` : `room:* room:1 m${i}`));

  fake.dropAll();
  await until(() => ev.reconnects.length === 1, "the reconnect");
  assert.deepEqual(ev.disconnects, ["connection closed by server"]);
  const again = fake.conns[1];
  assert.deepEqual(again.commands, [["SUBSCRIBE", "a", "b"], ["PSUBSCRIBE", "room:*"]]);
  got.length = 0;
  assert.equal(fake.publish("b", "after"), 1);
  await until(() => got.length === 1, "a message after the reconnect");
  assert.deepEqual(got, ["- b after"]);

  await sub.unsubscribe("a");
  await sub.punsubscribe();
  assert.deepEqual(sub.channels, ["b"]);
  assert.deepEqual(sub.patterns, []);
  assert.equal(fake.publish("a", "x"), 0);
  await sub.close();
  await fake.close();
});

test("subscriber: bytes mode hands payloads over as Uint8Array", async () => {
  const fake = FakeRedis.start();
  const got: [string, Uint8Array][] = [];
  const sub = await RedisSubscriber.connect(fake.url(), {
    bytes: true,
    onMessage: (channel, payload) => got.push([channel, payload]),
  });
  await sub.subscribe("bin");
  fake.publish("bin", "héllo");
  await until(() => got.length === 1, "the message");
  assert.equal(got[0][0], "bin");
  assert.deepEqual(got[0][1], enc.encode("héllo"));
  await sub.close();
  await fake.close();
});

test("subscriber: an idle connection is PINGed, so a silent server is noticed", async () => {
  const fake = FakeRedis.start();
  const { ev, opts } = recorder();
  const sub = await RedisSubscriber.connect(fake.url(), {
    ...opts,
    pingIntervalMs: 30,
    commandTimeoutMs: 100,
    reconnectMinMs: 10,
    onMessage: () => {},
  });
  await sub.subscribe("a");
  await until(() => fake.log.some((c) => c[0] === "PING"), "a health-check PING");
  fake.silent = true;
  await until(() => ev.disconnects.length === 1, "the disconnect");
  assert.equal(ev.disconnects[0], "no reply within 100 ms");
  fake.silent = false;
  await until(() => ev.reconnects.length >= 1, "the reconnect");
  await sub.close();
  await fake.close();
});

// ---------------------------------------------------------------------------------------------
// Against a real redis-server

const CI = Deno.env.get("CI") === "true";
/** Whether a program runs (`--version` or the like exits 0). */
async function runs(cmd: string, ...args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
    return out.success;
  } catch {
    return false;
  }
}
const HAVE_REDIS = await runs("redis-server", "--version");
const HAVE_OPENSSL = await runs("openssl", "version");

/** A test that needs redis-server: skipped without it, except under CI where it fails. */
function redisTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name: `redis-server: ${name}`,
    sanitizeOps: true,
    sanitizeResources: true,
    ignore: !HAVE_REDIS && !CI,
    fn: async () => {
      if (!HAVE_REDIS) {
        throw new Error(
          "redis-server is not installed (CI=true needs it: apt-get install redis-server)",
        );
      }
      await fn();
    },
  });
}

redisTest("commands, error replies, binary and big values, pipelining, SELECT", async () => {
  const server = new RedisServer();
  await server.start();
  try {
    const c = await RedisClient.connect(server.url);
    const db5 = await RedisClient.connect(`${server.url}/5`);
    assert.equal(await c.set("greeting", "héllo wörld"), "OK");
    assert.equal(await c.get("greeting"), "héllo wörld");
    assert.equal(await db5.get("greeting"), null, "db 5 is another keyspace");

    const binary = Uint8Array.from({ length: 256 }, (_, i) => i);
    await c.set("bin", binary);
    assert.deepEqual(await c.sendBytes(["GET", "bin"]), binary);

    const big = "x".repeat(4 * 1024 * 1024);
    await c.set("big", big);
    assert.equal(await c.get("big"), big);

    await assert.rejects(
      c.send(["INCR", "greeting"]),
      (e) => e instanceof RedisError && e.code === "ERR",
    );
    await c.send(["LPUSH", "list", "a"]);
    await assert.rejects(c.get("list"), (e) => e instanceof RedisError && e.code === "WRONGTYPE");

    const incrs: Promise<number>[] = [];
    for (let i = 0; i < 5000; i++) incrs.push(c.incr("counter"));
    assert.deepEqual(await Promise.all(incrs), incrs.map((_, i) => i + 1));
    assert.deepEqual(await c.send(["MGET", "counter", "missing"]), ["5000", null]);
    assert.equal(await c.del("counter", "missing"), 1);
    await Promise.all([c.close(), db5.close()]);
  } finally {
    await server.cleanup();
  }
});

redisTest("pub/sub round trip: channels and patterns, in order, then unsubscribed", async () => {
  const server = new RedisServer();
  await server.start();
  try {
    const got: string[] = [];
    const sub = await RedisSubscriber.connect(server.url, {
      onMessage: (ch, payload, pattern) => got.push(`${pattern ?? "-"}|${ch}|${payload}`),
    });
    await sub.subscribe("lobby");
    await sub.psubscribe("room:*");
    const pub = await RedisClient.connect(server.url);
    const sends: Promise<number>[] = [];
    for (let i = 0; i < 1000; i++) {
      sends.push(pub.publish(i % 3 ? "lobby" : "room:x", `line ${i} ✓`));
    }
    assert.ok((await Promise.all(sends)).every((n) => n === 1));
    await until(() => got.length === 1000, "1000 messages");
    assert.deepEqual(
      got,
      got.map((_, i) => i % 3 ? `-|lobby|line ${i} ✓` : `room:*|room:x|line ${i} ✓`),
    );
    await sub.unsubscribe("lobby");
    assert.equal(await pub.publish("lobby", "nobody"), 0);
    await Promise.all([sub.close(), pub.close()]);
  } finally {
    await server.cleanup();
  }
});

redisTest(
  "a restart mid-subscription: both reconnect, re-subscribe, messages flow again",
  async () => {
    const server = new RedisServer();
    await server.start();
    try {
      const subEv = recorder();
      const pubEv = recorder();
      const got: string[] = [];
      const sub = await RedisSubscriber.connect(server.url, {
        ...subEv.opts,
        reconnectMinMs: 20,
        reconnectMaxMs: 200,
        onMessage: (_ch, payload) => got.push(payload),
      });
      await sub.subscribe("lobby");
      const pub = await RedisClient.connect(server.url, {
        ...pubEv.opts,
        reconnectMinMs: 20,
        reconnectMaxMs: 200,
      });
      const script = await pub.script("return ARGV[1] .. '!'");
      await pub.publish("lobby", "before");
      await until(() => got.length === 1, "the first message");

      await server.stop();
      await until(
        () => subEv.ev.disconnects.length === 1 && pubEv.ev.disconnects.length === 1,
        "both to notice the restart",
      );
      // Issued while Redis is down: it waits for the reconnect (the default policy).
      const during = pub.publish("lobby", "during");
      await server.start();
      await until(
        () => subEv.ev.reconnects.length === 1 && pubEv.ev.reconnects.length === 1,
        "both reconnect callbacks",
      );
      assert.equal(typeof await during, "number");
      // The restarted Redis forgot the script; the client loaded it again on reconnect.
      assert.deepEqual(await pub.send(["SCRIPT", "EXISTS", script.sha]), [1]);
      assert.equal(await script.run([], ["hi"]), "hi!");
      assert.equal(await pub.publish("lobby", "after"), 1);
      await until(() => got.includes("after"), "a message after the restart");
      assert.equal(got[0], "before");

      await pub.send(["SCRIPT", "FLUSH"]);
      assert.equal(await script.run([], ["again"]), "again!", "NOSCRIPT falls back to EVAL");
      await Promise.all([sub.close(), pub.close()]);
    } finally {
      await server.cleanup();
    }
  },
);

redisTest(
  "AUTH with a password and with an ACL user; a wrong password is one clear line",
  async () => {
    const server = new RedisServer(["--requirepass", "s3cret"]);
    await server.start();
    const authed = (auth: string) => server.url.replace("redis://", `redis://${auth}`);
    try {
      const c = await RedisClient.connect(authed(":s3cret@"));
      assert.equal(await c.ping(), "PONG");
      await c.send(["ACL", "SETUSER", "alice", "on", ">pa ss", "~*", "+@all"]);
      const alice = await RedisClient.connect(authed("alice:pa%20ss@"));
      assert.equal(await alice.send(["ACL", "WHOAMI"]), "alice");
      const e = await rejectsKind(RedisClient.connect(authed(":wrong@")), "rejected");
      assert.match(e.message, /^redis at 127\.0\.0\.1:\d+ rejected AUTH: WRONGPASS /);
      await Promise.all([c.close(), alice.close()]);
    } finally {
      await server.cleanup();
    }
  },
);

redisTest("rediss:// over TLS with a private CA", async () => {
  if (!HAVE_OPENSSL) {
    console.log("  (openssl not installed: TLS not tested)");
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "shat-tls-" });
  const run = async (...args: string[]) => {
    const o = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
      .output();
    if (!o.success) throw new Error(`openssl ${args[0]}: ${dec.decode(o.stderr)}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=shat test CA",
  );
  await run("req", ...ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1");
  await Deno.writeTextFile(`${dir}/ext.cnf`, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  await run(
    "x509",
    "-req",
    "-in",
    "srv.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "srv.crt",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  );
  const ca = await Deno.readTextFile(`${dir}/ca.crt`);
  const server = new RedisServer([
    "--tls-cert-file",
    `${dir}/srv.crt`,
    "--tls-key-file",
    `${dir}/srv.key`,
    "--tls-ca-cert-file",
    `${dir}/ca.crt`,
    "--tls-auth-clients",
    "no",
  ], true);
  try {
    await server.start([ca]);
    const c = await RedisClient.connect(server.url, { caCerts: [ca] });
    assert.equal(await c.set("over", "tls"), "OK");
    assert.equal(await c.get("over"), "tls");
    await c.close();
    const untrusted = await rejectsKind(
      RedisClient.connect(server.url, { commandTimeoutMs: 2000 }),
      "unreachable",
    );
    assert.match(untrusted.message, /^cannot reach redis at 127\.0\.0\.1:\d+: /);
    assert.ok(!untrusted.message.includes("\n"));
  } finally {
    await server.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
