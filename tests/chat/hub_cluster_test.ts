/**
 * The hub as one of several processes (--redis), with a fake cluster link: what it sends out,
 * and how it applies what comes back. No sockets, no Redis (tests/cluster_test.ts has those).
 */
import assert from "node:assert/strict";
import {
  type BusIn,
  type ClusterOut,
  encodeDirect,
  encodeRoom,
  type MemberInfo,
  type RoomEv,
  type Snapshot,
} from "../../src/cluster/bus.ts";
import type { Dropped } from "../../src/cluster/decode.ts";
import { decodeBus, readBan, readMember, readRoomMeta } from "../support/bus_rules.ts";
import { HubHarness } from "../support/helpers.ts";

const EMPTY: Snapshot = { members: [], rooms: [], bans: [], history: [] };

/** A hub that is process "A", linked, with clients 1 (alice) and 2 (carol) in the lobby. */
function linked(over = {}): HubHarness {
  const h = new HubHarness({ rateLimit: 0, ...over }, { node: "A" });
  h.fromCluster({ kind: "snapshot", snap: EMPTY, reset: false });
  h.open(1);
  h.open(2, "10.0.0.2");
  h.send(1, "/nick alice");
  h.send(2, "/nick carol");
  h.read(1);
  h.read(2);
  h.cluster.length = 0;
  return h;
}

/** The room events the hub proposed, of type `t`. */
function proposed<T extends RoomEv["t"]>(h: HubHarness, t: T) {
  return h.cluster.filter((o): o is ClusterOut & { op: "room" } => o.op === "room" && o.ev.t === t);
}

/** Plays the hub's own proposals back to it, as Redis would, in order. */
function echo(h: HubHarness, seq = { n: 0 }): void {
  const out = h.cluster.splice(0);
  for (const o of out) {
    if (o.op !== "room") continue;
    h.fromCluster({
      kind: "bus",
      bus: { kind: "room", node: "A", room: o.room, seq: ++seq.n, ev: o.ev, u: o.u },
      u: o.u,
    });
  }
}

function bob(over: Partial<MemberInfo> = {}): MemberInfo {
  return {
    id: 7,
    nick: "bob",
    ip: "10.0.0.9",
    room: "lobby",
    away: "",
    op: false,
    active: 0,
    ...over,
  };
}

/** A room event from process B. */
function fromB(h: HubHarness, ev: RoomEv, room = "lobby", seq = 1): void {
  h.fromCluster({ kind: "bus", bus: { kind: "room", node: "B", room, seq, ev } });
}

Deno.test("cluster hub: a line is shown when it comes back from Redis, in Redis's order", () => {
  const h = linked();
  h.send(1, "first");
  assert.deepEqual(h.read(2), [], "nothing is shown before the cluster has ordered it");
  const says = proposed(h, "say");
  assert.deepEqual(says.length, 1);
  assert.deepEqual(says[0].room, "lobby");
  assert.deepEqual(says[0].ev, {
    t: "say",
    kind: "chat",
    id: 1,
    nick: "alice",
    text: "first",
    at: h.now,
  });
  // A line from process B was ordered first: everyone here sees it first.
  fromB(h, { t: "enter", m: bob(), name: "lobby", notice: "bob joined" }, "lobby", 1);
  fromB(h, { t: "say", kind: "chat", id: 7, nick: "bob", text: "earlier", at: h.now }, "lobby", 2);
  echo(h, { n: 2 });
  assert.deepEqual(h.read(2), ["*** bob joined", "<bob> earlier", "<alice> first"]);
  assert.deepEqual(h.read(1), ["*** bob joined", "<bob> earlier"], "a plain client is not echoed");
});

