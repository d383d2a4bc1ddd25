/**
 * Rooms run by their people, in the hub with a fake clock and no sockets: owners and room
 * operators, /kick, room bans, mutes, invite-only, moderated, slow mode, topic-lock, keys, the
 * marks in /who and /rooms, the audit log, settings kept across a restart and shared with the
 * other processes.
 */
import assert from "node:assert/strict";
import { MemoryStore } from "../../src/store/memory.ts";
import { HubHarness } from "../support/helpers.ts";
import { den, say } from "../support/rooms.ts";

const SEC = 1_000;
const MIN = 60 * SEC;

Deno.test("room authority: the maker owns the room; /room shows its settings in words", () => {
  const h = den(2);
  const shown = say(h, 2, "/room");
  assert.deepEqual(shown.slice(0, 8), [
    "#den:",
    "  owner: ann",
    "  operators: none",
    "  invite-only: off",
    "  moderated: off",
    "  slow: off",
    "  topic-lock: off",
    "  key: none",
  ]);
  assert.equal(shown.at(-1), "Only its operators may change them (/room help).");
  assert.equal(say(h, 1, "/room").at(-1), "You may change them: /room help lists how.");
  const who = say(h, 2, "/who");
  assert.ok(who.some((l) => /^ {2}ann \(owner\)/.test(l)), who.join("\n"));
});

Deno.test("room authority: the owner names operators; an operator kicks back to the lobby", () => {
  const h = den(3);
  assert.deepEqual(say(h, 2, "/kick cat"), [
    "Only #den's operators can do that (its owner is ann).",
  ]);
  assert.deepEqual(say(h, 2, "/room op cat"), [
    "Only #den's operators can do that (its owner is ann).",
  ]);
  assert.deepEqual(say(h, 1, "/room op bob"), [
    "bob is now an operator of #den (until they leave: they are not identified).",
  ]);
  assert.deepEqual(h.read(2), ["*** ann made bob an operator of #den"]);
  h.read(3);
  assert.deepEqual(say(h, 2, "/room op cat"), [
    "Only #den's owner can do that (its owner is ann).",
  ]);
  assert.deepEqual(say(h, 2, "/kick ann"), ["ann owns #den."]);
  assert.deepEqual(say(h, 2, "/kick nobody"), ["There is nobody called nobody here."]);
  assert.deepEqual(say(h, 2, "/kick cat spamming"), [
    "*** cat was sent out of #den by bob: spamming",
    "cat was sent back to #lobby.",
  ]);
  const cat = h.read(3);
  assert.equal(
    cat[0],
    "You are now in #lobby; 1 person is here.".replace("1 person is", "you are the only one"),
  );
  assert.ok(cat.includes("bob sent you out of #den: spamming"), cat.join("\n"));
  assert.deepEqual(h.read(1), ["*** cat was sent out of #den by bob: spamming"]);
  assert.deepEqual(say(h, 2, "/kick cat"), ["cat is not in #den."]);
  assert.ok(!h.closed.has(3), "a room operator's kick does not disconnect");
  assert.deepEqual(
    say(h, 2, "/who").filter((l) => l.includes("bob")).map((l) => l.trim().split(/\s+idle/)[0]),
    [
      "bob (room op, you)",
    ],
  );
});

Deno.test("room authority: a room operator cannot act on a server operator", () => {
  const h = den(3);
  say(h, 1, "/room op bob");
  h.read(2);
  h.read(3);
  say(h, 3, "/op letmein");
  for (const line of ["/kick cat", "/mute cat", "/room ban cat"]) {
    assert.deepEqual(
      say(h, 2, line),
      ["cat is a server operator: a room operator cannot do that."].map((t) =>
        line.startsWith("/mute") ? "cat is a server operator: nobody can mute them." : t
      ),
      line,
    );
  }
  // A server operator's /kick still disconnects, as before.
  assert.equal(say(h, 3, "/kick bob bye")[0], "Kicked bob.");
  assert.equal(h.closed.get(2), "flush");
});

Deno.test("room authority: a guest owner's room has no owner once they leave; /room owner hands it over", () => {
  const h = den(3);
  assert.deepEqual(say(h, 1, "/room owner bob"), ["#den is now bob's."]);
  assert.deepEqual(h.read(2), ["*** ann handed #den to bob"]);
  assert.deepEqual(say(h, 1, "/room op cat"), [
    "Only #den's operators can do that (its owner is bob).",
  ]);
  h.send(2, "/part");
  h.read(2);
  assert.deepEqual(h.read(1), ["*** #den has no owner now: bob left.", "*** bob left for #lobby"]);
  assert.match(say(h, 1, "/room")[1], /owner: nobody/);
  assert.deepEqual(say(h, 1, "/room moderated on"), [
    "Only #den's operators can do that (it has no owner; server operators can).",
  ]);
});

