/** Moderation helpers, the outbox and the queue. */
import assert from "node:assert/strict";
import {
  Addresses,
  BanFileError,
  BanList,
  normalizeIp,
  parseBanFile,
  parseIp,
  serializeBans,
  tooSoon,
} from "../src/moderation.ts";
import { Outbox } from "../src/outbox.ts";
import { AsyncQueue } from "../src/queue.ts";

Deno.test("moderation: tooSoon follows the rate limit; 0 turns it off", () => {
  assert.equal(tooSoon(1_000, 1_499, 500), true);
  assert.equal(tooSoon(1_000, 1_500, 500), false);
  assert.equal(tooSoon(1_000, 1_000, 0), false);
  assert.equal(tooSoon(-Infinity, 0, 500), false);
});

Deno.test("moderation: bans expire and the file format round-trips", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  const list = new BanList([
    { ip: "10.0.0.1", until: now + 60_000, reason: "spamming", by: "server", since: now },
    { ip: "10.0.0.2", until: now + 1_000, reason: "", by: "op", since: now },
  ]);
  assert.ok(list.active("10.0.0.1", now));
  assert.equal(list.active("10.0.0.2", now + 1_000), undefined);
  assert.equal(list.prune(now + 1_000), true);
  const { text, skipped } = serializeBans(list.snapshot());
  assert.equal(skipped, 0);
  assert.deepEqual(parseBanFile(text, now), list.snapshot());
  assert.deepEqual(parseBanFile(text, now + 60_000), [], "expired entries are dropped on load");
});

Deno.test("moderation: a damaged ban file is an error, never an empty list", () => {
  for (const text of ["{", "[]", '{"bans": 3}', '{"bans":[{"ip":"x","until":"soon"}]}']) {
    assert.throws(() => parseBanFile(text, 0), BanFileError, text);
  }
});

Deno.test("moderation: addresses forget idle state but keep strikes for a while", () => {
  const a = new Addresses();
  a.get("1.1.1.1", 0);
  a.get("2.2.2.2", 0).strikes = 2;
  a.prune(1_000, 60_000);
  assert.equal(a.peek("1.1.1.1"), undefined);
  assert.equal(a.peek("2.2.2.2")?.strikes, 2);
  a.prune(61_000, 60_000);
  assert.equal(a.size, 0);
});

Deno.test("moderation: addresses are parsed strictly into one canonical spelling", () => {
  const ok: [string, string][] = [
    ["192.168.1.1", "192.168.1.1"],
    ["::ffff:127.0.0.7", "127.0.0.7"],
    ["::FFFF:7f00:7", "127.0.0.7"],
    ["::1", "::1"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:db8::0:1", "2001:db8::1"],
    ["1:0:0:1:0:0:0:1", "1:0:0:1::1"],
    ["0:0:0:0:0:0:0:1", "::1"],
  ];
  for (const [text, ip] of ok) assert.deepEqual(parseIp(text), { ip }, text);
  const bad: [string, RegExp][] = [
    ["127.0.0.07", /leading zeros/],
    ["010.1.1.1", /leading zeros/],
    ["300.1.1.1", /0-255/],
    ["1.2.3", /four parts/],
    ["1::2::3", /IPv6/],
    ["fe80::1%eth0", /zone/],
    ["alice", /not an IP/],
    ["1.2.3.4.5", /four parts/],
  ];
  for (const [text, why] of bad) {
    const r = parseIp(text);
    assert.ok("error" in r && why.test(r.error), `${text}: ${JSON.stringify(r)}`);
  }
  assert.equal(normalizeIp("::ffff:127.0.0.2"), "127.0.0.2");
  assert.equal(normalizeIp("2001:DB8::0001"), "2001:db8::1");
});

Deno.test("moderation: a ban with an impossible date is left out; the others are saved", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  const records = [
    { ip: "10.0.0.1", until: now + 60_000, reason: "a", by: "op", since: now },
    { ip: "10.0.0.2", until: now + 1e20, reason: "b", by: "op", since: now },
    { ip: "10.0.0.3", until: now + 120_000, reason: "c", by: "op", since: now },
  ];
  const { text, skipped } = serializeBans(records);
  assert.equal(skipped, 1);
  assert.deepEqual(parseBanFile(text, now).map((b) => b.ip), ["10.0.0.1", "10.0.0.3"]);
});

Deno.test("moderation: the ban file's addresses are read in their canonical spelling", () => {
  const until = new Date(Date.now() + 60_000).toISOString();
  const text = JSON.stringify({ bans: [{ ip: "::ffff:10.0.0.9", until }] });
  assert.equal(parseBanFile(text, Date.now())[0].ip, "10.0.0.9");
  const leading = JSON.stringify({ bans: [{ ip: "10.0.0.09", until }] });
  assert.throws(() => parseBanFile(leading, Date.now()), BanFileError);
});

Deno.test("outbox: coalesces pending chunks into one buffer and respects the cap", () => {
  const ob = new Outbox();
  const e = new TextEncoder();
  ob.push(e.encode("ab"));
  ob.push(e.encode("cd"));
  ob.push(e.encode("efg"));
  assert.equal(ob.bytes, 7);
  assert.equal(new TextDecoder().decode(ob.take(4)!), "abcd");
  assert.equal(new TextDecoder().decode(ob.take()!), "efg");
  assert.equal(ob.take(), null);
  assert.equal(ob.bytes, 0);
});

Deno.test("outbox: outboxes holding the same broadcast share one joined buffer, others do not", () => {
  const e = new TextEncoder();
  const d = new TextDecoder();
  const lines = ["<a> one\r\n", "<b> two\r\n", "<c> three\r\n"].map((l) => e.encode(l));
  const boxes = Array.from({ length: 5 }, () => new Outbox());
  for (const ob of boxes) for (const l of lines) ob.push(l);
  const other = new Outbox(); // like the author of line 2: it lacks that line
  other.push(lines[0]);
  other.push(lines[2]);
  const outs = boxes.map((ob) => ob.take()!);
  const own = other.take()!;
  for (const out of outs) assert.equal(d.decode(out), "<a> one\r\n<b> two\r\n<c> three\r\n");
  assert.ok(outs.every((o) => o === outs[0]), "one copy for identical runs");
  assert.equal(d.decode(own), "<a> one\r\n<c> three\r\n");
  assert.notEqual(own, outs[0]);
  // Same text in different buffers is a different run: never confused with the cached one.
  const fresh = new Outbox();
  for (const l of ["<a> one\r\n", "<b> two\r\n", "<c> three\r\n"]) fresh.push(e.encode(l));
  const again = fresh.take()!;
  assert.notEqual(again, outs[0]);
  assert.equal(d.decode(again), d.decode(outs[0]));
});

Deno.test("queue: drains everything pushed as one batch, in order; close ends it", async () => {
  const q = new AsyncQueue<number>();
  const first = q.drain();
  q.push(1);
  q.push(2);
  assert.deepEqual(await first, [1, 2]);
  q.push(3);
  q.push(4);
  assert.deepEqual(await q.drain(), [3, 4]);
  q.close();
  assert.equal(await q.drain(), null);
});
