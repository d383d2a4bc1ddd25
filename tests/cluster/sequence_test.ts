/**
 * The room order (src/cluster/sequence.ts RoomOrder) driven directly, with the orderings a Redis
 * restart and a live link produce: no Redis, no timers. The link reads Redis and hands the
 * answers in; here they are handed in by hand, in the order that used to lose lines.
 */
import assert from "node:assert/strict";
import type { MemberInfo, RoomBus, RoomEv } from "../../src/cluster/bus.ts";
import { type Filled, RECENT_LINES, RoomOrder, type Step } from "../../src/cluster/sequence.ts";

/** A room event of process `node` (proposal `u`), numbered `seq` in `room`. */
function event(seq: number, ev: RoomEv, node = "B", u = seq, room = "lobby"): RoomBus {
  return { kind: "room", node, room, seq, ev, u };
}

function say(seq: number, text: string, node = "B", u = seq, room = "lobby"): RoomBus {
  return event(seq, { t: "say", kind: "chat", id: 1, nick: "bob", text, at: 1 }, node, u, room);
}

function enter(seq: number, nick: string, node = "A", u = seq): RoomBus {
  const m: MemberInfo = {
    id: seq,
    nick,
    ip: "10.0.0.1",
    room: "lobby",
    away: "",
    op: false,
    active: 1,
  };
  return event(seq, { t: "enter", m, name: "lobby", notice: `${nick} joined` }, node, u);
}

/** What a step applies, as `seq:text` (lines) or `seq:t` (other events). */
function shown(events: RoomBus[]): string[] {
  return events.map((b) => `${b.seq}:${b.ev.t === "say" ? b.ev.text : b.ev.t}`);
}

/** The read-backs a step asks for, as `room from..to` (`lines` when only lines are wanted). */
function ranges(step: Step): string[] {
  return step.fills.map((f) => `${f.room} ${f.from}..${f.to}${f.linesOnly ? " lines" : ""}`);
}

/** Everything a finished read-back lets through, in order. */
function all(done: Filled | null): RoomBus[] {
  assert.ok(done, "the read-back is current");
  return [...done.recovered, ...done.then.apply];
}

/** A room order that has followed `lobby` up to event `at` (a first snapshot, then live). */
function following(at: number): RoomOrder {
  const order = new RoomOrder();
  const step = order.synced(new Map([["lobby", at]]), "first");
  assert.deepEqual(step, { apply: [], fills: [] });
  return order;
}

Deno.test("order: after Redis lost its data, a line said on a process that was back sooner is read back, not taken as already seen", () => {
  const order = following(40);
  assert.deepEqual(shown(order.arrive(say(41, "before")).apply), ["41:before"]);
  // Redis restarts empty. Process B is back first: its member enters again (event 1 of the
  // new numbering) and says a line (2), while this process is still taking its snapshot.
  order.hold();
  assert.deepEqual(order.arrive(enter(1, "bob", "B")), { apply: [], fills: [] });
  assert.deepEqual(order.arrive(say(2, "hello again")), { apply: [], fills: [] });
  // The snapshot has bob (event 1) and the room at 2: under the old bookkeeping the room
  // started at 2 and the held line was dropped as old; nobody here ever saw it.
  const step = order.synced(new Map([["lobby", 2]]), "lost");
  assert.deepEqual(step.apply, []);
  assert.deepEqual(ranges(step), ["lobby 1..2 lines"]);
  const done = order.filled(step.fills[0], [enter(1, "bob", "B"), say(2, "hello again")], 2);
  assert.deepEqual(
    shown(all(done)),
    ["2:hello again"],
    "the line, once; the entry is in the snapshot",
  );
  assert.equal(done!.lost, 0);
  assert.deepEqual(shown(order.arrive(say(3, "and on")).apply), ["3:and on"]);
});

Deno.test("order: events that come while a snapshot is taken wait for it; those it has are not applied twice", () => {
  const order = following(7);
  order.hold();
  order.arrive(say(8, "in the snapshot"));
  order.arrive(say(9, "after it"));
  // Redis kept its data: the room moved on to 8 meanwhile; 8 is read back as a line, 9 waits.
  const step = order.synced(new Map([["lobby", 8]]), "resumed");
  assert.deepEqual(ranges(step), ["lobby 8..8 lines"]);
  assert.equal(order.held("lobby"), 2);
  const done = order.filled(step.fills[0], [say(8, "in the snapshot")], 9);
  assert.deepEqual(shown(all(done)), ["8:in the snapshot", "9:after it"]);
  // A first snapshot: what it counts is history already; only what comes after is applied.
  const fresh = new RoomOrder();
  fresh.arrive(enter(3, "al"));
  fresh.arrive(enter(4, "cy"));
  assert.deepEqual(shown(fresh.synced(new Map([["lobby", 3]]), "first").apply), ["4:enter"]);
});

Deno.test("order: nothing is judged until a snapshot is in, even after a failed one", () => {
  const order = following(50);
  order.hold(); // the link is down
  order.hold(); // a resync started, and failed: no synced() call
  // Redis restarted empty: these are numbered 1 and 2 again, and must not look old.
  assert.deepEqual(order.arrive(enter(1, "bob", "B")), { apply: [], fills: [] });
  assert.deepEqual(order.arrive(say(2, "first words")), { apply: [], fills: [] });
  const step = order.synced(new Map([["lobby", 1]]), "lost");
  const done = order.filled(step.fills[0], [enter(1, "bob", "B"), say(2, "first words")], 2);
  assert.deepEqual(shown(all(done)), ["2:first words"]);
});

