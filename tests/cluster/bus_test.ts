/** The cluster's message shapes, their checked decoding, sequence bookkeeping and the mirror. */
import assert from "node:assert/strict";
import {
  type BusIn,
  type DirectEv,
  encodeDirect,
  encodeRoom,
  type MemberInfo,
  type RoomEv,
} from "../../src/cluster/bus.ts";
import { TEXT_MAX } from "../../src/cluster/decode.ts";
import { SeqTracker } from "../../src/cluster/sequence.ts";
import { decodeBus, readBan, readMember, readRoomMeta } from "../support/bus_rules.ts";
import { AWAY_MAX, TOPIC_MAX } from "../../src/chat/commands/mod.ts";
import { Mirror } from "../../src/chat/mirror.ts";

const bob: MemberInfo = {
  id: 3,
  nick: "Bob",
  ip: "10.0.0.9",
  room: "lobby",
  away: "",
  op: false,
  active: 1,
};

Deno.test("bus: room events travel as `SEQ JSON`, direct messages as JSON", () => {
  const ev = { t: "say", kind: "chat", id: 1, nick: "al", text: "hi 7 {x}", at: 5 } as const;
  const room = decodeBus(`42 ${encodeRoom("A", "lobby", ev, 9)}`);
  assert.deepEqual(room, { kind: "room", node: "A", room: "lobby", seq: 42, ev, u: 9 });
  const gone = decodeBus(encodeDirect("B", { t: "gone", node: "C" }));
  assert.deepEqual(gone, { kind: "direct", node: "B", ev: { t: "gone", node: "C" } });
});

Deno.test("bus: anything malformed is refused, never half-applied", () => {
  const bad = [
    "",
    "not json",
    "0 {}",
    "-1 " + encodeRoom("A", "x", { t: "away", id: 1, away: "" }),
    "1.5 " + encodeRoom("A", "x", { t: "away", id: 1, away: "" }),
    '7 {"n":"A","r":"x","e":{"t":"say","kind":"shout","id":1,"nick":"a","text":"","at":1}}',
    '7 {"n":"A","r":"x","e":{"t":"enter","m":{"id":1},"name":"x","notice":""}}',
    '7 {"n":"A","e":{"t":"away","id":1,"away":""}}',
    '{"n":"A","d":{"t":"msg","to":"B","toId":"1","id":1,"nick":"a","text":"","at":1}}',
    '{"n":"A","d":{"t":"explode"}}',
    '{"d":{"t":"gone","node":"C"}}',
  ];
  for (const p of bad) assert.equal(decodeBus(p), null, p);
});

Deno.test("bus: the sequence tracker applies in order, drops repeats and finds gaps", () => {
  const s = new SeqTracker();
  assert.equal(s.check("r", 10), "next", "a room first heard of starts where it is");
  assert.equal(s.check("r", 11), "next");
  assert.equal(s.check("r", 11), "old");
  assert.equal(s.check("r", 5), "old");
  assert.deepEqual(s.check("r", 15), { gap: { from: 12, to: 14 } });
  assert.equal(s.last("r"), 11, "a gap does not move the room on");
  s.set("r", 14);
  assert.equal(s.check("r", 15), "next");
  s.clear();
  assert.equal(s.check("r", 1), "next", "after a Redis reset sequences start again");
});

Deno.test("mirror: members elsewhere by process and id, by nick, by look-alike, by room and address", () => {
  const m = new Mirror();
  const { member } = m.upsert("B", bob);
  assert.ok(member.id < 0, "a handle never collides with a client id");
  assert.equal(m.byKey("bob"), member);
  assert.equal(m.bySkeleton(member.skeleton), member);
  assert.equal(m.byHandle(member.id), member);
  assert.equal(m.inRoom("lobby"), 1);
  assert.equal(m.fromIp("10.0.0.9"), 1);
  const moved = m.upsert("B", { ...bob, nick: "Robert", room: "ctf" });
  assert.equal(moved.was, "lobby");
  assert.equal(m.byKey("bob"), undefined);
  assert.equal(m.byKey("robert"), member);
  assert.equal(m.inRoom("lobby"), 0);
  assert.deepEqual(m.membersOf("ctf"), [member]);
  m.upsert("C", { ...bob, id: 3, nick: "eve" });
  assert.equal(m.size, 2, "the same id on another process is someone else");
  assert.equal(m.fromIp("10.0.0.9"), 2);
  assert.deepEqual(m.removeNode("B").map((x) => x.nick), ["Robert"]);
  assert.equal(m.size, 1);
  assert.equal(m.byKey("robert"), undefined);
  assert.equal(m.inRoom("ctf"), 0);
});

