/** The cluster's message shapes, their checked decoding, sequence bookkeeping and the mirror. */
import assert from "node:assert/strict";
import { decodeBus, encodeDirect, encodeRoom, type MemberInfo, SeqTracker } from "../src/bus.ts";
import { Mirror } from "../src/mirror.ts";

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