Deno.test("cluster hub: members elsewhere count, show in /who, take nicks, and leave", () => {
  const h = linked();
  fromB(h, { t: "enter", m: bob(), name: "lobby", notice: "bob joined" });
  assert.deepEqual(h.hub.online, 3);
  assert.deepEqual(h.read(2), ["*** bob joined"]);
  h.send(2, "/who");
  const who = h.read(2);
  assert.ok(who.some((l) => /^\s+bob\b/.test(l)), who.join("\n"));
  assert.equal(who[0], "3 in #lobby (3 online):");
  // What they say elsewhere counts as activity here.
  h.advance(120_000);
  fromB(h, { t: "say", kind: "chat", id: 7, nick: "bob", text: "back", at: h.now }, "lobby", 2);
  h.read(2);
  h.send(2, "/who");
  assert.ok(h.read(2).some((l) => /^\s+bob\s+idle 0s$/.test(l)));
  h.send(2, "/nick Bob");
  assert.ok(h.read(2).some((l) => l.includes("taken")), "a nick held elsewhere is taken here too");
  const welcome = h.open(3, "10.0.0.3");
  assert.ok(welcome[1].endsWith("4 people are online."), welcome[1]);
  fromB(h, { t: "leave", id: 7, nick: "bob", notice: "bob left (quit)" }, "lobby", 3);
  assert.deepEqual(h.read(1).slice(-1), ["*** bob left (quit)"]);
  h.read(2);
  assert.deepEqual(h.hub.online, 3, "alice, carol and the newcomer");
  h.send(2, "/nick bob");
  assert.deepEqual(h.read(2)[0], "You are now bob.");
});

Deno.test("cluster hub: a process that died: its members are shown leaving, once", () => {
  const h = linked();
  fromB(h, { t: "enter", m: bob(), name: "lobby", notice: "" });
  fromB(
    h,
    { t: "enter", m: bob({ id: 8, nick: "dave", room: "ctf" }), name: "ctf", notice: "" },
    "ctf",
  );
  h.read(1);
  h.fromCluster({ kind: "bus", bus: { kind: "direct", node: "C", ev: { t: "gone", node: "B" } } });
  assert.deepEqual(h.read(1), ["*** bob left (connection lost)"]);
  assert.deepEqual(h.hub.online, 2);
  h.send(1, "/rooms");
  assert.ok(!h.read(1).some((l) => l.includes("#ctf")), "a room nobody is in is gone");
  h.fromCluster({ kind: "bus", bus: { kind: "direct", node: "C", ev: { t: "gone", node: "B" } } });
  assert.deepEqual(h.read(1), [], "told once");
});

Deno.test("cluster hub: a nick claimed elsewhere first is replaced by a guest nick", () => {
  const h = linked();
  h.send(1, "/nick zed");
  h.read(1);
  const nick = proposed(h, "nick")[0];
  assert.deepEqual(nick.claim?.key, "zed");
  assert.deepEqual(nick.release, "alice");
  h.cluster.length = 0;
  h.fromCluster({ kind: "refused", room: "lobby", ev: nick.ev });
  const told = h.read(1);
  assert.deepEqual(told[0], "Someone on another server has the nick zed.");
  assert.ok(/^You are now guest-\d+\.$/.test(told[1]), told.join("\n"));
  const renamed = proposed(h, "nick")[0];
  assert.deepEqual(renamed.claim?.key, h.hub.nickOf(1)!.toLowerCase());
  // The others never saw "zed": to them alice becomes the guest.
  assert.ok(renamed.ev.t === "nick" && renamed.ev.from === "alice", JSON.stringify(renamed.ev));
  // A newcomer whose guest nick was taken elsewhere arrives under another one.
  h.cluster.length = 0;
  h.open(5, "10.0.0.5");
  const [enter] = proposed(h, "enter");
  h.cluster.length = 0;
  h.fromCluster({ kind: "refused", room: "lobby", ev: enter.ev });
  const again = proposed(h, "enter");
  assert.equal(again.length, 1, "an arrival, not a rename of someone the others never saw");
  assert.equal(again[0].claim?.key, h.hub.nickOf(5)!.toLowerCase());
  assert.notEqual(again[0].claim?.key, enter.claim?.key);
});

