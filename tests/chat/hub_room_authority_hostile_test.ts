/**
 * Rooms run by their people, reviewed as a hostile user: each test here shows a way around the
 * rules (ops gained or kept, a room silenced or slowed, a ban, a mute or an invitation bypassed,
 * state not cleaned, forged cluster data). Hub with a fake clock, no sockets.
 */
import assert from "node:assert/strict";
import { AUTH_RULES, readAuth } from "../../src/chat/authority.ts";
import type { ClusterOut } from "../../src/cluster/bus.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { HubHarness } from "../support/helpers.ts";
import { den, say } from "../support/rooms.ts";

const SEC = 1_000;
const MIN = 60 * SEC;

/** A hub that is one of several processes (node "me"), linked. */
function clustered(): HubHarness {
  const h = new HubHarness({ rateLimit: 0, adminToken: "letmein" }, { node: "me" });
  h.fromCluster({
    kind: "snapshot",
    snap: { members: [], rooms: [], bans: [], history: [] },
    reset: false,
  });
  return h;
}

/** The link came back: Redis has #den with these settings, and nobody else. */
function resync(h: HubHarness, auth: Record<string, unknown>): void {
  h.fromCluster({
    kind: "snapshot",
    snap: {
      members: [],
      rooms: [{ id: "den", name: "den", topic: "", topicBy: "", key: "", auth }],
      bans: [],
      history: [],
    },
    reset: false,
  });
}

/** The last `auth` event this process proposed for `room`. */
function lastAuth(h: HubHarness, room: string): Record<string, unknown> {
  const all = h.cluster.filter((o): o is ClusterOut & { op: "room" } =>
    o.op === "room" && o.room === room && o.ev.t === "auth"
  );
  const ev = all.at(-1)!.ev as { a: Record<string, unknown> };
  return ev.a;
}

// ---- Slow mode --------------------------------------------------------------------------------

Deno.test("hostile: slow mode is not reset by /part and /join", () => {
  const h = den(3);
  say(h, 1, "/room slow 1h");
  h.read(2);
  h.read(3);
  h.send(2, "first");
  assert.deepEqual(h.read(3), ["<bob> first"]);
  h.send(2, "/part", "/join den");
  h.read(2);
  h.read(3);
  h.send(2, "second, a second later");
  assert.deepEqual(
    h.read(3),
    [],
    "leaving and coming back must not start a fresh slow-mode window",
  );
});

// ---- The owner is out of a room operator's reach -----------------------------------------------

