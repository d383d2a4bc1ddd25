/** Moderation helpers and the queue. */
import assert from "node:assert/strict";
import { Addresses, BanList, tooSoon } from "../../src/chat/moderation.ts";
import { normalizeIp, parseIp } from "../../src/lib/ip.ts";
import { BanFileError, parseBanFile, serializeBans } from "../../src/ops/ban_store.ts";
import { AsyncQueue } from "../../src/lib/queue.ts";

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