Deno.test("cluster hub: what comes from Redis is cleaned and checked like anything typed", () => {
  const h = linked();
  fromB(h, { t: "enter", m: bob(), name: "lobby", notice: "" });
  h.read(2);
  fromB(
    h,
    {
      t: "say",
      kind: "chat",
      id: 7,
      nick: "bob",
      text: "\x1b[2J\x07hi\x1b]0;title\x07",
      at: h.now,
    },
    "lobby",
    2,
  );
  assert.deepEqual(h.read(2), ["<bob> hi"]);
  fromB(h, { t: "say", kind: "chat", id: 7, nick: "b o b", text: "x", at: h.now }, "lobby", 3);
  fromB(h, { t: "enter", m: bob({ id: 8, nick: "\x1b[31mred" }), name: "lobby", notice: "x" });
  assert.deepEqual(h.read(2), [], "a nick no process would give out is not shown");
  h.fromCluster({
    kind: "bus",
    bus: {
      kind: "direct",
      node: "B",
      ev: { t: "ban", ip: "not an ip", until: h.now + 1_000, reason: "", by: "x", since: 0 },
    },
  });
  h.fromCluster({
    kind: "bus",
    bus: {
      kind: "direct",
      node: "B",
      ev: { t: "ban", ip: "10.0.0.2", until: -1e300, reason: "", by: "x", since: 0 },
    },
  });
  assert.deepEqual(h.hub.bans(h.now), []);
  assert.ok(!h.closed.has(2));
});

Deno.test("cluster hub: a line whose proposal bounced is shown at once, and only once", () => {
  const h = linked();
  h.send(1, "are you there");
  const [say] = proposed(h, "say");
  h.fromCluster({ kind: "bounced", room: "lobby", ev: say.ev, u: say.u });
  assert.deepEqual(h.read(2), ["<alice> are you there"]);
  h.cluster.length = 0;
  h.fromCluster({
    kind: "bus",
    bus: { kind: "room", node: "A", room: "lobby", seq: 1, ev: say.ev, u: say.u },
    u: say.u,
  });
  assert.deepEqual(h.read(2), [], "it made it through after all: not shown twice");
});

Deno.test("cluster hub: link down, members here keep chatting; back, they are told", () => {
  const h = linked();
  h.fromCluster({ kind: "link", up: false });
  assert.ok(h.read(2)[0].startsWith("*** Lost the link to the other servers"));
  h.send(1, "still here");
  assert.deepEqual(h.read(2), ["<alice> still here"], "shown at once while the link is down");
  assert.deepEqual(h.cluster.length, 0, "nothing is sent while the link is down");
  h.fromCluster({ kind: "link", up: true });
  h.fromCluster({ kind: "snapshot", snap: EMPTY, reset: true });
  const told = h.read(2);
  assert.ok(told.includes("*** The link to the other servers is back."), told.join("\n"));
  assert.ok(told.some((l) => l.includes("Redis lost its data")), told.join("\n"));
  // Everyone here claims their nick again.
  const enters = proposed(h, "enter").map((o) => o.claim?.key).sort();
  assert.deepEqual(enters, ["alice", "carol"]);
});

Deno.test("cluster hub: /msg and /reply reach a member on another process", () => {
  const h = linked();
  fromB(h, { t: "enter", m: bob(), name: "lobby", notice: "" });
  h.read(1);
  h.send(1, "/msg bob psst");
  assert.deepEqual(h.read(1), ["[private to bob] psst"]);
  const out = h.cluster.find((o) => o.op === "direct");
  assert.deepEqual(out, {
    op: "direct",
    ev: { t: "msg", to: "B", toId: 7, id: 1, nick: "alice", text: "psst", at: h.now },
  });
  h.cluster.length = 0;
  h.fromCluster({
    kind: "bus",
    bus: {
      kind: "direct",
      node: "B",
      ev: { t: "msg", to: "A", toId: 2, id: 7, nick: "bob", text: "hi carol", at: h.now },
    },
  });
  assert.deepEqual(h.read(2), ["[private] <bob> hi carol"]);
  h.send(2, "/reply hello bob");
  assert.deepEqual(h.read(2), ["[private to bob] hello bob"]);
  const reply = h.cluster.find((o) => o.op === "direct");
  assert.ok(reply?.op === "direct" && reply.ev.t === "msg" && reply.ev.toId === 7);
});