Deno.test("room authority: a room ban moves the person out and keeps them out until it ends", () => {
  const h = den(3);
  assert.deepEqual(say(h, 1, "/room ban bob 10m flooding"), [
    "*** bob was banned from #den by ann: flooding",
    "bob is banned from #den for 10m.",
  ]);
  const bob = h.read(2);
  assert.ok(bob.includes("ann banned you from #den for 10m: flooding"), bob.join("\n"));
  assert.ok(bob.some((l) => l.startsWith("You are now in #lobby")));
  assert.deepEqual(h.read(3), ["*** bob was banned from #den by ann: flooding"]);
  h.advance(MIN);
  assert.deepEqual(say(h, 2, "/join den"), [
    "You are banned from #den for 9m more (by ann: flooding).",
  ]);
  // Reconnecting from the same address does not help.
  h.hangUp(2);
  h.open(6, "10.0.0.2");
  assert.deepEqual(say(h, 6, "/join den"), [
    "You are banned from #den for 9m more (by ann: flooding).",
  ]);
  const bans = say(h, 1, "/room bans");
  assert.equal(bans[0], "1 banned from #den:");
  assert.match(bans[1], /bob\s+9m left\s+flooding\s+\(by ann\)/);
  assert.deepEqual(say(h, 3, "/room bans"), ["Only #den's operators see its bans."]);
  // By address too, and lifted by nick or address.
  assert.deepEqual(say(h, 1, "/room ban 10.0.0.9"), ["10.0.0.9 is banned from #den for 1d."]);
  assert.deepEqual(say(h, 1, "/room unban bob"), ["bob may enter #den again."]);
  assert.match(say(h, 6, "/join den")[0], /^You are now in #den/);
  h.read(1);
  assert.deepEqual(say(h, 1, "/room unban 10.0.0.9"), ["10.0.0.9 may enter #den again."]);
  assert.deepEqual(say(h, 1, "/room unban 10.0.0.9"), [
    "10.0.0.9 is not banned from #den (/room bans lists the bans).",
  ]);
  // A ban ends by itself.
  say(h, 1, "/room ban cat 2m");
  h.advance(3 * MIN);
  h.read(3);
  assert.match(say(h, 3, "/join den")[0], /^You are now in #den/);
});

Deno.test("room authority: a muted person's lines are not shown; told each time with the time left", () => {
  const h = den(3);
  assert.deepEqual(say(h, 1, "/mute bob 5m"), ["bob is muted in #den for 5m."]);
  assert.deepEqual(h.read(2), [
    "ann muted you in #den for 5m: your lines are not shown.",
    "*** bob was muted in #den by ann for 5m",
  ]);
  assert.deepEqual(h.read(3), ["*** bob was muted in #den by ann for 5m"]);
  const strikes = h.hub.strikesOf("10.0.0.2");
  h.advance(MIN);
  assert.deepEqual(say(h, 2, "hello?"), [
    "You are muted in #den by ann for 4m more: your line was not shown.",
  ]);
  h.send(2, "/me waves");
  assert.equal(h.read(2).length, 1);
  assert.deepEqual(h.read(3), [], "nobody sees a muted line");
  assert.equal(h.hub.strikesOf("10.0.0.2"), strikes, "no strike for a muted line");
  assert.ok(say(h, 3, "/who").some((l) => /bob \(muted\)/.test(l)));
  // Leaving and reconnecting does not lift it.
  h.hangUp(2);
  h.open(7, "10.0.0.2");
  h.send(7, "/nick bob", "/join den");
  h.read(7);
  h.read(1);
  h.read(3);
  assert.match(say(h, 7, "still me")[0], /^You are muted in #den by ann for 4m more/);
  assert.deepEqual(h.read(3), []);
  // It ends by itself, or is lifted.
  h.advance(5 * MIN);
  h.send(7, "free again");
  assert.deepEqual(h.read(3), ["<bob> free again"]);
  say(h, 1, "/mute bob");
  h.read(3);
  h.read(7);
  assert.deepEqual(say(h, 1, "/unmute bob"), ["bob may speak again."]);
  assert.deepEqual(h.read(7), [
    "*** bob may speak in #den again",
    "ann lifted your mute: you may speak again.",
  ]);
  h.send(7, "thanks");
  assert.deepEqual(h.read(3), ["*** bob may speak in #den again", "<bob> thanks"]);
});

Deno.test("room authority: a server operator's mute holds in every room", () => {
  const h = den(3);
  say(h, 3, "/op letmein");
  assert.deepEqual(say(h, 3, "/mute bob 10m"), ["bob is muted on this server for 10m."]);
  assert.deepEqual(h.read(2), ["cat muted you on this server for 10m: your lines are not shown."]);
  h.send(2, "/join elsewhere");
  h.read(2);
  h.read(1);
  assert.match(say(h, 2, "hi")[0], /^You are muted on this server by cat for 10m more/);
  // A room operator cannot lift it.
  h.read(3);
  assert.deepEqual(say(h, 1, "/unmute bob"), ["bob is not muted in #den."]);
  assert.deepEqual(say(h, 3, "/unmute bob"), ["bob may speak again."]);
});

Deno.test("room authority: moderated rooms: operators and voiced people speak, others are told", () => {
  const h = den(3);
  assert.deepEqual(say(h, 1, "/room moderated on"), [
    "Done: #den is moderated: only its operators and people with a voice (/room voice NICK) speak.",
  ]);
  h.read(2);
  h.read(3);
  assert.deepEqual(say(h, 2, "may I?"), [
    "#den is moderated: only its operators and people they give a voice may speak. Your line was not shown.",
  ]);
  assert.deepEqual(h.read(1), []);
  assert.equal(h.hub.strikesOf("10.0.0.2"), 0);
  assert.deepEqual(say(h, 1, "/room voice bob"), ["bob may speak in #den."]);
  assert.deepEqual(h.read(2), ["ann gave you a voice in #den: you may speak there."]);
  h.send(2, "thank you");
  assert.deepEqual(h.read(3), ["<bob> thank you"]);
  h.send(1, "owner speaks");
  assert.deepEqual(h.read(3), ["<ann> owner speaks"]);
  assert.ok(say(h, 3, "/who").some((l) => /bob \(voice\)/.test(l)));
  h.read(1);
  assert.deepEqual(say(h, 1, "/room devoice bob"), ["bob has no voice in #den now."]);
  h.read(2);
  assert.match(say(h, 2, "again")[0], /^#den is moderated/);
  const rooms = say(h, 3, "/rooms");
  assert.ok(rooms.some((l) => /#den .*moderated/.test(l)), rooms.join("\n"));
});

Deno.test("room authority: slow mode: one line per window each, from the last line shown", () => {
  const h = den(3);
  assert.deepEqual(say(h, 1, "/room slow 10s"), [
    "Done: #den is in slow mode: one line per 10s each (operators are exempt).",
  ]);
  h.read(2);
  h.read(3);
  h.send(2, "first");
  assert.deepEqual(h.read(3), ["<bob> first"]);
  h.advance(3 * SEC);
  assert.deepEqual(say(h, 2, "too soon"), [
    "#den is in slow mode (one line per 10s each): you may speak again in 7 seconds. Your line was not shown.",
  ]);
  assert.deepEqual(h.read(3), []);
  assert.equal(h.hub.strikesOf("10.0.0.2"), 0, "the room's pace is not spam");
  h.advance(6 * SEC);
  assert.match(say(h, 2, "still soon")[0], /again in 1 second\./);
  h.advance(SEC);
  h.send(2, "now");
  assert.deepEqual(h.read(3), ["<bob> now"]);
  // Operators are exempt; each person has their own window.
  h.send(1, "one", "two");
  h.send(3, "mine");
  assert.deepEqual(h.read(2), ["<ann> one", "<ann> two", "<cat> mine"]);
  assert.ok(say(h, 3, "/rooms").some((l) => /#den .*slow 10s/.test(l)));
  h.read(1);
  assert.deepEqual(say(h, 1, "/room slow 0.1s"), ["Slow mode is between 1s and 1h (or off)."]);
  say(h, 1, "/room slow off");
  h.send(2, "free", "flowing");
  assert.deepEqual(h.read(3).slice(-2), ["<bob> free", "<bob> flowing"]);
});

Deno.test("room authority: invite-only: only invited people enter, and an invitation lasts 10 minutes", () => {
  const h = den(1);
  h.open(2, "10.0.0.2");
  h.open(3, "10.0.0.3");
  h.send(2, "/nick bob");
  h.send(3, "/nick cat");
  h.read(2);
  h.read(3);
  say(h, 1, "/room invite-only on");
  assert.deepEqual(say(h, 2, "/join den"), [
    "#den is invite-only: ask one of its operators for an /invite.",
  ]);
  assert.deepEqual(say(h, 1, "/invite bob"), ["Invited bob to #den for 10m."]);
  assert.deepEqual(h.read(2), ["ann invites you to #den: /join den (for 10m)"]);
  assert.match(say(h, 2, "/join den")[0], /^You are now in #den/);
  assert.deepEqual(say(h, 2, "/invite cat"), [
    "#den is invite-only: only its operators can invite.",
  ]);
  say(h, 1, "/invite cat");
  h.read(3);
  h.advance(11 * MIN);
  assert.deepEqual(say(h, 3, "/join den"), [
    "#den is invite-only: ask one of its operators for an /invite.",
  ]);
});

Deno.test("room authority: topic-lock and /room key", () => {
  const h = den(2);
  say(h, 1, "/room topic-lock on");
  h.read(2);
  assert.deepEqual(say(h, 2, "/topic mine now"), [
    "The topic of #den is locked: only its operators can change it.",
  ]);
  assert.deepEqual(say(h, 1, "/topic the plan"), ["The topic of #den is now: the plan"]);
  assert.deepEqual(say(h, 1, "/room key s3cret"), [
    "Done: #den has a new key: only those who know it can join.",
  ]);
  h.send(2, "/part");
  h.read(2);
  assert.deepEqual(say(h, 2, "/join den"), ["#den has a key: /join den KEY"]);
  assert.match(say(h, 2, "/join den s3cret")[0], /^You are now in #den/);
  h.read(1);
  assert.deepEqual(say(h, 1, "/room key off"), ["Done: #den has no key now."]);
  assert.deepEqual(say(h, 1, "/room topic-lock maybe"), ["Usage: /room topic-lock on|off"]);
});

Deno.test("room authority: the lobby is run by server operators only", () => {
  const h = new HubHarness({ rateLimit: 0, adminToken: "letmein" });
  h.crowd(2);
  assert.deepEqual(say(h, 1, "/room slow 5s"), [
    "Only server operators can do that in #lobby. Operators get in with /op TOKEN.",
  ]);
  say(h, 1, "/op letmein");
  assert.match(say(h, 1, "/room slow 5s")[0], /^Done: #lobby is in slow mode/);
  assert.deepEqual(say(h, 1, "/room op x"), [
    "#lobby has no owner or operators: server operators run it.",
  ]);
});

Deno.test("room authority: mode changes count against the rate limit like lines", () => {
  const h = new HubHarness({ adminToken: "letmein" });
  h.crowd(1);
  h.advance(SEC);
  h.send(1, "/join den");
  h.read(1);
  h.advance(SEC);
  h.send(1, "/room slow 5s");
  h.send(1, "/room moderated on");
  const told = h.read(1);
  assert.ok(told.some((l) => /strike 1 of 5/.test(l)), told.join("\n"));
  assert.equal(h.hub.strikesOf("10.0.0.1"), 1);
});

Deno.test("room authority: every action goes to the audit log; /audit shows it to server operators", () => {
  const h = den(3);
  say(h, 1, "/room op bob");
  say(h, 2, "/mute cat 2m");
  say(h, 1, "/room moderated on");
  h.read(3);
  assert.deepEqual(h.audits.map((a) => [a.action, a.by, a.target, a.room, a.detail]), [
    ["room op", "ann", "bob", "#den", ""],
    ["mute", "bob", "cat", "#den", "2m"],
    ["room moderated", "ann", "", "#den", "on"],
  ]);
  assert.equal(h.audits[0].address, "10.0.0.1");
  assert.deepEqual(say(h, 3, "/audit"), [
    "Only operators can do that. Operators get in with /op TOKEN.",
  ]);
  say(h, 3, "/op letmein");
  const shown = say(h, 3, "/audit 3");
  assert.equal(shown[0], "The last 3 operator actions:");
  assert.match(shown[3], /cat: operator granted$/);
  assert.match(shown[1], /^ {2}\d{4}-\d\d-\d\d \d\d:\d\d {2}bob: mute cat in #den 2m$/);
  assert.match(shown[2], /ann: room moderated in #den on$/);
});

Deno.test("room authority: in safe mode the audit log holds no addresses", () => {
  const h = den(2, { safeMode: true });
  say(h, 1, "/room op bob");
  assert.equal(h.audits.length, 1);
  assert.equal(h.audits[0].address, "");
});

Deno.test("room authority: an identified owner's settings survive a restart with the room kept", async () => {
  const store = new MemoryStore();
  const h = new HubHarness({ rateLimit: 0 }, { store });
  h.crowd(2);
  h.send(1, "/nick alice", "/register correct-horse");
  await h.settle();
  h.send(2, "/nick bob", "/register battery-staple");
  await h.settle();
  h.send(1, "/join den");
  h.send(2, "/join den");
  h.send(1, "/room keep on", "/room op bob", "/room slow 30s", "/room topic-lock on");
  h.send(1, "/room ban 192.0.2.9 1d", "/mute bob 1h");
  await h.settle();
  h.read(1);
  // A restart: a new hub from what the store holds now.
  Object.assign(store.start, store.snapshot());
  const again = new HubHarness({ rateLimit: 0 }, { store });
  again.open(1, "10.0.0.1");
  again.send(1, "/identify alice correct-horse");
  await again.settle();
  again.send(1, "/join den");
  const joined = again.read(1);
  assert.ok(joined.some((l) => /identified as alice/.test(l)), joined.join("\n"));
  const shown = say(again, 1, "/room");
  assert.ok(shown.includes("  owner: alice"), shown.join("\n"));
  assert.ok(shown.includes("  operators: bob"), shown.join("\n"));
  assert.ok(shown.includes("  slow: 30s"), shown.join("\n"));
  assert.ok(shown.includes("  topic-lock: on"), shown.join("\n"));
  assert.ok(shown.includes("  muted: 1, banned: 1"), shown.join("\n"));
  assert.equal(shown.at(-1), "You may change them: /room help lists how.");
});

Deno.test("room authority: settings from another process are applied, checked", () => {
  const h = new HubHarness({ rateLimit: 0 }, { node: "me" });
  h.fromCluster({
    kind: "snapshot",
    snap: { members: [], rooms: [], bans: [], history: [] },
    reset: false,
  });
  h.crowd(1);
  h.send(1, "/join den");
  h.read(1);
  h.fromCluster({
    kind: "bus",
    bus: {
      kind: "room",
      node: "other",
      room: "den",
      seq: 5,
      ev: {
        t: "auth",
        a: {
          owner: ["zed", "", ""],
          modes: { m: 1, slow: 5000 },
          ops: [["@bob", "bob"], ["bad holder", "x"], ["@eve", "not a nick!"]],
        },
        key: "",
        by: "zed",
        notice: "#den is moderated now",
      },
    },
  });
  const shown = say(h, 1, "/room");
  assert.equal(shown[0], "*** #den is moderated now", "the change is told to the room here");
  assert.ok(shown.includes("  owner: zed"), shown.join("\n"));
  assert.ok(shown.includes("  operators: bob"), shown.join("\n"));
  assert.ok(shown.includes("  moderated: on"), shown.join("\n"));
  assert.ok(shown.includes("  slow: 5s"), shown.join("\n"));
  assert.match(say(h, 1, "hello")[0], /^#den is moderated/);
});

Deno.test("room authority: a change is proposed to the other processes with the whole state", () => {
  const h = new HubHarness({ rateLimit: 0 }, { node: "me" });
  h.fromCluster({
    kind: "snapshot",
    snap: { members: [], rooms: [], bans: [], history: [] },
    reset: false,
  });
  h.crowd(1);
  h.send(1, "/join den", "/room invite-only on");
  const auth = h.cluster.filter((o) => o.op === "room" && o.ev.t === "auth");
  assert.equal(auth.length, 2, "the room's owner when it is made, then the change");
  const ev = (auth[1] as { ev: { a: Record<string, unknown> } }).ev;
  assert.deepEqual(ev.a.modes, { i: 1 });
  assert.deepEqual((ev.a.owner as string[]).slice(1), ["s:me:1", h.hub.nickOf(1)]);
});

Deno.test("room authority: behind one address (a NAT), a mute never silences who runs the room", () => {
  const h = new HubHarness({ rateLimit: 0 });
  h.open(1, "10.0.0.1");
  h.open(2, "10.0.0.1");
  h.open(3, "10.0.0.3");
  h.send(1, "/nick teacher", "/join class");
  h.send(2, "/nick pupil", "/join class");
  h.send(3, "/nick other", "/join class");
  for (const id of [1, 2, 3]) h.read(id);
  assert.deepEqual(say(h, 1, "/mute pupil 10m"), ["pupil is muted in #class for 10m."]);
  h.read(3);
  h.send(1, "the teacher still speaks");
  assert.deepEqual(h.read(3), ["<teacher> the teacher still speaks"]);
  h.read(2);
  assert.match(say(h, 2, "me too?")[0], /^You are muted in #class/);
  assert.deepEqual(say(h, 1, "/room ban 10.0.0.1"), ["That would ban your own address."]);
});
