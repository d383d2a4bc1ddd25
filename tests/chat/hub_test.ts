/** The hub as a state machine: fake clock, no sockets. */
import assert from "node:assert/strict";
import { BLANK_FLOOD } from "../../src/chat/hub.ts";
import { HubHarness } from "../support/helpers.ts";

const SEC = 1_000;

Deno.test("hub: a line reaches every other member as <nick> text, never its author", () => {
  const h = new HubHarness();
  const [a, b] = h.crowd(3);
  h.advance(SEC);
  h.send(1, "hello room");
  assert.deepEqual(h.read(1), []);
  assert.deepEqual(h.read(2), [`<${a}> hello room`]);
  assert.deepEqual(h.read(3), [`<${a}> hello room`]);
  h.send(2, "hi");
  assert.deepEqual(h.read(1), [`<${b}> hi`]);
});

Deno.test("hub: welcome banner names the room, the guest nick, the head count and /help", () => {
  const h = new HubHarness({ name: "Hackerspace" }, { motd: ["Pizza at 8."] });
  const first = h.open(1);
  assert.equal(first[0], "Using a screen reader? Type /screenreader on.", "one short line on top");
  assert.match(
    first[1],
    /^Welcome to Hackerspace! You are guest-\d{4} in #lobby; you are the only one/,
  );
  assert.match(first[2], /\/help/);
  assert.equal(first[3], "Pizza at 8.");
  const second = h.open(2);
  assert.match(second[1], /You are guest-\d{4} in #lobby; 2 people are online\./);
  assert.deepEqual(h.read(1), [`*** ${h.hub.nickOf(2)} joined`]);
});

Deno.test("hub: guest nicks are unique", () => {
  const h = new HubHarness();
  const nicks = h.crowd(200);
  assert.equal(new Set(nicks.map((n) => n.toLowerCase())).size, 200);
});

Deno.test("hub: a line sooner than the rate limit is dropped and costs a strike", () => {
  const h = new HubHarness();
  h.crowd(2);
  h.advance(SEC);
  h.send(1, "one");
  h.advance(100);
  h.send(1, "two");
  assert.deepEqual(h.read(2).map((l) => l.split("> ")[1]), ["one"]);
  assert.deepEqual(h.read(1), ["Slow down: that line was not sent. (strike 1 of 5)"]);
  assert.equal(h.hub.strikesOf("10.0.0.1"), 1);
});

Deno.test("hub: an accepted line removes one strike", () => {
  const h = new HubHarness();
  h.crowd(2);
  h.advance(SEC);
  h.send(1, "a");
  h.send(1, "b");
  h.send(1, "c");
  assert.equal(h.hub.strikesOf("10.0.0.1"), 2);
  h.advance(600);
  h.send(1, "calm");
  assert.equal(h.hub.strikesOf("10.0.0.1"), 1);
  h.advance(600);
  h.send(1, "calm again");
  assert.equal(h.hub.strikesOf("10.0.0.1"), 0);
});

Deno.test("hub: rate limit 0 turns limiting off", () => {
  const h = new HubHarness({ rateLimit: 0 });
  h.crowd(2);
  for (let i = 0; i < 50; i++) h.send(1, `line ${i}`);
  assert.equal(h.read(2).length, 50);
  assert.equal(h.hub.strikesOf("10.0.0.1"), 0);
});

Deno.test("hub: the fifth strike bans the address, tells the client and disconnects it", () => {
  const h = new HubHarness();
  const [, b] = h.crowd(2);
  h.advance(SEC);
  for (let i = 0; i < 6; i++) h.send(2, `spam ${i}`);
  const told = h.read(2);
  assert.ok(told.includes("You have been banned for spamming."), told.join("\n"));
  assert.ok(told.includes("The ban ends in 10m."));
  assert.equal(h.closed.get(2), "flush", "closed after the message is flushed");
  assert.equal(h.hub.nickOf(2), undefined);
  assert.ok(h.read(1).includes(`*** ${b} left (banned for spamming)`));
  assert.equal(h.saves.length, 1);
  assert.equal(h.saves[0][0].ip, "10.0.0.2");
  assert.match(h.log.text(), /WARN address banned addr=10\.0\.0\.2 for=10m reason=spamming/);
});

Deno.test("hub: a banned address is refused with the time left until the ban runs out", () => {
  const h = new HubHarness({ banDuration: 60 * SEC, maxStrikes: 2 });
  h.crowd(1);
  h.advance(SEC);
  h.send(1, "x", "y", "z");
  assert.ok(h.closed.has(1));
  h.advance(15 * SEC);
  const refused = h.open(7, "10.0.0.1");
  assert.deepEqual(refused, ["You are still temporarily banned. Try again in 45s."]);
  assert.equal(h.closed.get(7), "refuse", "a refusal is closed at once, no linger");
  assert.equal(h.hub.nickOf(7), undefined);
  // another address is welcome meanwhile
  assert.match(h.open(8, "10.0.0.9")[1], /^Welcome/);
  h.advance(45 * SEC);
  assert.match(h.open(9, "10.0.0.1")[1], /^Welcome/, "welcome again once the ban has run out");
});

Deno.test("hub: strikes belong to the address and survive a reconnect", () => {
  const h = new HubHarness({ maxStrikes: 3 });
  h.crowd(1);
  h.advance(SEC);
  h.send(1, "a", "b", "c"); // two strikes
  h.hangUp(1);
  h.open(2, "10.0.0.1");
  h.advance(SEC);
  h.send(2, "d", "e", "f"); // d is fine (back to one), e and f: the third strike
  assert.ok(h.read(2).includes("You have been banned for spamming."));
});

Deno.test("hub: a reader whose outbox passes the limit is dropped without slowing others", () => {
  const h = new HubHarness({ rateLimit: 0, maxOutbox: 2_000 });
  const [, , c] = h.crowd(3);
  // client 3 never reads: its outbox is never taken
  for (let i = 0; i < 100; i++) {
    h.send(1, `line ${i} ${"x".repeat(40)}`);
    h.read(2);
  }
  assert.equal(h.closed.get(3), "drop", "dropped at once, nothing flushed");
  assert.equal(h.outboxes.get(3)!.bytes, 0, "its queue is freed");
  assert.equal(h.hub.nickOf(3), undefined);
  assert.match(h.log.text(), /WARN slow reader disconnected client=3/);
  assert.match(h.log.text(), new RegExp(`disconnect client=3 nick=${c} reason="too slow`));
});

Deno.test("hub: after a slow reader is dropped the room goes on", () => {
  const h = new HubHarness({ rateLimit: 0, maxOutbox: 1_000 });
  const [a, , c] = h.crowd(3);
  const got: string[] = [];
  for (let i = 0; i < 40; i++) {
    h.send(1, `${i} ${"y".repeat(40)}`);
    got.push(...h.read(2));
  }
  assert.equal(got.filter((l) => l.startsWith(`<${a}> `)).length, 40, "nothing lost for B");
  assert.ok(got.includes(`*** ${c} left (too slow: stopped reading)`));
  h.send(1, "after");
  assert.deepEqual(h.read(2), [`<${a}> after`]);
});

Deno.test("hub: /nick renames, checks form and case-insensitive uniqueness", () => {
  const h = new HubHarness();
  const [a, b] = h.crowd(2);
  h.advance(SEC);
  h.send(1, "/nick Alice");
  assert.deepEqual(h.read(1), ["You are now Alice."]);
  assert.deepEqual(h.read(2), [`*** ${a} is now Alice`]);
  const tries: [string, string][] = [
    ["/nick alice", "Alice is taken; pick another name."],
    ["/nick this-name-is-far-too-long", "Nicknames are at most 16 characters long."],
    ["/nick two words", "Nicknames may only use letters, digits, _ - and . (no spaces)."],
    ["/nick bad!", "Nicknames may only use letters, digits, _ - and . (no spaces)."],
    ["/nick", "Usage: /nick NAME"],
  ];
  for (const [line, answer] of tries) {
    h.advance(SEC);
    h.send(2, line);
    assert.deepEqual(h.read(2), [answer], line);
  }
  h.advance(SEC);
  h.send(2, "/nick b.o_b-2");
  assert.deepEqual(h.read(2), ["You are now b.o_b-2."]);
  assert.deepEqual(h.read(1), [`*** ${b} is now b.o_b-2`], "refusals are not announced");
});

Deno.test("hub: a nick is free again once its holder leaves; renaming own case works", () => {
  const h = new HubHarness();
  h.crowd(2);
  h.advance(SEC);
  h.send(1, "/nick zed");
  h.advance(SEC);
  h.send(1, "/nick Zed");
  assert.deepEqual(h.read(1), ["You are now zed.", "You are now Zed."]);
  h.hangUp(1);
  h.advance(SEC);
  h.send(2, "/nick ZED");
  assert.deepEqual(h.read(2).at(-1), "You are now ZED.");
});

Deno.test("hub: /help lists every command with its usage and the rate rule", () => {
  const h = new HubHarness();
  h.crowd(1);
  h.advance(SEC);
  h.send(1, "/help");
  const help = h.read(1).join("\n");
  for (const usage of ["/help", "/nick NAME", "/who", "/me ACTION", "/msg NICK TEXT"]) {
    assert.ok(help.includes(usage), usage);
  }
  for (const usage of ["/reply TEXT", "/quit [REASON]", "//TEXT", "/away [REASON]", "/back"]) {
    assert.ok(help.includes(usage), usage);
  }
  for (const usage of ["/ignore [NICK]", "/unignore NICK"]) assert.ok(help.includes(usage), usage);
  assert.match(help, /at most one every 500ms/);
  assert.ok(!help.includes("/ban"), "no operator commands without an admin token");
  assert.ok(help.includes("/kick NICK"), "room operators kick too");
});

Deno.test("hub: /who lists everyone with idle times and marks you", () => {
  const h = new HubHarness();
  const [a, b] = h.crowd(2);
  h.advance(90 * SEC);
  h.send(1, "/who");
  const who = h.read(1);
  assert.equal(who[0], "2 in #lobby (2 online):");
  assert.match(who.find((l) => l.includes(a))!, /\(you\)\s+idle 0s$/);
  assert.match(who.find((l) => l.includes(b))!, /idle 1m 30s$/);
});

Deno.test("hub: /me reaches others as * nick action", () => {
  const h = new HubHarness();
  const [a] = h.crowd(2);
  h.advance(SEC);
  h.send(1, "/me waves");
  assert.deepEqual(h.read(2), [`* ${a} waves`]);
  assert.deepEqual(h.read(1), []);
  h.advance(SEC);
  h.send(1, "/me");
  assert.deepEqual(h.read(1), ["Usage: /me ACTION"]);
});

Deno.test("hub: /msg is private and names the sender; /reply answers it", () => {
  const h = new HubHarness();
  const [a, b] = h.crowd(3);
  h.advance(SEC);
  h.send(1, `/msg ${b.toUpperCase()} psst, secret`);
  assert.deepEqual(h.read(2), [`[private] <${a}> psst, secret`]);
  assert.deepEqual(h.read(1), [`[private to ${b}] psst, secret`]);
  assert.deepEqual(h.read(3), [], "nobody else sees it");
  h.advance(SEC);
  h.send(2, "/reply got it");
  assert.deepEqual(h.read(1), [`[private] <${b}> got it`]);
  assert.deepEqual(h.read(2), [`[private to ${a}] got it`]);
  assert.deepEqual(h.read(3), []);
});

Deno.test("hub: /away shows in /who and to private senders; /back or any line ends it", () => {
  const h = new HubHarness();
  const [a, b] = h.crowd(2);
  h.advance(SEC);
  h.send(2, "/away lunch");
  assert.deepEqual(h.read(2), ["You are marked away (lunch). /back when you return."]);
  assert.deepEqual(h.read(1), [], "no room notice");
  h.advance(SEC);
  h.send(1, `/msg ${b} are you there?`);
  assert.deepEqual(h.read(1), [`[private to ${b}] are you there?`, `${b} is away: lunch`]);
  assert.deepEqual(h.read(2), [`[private] <${a}> are you there?`], "still delivered");
  h.advance(SEC);
  h.send(1, "/who");
  assert.ok(h.read(1).some((l) => l.includes(b) && l.endsWith("away: lunch")));
  h.advance(SEC);
  h.send(2, "/back");
  assert.deepEqual(h.read(2), ["Welcome back."]);
  h.advance(SEC);
  h.send(2, "/back");
  assert.deepEqual(h.read(2), ["You are not marked away."]);
  h.advance(SEC);
  h.send(2, "/away");
  assert.deepEqual(h.read(2), ["You are marked away (away). /back when you return."]);
  h.advance(SEC);
  h.send(2, "/away " + "😀".repeat(150));
  assert.deepEqual(h.read(2), [
    `You are marked away (${"😀".repeat(100)}). /back when you return.`,
  ], "a long reason is cut to 100 characters, none split");
  h.advance(SEC);
  h.send(2, "hi all");
  assert.deepEqual(h.read(2), ["Welcome back."]);
  assert.deepEqual(h.read(1), [`<${b}> hi all`]);
  h.advance(SEC);
  h.send(1, "/who");
  assert.ok(!h.read(1).some((l) => l.includes("away")));
});

Deno.test("hub: /ignore hides someone's lines, actions and private messages; /unignore", () => {
  const h = new HubHarness();
  const [a, b, c] = h.crowd(3);
  h.advance(SEC);
  h.send(1, `/ignore ${b.toUpperCase()}`);
  assert.deepEqual(h.read(1), [
    `You are ignoring ${b} (until one of you leaves). /unignore to stop.`,
  ]);
  assert.deepEqual(h.read(2), [], "the ignored person is not told");
  h.advance(SEC);
  h.send(2, "buy my stuff");
  assert.deepEqual(h.read(1), []);
  assert.deepEqual(h.read(3), [`<${b}> buy my stuff`], "others still see it");
  h.advance(SEC);
  h.send(2, "/me shouts");
  assert.deepEqual(h.read(1), []);
  assert.deepEqual(h.read(3), [`* ${b} shouts`]);
  h.advance(SEC);
  h.send(2, `/msg ${a} hello?`);
  assert.deepEqual(h.read(1), []);
  assert.deepEqual(h.read(2), [`[private to ${a}] hello?`], "the sender cannot tell");
  h.advance(SEC);
  h.send(2, "/nick spammer");
  h.read(2);
  assert.deepEqual(h.read(1), [`*** ${b} is now spammer`], "notices still arrive");
  h.advance(SEC);
  h.send(2, "still here");
  assert.deepEqual(h.read(1), [], "a new nick does not escape it");
  h.advance(SEC);
  h.send(1, "/ignore");
  assert.deepEqual(h.read(1), ["You are ignoring: spammer."]);
  h.advance(SEC);
  h.send(1, "/ignore spammer");
  assert.deepEqual(h.read(1), ["You are already ignoring spammer."]);
  h.advance(SEC);
  h.send(1, `/ignore ${a}`);
  assert.deepEqual(h.read(1), ["You cannot ignore yourself."]);
  h.advance(SEC);
  h.send(1, "/ignore nobody");
  assert.deepEqual(h.read(1), ["There is nobody called nobody here."]);
  h.advance(SEC);
  h.send(1, `/unignore ${c}`);
  assert.deepEqual(h.read(1), [`You are not ignoring ${c}.`]);
  h.advance(SEC);
  h.send(1, "/unignore spammer");
  assert.deepEqual(h.read(1), ["You see spammer again."]);
  h.advance(SEC);
  h.send(2, "back again");
  assert.deepEqual(h.read(1), ["<spammer> back again"]);
  // Leaving forgets it both ways.
  h.advance(SEC);
  h.send(3, `/ignore spammer`);
  h.read(3);
  h.hangUp(2);
  assert.deepEqual(h.read(3), ["*** spammer left (connection closed)"], "leaving is still seen");
  h.advance(SEC);
  h.send(3, "/ignore");
  assert.deepEqual(h.read(3), ["You are not ignoring anyone."]);
});

Deno.test("hub: /msg and /reply errors go to the sender only", () => {
  const h = new HubHarness();
  const [a] = h.crowd(2);
  const cases: [number, string, string][] = [
    [1, "/msg nobody hi", "There is nobody called nobody here. Type /who to see who is."],
    [1, "/msg", "Usage: /msg NICK TEXT"],
    [1, `/msg ${a} me`, "That is you."],
    [1, "/reply hi", "Nobody has sent you a private message yet."],
    [1, "/reply", "Usage: /reply TEXT"],
  ];
  for (const [id, line, answer] of cases) {
    h.advance(SEC);
    h.send(id, line);
    assert.deepEqual(h.read(id), [answer], line);
  }
  assert.deepEqual(h.read(2), []);
  h.advance(SEC);
  h.send(2, `/msg ${a} hi`);
  h.hangUp(2);
  h.read(1);
  h.advance(SEC);
  h.send(1, "/reply still there?");
  assert.deepEqual(h.read(1), ["The person who last wrote to you has left."]);
});

Deno.test("hub: /quit says goodbye, closes after flushing, and others see the reason", () => {
  const h = new HubHarness();
  const [a, b] = h.crowd(2);
  h.advance(SEC);
  h.send(1, "/quit off to bed");
  assert.deepEqual(h.read(1), ["Goodbye!"]);
  assert.equal(h.closed.get(1), "flush");
  assert.deepEqual(h.read(2), [`*** ${a} left (quit: off to bed)`]);
  h.advance(SEC);
  h.send(2, "/QUIT");
  assert.equal(h.closed.get(2), "flush");
  assert.equal(h.hub.online, 0);
  assert.match(h.log.text(), new RegExp(`disconnect client=2 nick=${b} reason=quit`));
});

Deno.test("hub: unknown commands, // escapes and blank lines", () => {
  const h = new HubHarness();
  const [a] = h.crowd(2);
  h.advance(SEC);
  h.send(1, "/dance now");
  assert.deepEqual(h.read(1), ["Unknown command /dance. Type /help for the list."]);
  h.advance(SEC);
  h.send(1, "//etc/passwd is a path");
  assert.deepEqual(h.read(2), [`<${a}> /etc/passwd is a path`]);
  h.advance(SEC);
  h.send(1, "");
  assert.deepEqual(h.read(2), []);
  assert.deepEqual(h.read(1), []);
});

Deno.test("hub: commands are rate limited like lines", () => {
  const h = new HubHarness();
  h.crowd(1);
  h.advance(SEC);
  h.send(1, "/who", "/who", "/help");
  const out = h.read(1);
  assert.equal(out.filter((l) => l.startsWith("Slow down")).length, 2);
  assert.equal(out.filter((l) => l.endsWith("online):")).length, 1);
});

Deno.test("hub: a flood of empty lines earns a strike", () => {
  const h = new HubHarness();
  h.crowd(1);
  h.advance(SEC);
  h.send(1, ...Array(BLANK_FLOOD).fill(""));
  assert.deepEqual(h.read(1), ["Too many empty lines. (strike 1 of 5)"]);
  h.send(1, ...Array(BLANK_FLOOD * 4).fill(""));
  assert.ok(h.read(1).includes("You have been banned for spamming."));
});

Deno.test("hub: an over-long line is refused with a notice and a strike", () => {
  const h = new HubHarness({ maxLine: 100 });
  h.crowd(2);
  h.advance(SEC);
  h.input(1, [], false, 1);
  assert.deepEqual(h.read(1), [
    "That line was too long (over 100 bytes) and was not sent. (strike 1 of 5)",
  ]);
  assert.deepEqual(h.read(2), []);
});

Deno.test("hub: joins and leaves are announced; history is shown to newcomers", () => {
  const h = new HubHarness({ history: 2 });
  const [a] = h.crowd(2);
  h.advance(SEC);
  h.send(1, "first");
  h.advance(SEC);
  h.send(1, "/me stretches");
  h.advance(SEC);
  h.send(1, "third");
  const banner = h.open(3);
  const start = banner.indexOf("-- history: the last 2 messages --");
  assert.ok(start > 0, banner.join("\n"));
  assert.deepEqual(banner.slice(start + 1), [
    `[12:00] * ${a} stretches`,
    `[12:00] <${a}> third`,
    "-- end of history --",
  ]);
  assert.deepEqual(h.read(1), [`*** ${h.hub.nickOf(3)} joined`]);
});

Deno.test("hub: history 0 shows none; private messages never enter history", () => {
  const h = new HubHarness({ history: 0 });
  h.crowd(1);
  h.advance(SEC);
  h.send(1, "hello");
  assert.ok(!h.open(2).some((l) => l.startsWith("-- history")));
  const k = new HubHarness();
  const [, b] = k.crowd(2);
  k.advance(SEC);
  k.send(1, `/msg ${b} secret`);
  assert.ok(!k.open(3).some((l) => l.includes("secret")));
});

Deno.test("hub: above --announce-max no join or leave notices are sent", () => {
  const h = new HubHarness({ announceMax: 3 });
  h.crowd(3);
  h.open(4);
  assert.deepEqual(h.read(1), [], "4 > 3: quiet");
  h.hangUp(4);
  assert.deepEqual(h.read(1), [], "leaving a room of 4: quiet");
  h.hangUp(3);
  assert.equal(h.read(1).length, 1);
});

Deno.test("hub: --max-clients and --max-per-ip refuse the one too many", () => {
  const h = new HubHarness({ maxClients: 3, maxPerIp: 2 });
  h.open(1, "10.0.0.1");
  h.open(2, "10.0.0.1");
  assert.deepEqual(h.open(3, "10.0.0.1"), [
    "Too many connections from your address (limit 2).",
  ]);
  assert.equal(h.closed.get(3), "refuse");
  h.open(4, "10.0.0.2");
  assert.deepEqual(h.open(5, "10.0.0.3"), ["Server is full. Please try again later."]);
  h.hangUp(4);
  assert.match(h.open(6, "10.0.0.3")[1], /^Welcome/);
});

Deno.test("hub: a room token gates entry", () => {
  const h = new HubHarness({ token: "s3cret", maxStrikes: 3 });
  h.crowd(0);
  assert.deepEqual(h.open(1, "10.0.0.1"), [
    "Shat: this room is private. Type the room token and press Enter.",
  ]);
  assert.equal(h.hub.online, 0);
  h.send(1, "");
  h.send(1, "s3cret");
  assert.match(h.read(1)[1], /^Welcome to Shat!/);
  h.open(2, "10.0.0.2");
  h.send(2, "hello everyone?");
  assert.deepEqual(h.read(2), ["Wrong token. (strike 1 of 3)"]);
  assert.deepEqual(h.read(1), [], "nothing from an unauthenticated client is broadcast");
  assert.equal(h.closed.get(2), "flush");
  assert.ok(!h.log.text().includes("hello everyone"), "what was typed is not logged");
  assert.ok(!h.log.text().includes("s3cret"), "the token is not logged");
});

Deno.test("hub: auth, line and idle timeouts disconnect", () => {
  const h = new HubHarness({ token: "t", authTimeout: 10 * SEC, lineTimeout: 30 * SEC });
  h.open(1);
  h.advance(10 * SEC);
  assert.deepEqual(h.read(1), ["No token within 10s; goodbye."]);
  assert.ok(h.closed.has(1));

  const k = new HubHarness({ lineTimeout: 30 * SEC, idleTimeout: 120 * SEC });
  k.crowd(2);
  k.input(1, [], true); // bytes without a line end
  k.advance(29 * SEC);
  k.send(2, "I am here");
  assert.ok(!k.closed.has(1));
  k.advance(SEC);
  assert.deepEqual(
    k.read(1).at(-1),
    "Disconnected: a line was started but not finished within 30s.",
  );
  assert.ok(!k.closed.has(2));
  k.advance(120 * SEC);
  assert.deepEqual(k.read(2).at(-1), "Disconnected: nothing received for 2m.");
});

Deno.test("hub: operators: /op, /kick, /ban, /bans, /unban, marked in /who", () => {
  const h = new HubHarness({ adminToken: "letmein" });
  const [, b, c] = h.crowd(3);
  h.advance(SEC);
  h.send(1, "/kick " + b);
  assert.deepEqual(h.read(1), [
    "Only server operators can do that in #lobby. Operators get in with /op TOKEN.",
  ]);
  h.advance(SEC);
  h.send(1, "/op wrong-guess");
  assert.deepEqual(h.read(1), ["Wrong operator token. (strike 1 of 5)"]);
  assert.ok(!h.log.text().includes("wrong-guess"));
  h.advance(SEC);
  h.send(1, "/op letmein");
  assert.deepEqual(h.read(1), ["You are now an operator. /help lists the operator commands."]);
  assert.ok(!h.log.text().includes("letmein"));
  h.advance(SEC);
  h.send(1, "/who");
  assert.match(h.read(1).find((l) => l.includes("(op, you)"))!, /op, you/);

  h.advance(SEC);
  h.send(1, `/kick ${b} be nice`);
  assert.deepEqual(h.read(1)[0], `Kicked ${b}.`);
  assert.deepEqual(h.read(2), [`You have been kicked by ${h.hub.nickOf(1)}: be nice`]);
  assert.deepEqual(h.read(3), [`*** ${b} left (kicked by ${h.hub.nickOf(1)}: be nice)`]);

  h.open(4, "10.0.0.3"); // a second connection from c's address
  h.read(3);
  h.advance(SEC);
  h.send(1, `/ban ${c} 1h`);
  assert.deepEqual(h.read(1).slice(-1), [`Banned ${c}'s address for 1h; 2 connections closed.`]);
  assert.ok(h.closed.has(3) && h.closed.has(4));
  assert.deepEqual(h.open(5, "10.0.0.3"), [
    "You are still temporarily banned. Try again in 1h.",
  ]);
  h.advance(SEC);
  h.send(1, "/ban 192.0.2.7 posting links");
  assert.deepEqual(h.read(1), ["Banned 192.0.2.7 for 10m; 0 connections closed."]);
  h.advance(SEC);
  h.send(1, "/bans");
  const bans = h.read(1);
  assert.equal(bans[0], "2 banned:");
  assert.ok(
    bans.some((l) => /10\.0\.0\.3\s+59m 5\ds left\s+operator ban\s+\(by guest-\d+\)/.test(l)),
  );
  assert.ok(bans.some((l) => /192\.0\.2\.7\s+9m 59s left\s+posting links/.test(l)));
  h.advance(SEC);
  h.send(1, "/unban 10.0.0.3");
  assert.deepEqual(h.read(1), ["Unbanned 10.0.0.3."]);
  assert.match(h.open(6, "10.0.0.3")[1], /^Welcome/);
  assert.equal(h.saves.at(-1)!.length, 1);
});

Deno.test("hub: operator commands are off without an admin token and say so", () => {
  const h = new HubHarness();
  h.crowd(1);
  for (const line of ["/op x", "/kick x", "/ban 1.2.3.4", "/unban 1.2.3.4", "/bans"]) {
    h.advance(SEC);
    h.send(1, line);
    assert.deepEqual(h.read(1), [
      "Operator commands are off on this server (it has no admin token).",
    ], line);
  }
});

Deno.test("hub: shutdown tells everyone and closes every connection after flushing", () => {
  const h = new HubHarness();
  h.crowd(3);
  h.hub.handle({ type: "shutdown" }, h.now);
  for (const id of [1, 2, 3]) {
    assert.deepEqual(h.read(id), ["Server is shutting down."]);
    assert.equal(h.closed.get(id), "flush");
  }
});

Deno.test("hub: safe mode keeps addresses out of the log", () => {
  const h = new HubHarness({ safeMode: true, maxStrikes: 1 });
  h.open(1, "10.9.8.7", 45678);
  h.advance(SEC);
  h.send(1, "a", "b");
  h.open(2, "10.9.8.7", 45679);
  const text = h.log.text();
  assert.match(text, /connect client=1 addr=hidden/);
  assert.match(text, /address banned addr=hidden/);
  assert.ok(!text.includes("10.9.8.7") && !text.includes("45678"), text);
});