Deno.test("hostile: a room operator cannot ban the owner's account while the owner is away", async () => {
  const store = new MemoryStore();
  const h = new HubHarness({ rateLimit: 0 }, { store });
  h.crowd(2);
  h.send(1, "/nick alice", "/register correct-horse");
  await h.settle();
  h.send(1, "/join den");
  h.send(2, "/nick bob", "/join den");
  h.read(1);
  h.read(2);
  assert.match(say(h, 1, "/room").join("\n"), /owner: alice/);
  h.send(1, "/room op bob");
  h.read(2);
  h.hangUp(1); // alice goes home for the night; bob stays
  const told = say(h, 2, "/room ban alice 7d");
  assert.deepEqual(told.slice(-1), ["alice owns #den."], "refused as when she is here");
  // And she can come back to her room.
  h.open(3, "10.0.0.1");
  h.send(3, "/identify alice correct-horse");
  await h.settle();
  h.read(3);
  assert.match(say(h, 3, "/join den")[0], /^You are now in #den/);
});

// ---- Accounts gone, names reused ---------------------------------------------------------------

Deno.test("hostile: a deleted account's operator role does not pass to the next one to register the name", async () => {
  const store = new MemoryStore();
  const h = new HubHarness({ rateLimit: 0 }, { store });
  h.crowd(2);
  h.send(1, "/nick ann", "/join den");
  h.send(2, "/nick bob", "/register battery-staple");
  await h.settle();
  h.send(2, "/join den");
  h.read(1);
  h.read(2);
  assert.deepEqual(say(h, 1, "/room op bob"), ["bob is now an operator of #den."]);
  h.send(2, "/unregister battery-staple");
  await h.settle();
  h.hangUp(2);
  // Someone else takes the free name.
  h.open(3, "10.0.0.3");
  h.send(3, "/nick bob", "/register mallory-pass");
  await h.settle();
  h.send(3, "/join den");
  h.read(3);
  h.read(1);
  assert.match(say(h, 3, "/room moderated on")[0], /^Only #den's operators can do that/);
  assert.ok(!say(h, 1, "/room").includes("  operators: bob"), "bob's role went with the account");
});

// ---- Cluster: settings of people who left, concurrent changes ----------------------------------

Deno.test("hostile: after a resync, a guest operator who left is not an operator again", () => {
  const h = clustered();
  h.crowd(2);
  h.send(1, "/nick ann", "/join den");
  h.send(2, "/nick bob", "/join den");
  say(h, 1, "/room op bob");
  h.send(2, "/part");
  h.read(1);
  h.read(2);
  assert.match(say(h, 1, "/room").join("\n"), /operators: none/);
  // The link blips; Redis's copy of the room's settings is the last one proposed.
  resync(h, lastAuth(h, "den"));
  h.read(1);
  h.read(2);
  assert.match(say(h, 1, "/room").join("\n"), /operators: none/);
  h.send(2, "/join den");
  h.read(2);
  assert.match(say(h, 2, "/room slow 1h")[0], /^Only #den's operators can do that/);
});

Deno.test("hostile: after a resync, a guest owner who left does not own the room again", () => {
  const h = clustered();
  h.crowd(2);
  h.send(1, "/nick ann", "/join den");
  h.send(2, "/nick bob", "/join den");
  say(h, 1, "/room topic-lock on");
  h.send(1, "/part");
  h.read(1);
  h.read(2);
  assert.match(say(h, 2, "/room").join("\n"), /owner: nobody/);
  resync(h, lastAuth(h, "den"));
  h.read(1);
  h.read(2);
  assert.match(say(h, 2, "/room").join("\n"), /owner: nobody/);
});

Deno.test("hostile: a change made here is not lost to a concurrent change from another process", () => {
  const h = clustered();
  h.crowd(1);
  h.send(1, "/nick ann", "/join den");
  h.read(1);
  assert.deepEqual(say(h, 1, "/room ban 192.0.2.9 1d"), ["192.0.2.9 is banned from #den for 1d."]);
  const mine = h.cluster.filter((o) => o.op === "room" && o.ev.t === "auth").at(-1)! as
    & ClusterOut
    & { op: "room" };
  // Another process's change, made before it heard of ours, is ordered first; ours comes next.
  h.fromCluster({
    kind: "bus",
    bus: {
      kind: "room",
      node: "other",
      room: "den",
      seq: 10,
      ev: {
        t: "auth",
        a: { owner: ["", "s:me:1", "ann"], modes: { m: 1 } },
        key: "",
        by: "zed",
        notice: "",
      },
    },
  });
  h.fromCluster({
    kind: "bus",
    bus: { kind: "room", node: "me", room: "den", seq: 11, ev: mine.ev },
  });
  h.read(1);
  // Every other process applied the two in this order and has the ban: so must this one.
  const bans = say(h, 1, "/room bans");
  assert.equal(bans[0], "1 banned from #den:", bans.join("\n"));
});

// ---- Invitations ------------------------------------------------------------------------------

Deno.test("hostile: invitations that ran out do not fill the room's 500 places for good", () => {
  const h = new HubHarness({ rateLimit: 0, adminToken: "letmein" });
  h.crowd(502, (i) => `10.1.${i >> 8}.${i & 255}`);
  h.send(1, "/join den");
  h.read(1);
  for (let i = 2; i <= 501; i++) h.send(1, `/invite ${h.hub.nickOf(i)}`);
  assert.match(h.read(1).at(-1)!, /^Invited /);
  h.advance(11 * MIN); // every invitation has run out
  for (let i = 2; i <= 502; i++) h.read(i);
  assert.match(say(h, 1, `/invite ${h.hub.nickOf(502)}`)[0], /^Invited /);
});

Deno.test("hostile: someone who is not an operator fills no audit log with invitations", () => {
  const h = den(3);
  h.open(4, "10.0.0.4");
  h.send(4, "/nick dan");
  h.read(4);
  const before = h.audits.length;
  for (let i = 0; i < 5; i++) say(h, 3, "/invite dan");
  assert.deepEqual(
    h.audits.slice(before).map((a) => [a.action, a.by]),
    [],
    "/invite in an open room is not an operator action: it would push real ones out of /audit",
  );
});

Deno.test("hostile: an invitation from someone you ignore is not shown", () => {
  const h = den(1);
  h.open(2, "10.0.0.2");
  h.send(2, "/nick bob", "/ignore ann");
  h.read(2);
  say(h, 1, "/invite bob");
  assert.deepEqual(h.read(2), [], "ignoring someone hides their invitations too");
});

// ---- The lobby ----------------------------------------------------------------------------------

Deno.test("hostile: the lobby cannot be made invite-only (nobody could go back to it)", () => {
  const h = den(2);
  h.open(3, "10.0.0.3");
  h.send(3, "/op letmein");
  h.read(3);
  const told = say(h, 3, "/room invite-only on");
  const back = say(h, 2, "/part");
  assert.match(
    back.join("\n"),
    /^You are now in #lobby/,
    `server op was told ${JSON.stringify(told)}; /part then said ${JSON.stringify(back)}`,
  );
});

// ---- What is shown ------------------------------------------------------------------------------

Deno.test("hostile: a guest owner who changes nick is shown under the new nick, not the old one", () => {
  const h = den(3);
  say(h, 1, "/nick zed");
  say(h, 3, "/nick ann"); // an impostor takes the owner's old nick
  h.read(2);
  const shown = say(h, 2, "/room");
  assert.ok(shown.includes("  owner: zed"), shown.join("\n"));
  assert.deepEqual(say(h, 2, "/room op cat"), [
    "Only #den's operators can do that (its owner is zed).",
  ]);
});

Deno.test("hostile: an operator who changed nick can be removed by the new nick", () => {
  const h = den(2);
  say(h, 1, "/room op bob");
  say(h, 2, "/nick bobby");
  h.read(1);
  assert.deepEqual(say(h, 1, "/room deop bobby"), ["bobby is no longer an operator of #den."]);
});

// ---- Forged settings from the cluster or the store ---------------------------------------------

Deno.test("hostile: readAuth keeps terminal controls and over-long settings out", () => {
  const esc = "\x1b[2J\x1b[31mEVIL";
  const a = readAuth({
    owner: [esc, "", ""],
    modes: { slow: 24 * 3_600_000 },
    bans: [[[`@${esc}`], Date.UTC(9000, 0, 1), "server", "", "x"]],
  }, AUTH_RULES);
  assert.equal(a.owner, "", "an owner account with control characters is refused");
  assert.equal(a.bans.size, 0, "a ban key with control characters is refused");
  assert.ok(a.slowMs <= 3_600_000, "slow mode is at most an hour, as /room slow allows");
});

// ---- More bypasses ----------------------------------------------------------------------------

Deno.test("hostile: a muted person cannot say it in the topic instead", () => {
  const h = den(2);
  say(h, 1, "/mute bob 1h");
  h.read(2);
  const told = say(h, 2, "/topic BUY CHEAP STUFF at example.com");
  assert.deepEqual(h.read(1), [], `the room saw the muted line as a topic; bob was told ${told}`);
  assert.match(told.join("\n"), /muted/);
});

Deno.test("hostile: an invitation is not used up by a join refused for a missing key", () => {
  const h = den(1);
  h.open(2, "10.0.0.2");
  h.send(2, "/nick bob");
  h.read(2);
  say(h, 1, "/room key s3cret");
  say(h, 1, "/room invite-only on");
  say(h, 1, "/invite bob");
  h.read(2);
  assert.deepEqual(say(h, 2, "/join den"), ["#den has a key: /join den KEY"]);
  assert.match(say(h, 2, "/join den s3cret")[0], /^You are now in #den/);
});

Deno.test("hostile: a room operator cannot lock the owner out of the room with a new key", async () => {
  const store = new MemoryStore();
  const h = new HubHarness({ rateLimit: 0 }, { store });
  h.crowd(2);
  h.send(1, "/nick alice", "/register correct-horse");
  await h.settle();
  h.send(1, "/join den");
  h.send(2, "/nick bob", "/join den");
  h.send(1, "/room op bob");
  h.read(1);
  h.read(2);
  h.hangUp(1);
  say(h, 2, "/room key only-bob-knows");
  h.open(3, "10.0.0.1");
  h.send(3, "/identify alice correct-horse");
  await h.settle();
  h.read(3);
  const joined = say(h, 3, "/join den");
  assert.match(joined[0], /^You are now in #den/, `the owner was told ${JSON.stringify(joined)}`);
});

Deno.test("hostile: a resync does not take a room from its owner (Redis has auth {} until a change)", () => {
  const h = clustered();
  h.crowd(2);
  h.send(1, "/nick ann", "/join den");
  h.send(2, "/nick bob", "/join den");
  h.read(1);
  h.read(2);
  // The room was made afresh: the link wrote its meta with `auth: {}`. The link blips.
  resync(h, {});
  h.read(1);
  h.read(2);
  assert.match(say(h, 2, "/room").join("\n"), /owner: ann/);
  assert.match(say(h, 1, "/room moderated on")[0], /^Done: #den is moderated/);
});