Deno.test("cluster hub: strikes count across processes; bans and kicks hold everywhere", () => {
  const h = linked({ maxStrikes: 3 });
  h.open(3, "10.0.0.5");
  h.read(3);
  // Two strikes here are not enough, but the cluster counts four for the address.
  h.fromCluster({ kind: "strikes", ip: "10.0.0.5", count: 4 });
  assert.ok(h.closed.has(3), "the address is banned here as soon as the cluster says so");
  const ban = h.cluster.find((o) => o.op === "direct" && o.ev.t === "ban");
  assert.ok(ban?.op === "direct" && ban.ev.t === "ban" && ban.ev.ip === "10.0.0.5");
  // A ban made on another process.
  h.fromCluster({
    kind: "bus",
    bus: {
      kind: "direct",
      node: "B",
      ev: {
        t: "ban",
        ip: "10.0.0.2",
        until: h.now + 60_000,
        reason: "rude",
        by: "op",
        since: h.now,
      },
    },
  });
  assert.ok(h.closed.has(2), "carol's address was banned elsewhere");
  assert.deepEqual(h.open(4, "10.0.0.2")[0], "You are still temporarily banned. Try again in 1m.");
  // A kick from another process.
  h.fromCluster({
    kind: "bus",
    bus: {
      kind: "direct",
      node: "B",
      ev: { t: "kick", to: "A", toId: 1, message: "You have been kicked.", reason: "kicked" },
    },
  });
  assert.ok(h.closed.has(1));
});

Deno.test("cluster hub: a keyed room made elsewhere needs its key here", () => {
  const h = linked();
  // The key travels as its SHA-256, never as typed.
  h.send(1, "/join #vault s3cret");
  const enter = proposed(h, "enter").find((o) => o.room === "vault")!;
  assert.deepEqual(enter.ev.t === "enter" && enter.ev.created?.key.length, 64);
  const h2 = linked();
  fromB(h2, { ...enter.ev, m: bob({ room: "vault" }) } as RoomEv, "vault");
  h2.send(2, "/join #vault");
  assert.ok(h2.read(2).some((l) => l.includes("key")));
  h2.send(2, "/join #vault wrong");
  assert.ok(h2.read(2).some((l) => /wrong|Wrong/.test(l)));
  h2.send(2, "/join #vault s3cret");
  assert.ok(h2.read(2).some((l) => l.startsWith("You are now in #vault; 2 people are here.")));
});

