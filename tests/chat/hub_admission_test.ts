/**
 * Admission and per-address rules in the hub, with a fake clock: an IPv6 address counts as its
 * network (--ipv6-prefix) for every per-address rule and ban; a connection admitted before it is
 * a chat session (a TLS handshake, an HTTP request) counts against the caps and is greeted only
 * when it starts; lines read together after a stall of the server are judged as spread over it;
 * and look-alike room names are refused as look-alike nicks are.
 */
import assert from "node:assert/strict";
import { Outbox } from "../../src/chat/shared_log.ts";
import { HubHarness } from "../support/helpers.ts";

const SEC = 1_000;

Deno.test("admission: an IPv6 /64 is one address for the connection cap and the connect rate", () => {
  const h = new HubHarness({ maxPerIp: 2 });
  assert.match(h.open(1, "2001:db8:1:2::1")[1], /^Welcome/);
  assert.match(h.open(2, "2001:db8:1:2:ffff::9")[1], /^Welcome/);
  assert.deepEqual(h.open(3, "2001:db8:1:2::3"), [
    "Too many connections from your address (limit 2).",
  ], "a third address of the same /64 is one connection too many");
  assert.match(h.open(4, "2001:db8:1:3::1")[1], /^Welcome/, "the next /64 is someone else");

  const rate = new HubHarness({ connectRate: { burst: 2, per: 60_000 } });
  rate.open(1, "2001:db8::1");
  rate.open(2, "2001:db8::2");
  assert.match(rate.open(3, "2001:db8::3")[0], /^Too many new connections/);

  const alone = new HubHarness({ maxPerIp: 1, ipv6Prefix: 128 });
  assert.match(alone.open(1, "2001:db8::1")[1], /^Welcome/);
  assert.match(alone.open(2, "2001:db8::2")[1], /^Welcome/, "--ipv6-prefix 128: one host each");
});

Deno.test("admission: strikes from anywhere in a /64 add up, and the ban covers the /64", () => {
  const h = new HubHarness({ maxStrikes: 3 });
  h.open(1, "2001:db8:5:6::1");
  h.open(2, "2001:db8:5:6::2");
  h.read(1);
  h.read(2);
  for (let i = 0; i < 4; i++) {
    h.send(1, `from one ${i}`);
    h.send(2, `from two ${i}`);
  }
  assert.ok(h.read(2).includes("You have been banned for spamming."));
  assert.equal(h.closed.get(1), "flush", "every connection of the /64 is closed");
  assert.deepEqual(h.open(3, "2001:db8:5:6:7::3"), [
    "You are still temporarily banned. Try again in 10m.",
  ]);
  assert.match(h.open(4, "2001:db8:5:7::1")[1], /^Welcome/);
  assert.deepEqual(h.saves.at(-1)!.map((b) => b.ip), ["2001:db8:5:6::/64"]);
});

Deno.test("admission: a ban of ::1, in any spelling, is one ban", () => {
  const h = new HubHarness({ adminToken: "k" });
  h.open(1, "10.0.0.1");
  h.advance(SEC);
  h.send(1, "/op k");
  h.read(1);
  for (const spelling of ["::1", "0:0::1", "0000:0000:0:0:0:0:0:0001", "::0.0.0.1", "::2"]) {
    h.advance(SEC);
    h.send(1, `/ban ${spelling}`);
    assert.deepEqual(h.read(1), ["Banned ::/64 for 10m; 0 connections closed."], spelling);
  }
  h.advance(SEC);
  h.send(1, "/bans");
  const list = h.read(1);
  assert.equal(list[0], "1 banned:");
  assert.match(h.open(2, "::1")[0], /^You are still temporarily banned/);
  h.advance(SEC);
  h.send(1, "/unban 0::1");
  assert.deepEqual(h.read(1), ["Unbanned ::/64."]);
  assert.match(h.open(3, "::1")[1], /^Welcome/);
});

