/** /bot on: scripts on the raw port get one JSON object per line, and no chatter. */
import assert from "node:assert/strict";
import { MemoryStore } from "../../src/store/memory.ts";
import { HubHarness } from "../support/helpers.ts";

const SEC = 1_000;

/** Every line `id` was sent, parsed as JSON (a line that is not JSON fails the test). */
function objects(h: HubHarness, id: number): Record<string, string>[] {
  return h.read(id).map((l) => JSON.parse(l));
}

Deno.test("bot mode: every line is one JSON object with time, room, nick, kind and text", () => {
  const h = new HubHarness();
  h.crowd(2);
  h.advance(SEC);
  h.send(1, "/nick ci");
  h.read(1);
  h.advance(SEC);
  h.send(1, "/bot on");
  const told = objects(h, 1);
  assert.equal(told.length, 1);
  assert.equal(told[0].kind, "info");
  assert.match(told[0].text, /^Bot mode on/);
  assert.equal(told[0].time, new Date(h.now).toISOString());
  h.advance(SEC);
  h.read(2);
  h.send(2, "hello ci, build status?");
  h.advance(SEC);
  h.send(2, "/me waits");
  h.advance(SEC);
  h.send(2, "/msg ci psst");
  h.advance(SEC);
  h.send(2, "/topic builds");
  const got = objects(h, 1);
  const nick = h.hub.nickOf(2)!;
  assert.deepEqual(got.map(({ room, nick, kind, text }) => ({ room, nick, kind, text })), [
    { room: "#lobby", nick, kind: "chat", text: "hello ci, build status?" },
    { room: "#lobby", nick, kind: "action", text: "waits" },
    { room: "", nick, kind: "private", text: "psst" },
    { room: "#lobby", nick: "", kind: "notice", text: `${nick} set the topic: builds` },
  ]);
  for (const o of got) assert.match(o.time, /^\d{4}-\d\d-\d\dT/);
  // Text that looks like JSON or has quotes stays one string.
  h.advance(SEC);
  h.send(2, '{"kind":"fake"} "quoted" \\ back');
  assert.equal(objects(h, 1)[0].text, '{"kind":"fake"} "quoted" \\ back');
});

Deno.test("bot mode: no notices of joins and leaves, no history replayed on /join; marked in /who", () => {
  const h = new HubHarness();
  h.crowd(2);
  h.advance(SEC);
  h.send(2, "/join den");
  h.advance(SEC);
  h.send(2, "an earlier line in the den");
  h.advance(SEC);
  h.send(1, "/bot on");
  h.read(1);
  h.advance(SEC);
  h.open(3, "10.0.0.3");
  h.hangUp(3);
  assert.deepEqual(h.read(1), [], "nobody's coming and going");
  h.advance(SEC);
  h.send(1, "/join den");
  const joined = objects(h, 1);
  assert.ok(joined.every((o) => o.kind === "info"), JSON.stringify(joined));
  assert.ok(!joined.some((o) => o.text.includes("an earlier line")), "no history");
  h.advance(SEC);
  h.send(2, "/who");
  assert.ok(h.read(2).some((l) => /\(bot\)/.test(l)));
  h.advance(SEC);
  h.send(1, "/bot off");
  assert.deepEqual(h.read(1), ["Bot mode off."]);
});

Deno.test("bot mode: a bot obeys the rate limit like anyone (told in JSON)", () => {
  const h = new HubHarness();
  h.crowd(2);
  h.advance(SEC);
  h.send(1, "/bot on");
  h.read(1);
  h.advance(SEC);
  h.send(1, "one", "two");
  const told = objects(h, 1);
  assert.equal(told.length, 1);
  assert.equal(told[0].kind, "info");
  assert.match(told[0].text, /Slow down.*strike 1 of 5/);
  assert.equal(h.hub.strikesOf("10.0.0.1"), 1);
});

Deno.test("bot mode: a last word and /history come as JSON too", async () => {
  const h = new HubHarness({ rateLimit: 0 }, { store: new MemoryStore() });
  h.crowd(2);
  h.send(2, "kept for later");
  h.send(1, "/bot on");
  h.read(1);
  h.send(1, "/history");
  await h.settle();
  const page = objects(h, 1);
  assert.deepEqual(page.filter((o) => o.kind === "chat").map((o) => [o.room, o.text]), [
    ["#lobby", "kept for later"],
  ]);
  assert.ok(page.every((o) => o.time), "every object has its time");
  h.send(1, "/quit");
  assert.equal(objects(h, 1).at(-1)!.text, "Goodbye!");
});