Deno.test("cluster hub: Redis's ban list wins, except for bans made here while it was away", () => {
  const now = 1_700_000_000_000;
  const ban = (ip: string) => ({ ip, until: now + 600_000, reason: "r", by: "op", since: now });
  const h = new HubHarness({}, { node: "A", bans: [ban("10.9.9.1"), ban("10.9.9.2")] });
  // Redis already knows the cluster, without 10.9.9.1 (unbanned elsewhere while A was down).
  h.fromCluster({
    kind: "snapshot",
    snap: { ...EMPTY, bans: [ban("10.9.9.2"), ban("10.9.9.3")] },
    reset: false,
    fresh: false,
  });
  assert.deepEqual(h.hub.bans(h.now).map((b) => b.ip).sort(), ["10.9.9.2", "10.9.9.3"]);
  assert.equal(h.cluster.length, 0, "nothing of the old file goes back to Redis");
  // While the link is down an operator here bans one address and lifts another.
  h.fromCluster({ kind: "link", up: false });
  h.hub.ban("10.9.9.4", 60_000, "", "op", h.now);
  h.hub.unban("10.9.9.3");
  h.fromCluster({ kind: "link", up: true });
  h.fromCluster({
    kind: "snapshot",
    snap: { ...EMPTY, bans: [ban("10.9.9.2"), ban("10.9.9.3")] },
    reset: false,
  });
  const sent = h.cluster.filter((o) => o.op === "direct").map((o) =>
    o.op === "direct" && (o.ev.t === "ban" || o.ev.t === "unban") ? `${o.ev.t} ${o.ev.ip}` : ""
  );
  assert.deepEqual(sent.sort(), ["ban 10.9.9.4", "unban 10.9.9.3"]);
  assert.deepEqual(h.hub.bans(h.now).map((b) => b.ip).sort(), ["10.9.9.2", "10.9.9.4"]);
  // A Redis with nothing in it gets this process's bans.
  const fresh = new HubHarness({}, { node: "B", bans: [ban("10.9.9.1")] });
  fresh.fromCluster({ kind: "snapshot", snap: EMPTY, reset: false, fresh: true });
  assert.deepEqual(fresh.cluster.map((o) => o.op === "direct" && o.ev.t), ["ban"]);
});

/**
 * What a forgery put on a telnet user's terminal (an OSC window title, a clear screen, an 8-bit
 * CSI, bidi and zero-width characters, C1 NEL, a line break); "hi there!" is what is left.
 */
const NASTY = "\x1b]0;pwned\x07\x1b[2J\u009b31m\u202e\u200bhi\u0085 there\r\n!";