/**
 * What a forgery put on a telnet user's terminal: an OSC window title, a clear screen, an 8-bit
 * CSI, bidi and zero-width characters, C1 NEL, a line break, a DCS string; "hi there!" is all
 * typed text of the same bytes would keep.
 */
const NASTY = "\x1b]0;pwned\x07\x1b[2J\u009b31m\u202e\u200bhi\u0085 there\r\n!\x1bP+q\x1b\\\u2028";
const CLEAN = "hi there!";

/** Anything that acts on a terminal or hides text: C0, DEL, C1, bidi and zero-width controls. */
// deno-lint-ignore no-control-regex -- looking for control characters is the point
const CONTROL = /[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/;

/** A room event from process Z in `room`, decoded as the link decodes it. */
function room(ev: unknown, r = "lobby", maxText?: number): BusIn | null {
  return decodeBus(`5 ${JSON.stringify({ n: "Z", r, e: ev, u: 0 })}`, maxText);
}

/** A direct message from process Z, decoded as the link decodes it. */
function direct(ev: unknown): BusIn | null {
  return decodeBus(JSON.stringify({ n: "Z", d: ev }));
}

function roomEv(bus: BusIn | null): RoomEv {
  assert.ok(bus?.kind === "room", "decoded");
  return bus.ev;
}

function directEv(bus: BusIn | null): DirectEv {
  assert.ok(bus?.kind === "direct", "decoded");
  return bus.ev;
}

const say = { t: "say", kind: "chat", id: 9, nick: "zed", text: "hi", at: 5 };
const enter = { t: "enter", m: bob, name: "Lobby", notice: "Bob joined" };
const topic = { t: "topic", topic: "flags", by: "zed", id: 9 };
const msg = { t: "msg", to: "A", toId: 1, id: 9, nick: "zed", text: "psst", at: 5 };
const kick = { t: "kick", to: "A", toId: 1, message: "You have been kicked.", reason: "kicked" };
const ban = { t: "ban", ip: "10.0.0.9", until: 9e12, reason: "rude", by: "zed", since: 5 };

Deno.test("bus: forged escapes in every free-text field come back cleaned, as typed text is", () => {
  const cases: [unknown, (ev: RoomEv) => unknown][] = [
    [{ ...say, text: NASTY }, (e) => e.t === "say" && e.text],
    [{ ...enter, notice: NASTY }, (e) => e.t === "enter" && e.notice],
    [{ ...enter, m: { ...bob, away: NASTY } }, (e) => e.t === "enter" && e.m.away],
    [{ t: "leave", id: 3, nick: "Bob", notice: NASTY }, (e) => e.t === "leave" && e.notice],
    [
      { t: "nick", id: 3, from: "Bob", to: "Rob", notice: NASTY },
      (e) => e.t === "nick" && e.notice,
    ],
    [{ ...topic, topic: NASTY }, (e) => e.t === "topic" && e.topic],
    [{ t: "away", id: 3, away: NASTY }, (e) => e.t === "away" && e.away],
  ];
  for (const [ev, field] of cases) assert.equal(field(roomEv(room(ev))), CLEAN, JSON.stringify(ev));
  const directs: [unknown, (ev: DirectEv) => unknown][] = [
    [{ ...msg, text: NASTY }, (e) => e.t === "msg" && e.text],
    [{ ...kick, message: NASTY }, (e) => e.t === "kick" && e.message],
    [{ ...kick, reason: NASTY }, (e) => e.t === "kick" && e.reason],
    [{ ...ban, reason: NASTY }, (e) => e.t === "ban" && e.reason],
  ];
  for (const [ev, field] of directs) {
    assert.equal(field(directEv(direct(ev))), CLEAN, JSON.stringify(ev));
  }
  // A notice is one line: no line break of any kind survives.
  const notice = roomEv(room({ ...enter, notice: "a\r\nb\u2028c\u0085d\u2029e\vf" }));
  assert.equal(notice.t === "enter" && notice.notice, "abcdef");
  // Nothing else of the forged object comes along.
  const extra = roomEv(room({ ...say, evil: NASTY }));
  assert.deepEqual(Object.keys(extra).sort(), ["at", "id", "kind", "nick", "t", "text"]);
});

Deno.test("bus: over-long text from Redis is cut to the lengths typed text has", () => {
  const long = "x".repeat(TEXT_MAX + 500);
  const len = (v: unknown) => [...String(v)].length;
  const t = roomEv(room({ ...topic, topic: "y".repeat(TOPIC_MAX * 3) }));
  assert.equal(t.t === "topic" && len(t.topic), TOPIC_MAX);
  const a = roomEv(room({ t: "away", id: 3, away: "z".repeat(AWAY_MAX * 3) }));
  assert.equal(a.t === "away" && len(a.away), AWAY_MAX);
  const m = roomEv(room({ ...enter, m: { ...bob, away: "z".repeat(AWAY_MAX * 3) } }));
  assert.equal(m.t === "enter" && len(m.m.away), AWAY_MAX);
  // Characters, not UTF-16 halves: an emoji is never cut in two.
  const e = roomEv(room({ ...topic, topic: "\u{1f600}".repeat(TOPIC_MAX + 5) }));
  assert.equal(e.t === "topic" && e.topic, "\u{1f600}".repeat(TOPIC_MAX));
  const s = roomEv(room({ ...say, text: long }));
  assert.equal(s.t === "say" && len(s.text), TEXT_MAX);
  const n = roomEv(room({ ...enter, notice: long }));
  assert.equal(n.t === "enter" && len(n.notice), TEXT_MAX);
  const k = directEv(direct({ ...kick, message: long, reason: long }));
  assert.ok(k.t === "kick" && len(k.message) === TEXT_MAX && len(k.reason) === TEXT_MAX);
  const b = directEv(direct({ ...ban, reason: long }));
  assert.equal(b.t === "ban" && len(b.reason), TEXT_MAX);
  const p = directEv(direct({ ...msg, text: long }));
  assert.equal(p.t === "msg" && len(p.text), TEXT_MAX);
  // The process's own line length, when the link is told it.
  const short = roomEv(room({ ...say, text: "x".repeat(1_000) }, "lobby", 100));
  assert.equal(short.t === "say" && short.text, "x".repeat(100));
  // Something far longer than any text could make is not even parsed.
  assert.equal(room({ ...say, text: "x".repeat(3 * TEXT_MAX) }), null);
});

Deno.test("bus: a bad nick, room, address, id or time drops the whole event", () => {
  // The unforged events decode.
  for (const ev of [say, enter, topic, { t: "leave", id: 3, nick: "Bob", notice: "" }]) {
    assert.ok(room(ev), JSON.stringify(ev));
  }
  for (const ev of [msg, kick, ban, { t: "unban", ip: "10.0.0.9" }]) {
    assert.ok(direct(ev), JSON.stringify(ev));
  }
  // Guest-like nicks too: no process gives out a guest nick that is too long, or spelled with
  // a Cyrillic "е".
  const badNicks = [
    "b o b",
    "\x1b[31mred",
    "admin",
    "server",
    "x".repeat(17),
    "",
    "1.2.3.4",
    7,
    "guest-" + "1".repeat(20),
    "gu\u0435st-1234",
  ];
  const rooms: unknown[] = [];
  const directs: unknown[] = [];
  for (const nick of badNicks) {
    rooms.push(
      { ...say, nick },
      { ...enter, m: { ...bob, nick } },
      { t: "leave", id: 3, nick, notice: "" },
      { t: "nick", id: 3, from: "Bob", to: nick, notice: "" },
      { t: "nick", id: 3, from: nick, to: "Rob", notice: "" },
      { ...topic, by: nick },
    );
    directs.push({ ...msg, nick });
  }
  directs.push({ ...ban, by: "root" }, { ...ban, by: "\x1b]0;x\x07" });
  // Room names and ids: a valid name, the event's own room, no `#`.
  for (const name of ["#Lobby", "Lob by", "Lobby\x1b]0;x\x07", "Other", "a".repeat(25), 3]) {
    rooms.push({ ...enter, name });
  }
  rooms.push({ ...enter, m: { ...bob, room: "ctf" } }, { ...enter, m: { ...bob, room: "Lobby" } });
  for (const r of ["Lobby", "#lobby", "lob by", "a".repeat(25), "x\x1b[2J"]) {
    assert.equal(room(say, r), null, r);
  }
  // Addresses: a member is one host; a ban is a host or an IPv6 network.
  for (const ip of ["not an ip", "10.0.0.07", "10.0.0.256", "2001:db8::/64", "", 10]) {
    rooms.push({ ...enter, m: { ...bob, ip } });
  }
  const badBans = ["x", "10.0.0.0/8", "2001:db8::/0", "2001:db8::/129", "2001:db8::/064", "::/"];
  for (const ip of badBans) directs.push({ ...ban, ip }, { t: "unban", ip });
  // Ids and times.
  for (const id of [-1, 1.5, "3", null, 2 ** 60]) {
    rooms.push({ ...say, id }, { t: "away", id, away: "" });
    directs.push({ ...msg, toId: id }, { ...kick, toId: id });
  }
  for (const at of [-1, 1e300, "5", null, Date.UTC(10_000, 0, 1)]) {
    rooms.push({ ...say, at }, { ...enter, m: { ...bob, active: at } });
    directs.push({ ...msg, at }, { ...ban, until: at }, { ...ban, since: at });
  }
  // Text that says nothing once cleaned is no line, and no topic or away mark either: a forged
  // clear-screen must not pass for "cleared the topic" or "back".
  rooms.push({ ...say, text: "\x1b[2J\u200b" }, { ...topic, topic: "\x1b]0;x\x07" });
  rooms.push({ t: "away", id: 3, away: "\x1b[2J" }, { ...enter, m: { ...bob, away: "\u202e" } });
  directs.push({ ...msg, text: "\x07" }, { ...msg, to: "A B" }, { t: "gone", node: "\x1b[2J" });
  rooms.push({ ...enter, created: { key: "s3cret" } }, { ...enter, created: { key: "" + NASTY } });
  for (const ev of rooms) assert.equal(room(ev), null, JSON.stringify(ev));
  for (const ev of directs) assert.equal(direct(ev), null, JSON.stringify(ev));
  assert.equal(decodeBus(`5 ${JSON.stringify({ n: "\x1b[2J", r: "lobby", e: say })}`), null);
});

Deno.test("bus: addresses come back in their one spelling; IPv6 ban networks are kept", () => {
  const ip = (v: string) => {
    const b = directEv(direct({ ...ban, ip: v }));
    return b.t === "ban" && b.ip;
  };
  assert.equal(ip("2001:DB8:0:0::1"), "2001:db8::1");
  assert.equal(ip("::ffff:10.0.0.9"), "10.0.0.9");
  assert.equal(ip("2001:db8:1:2::/64"), "2001:db8:1:2::/64");
  assert.equal(ip("2001:0db8:0001:0002:0:0:0:0/64"), "2001:db8:1:2::/64");
  assert.equal(ip("::/128"), "::/128");
  const m = roomEv(room({ ...enter, m: { ...bob, ip: "::FFFF:10.0.0.9" } }));
  assert.equal(m.t === "enter" && m.m.ip, "10.0.0.9");
  // Who may have made a ban: a nick, a guest, the server, or nobody known (a ban file's).
  for (const by of ["zed", "guest-4821", "server", ""]) assert.ok(direct({ ...ban, by }), by);
  const g = roomEv(room({ ...say, nick: "guest-4821" }));
  assert.equal(g.t === "say" && g.nick, "guest-4821");
});

Deno.test("bus: snapshot records (members, rooms, bans) are checked and cleaned the same way", () => {
  const member = readMember(JSON.stringify({ n: "Z", ...bob, away: NASTY, extra: 1 }));
  assert.deepEqual(member, { node: "Z", info: { ...bob, away: CLEAN } });
  const meta = readRoomMeta(
    "ctf",
    JSON.stringify({ name: "CTF", key: "", topic: NASTY + "y".repeat(500), topicBy: "zed" }),
  );
  assert.ok(!("dropped" in meta));
  assert.equal(meta.topic, (CLEAN + "y".repeat(500)).slice(0, TOPIC_MAX));
  assert.deepEqual(readRoomMeta("ctf", "{}"), {
    id: "ctf",
    name: "ctf",
    topic: "",
    topicBy: "",
    key: "",
  });
  const b = readBan("2001:db8:1:2::/64", JSON.stringify({ ...ban, ip: undefined, reason: NASTY }));
  assert.deepEqual(b, { ip: "2001:db8:1:2::/64", until: 9e12, reason: CLEAN, by: "zed", since: 5 });
  const dropped = [
    readMember(JSON.stringify({ n: "Z", ...bob, nick: "\x1b[31m" + "r".repeat(500) })),
    readMember(JSON.stringify({ ...bob })),
    readMember("not json"),
    readMember(JSON.stringify({ n: "Z", ...bob, ip: "10.0.0.07" })),
    readRoomMeta("CTF", "{}"),
    readRoomMeta("ctf", JSON.stringify({ name: "#ctf" })),
    readRoomMeta("ctf", JSON.stringify({ name: "c\x1b]0;x\x07tf" })),
    readRoomMeta("ctf", JSON.stringify({ topic: "flags", topicBy: "\x1b[2J" })),
    readRoomMeta("ctf", JSON.stringify({ topic: "flags" })),
    readRoomMeta("ctf", JSON.stringify({ key: "s3cret" })),
    readBan("10.0.0.07", JSON.stringify(ban)),
    readBan("10.0.0.9", JSON.stringify({ ...ban, by: "root" })),
    readBan("10.0.0.9", JSON.stringify({ ...ban, until: "soon" })),
  ];
  for (const d of dropped) {
    assert.ok("dropped" in d, JSON.stringify(d));
    // An address (even a bad one) is logged as one: never in safe mode.
    assert.equal(d.address === true, /\bip: /.test(d.dropped), JSON.stringify(d));
    // What the log is given: the field at fault and at most 64 characters of the value, escaped.
    assert.ok(d.sample.length <= 72 && !CONTROL.test(d.sample), d.sample);
    assert.ok(!CONTROL.test(d.dropped) && !d.dropped.includes("rrrr"), d.dropped);
  }
});

Deno.test("bus: an IRC session's other rooms travel with it; a bad list drops the event", () => {
  const ops = { ...enter, m: { ...bob, also: ["ops", "den", "ops", "lobby"] } };
  const m = (roomEv(room(ops)) as RoomEv & { t: "enter" }).m;
  assert.deepEqual(m.also, ["ops", "den"], "each other room once, not its own");
  const alone = (roomEv(room({ ...enter, m: { ...bob, also: [] } })) as RoomEv & { t: "enter" }).m;
  assert.equal(alone.also, undefined);
  for (const also of ["ops", [7], ["b a d"], ["\x1b[2J"], Array(101).fill("ops")]) {
    assert.equal(room({ ...enter, m: { ...bob, also } }), null, JSON.stringify(also));
  }
  // The mirror counts such a member in each of its rooms, and keeps it until it left them all.
  const mirror = new Mirror();
  const { member } = mirror.upsert("Z", { ...bob, also: ["ops"] });
  assert.equal(mirror.inRoom("lobby"), 1);
  assert.equal(mirror.inRoom("ops"), 1);
  assert.deepEqual(mirror.membersOf("ops"), [member]);
  assert.equal(mirror.leftRoom(member, "lobby"), false);
  assert.equal(mirror.inRoom("lobby"), 0);
  assert.deepEqual(member.rooms, ["ops"]);
  assert.equal(mirror.leftRoom(member, "ops"), true, "its last room");
});
