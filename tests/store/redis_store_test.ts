/**
 * The Redis store (src/store/redis.ts) against a real redis-server started here on a free port,
 * without persistence: two instances ("processes") sharing one Redis, every write kind and
 * query, retention, what a reopened store starts from, an outage (redis-server stopped and
 * started again), and records planted in Redis by something else. Each step uses its own key
 * prefix. With CI=true a missing redis-server fails instead of skipping.
 */
import assert from "node:assert/strict";
import { RedisClient } from "../../src/cluster/redis/client.ts";
import { Logger, MemoryLog } from "../../src/ops/log.ts";
import {
  openRedisStore,
  type RedisStore,
  type RedisStoreOptions,
  WRITE_SCRIPT,
} from "../../src/store/redis.ts";
import {
  type KeptLine,
  type StoreAnswer,
  StoreError,
  type StoreQuery,
} from "../../src/store/types.ts";
import { freePort, RedisServer } from "../support/redis_server.ts";
import { account, room } from "./helpers.ts";

const CI = Deno.env.get("CI") === "true";
const HAVE_REDIS = await new Deno.Command("redis-server", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

/** A line to write: the seq given is one the store must ignore. */
function line(room: string, text: string, at: number, nick = "bob"): KeptLine {
  return { room, seq: 999, at, kind: "chat", nick, text, identified: nick === "alice" };
}

function linesOf(a: StoreAnswer): KeptLine[] {
  assert.ok("lines" in a, "a lines answer");
  return a.lines;
}

const seqsOf = (a: StoreAnswer) => linesOf(a).map((l) => l.seq);
/** A lines answer as [seqs, more]. */
const page = (a: StoreAnswer) => [seqsOf(a), "more" in a && a.more];
const textsOf = (a: StoreAnswer) => linesOf(a).map((l) => l.text);
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Polls until `cond` holds; fails with `what` after a deadline. */
async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Opened {
  store: RedisStore;
  log: MemoryLog;
}

/** Opens a store on `url` under `prefix`, logging into memory. */
async function open(
  url: string,
  prefix: string,
  extra: Partial<RedisStoreOptions> = {},
): Promise<Opened> {
  const log = new MemoryLog();
  const store = await openRedisStore({
    url,
    prefix,
    logger: new Logger("debug", false, log.sink),
    lobby: "lobby",
    recentLines: 50,
    recentBytes: 64 * 1024,
    ...extra,
  });
  return { store, log };
}

/** Writes and waits until the store says every write is in Redis. */
async function put(s: Opened, ...batch: Parameters<RedisStore["write"]>[0]): Promise<void> {
  s.store.write(batch);
  assert.ok(await s.store.flushed(10_000), "writes flushed");
}

Deno.test({
  name: "redis store: shared by several processes",
  sanitizeOps: true,
  sanitizeResources: true,
  ignore: !HAVE_REDIS && !CI,
  fn: async (t) => {
    if (!HAVE_REDIS) throw new Error("redis-server is not installed (CI=true needs it)");
    const server = new RedisServer();
    await server.start();
    const url = server.url;
    let n = 0;
    const steps: [string, (prefix: string) => Promise<void>][] = [
      ["two stores number lines in one sequence and answer alike", (p) => twoWriters(url, p)],
      ["paging with beforeSeq, since and more; search", (p) => paging(url, p)],
      ["accounts: written on one, read on the other; prefs; unaccount", (p) => accounts(url, p)],
      ["kept rooms round trip; unroom forgets record and lines", (p) => rooms(url, p)],
      ["prune removes only older lines; rooms are trimmed on write", (p) => prune(url, p)],
      ["a reopened store starts from what Redis holds", (p) => reopen(url, p)],
      ["malformed records are skipped and logged, text is cleaned", (p) => malformed(url, p)],
      ["a chunk sent twice is applied once", (p) => dedupe(url, p)],
    ];
    try {
      for (const [name, fn] of steps) {
        const prefix = `t${++n}`;
        await t.step({ name, fn: () => fn(prefix), sanitizeOps: true, sanitizeResources: true });
      }
    } finally {
      await server.cleanup();
    }
  },
});

async function twoWriters(url: string, prefix: string): Promise<void> {
  const a = await open(url, prefix);
  const b = await open(url, prefix);
  try {
    for (let i = 0; i < 40; i++) {
      (i % 2 ? a : b).store.write([{
        t: "line",
        line: line("lobby", `Hello world ${i}`, 1000 + i),
      }]);
    }
    assert.ok(await a.store.flushed(10_000) && await b.store.flushed(10_000));
    const fromA = await a.store.query({ q: "lines", room: "lobby", limit: 100 });
    const fromB = await b.store.query({ q: "lines", room: "lobby", limit: 100 });
    assert.deepEqual(fromA, fromB);
    assert.deepEqual(seqsOf(fromA), range(1, 40), "distinct, increasing, from the store");
    assert.deepEqual(textsOf(fromA).sort(), range(0, 39).map((i) => `Hello world ${i}`).sort());
    // Each process's own lines keep the order it wrote them in.
    const own = textsOf(fromA).map((t) => Number(t.split(" ")[2])).filter((i) => i % 2 === 1);
    assert.deepEqual(own, range(0, 19).map((i) => 2 * i + 1));
    const q: StoreQuery = { q: "search", room: "lobby", words: ["WORLD", "3"], limit: 100 };
    assert.deepEqual(await a.store.query(q), await b.store.query(q));
    const want = range(0, 39).filter((i) => String(i).includes("3")).map((i) => `Hello world ${i}`);
    assert.deepEqual(textsOf(await a.store.query(q)).sort(), want.sort());
    assert.equal(a.store.health.linesWritten, 20);
    assert.equal(b.store.health.linesWritten, 20);
    assert.deepEqual(
      { ok: a.store.health.ok, pending: a.store.health.pending, lost: a.store.health.lost },
      { ok: true, pending: 0, lost: 0 },
    );
  } finally {
    await Promise.all([a.store.close(), b.store.close()]);
  }
}

async function paging(url: string, prefix: string): Promise<void> {
  const s = await open(url, prefix);
  try {
    const words = ["The quick Fox", "a slow fox", "QUICK brown dog", "quick fox again"];
    for (let i = 0; i < 10; i++) {
      s.store.write([{ t: "line", line: line("den", `${words[i % 4]} #${i}`, 1000 + i) }]);
    }
    await put(s, { t: "line", line: line("other", "the quick fox elsewhere", 1000) });
    const lines = (limit: number, since?: number, beforeSeq?: number) =>
      s.store.query({ q: "lines", room: "den", limit, since, beforeSeq });
    assert.deepEqual(page(await lines(3)), [[8, 9, 10], true]);
    assert.deepEqual(page(await lines(3, undefined, 8)), [[5, 6, 7], true]);
    assert.deepEqual(page(await lines(3, undefined, 3)), [[1, 2], false]);
    // Said at or after 1005: lines 5..9, numbered 6..10.
    assert.deepEqual(page(await lines(3, 1005)), [[8, 9, 10], true]);
    assert.deepEqual(page(await lines(5, 1005)), [range(6, 10), false]);
    assert.deepEqual(page(await lines(5, 1005, 8)), [[6, 7], false]);
    assert.deepEqual(page(await lines(0)), [[], true]);
    assert.deepEqual(page(await s.store.query({ q: "lines", room: "nowhere", limit: 5 })), [
      [],
      false,
    ]);
    const first = linesOf(await lines(1, undefined, 2))[0];
    assert.deepEqual(first, {
      room: "den",
      seq: 1,
      at: 1000,
      kind: "chat",
      nick: "bob",
      text: "The quick Fox #0",
      identified: false,
    });

    const search = (w: string[], limit = 10) =>
      s.store.query({ q: "search", room: "den", words: w, limit });
    // "quick" and "fox" in any case: lines 0, 3, 4, 7, 8 (not "QUICK brown dog", not the other room).
    assert.deepEqual(seqsOf(await search(["FOX", "quick"])), [1, 4, 5, 8, 9]);
    assert.deepEqual(
      await search(["fox", "QUICK"], 2).then((a) => [seqsOf(a), "more" in a && a.more]),
      [[8, 9], true],
    );
    assert.deepEqual(await search(["fox", "quick"], 5).then((a) => "more" in a && a.more), false);
    assert.deepEqual(await search(["zebra"]), { lines: [], more: false });
    assert.deepEqual(
      textsOf(await s.store.query({ q: "search", room: "other", words: ["fox"], limit: 9 })),
      ["the quick fox elsewhere"],
    );
  } finally {
    await s.store.close();
  }
}

async function accounts(url: string, prefix: string): Promise<void> {
  const a = await open(url, prefix);
  const b = await open(url, prefix);
  try {
    const ask = (s: Opened, key: string) => s.store.query({ q: "account", key });
    await put(a, { t: "account", account });
    assert.deepEqual(await ask(b, "alice"), { account });
    assert.deepEqual(await ask(b, "nobody"), { account: null });
    await put(b, {
      t: "prefs",
      key: "alice",
      prefs: { bell: true, timestamps: false, ignores: [] },
    });
    assert.deepEqual(await ask(a, "alice"), {
      account: { ...account, prefs: { bell: true, timestamps: false, ignores: [] } },
    });
    await put(b, { t: "prefs", key: "ghost", prefs: { bell: true } });
    assert.deepEqual(await ask(a, "ghost"), { account: null }, "prefs never make an account");
    await put(a, { t: "account", account: { ...account, key: "carol", nick: "Carol", prefs: {} } });
    assert.deepEqual(await ask(b, "carol"), {
      account: { ...account, key: "carol", nick: "Carol", prefs: {} },
    });
    await put(b, { t: "unaccount", key: "alice" });
    assert.deepEqual(await ask(a, "alice"), { account: null });
    assert.equal(b.store.health.lost, 0);
  } finally {
    await Promise.all([a.store.close(), b.store.close()]);
  }
}

async function rooms(url: string, prefix: string): Promise<void> {
  const a = await open(url, prefix);
  try {
    const kept = room("den", true, { ops: ["alice"], modes: "m", nested: { list: [1, 2] } });
    await put(
      a,
      { t: "room", room: kept },
      { t: "room", room: room("fleeting", false) },
      { t: "room", room: room("was", true) },
      { t: "room", room: room("was", false) },
      { t: "room", room: room("gone", true) },
      { t: "line", line: line("gone", "bye", 1) },
      { t: "line", line: line("den", "hi", 2) },
      { t: "bans", bans: [{ ip: "10.0.0.1", until: 5, reason: "r", by: "x", since: 1 }] },
    );
    const b = await open(url, prefix);
    assert.deepEqual(b.store.start.rooms, [kept, room("gone", true)]);
    assert.deepEqual(b.store.start.seqs, { den: 1, gone: 1 });
    assert.deepEqual(b.store.start.bans, [], "bans are the cluster's");
    await put(b, { t: "unroom", id: "gone" });
    assert.deepEqual(await a.store.query({ q: "lines", room: "gone", limit: 10 }), {
      lines: [],
      more: false,
    });
    await b.store.close();
    const c = await open(url, prefix);
    assert.deepEqual(c.store.start.rooms, [kept]);
    assert.deepEqual(c.store.start.seqs, { den: 1 });
    await c.store.close();
    // A room made again after unroom numbers its lines from 1.
    await put(a, { t: "line", line: line("gone", "back", 3) });
    assert.deepEqual(seqsOf(await a.store.query({ q: "lines", room: "gone", limit: 10 })), [1]);
  } finally {
    await a.store.close();
  }
}

async function prune(url: string, prefix: string): Promise<void> {
  const s = await open(url, prefix, { maxRoomLines: 6 });
  try {
    for (let i = 0; i < 10; i++) {
      s.store.write([
        { t: "line", line: line("a", `a${i}`, 1000 + i) },
        { t: "line", line: line("b", `b${i}`, 2000 + i) },
      ]);
    }
    assert.ok(await s.store.flushed(10_000));
    // Trimmed on write to the newest 6.
    assert.deepEqual(
      await s.store.query({ q: "lines", room: "a", limit: 10 }).then(seqsOf),
      range(5, 10),
    );
    assert.equal(await s.store.prune(1007), 3, "a4..a6 (a0..a3 were trimmed)");
    assert.deepEqual(
      await s.store.query({ q: "lines", room: "a", limit: 10 }).then(seqsOf),
      range(8, 10),
    );
    assert.deepEqual(
      await s.store.query({ q: "lines", room: "b", limit: 10 }).then(seqsOf),
      range(5, 10),
    );
    assert.equal(await s.store.prune(1007), 0);
    assert.equal(await s.store.prune(2008), 3 + 4);
    assert.deepEqual(await s.store.query({ q: "lines", room: "b", limit: 10 }).then(seqsOf), [
      9,
      10,
    ]);
    assert.deepEqual(await s.store.query({ q: "lines", room: "a", limit: 10 }), {
      lines: [],
      more: false,
    });
  } finally {
    await s.store.close();
  }
}

async function reopen(url: string, prefix: string): Promise<void> {
  const a = await open(url, prefix);
  try {
    const batch: Parameters<RedisStore["write"]>[0] = [
      { t: "account", account },
      { t: "account", account: { ...account, key: "bob", nick: "Bob" } },
      { t: "room", room: room("k1", true) },
    ];
    for (let i = 1; i <= 3; i++) batch.push({ t: "line", line: line("lobby", `l${i}`, i) });
    for (let i = 1; i <= 4; i++) batch.push({ t: "line", line: line("k1", `k${i}`, i, "alice") });
    for (let i = 1; i <= 2; i++) batch.push({ t: "line", line: line("other", `o${i}`, i) });
    await put(a, ...batch);
  } finally {
    await a.store.close();
  }
  const b = await open(url, prefix, { recentLines: 3 });
  const start = b.store.start;
  await b.store.close();
  assert.deepEqual(start.accounts, [{ key: "alice", nick: "Alice" }, { key: "bob", nick: "Bob" }]);
  assert.deepEqual(start.rooms, [room("k1", true)]);
  assert.deepEqual(start.seqs, { lobby: 3, k1: 4, other: 2 });
  assert.deepEqual(
    start.recent.map((r) => [r.room, r.lines.map((l) => [l.seq, l.text])]),
    [["lobby", [[1, "l1"], [2, "l2"], [3, "l3"]]], ["k1", [[2, "k2"], [3, "k3"], [4, "k4"]]]],
  );
  assert.equal(start.recent[1].lines[0].identified, true);
  // The byte budget counts nick and text: "bob" + "l3" = 5 bytes, "alice" + "k4" = 7.
  const c = await open(url, prefix, { recentLines: 3, recentBytes: 14 });
  assert.deepEqual(c.store.start.recent.map((r) => [r.room, r.lines.map((l) => l.text)]), [
    ["lobby", ["l2", "l3"]],
    ["k1", ["k3", "k4"]],
  ]);
  await c.store.close();
}

async function malformed(url: string, prefix: string): Promise<void> {
  const raw = await RedisClient.connect(url);
  const s = await open(url, prefix);
  try {
    await put(
      s,
      { t: "account", account },
      { t: "room", room: room("k1", true) },
      { t: "line", line: line("lobby", "fine", 5) },
    );
    await raw.send(["HSET", `${prefix}:acct`, "bad", "{nope", "weird", '{"nick":5}', "arr", "[]"]);
    await raw.send(["HSET", `${prefix}:kept`, "broken", "[1]", "k2", '{"name":{}}']);
    const evil = JSON.stringify({
      at: 6,
      kind: "chat",
      nick: "mal\x1b[2Jlory",
      text: "hi \x1b]0;owned\x07\x1b[31mred",
      identified: true,
    });
    await raw.send([
      "ZADD",
      `${prefix}:hist:lobby`,
      10,
      "garbage",
      11,
      '{"kind":"evil","at":1}',
      12,
      evil,
    ]);
    await raw.send(["SET", `${prefix}:hseq:junk`, "not a number"]);
    await raw.send(["SADD", `${prefix}:hrooms`, "junk"]);
    const b = await open(url, prefix);
    const start = b.store.start;
    assert.deepEqual(start.accounts, [{ key: "alice", nick: "Alice" }]);
    assert.deepEqual(start.rooms, [room("k1", true)]);
    assert.deepEqual(start.seqs, { lobby: 1 });
    assert.deepEqual(start.recent[0].lines.map((l) => [l.seq, l.nick, l.text]), [
      [1, "bob", "fine"],
      [12, "mallory", "hi red"],
    ]);
    assert.deepEqual(await b.store.query({ q: "account", key: "bad" }), { account: null });
    assert.deepEqual(page(await b.store.query({ q: "lines", room: "lobby", limit: 9 })), [
      [1, 12],
      false,
    ]);
    assert.deepEqual(
      seqsOf(await b.store.query({ q: "search", room: "lobby", words: ["RED"], limit: 9 })),
      [12],
    );
    assert.equal(await b.store.prune(100), 2, "the valid lines; malformed ones are left alone");
    // Prefs on a record that is not an account's JSON: refused, counted, logged.
    await put(b, { t: "prefs", key: "arr", prefs: { bell: true } });
    assert.equal(b.store.health.lost, 1);
    assert.equal(await raw.send(["HGET", `${prefix}:acct`, "arr"]), "[]");
    await b.store.close();
    const logged = b.log.text();
    assert.match(
      logged,
      new RegExp(`WARN store: skipped a malformed record in redis key=${prefix}:acct`),
    );
    assert.match(logged, new RegExp(`key=${prefix}:hist:lobby`));
    assert.match(logged, new RegExp(`key=${prefix}:kept`));
    assert.match(logged, /ERROR store: writes refused by redis and dropped count=1/);
    assert.ok(!logged.includes("\x1b"), "no escape reaches the log");
  } finally {
    await s.store.close();
    await raw.close();
  }
}

async function dedupe(url: string, prefix: string): Promise<void> {
  const raw = await RedisClient.connect(url);
  try {
    const script = await raw.script(WRITE_SCRIPT);
    const tail = JSON.stringify({
      room: "x",
      at: 1,
      kind: "chat",
      nick: "n",
      text: "t",
      identified: false,
    }).slice(1);
    const run = (n: number) =>
      script.run([`${prefix}:hw:w1`], [
        prefix,
        n,
        100,
        60_000,
        "L",
        "x",
        tail,
        "A",
        "k",
        '{"nick":"K"}',
      ]);
    assert.deepEqual(await run(1), [1]);
    assert.deepEqual(await run(1), [0], "the same chunk again is recognized");
    assert.deepEqual(await run(2), [1]);
    assert.equal(await raw.send(["ZCARD", `${prefix}:hist:x`]), 2);
    assert.equal(await raw.get(`${prefix}:hseq:x`), "2");
  } finally {
    await raw.close();
  }
}

Deno.test({
  name: "redis store: Redis stopped mid-way: writes wait, queries fail, all lands when it is back",
  sanitizeOps: true,
  sanitizeResources: true,
  ignore: !HAVE_REDIS && !CI,
  fn: async () => {
    const server = new RedisServer();
    await server.start();
    const a = await open(server.url, "p");
    const b = await open(server.url, "p");
    const c = await open(server.url, "p", { maxPending: 10 });
    try {
      await put(a, { t: "line", line: line("lobby", "before", 1) });
      await server.stop();
      await until(() => !a.store.health.ok && !c.store.health.ok, "health not ok");
      a.store.write([{ t: "line", line: line("lobby", "during 1", 2) }]);
      a.store.write([{ t: "account", account }, { t: "line", line: line("lobby", "during 2", 3) }]);
      assert.equal(a.store.health.pending, 3);
      await assert.rejects(
        b.store.query({ q: "lines", room: "lobby", limit: 5 }),
        /store: query failed/,
      );
      await assert.rejects(a.store.query({ q: "account", key: "alice" }), /store: query failed/);
      await assert.rejects(a.store.prune(10), /store: pruning failed/);
      // Too many waiting: the oldest lines give way, never the account.
      const many = range(1, 30).map((i) => ({ t: "line" as const, line: line("c", `c${i}`, i) }));
      c.store.write([...many, { t: "account", account: { ...account, key: "carol" } }]);
      assert.equal(c.store.health.lost, 22);
      assert.equal(c.store.health.pending, 9);
      assert.ok(!a.store.health.ok && a.store.health.error !== "");

      await server.start();
      await until(
        () => [a, b, c].every((s) => s.store.health.ok && s.store.health.pending === 0),
        "the writes landed and every store reconnected",
      );
      // No persistence: Redis came back empty, with what waited.
      assert.deepEqual(textsOf(await b.store.query({ q: "lines", room: "lobby", limit: 9 })), [
        "during 1",
        "during 2",
      ]);
      assert.deepEqual(await b.store.query({ q: "account", key: "alice" }), { account });
      assert.deepEqual(
        textsOf(await b.store.query({ q: "lines", room: "c", limit: 99 })),
        range(23, 30).map((i) => `c${i}`),
      );
      assert.ok(
        (await b.store.query({ q: "account", key: "carol" }) as { account: unknown }).account,
      );
      assert.equal(a.store.health.lost, 0);
      assert.equal(a.store.health.linesWritten, 3);
      const logged = a.log.text();
      assert.equal(logged.match(/WARN store: redis unavailable/g)?.length, 1, logged);
      assert.equal(logged.match(/INFO store: redis writes resumed/g)?.length, 1, logged);
      assert.match(c.log.text(), /too many writes waiting/);
    } finally {
      await Promise.all([a.store.close(), b.store.close(), c.store.close()]);
      await server.cleanup();
    }
  },
});

Deno.test({
  name: "redis store: unreachable at open: one-line StoreError; writes after close are counted",
  sanitizeOps: true,
  sanitizeResources: true,
  ignore: !HAVE_REDIS && !CI,
  fn: async () => {
    const url = `redis://127.0.0.1:${freePort()}`;
    await assert.rejects(open(url, "p"), (e) => {
      assert.ok(e instanceof StoreError);
      assert.match(
        e.message,
        /^store: cannot reach redis at 127\.0\.0\.1:\d+: connection refused$/,
      );
      return true;
    });
    await assert.rejects(open("http://x", "p"), StoreError);
    const server = new RedisServer();
    await server.start();
    try {
      const s = await open(server.url, "p");
      await s.store.close();
      s.store.write([{ t: "line", line: line("lobby", "late", 1) }]);
      assert.equal(s.store.health.lost, 1);
      assert.match(s.log.text(), /writes after close are not stored/);
    } finally {
      await server.cleanup();
    }
  },
});