/** Anything that acts on a terminal or hides text: C0, DEL, C1, bidi and zero-width controls. */
// deno-lint-ignore no-control-regex -- looking for control characters is the point
const CONTROL = /[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/;

/** Asserts that no line a client was sent holds a control character; returns the lines. */
function clean(lines: string[]): string[] {
  for (const l of lines) assert.ok(!CONTROL.test(l), JSON.stringify(l));
  return lines;
}

/** Decodes a payload as the link does (it must survive decoding) and hands it to the hub. */
function deliver(h: HubHarness, payload: string): void {
  const bus = decodeBus(payload);
  assert.ok(bus, payload);
  h.fromCluster({ kind: "bus", bus });
}

function ok<T>(v: T | Dropped): T {
  assert.ok(!(v && typeof v === "object" && "dropped" in v), JSON.stringify(v));
  return v as T;
}

Deno.test("cluster hub: forged notices, topic, away and kick reasons reach no terminal, as the link delivers them", () => {
  const h = linked();
  let seq = 0;
  const forged = (ev: unknown, room = "lobby") =>
    deliver(h, `${++seq} ${JSON.stringify({ n: "B", r: room, e: ev, u: 0 })}`);
  forged({ t: "enter", m: bob({ away: NASTY }), name: "lobby", notice: NASTY });
  forged({ t: "topic", topic: NASTY, by: "bob", id: 7 });
  forged({ t: "away", id: 7, away: NASTY });
  forged({ t: "nick", id: 7, from: "bob", to: "bobby", notice: NASTY });
  forged({ t: "say", kind: "action", id: 7, nick: "bobby", text: NASTY, at: h.now });
  const seen = clean(h.read(2));
  assert.deepEqual(clean(h.read(1)), seen);
  assert.deepEqual(seen, [
    "*** hi there!",
    "*** bob set the topic: hi there!",
    "*** hi there!",
    "* bobby hi there!",
  ]);
  h.send(2, "/topic");
  assert.deepEqual(clean(h.read(2)), ["The topic of #lobby: hi there! (set by bob)"]);
  h.send(2, "/who");
  assert.ok(clean(h.read(2)).some((l) => l.endsWith("away: hi there!")));
  h.send(2, "/msg bobby hello");
  assert.ok(clean(h.read(2)).includes("bobby is away: hi there!"));
  deliver(
    h,
    encodeDirect("B", { t: "msg", to: "A", toId: 2, id: 7, nick: "bobby", text: NASTY, at: h.now }),
  );
  assert.deepEqual(clean(h.read(2)), ["[private] <bobby> hi there!"]);
  // A kick: its message goes to the one kicked, its reason to the room.
  deliver(h, encodeDirect("B", { t: "kick", to: "A", toId: 1, message: NASTY, reason: NASTY }));
  assert.ok(h.closed.has(1));
  assert.deepEqual(clean(h.read(1)), ["hi there!"]);
  assert.deepEqual(clean(h.read(2)), ["*** alice left (hi there!)"]);
  forged({ t: "leave", id: 7, nick: "bobby", notice: NASTY });
  assert.deepEqual(clean(h.read(2)), ["*** hi there!"]);
  // A ban's reason and author are shown to whoever it throws out.
  h.open(3, "10.0.0.3");
  h.read(3);
  deliver(
    h,
    encodeDirect("B", {
      t: "ban",
      ip: "10.0.0.3",
      until: h.now + 60_000,
      reason: NASTY,
      by: "bob",
      since: h.now,
    }),
  );
  assert.ok(h.closed.has(3));
  assert.deepEqual(clean(h.read(3)), ["You have been banned by bob: hi there!"]);
});

Deno.test("cluster hub: a forged snapshot (topic, away, history) reaches no terminal, as the link reads it", () => {
  const h = new HubHarness({ rateLimit: 0 }, { node: "A" });
  const member = ok(readMember(JSON.stringify({ n: "B", ...bob({ room: "ctf", away: NASTY }) })));
  const room = ok(
    readRoomMeta("ctf", JSON.stringify({ name: "CTF", key: "", topic: NASTY, topicBy: "bob" })),
  );
  const ban = ok(readBan("10.0.0.66", JSON.stringify({ until: h.now + 60_000, reason: NASTY })));
  const lines = [1, 2].map((seq) => {
    const ev: RoomEv = { t: "say", kind: "chat", id: 7, nick: "bob", text: NASTY, at: h.now };
    const bus = decodeBus(`${seq} ${encodeRoom("B", "ctf", ev)}`) as BusIn & { kind: "room" };
    assert.ok(bus.ev.t === "say");
    return bus.ev;
  });
  h.fromCluster({
    kind: "snapshot",
    snap: { members: [member], rooms: [room], bans: [ban], history: [{ room: "ctf", lines }] },
    reset: false,
  });
  h.open(1);
  h.read(1);
  h.send(1, "/join #ctf");
  const joined = clean(h.read(1));
  assert.equal(joined[0], "You are now in #CTF; 2 people are here.");
  assert.ok(joined.includes("Topic: hi there! (set by bob)"), joined.join("\n"));
  assert.equal(joined.filter((l) => l === "[12:00] <bob> hi there!").length, 2, joined.join("\n"));
  h.send(1, "/who");
  assert.ok(clean(h.read(1)).some((l) => l.endsWith("away: hi there!")));
  h.send(1, "/rooms");
  assert.ok(clean(h.read(1)).some((l) => l.includes("#CTF") && l.endsWith("hi there!")));
  h.send(1, "/msg bob hi");
  assert.ok(clean(h.read(1)).includes("bob is away: hi there!"));
});

Deno.test("cluster hub: a private message for a client of another process is not shown to the client here with the same id", () => {
  const h = linked();
  const to = (node: string) =>
    h.fromCluster({
      kind: "bus",
      bus: {
        kind: "direct",
        node: "B",
        ev: { t: "msg", to: node, toId: 2, id: 7, nick: "bob", text: "for you", at: h.now },
      },
    });
  to("C"); // client 2 of process C: not carol, who is client 2 here
  assert.deepEqual(h.read(2), []);
  assert.deepEqual(h.read(1), []);
  to("A");
  assert.deepEqual(h.read(2), ["[private] <bob> for you"]);
});