Deno.test("admission: bans kept under another --ipv6-prefix are keyed anew at start", () => {
  const until = Date.now() + 3_600_000;
  const h = new HubHarness({ ipv6Prefix: 48 }, {
    bans: [{ ip: "2001:db8:7:8::/64", until, reason: "", by: "server", since: 0 }],
  });
  h.now = Date.now();
  assert.match(h.open(1, "2001:db8:7:9::1")[0], /^You are still temporarily banned/);
});

Deno.test("admission: a pending connection counts against the caps, and is greeted when it starts", () => {
  const h = new HubHarness({ maxPerIp: 2, token: "" });
  const pending = (id: number) => {
    const outbox = new Outbox();
    h.outboxes.set(id, outbox);
    h.handle({
      type: "open",
      id,
      ip: "10.0.0.5",
      port: 1,
      outbox,
      transport: "http",
      pending: true,
    });
    return h.read(id);
  };
  assert.deepEqual(pending(1), [], "nothing is said before the session starts");
  assert.deepEqual(pending(2), []);
  assert.deepEqual(pending(3), ["Too many connections from your address (limit 2)."]);
  assert.equal(h.closed.get(3), "refuse");
  assert.equal(h.hub.online, 0, "pending connections are not in the room");
  assert.deepEqual(h.hub.snapshot().connections, { http: 2 });
  h.advance(60 * SEC); // no auth timeout, no idle rule for a connection not yet started
  assert.equal(h.closed.has(1), false);
  h.handle({ type: "start", id: 1, transport: "ws" });
  assert.match(h.read(1)[0], /^Welcome to Shat! You are guest-\d+ in #lobby/);
  assert.equal(h.hub.online, 1);
  assert.deepEqual(h.hub.snapshot().connections, { http: 1, ws: 1 });
  h.hangUp(2, "request served");
  assert.doesNotMatch(h.log.text(), /INFO disconnect client=2/, "a page load is no disconnect");
  assert.match(h.log.text(), /INFO connect client=1 addr=10\.0\.0\.5:1/);
});

Deno.test("admission: lines read together after a stall are judged as spread over it", () => {
  const h = new HubHarness({ rateLimit: 500 });
  h.open(1);
  h.open(2);
  h.read(1);
  h.read(2);
  // Eight lines sent 0.6 s apart reach a server that was stalled for 5 s: read at once, they
  // may have come at any time since the stall began.
  const lines = Array.from({ length: 8 }, (_, i) => `line ${i + 1}`);
  h.now += 5_000;
  h.input(1, lines, false, 0, { from: h.now - 5_000 });
  assert.equal(h.hub.strikesOf("10.0.0.1"), 0);
  assert.equal(h.read(2).length, 8, "every line was shown");
  // The same burst without a stall before it is a flood.
  h.now += 5_000;
  h.input(1, lines, false);
  assert.ok(h.read(1).includes("You have been banned for spamming."));
});

Deno.test("admission: a room name that looks like another room's is refused", () => {
  const h = new HubHarness({ rateLimit: 0 });
  h.crowd(2);
  const tell = (id: number, line: string) => {
    h.send(id, line);
    return h.read(id);
  };
  assert.deepEqual(tell(1, "/join Iobby"), [
    "#Iobby looks too much like #lobby; /join lobby or pick another name.",
  ]);
  assert.deepEqual(tell(1, "/join #l0bby"), [
    "#l0bby looks too much like #lobby; /join lobby or pick another name.",
  ]);
  assert.match(tell(1, "/join team")[0], /^You are now in #team/);
  h.read(2);
  assert.deepEqual(tell(2, "/join tearn"), [
    "#tearn looks too much like #team; /join team or pick another name.",
  ]);
  assert.match(tell(2, "/join TEAM")[0], /^You are now in #team/, "the same room, any case");
  tell(1, "/part");
  tell(2, "/part");
  assert.match(tell(2, "/join tearn")[0], /^You are now in #tearn/, "once #team is gone");
});
