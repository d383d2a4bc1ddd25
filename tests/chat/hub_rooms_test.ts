/** Rooms in the hub, with a fake clock and no sockets: every command, notice, limit, and isolation. */
import assert from "node:assert/strict";
import type { Config } from "../../src/ops/config.ts";
import { HubHarness } from "../support/helpers.ts";

const SEC = 1_000;

/** A harness with `n` members in the lobby, named p1…pn. */
function people(n: number, over: Partial<Config> = {}) {
  const h = new HubHarness({ roomRate: { burst: 0, per: 0 }, ...over });
  h.crowd(n);
  for (let i = 1; i <= n; i++) {
    h.advance(SEC);
    h.send(i, `/nick p${i}`);
  }
  for (let i = 1; i <= n; i++) h.read(i);
  /** Client `id` types `line` a second after the last one (inside the rate limit). */
  const type = (id: number, line: string) => {
    h.advance(SEC);
    h.send(id, line);
  };
  return { h, type };
}

Deno.test("rooms: everyone starts in the lobby; /join makes a room and moves you, both rooms told", () => {
  const h = new HubHarness();
  assert.match(h.open(1)[1], /^Welcome to Shat! You are guest-\d+ in #lobby;/);
  const { h: r, type } = people(3);
  type(1, "/join team");
  assert.deepEqual(r.read(1), ["You are now in #team; you are the only one here."]);
  assert.deepEqual(r.read(2), ["*** p1 left for #team"]);
  assert.deepEqual(r.read(3), ["*** p1 left for #team"]);
  type(2, "/join #Team");
  assert.deepEqual(r.read(2), ["You are now in #team; 2 people are here."], "# optional, any case");
  assert.deepEqual(r.read(1), ["*** p2 joined"]);
  assert.deepEqual(r.read(3), ["*** p2 left for #team"]);
  type(2, "/join team");
  assert.deepEqual(r.read(2), ["You are already in #team."]);
  assert.ok(h.hub.roomCount === 1);
});

Deno.test("rooms: nothing leaks across rooms: lines, actions, renames, joins and leaves", () => {
  const { h, type } = people(4);
  type(1, "/join team");
  type(2, "/join team");
  for (const id of [1, 2, 3, 4]) h.read(id);
  type(1, "team secret plan");
  type(1, "/me whispers");
  type(1, "/nick captain");
  assert.deepEqual(h.read(1), ["You are now captain."]);
  assert.deepEqual(h.read(2), ["<p1> team secret plan", "* p1 whispers", "*** p1 is now captain"]);
  assert.deepEqual(h.read(3), [], "the lobby sees none of it");
  type(3, "lobby chatter");
  assert.deepEqual(h.read(4), ["<p3> lobby chatter"]);
  assert.deepEqual(h.read(1), []);
  assert.deepEqual(h.read(2), []);
  h.hangUp(2);
  assert.deepEqual(h.read(1), ["*** p2 left (connection closed)"]);
  assert.deepEqual(h.read(3), [], "a leave is told where the person was");
});

Deno.test("rooms: /part goes back to the lobby; an empty room goes away with its history", () => {
  const { h, type } = people(2);
  type(1, "/join den");
  type(1, "remember this");
  h.read(1);
  h.read(2);
  type(1, "/part");
  assert.deepEqual(h.read(1), ["You are now in #lobby; 2 people are here."]);
  assert.deepEqual(h.read(2), ["*** p1 joined"]);
  assert.equal(h.hub.roomCount, 1, "#den is gone");
  assert.match(h.log.text(), /INFO room emptied room=#den/);
  type(1, "/part");
  assert.deepEqual(h.read(1), ["You are in #lobby; /join ROOM goes elsewhere."]);
  type(2, "/join den");
  assert.deepEqual(h.read(2), ["You are now in #den; you are the only one here."], "no history");
});

Deno.test("rooms: a newcomer to a room is shown its topic and its own history, not the lobby's", () => {
  const { h, type } = people(3);
  type(3, "lobby talk");
  type(1, "/join games");
  type(1, "/topic chess tonight");
  type(1, "e4!");
  type(1, "/me thinks");
  h.read(1);
  h.read(2);
  type(2, "/join games");
  assert.deepEqual(h.read(2), [
    "You are now in #games; 2 people are here.",
    "Topic: chess tonight (set by p1)",
    "-- history: the last 2 messages --",
    "[12:00] <p1> e4!",
    "[12:00] * p1 thinks",
    "-- end of history --",
  ]);
  type(2, "/part");
  const lobby = h.read(2);
  assert.ok(lobby.includes("[12:00] <p3> lobby talk"), lobby.join("\n"));
  assert.ok(!lobby.some((l) => l.includes("e4!")));
});

Deno.test("rooms: /topic shows, sets and clears, and only the room is told", () => {
  const { h, type } = people(3);
  type(1, "/join team");
  type(2, "/join team");
  for (const id of [1, 2, 3]) h.read(id);
  type(1, "/topic");
  assert.deepEqual(h.read(1), ["#team has no topic. /topic TEXT sets one."]);
  type(1, "/topic ship it by friday");
  assert.deepEqual(h.read(1), ["The topic of #team is now: ship it by friday"]);
  assert.deepEqual(h.read(2), ["*** p1 set the topic: ship it by friday"]);
  assert.deepEqual(h.read(3), []);
  type(2, "/topic");
  assert.deepEqual(h.read(2), ["The topic of #team: ship it by friday (set by p1)"]);
  type(2, "/topic -");
  assert.deepEqual(h.read(1), ["*** p2 cleared the topic"]);
  type(1, "/topic " + "x".repeat(500));
  assert.equal(h.read(1)[0], `The topic of #team is now: ${"x".repeat(200)}`, "at most 200");
});

Deno.test("rooms: /rooms lists name, people and topic; keyed rooms are marked and keep their topic", () => {
  const { h, type } = people(4);
  type(1, "/join open-room");
  type(1, "/topic come in");
  type(2, "/join vault s3cret");
  type(2, "/topic gold bars");
  h.read(3);
  type(3, "/rooms");
  assert.deepEqual(h.read(3), [
    "3 rooms:",
    "  #lobby        2 people (you are here)",
    "  #open-room    1 person  come in",
    "  #vault        1 person (key)",
  ]);
  h.read(2);
  type(2, "/rooms");
  assert.ok(h.read(2).includes("  #vault        1 person (key, you are here)  gold bars"));
});

Deno.test("rooms: /who lists your room, /who ROOM another (not a keyed one), with the online total", () => {
  const { h, type } = people(4);
  type(1, "/join team");
  type(2, "/join team");
  type(4, "/join vault k3y");
  h.read(3);
  type(3, "/who");
  const mine = h.read(3);
  assert.equal(mine[0], "1 in #lobby (4 online):");
  assert.match(mine[1], /p3 \(you\)/);
  type(3, "/who TEAM");
  const team = h.read(3);
  assert.equal(team[0], "2 in #team (4 online):");
  assert.ok(team.some((l) => l.includes("p1")) && team.some((l) => l.includes("p2")));
  type(3, "/who vault");
  assert.deepEqual(h.read(3), ["#vault has a key: only its members see who is in it."]);
  type(3, "/who nowhere");
  assert.deepEqual(h.read(3), ["There is no room nowhere. /rooms lists the rooms."]);
});

Deno.test("rooms: /msg, /reply and /ignore work across rooms", () => {
  const { h, type } = people(3);
  type(1, "/join far");
  h.read(1);
  h.read(2);
  type(2, "/msg p1 you there?");
  assert.deepEqual(h.read(1), ["[private] <p2> you there?"]);
  type(1, "/reply yes");
  assert.deepEqual(h.read(2), ["[private to p1] you there?", "[private] <p1> yes"]);
  type(1, "/ignore p2");
  h.read(1);
  type(2, "/msg p1 again");
  assert.deepEqual(h.read(1), [], "ignored from another room too");
});

Deno.test("rooms: operators /kick and /ban from any room", () => {
  const { h, type } = people(3, { adminToken: "k" });
  type(1, "/op k");
  type(1, "/join ops");
  type(2, "/join hideout");
  h.read(1);
  type(1, "/kick p2 behave");
  assert.deepEqual(h.read(1), ["Kicked p2."]);
  assert.equal(h.closed.get(2), "flush");
  type(1, "/ban p3 1h");
  assert.match(h.read(1)[0], /^Banned p3's address for 1h; 1 connection closed\.$/);
});

Deno.test("rooms: a key keeps a room closed; a wrong key is a strike that good lines do not wash away", () => {
  const { h, type } = people(3, { maxStrikes: 3 });
  type(1, "/join vault s3cret");
  assert.deepEqual(h.read(1), [
    "You are now in #vault; you are the only one here.",
    "It has a key: only those who know it can join.",
  ]);
  h.read(2);
  type(2, "/join vault");
  assert.deepEqual(h.read(2), ["#vault has a key: /join vault KEY"]);
  type(2, "/join vault guess");
  assert.deepEqual(h.read(2), ["Wrong key for #vault. (strike 1 of 3)"]);
  type(2, "a polite line");
  type(2, "another polite line");
  assert.equal(h.hub.strikesOf("10.0.0.2"), 1, "not offset");
  h.read(1);
  type(2, "/join vault s3cret");
  assert.deepEqual(h.read(2), ["You are now in #vault; 2 people are here."]);
  assert.deepEqual(h.read(1), ["*** p2 joined"]);
  assert.ok(!h.log.text().includes("s3cret") && !h.log.text().includes("guess"), "never logged");
  // The key goes with the room when it empties.
  type(1, "/part");
  type(2, "/part");
  type(3, "/join vault");
  assert.deepEqual(h.read(3).at(-1), "You are now in #vault; you are the only one here.");
});

Deno.test("rooms: bad names get one line and you stay where you were", () => {
  const { h, type } = people(1);
  for (const bad of ["/join bad!name", "/join " + "x".repeat(25), "/join #", "/join caf\u00e9"]) {
    type(1, bad);
    assert.deepEqual(
      h.read(1),
      ["Room names are 1–24 letters, digits, - and _ (like #team-1)."],
      bad,
    );
  }
  type(1, "/join");
  assert.deepEqual(h.read(1), ["Usage: /join ROOM [KEY]"]);
  type(1, "/who");
  assert.match(h.read(1)[0], /in #lobby/);
});

Deno.test("rooms: --max-rooms and the room-making pace of one address are limits", () => {
  const { h, type } = people(3, { maxRooms: 3 });
  type(1, "/join a");
  type(2, "/join b");
  h.read(3);
  type(3, "/join c");
  assert.deepEqual(h.read(3), ["There are already 3 rooms; join one of them (/rooms lists them)."]);
  type(3, "/join a");
  assert.match(h.read(3)[0], /^You are now in #a/, "joining an existing room is fine");
  const k = new HubHarness({ roomRate: { burst: 2, per: 60 * SEC } });
  k.crowd(1);
  for (const name of ["x", "y"]) {
    k.advance(SEC);
    k.send(1, `/join ${name}`);
  }
  k.read(1);
  k.advance(SEC);
  k.send(1, "/join z");
  assert.deepEqual(k.read(1), ["You are making rooms too fast; try again in 28s."]);
});

Deno.test("rooms: joining is rate limited like any line", () => {
  const { h } = people(1);
  h.advance(SEC);
  h.send(1, "/join a", "/join b");
  const told = h.read(1);
  assert.ok(told.includes("Slow down: that line was not sent. (strike 1 of 5)"), told.join("\n"));
});

Deno.test("rooms: join and leave notices follow --announce-max per room", () => {
  const h = new HubHarness({ announceMax: 2, roomRate: { burst: 0, per: 0 } });
  h.crowd(4); // the lobby holds 4: above the limit
  h.advance(SEC);
  h.send(1, "/join small");
  h.read(1);
  assert.deepEqual(h.read(2), [], "leaving a big lobby: quiet");
  h.advance(SEC);
  h.send(2, "/join small");
  assert.deepEqual(h.read(1), [`*** ${h.hub.nickOf(2)} joined`], "a small room is told");
});

Deno.test("rooms: a character-mode client's prompt names its room", () => {
  const { h, type } = people(1);
  h.hub.handle({ type: "terminal", id: 1, charMode: true }, h.now);
  assert.equal(h.prompts.get(1), "[p1 #lobby] ");
  type(1, "/join den");
  assert.equal(h.prompts.get(1), "[p1 #den] ");
});

Deno.test("rooms: the log says when rooms are made, emptied and joined", () => {
  const { h, type } = people(1);
  type(1, "/join den k3y");
  type(1, "/part");
  const log = h.log.text();
  assert.match(log, /INFO room created room=#den client=1 nick=p1 key=yes/);
  assert.match(log, /INFO join room client=1 nick=p1 room=#den from=#lobby/);
  assert.match(log, /INFO room emptied room=#den/);
  assert.ok(!log.includes("k3y"));
});