Deno.test("order: Redis emptied under a live link: lines taken for old are read back, those applied are not shown twice", () => {
  const order = following(3);
  // FLUSHALL: numbering starts again, the loss is not noticed yet. 1..3 look old and are
  // dropped; 4 and 5 look new and are applied.
  for (let seq = 1; seq <= 3; seq++) assert.deepEqual(order.arrive(say(seq, `x${seq}`)).apply, []);
  assert.deepEqual(shown(order.arrive(say(4, "x4")).apply), ["4:x4"]);
  assert.deepEqual(shown(order.arrive(say(5, "x5")).apply), ["5:x5"]);
  // The heartbeat sees the new epoch: a snapshot, and the room's kept lines read back.
  order.hold();
  const step = order.synced(new Map([["lobby", 5]]), "lost");
  const kept = [1, 2, 3, 4, 5].map((seq) => say(seq, `x${seq}`));
  const done = order.filled(step.fills[0], kept, 5);
  assert.deepEqual(shown(all(done)), ["1:x1", "2:x2", "3:x3"]);
  assert.equal(done!.lost, 0);
  assert.deepEqual(shown(order.arrive(say(6, "x6")).apply), ["6:x6"]);
});

Deno.test("order: lines Redis no longer keeps are reported, the rest are read back", () => {
  const order = following(10);
  order.hold();
  const step = order.synced(new Map([["lobby", 20]]), "resumed");
  // The room's list was trimmed: 11..14 are gone, and 16 is unreadable (left out).
  const kept = [15, 17, 18, 19, 20].map((seq) => say(seq, `l${seq}`));
  const done = order.filled(step.fills[0], kept, 20);
  assert.deepEqual(shown(all(done)), ["15:l15", "17:l17", "18:l18", "19:l19", "20:l20"]);
  assert.equal(done!.lost, 5);
  // After Redis lost its data and more than its list holds was said: the same.
  const lost = following(10);
  lost.hold();
  const replay = lost.synced(new Map([["lobby", 1200]]), "lost");
  const tail = [1199, 1200].map((seq) => say(seq, `t${seq}`));
  const last = lost.filled(replay.fills[0], tail, 1200);
  assert.deepEqual(shown(all(last)), ["1199:t1199", "1200:t1200"]);
  assert.equal(last!.lost, 1198);
});

Deno.test("order: a gap is filled from the kept events; an event numbered past the room's sequence is ignored", () => {
  const order = following(5);
  const gap: Step = order.arrive(say(8, "eight"));
  assert.deepEqual(gap.apply, []);
  assert.deepEqual(ranges(gap), ["lobby 6..7"]);
  order.arrive(say(9, "nine")); // held behind the gap
  const done = order.filled(gap.fills[0], [enter(6, "al"), say(7, "seven"), say(8, "eight")], 9);
  assert.deepEqual(shown(all(done)), ["6:enter", "7:seven", "8:eight", "9:nine"]);
  assert.equal(done!.lost, 0);
  // A forgery far past what Redis numbered: no gap, no loss, and nothing after it is held.
  const forged = order.arrive(say(1_000, "forged"));
  const none = order.filled(forged.fills[0], [], 9);
  assert.deepEqual(all(none), []);
  assert.deepEqual({ lost: none!.lost, ignored: none!.ignored }, { lost: 0, ignored: 1 });
  assert.deepEqual(shown(order.arrive(say(10, "ten")).apply), ["10:ten"]);
});

Deno.test("order: a read-back overtaken by a new snapshot changes nothing; the snapshot takes the room over", () => {
  const order = following(5);
  const gap = order.arrive(say(8, "eight"));
  order.hold(); // the link dropped while the gap was being read
  order.arrive(say(9, "nine"));
  const step = order.synced(new Map([["lobby", 9]]), "resumed");
  assert.equal(order.filled(gap.fills[0], [say(6, "six")], 9), null, "stale");
  const done = order.filled(step.fills[0], [6, 7, 8, 9].map((s) => say(s, `n${s}`)), 9);
  assert.deepEqual(shown(all(done)), ["6:n6", "7:n7", "8:n8", "9:n9"]);
});

Deno.test("order: the record of recent lines is bounded", () => {
  const order = following(0);
  for (let seq = 1; seq <= RECENT_LINES + 10; seq++) order.arrive(say(seq, "x"));
  order.hold();
  const step = order.synced(new Map([["lobby", 3]]), "lost");
  // Lines 1..10 were forgotten (the oldest), so they are shown again; 11+ are remembered.
  const done = order.filled(step.fills[0], [1, 2, 3].map((s) => say(s, `r${s}`)), 3);
  assert.deepEqual(shown(all(done)), ["1:r1", "2:r2", "3:r3"]);
  const again = new RoomOrder();
  again.synced(new Map(), "first");
  again.arrive(say(1, "a", "B", 77));
  again.hold();
  const s2 = again.synced(new Map([["lobby", 2]]), "lost");
  const d2 = again.filled(s2.fills[0], [say(1, "a", "B", 77), say(2, "b", "B", 78)], 2);
  assert.deepEqual(shown(all(d2)), ["2:b"], "the same origin and proposal is the same line");
});
