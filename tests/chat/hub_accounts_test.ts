/**
 * Registered nicks, history and kept rooms in the hub: fake clock, no sockets, a store in
 * memory and the shell's keeper doing the password work (with cheap scrypt parameters).
 */
import assert from "node:assert/strict";
import { LOCKOUT } from "../../src/chat/lockout.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { HubHarness } from "../support/helpers.ts";

const SEC = 1_000;

/** A hub with a store; `n` people in the lobby, 10.0.0.1 … 10.0.0.n. */
function withStore(n: number, store = new MemoryStore(), over = {}) {
  const h = new HubHarness({ rateLimit: 0, ...over }, { store });
  const nicks = h.crowd(n);
  return { h, store, nicks };
}

/** Runs `line` as client `id`, waits for the shell's answers, returns what `id` was told. */
async function run(h: HubHarness, id: number, line: string): Promise<string[]> {
  h.send(id, line);
  await h.settle();
  return h.read(id);
}

Deno.test("accounts: /register makes the nick an account and logs in; others cannot take it", async () => {
  const { h } = withStore(2);
  await run(h, 1, "/nick alice");
  const told = await run(h, 1, "/register correct-horse");
  assert.ok(
    told.some((l) => l.startsWith("alice is now registered, and you are identified")),
    told.join("\n"),
  );
  assert.ok(
    told.some((l) => /not encrypted/.test(l)),
    "plain TCP: told the password went in clear",
  );
  h.hangUp(1);
  h.read(2);
  assert.deepEqual(await run(h, 2, "/nick alice"), [
    "alice is registered. If it is yours: /identify alice PASSWORD",
  ]);
  assert.deepEqual(await run(h, 2, "/nick ALICE"), [
    "alice is registered. If it is yours: /identify alice PASSWORD",
  ]);
  assert.match(
    (await run(h, 2, "/nick aIice"))[0],
    /looks too much like the registered nick alice/,
  );
});

Deno.test("accounts: the clear-text warning is said once per connection", async () => {
  const { h } = withStore(1);
  await run(h, 1, "/nick alice");
  const first = await run(h, 1, "/register correct-horse");
  assert.equal(first.filter((l) => /not encrypted/.test(l)).length, 1);
  const again = await run(h, 1, "/password correct-horse battery-staple");
  assert.deepEqual(again, ["Password changed. Any other session of this account is logged out."]);
});

Deno.test("accounts: a guest identifies and gets the nick and its preferences back", async () => {
  const { h } = withStore(2);
  await run(h, 1, "/nick alice");
  await run(h, 1, "/register correct-horse");
  await run(h, 1, "/timestamps on");
  await run(h, 1, "/color on");
  h.hangUp(1);
  h.open(3, "10.0.0.3");
  const told = await run(h, 3, "/identify alice correct-horse");
  assert.ok(told.includes("You are now alice."), told.join("\n"));
  assert.ok(told.includes("You are identified as alice."), told.join("\n"));
  assert.ok(h.read(2).some((l) => / is now alice$/.test(l)), "the room saw the rename");
  const view = h.hub.view({ id: 3 } as never);
  assert.equal(view.timestamps, true);
  assert.equal(view.color, true);
});

Deno.test("accounts: /identify PASSWORD alone is for the current nick", async () => {
  const { h } = withStore(1);
  await run(h, 1, "/nick alice");
  assert.match(
    (await run(h, 1, "/identify correct-horse"))[0],
    /^alice is not registered\. \/register PASSWORD/,
  );
});

Deno.test("accounts: a wrong password is a strike, as a wrong /op token is", async () => {
  const { h } = withStore(2);
  await run(h, 1, "/nick alice");
  await run(h, 1, "/register correct-horse");
  h.read(2);
  const told = await run(h, 2, "/identify alice wrong-guess");
  assert.equal(told.at(-1), "Wrong password. (strike 1 of 5)");
  assert.equal(h.hub.strikesOf("10.0.0.2"), 1);
  assert.equal(h.hub.nickOf(1), "alice", "the holder keeps the nick");
  // Good lines do not wear a wrong password's strike away.
  for (let i = 0; i < 3; i++) {
    h.advance(SEC);
    h.send(2, `calm ${i}`);
  }
  assert.equal(h.hub.strikesOf("10.0.0.2"), 1);
  assert.doesNotMatch(h.log.text(), /wrong-guess|correct-horse/, "passwords are never logged");
});

Deno.test("accounts: guessing from one address ends in a ban after --max-strikes tries", async () => {
  const { h } = withStore(2);
  await run(h, 1, "/nick alice");
  await run(h, 1, "/register correct-horse");
  for (let i = 0; i < 5; i++) {
    h.advance(SEC);
    await run(h, 2, `/identify alice guess-${i}xx`);
  }
  assert.equal(h.closed.get(2), "flush");
  assert.match(h.open(9, "10.0.0.2")[0], /banned/);
});

Deno.test("accounts: many failures from several addresses lock the account for a while", async () => {
  const { h } = withStore(1, new MemoryStore(), { maxStrikes: 100 });
  await run(h, 1, "/nick alice");
  await run(h, 1, "/register correct-horse");
  const addrs = LOCKOUT.addresses + 1;
  for (let i = 0; i < LOCKOUT.failures; i++) {
    const id = 100 + i;
    h.open(id, `10.0.1.${(i % addrs) + 1}`);
    await run(h, id, `/identify alice guess-${i}xx`);
  }
  h.open(200, "10.0.2.1");
  h.read(200);
  const locked = await run(h, 200, "/identify alice correct-horse");
  assert.match(locked[0], /^alice is locked for 15m after many wrong passwords/);
  assert.match(h.log.text(), /WARN account locked/);
  h.advance(LOCKOUT.ms + SEC);
  assert.ok(
    (await run(h, 200, "/identify alice correct-horse")).includes("You are identified as alice."),
  );
});

Deno.test("accounts: a second login replaces the first, which becomes a guest", async () => {
  const { h } = withStore(2);
  await run(h, 1, "/nick alice");
  await run(h, 1, "/register correct-horse");
  const told = await run(h, 2, "/identify alice correct-horse");
  assert.ok(told.includes("You are identified as alice."), told.join("\n"));
  assert.equal(h.hub.nickOf(2), "alice");
  const old = h.read(1);
  assert.ok(
    old.some((l) => /^Someone identified as alice from another connection/.test(l)),
    old.join("\n"),
  );
  assert.match(h.hub.nickOf(1)!, /^guest-\d+$/);
});

Deno.test("accounts: registration is throttled per address", async () => {
  const { h } = withStore(1);
  for (let i = 0; i < 3; i++) {
    await run(h, 1, `/nick name${i}`);
    const told = await run(h, 1, "/register correct-horse");
    assert.ok(told.some((l) => l.startsWith(`name${i} is now registered`)), told.join("\n"));
  }
  await run(h, 1, "/nick name9");
  assert.match(
    (await run(h, 1, "/register correct-horse"))[0],
    /^Too many new accounts from your address/,
  );
});

Deno.test("accounts: passwords shorter than 8 characters are refused; guests register a name first", async () => {
  const { h } = withStore(1);
  assert.deepEqual(await run(h, 1, "/register short"), [
    "Choose your name first (/nick NAME), then /register PASSWORD.",
  ]);
  await run(h, 1, "/nick alice");
  assert.deepEqual(await run(h, 1, "/register short"), [
    "A password needs at least 8 characters.",
  ]);
});

Deno.test("accounts: /unregister frees the nick; /drop by an operator too", async () => {
  const { h } = withStore(2, new MemoryStore(), { adminToken: "s3cret-token" });
  await run(h, 1, "/nick alice");
  await run(h, 1, "/register correct-horse");
  assert.deepEqual(await run(h, 1, "/unregister correct-horse"), [
    "alice is no longer registered; anyone may take the name now.",
  ]);
  await run(h, 1, "/register correct-horse");
  await run(h, 2, "/op s3cret-token");
  assert.deepEqual(await run(h, 2, "/drop alice"), [
    "The account alice is deleted; anyone may take the name now.",
  ]);
  assert.ok(h.read(1).some((l) => /Your account alice was deleted by an operator/.test(l)));
  h.hangUp(1);
  h.read(2);
  assert.deepEqual(await run(h, 2, "/nick alice"), ["You are now alice."]);
});

Deno.test("accounts: an ignore of a registered nick is kept with the account", async () => {
  const { h } = withStore(2);
  await run(h, 2, "/nick bob");
  await run(h, 2, "/register bob-password");
  await run(h, 1, "/nick alice");
  await run(h, 1, "/register correct-horse");
  assert.match((await run(h, 1, "/ignore bob"))[0], /kept with your account/);
  h.hangUp(1);
  h.hangUp(2);
  h.open(3, "10.0.0.3");
  h.open(4, "10.0.0.4");
  await run(h, 3, "/identify alice correct-horse");
  await run(h, 4, "/identify bob bob-password");
  h.read(3);
  h.send(4, "can you hear me");
  assert.deepEqual(h.read(3).filter((l) => l.includes("can you hear me")), []);
});

Deno.test("history: /history shows the room's last lines oldest first, in pages", async () => {
  const { h } = withStore(2);
  for (let i = 1; i <= 120; i++) {
    h.advance(SEC);
    h.send(1, `line ${i}`);
  }
  h.read(2);
  const page = await run(h, 2, "/history 100");
  assert.equal(page[0], "-- #lobby: 50 lines --");
  assert.equal(page[1].replace(/^\[[^\]]+\] /, ""), `<${h.hub.nickOf(1)}> line 71`);
  assert.equal(page[50].replace(/^\[[^\]]+\] /, ""), `<${h.hub.nickOf(1)}> line 120`);
  assert.equal(page[51], "-- older lines: /history more --");
  const more = await run(h, 2, "/history more");
  assert.equal(more[0], "-- #lobby: 50 lines --");
  assert.match(more[1], /> line 21$/);
  assert.match(more[50], /> line 70$/);
  assert.equal(more[51], "-- end of history --");
  assert.deepEqual(await run(h, 2, "/history more"), [
    "Nothing more to show: /history [N | DURATION] first.",
  ]);
});

Deno.test("history: /history DURATION shows the lines of that time", async () => {
  const { h } = withStore(2);
  for (let i = 1; i <= 10; i++) {
    h.advance(60 * SEC);
    h.send(1, `minute ${i}`);
  }
  h.read(2);
  const page = await run(h, 2, "/history 3m");
  assert.deepEqual(page.slice(1, -1).map((l) => l.replace(/^.*> /, "")), [
    "minute 8",
    "minute 9",
    "minute 10",
  ]);
});

Deno.test("history: /search finds the latest lines with every word, in the room only", async () => {
  const { h } = withStore(3);
  h.send(1, "the pizza is here");
  h.send(1, "nothing to see");
  h.send(2, "more PIZZA please, here");
  await run(h, 3, "/join side");
  h.send(3, "pizza here too");
  h.read(3);
  const found = await run(h, 3, "/search pizza here");
  assert.deepEqual(found.slice(1, -1).map((l) => l.replace(/^\[[^\]]+\] /, "")), [
    `<${h.hub.nickOf(3)}> pizza here too`,
  ]);
  await run(h, 3, "/part");
  const lobby = await run(h, 3, "/search pizza here");
  assert.equal(lobby.length, 4, lobby.join("\n"));
  assert.match(lobby[0], /the latest 2 lines with: pizza here/);
});

Deno.test("history: a private message is never kept", () => {
  const { h, store } = withStore(2);
  h.send(1, `/msg ${h.hub.nickOf(2)} the secret plan`);
  h.send(1, "a room line");
  const page = store.answer({ q: "search", room: "lobby", words: ["plan"], limit: 10 });
  assert.deepEqual("lines" in page ? page.lines : null, []);
  const all = store.answer({ q: "lines", room: "lobby", limit: 10 });
  assert.deepEqual("lines" in all ? all.lines.map((l) => l.text) : null, ["a room line"]);
});

Deno.test("history: an answer for a keyed room is not shown once its asker has left it", async () => {
  const { h } = withStore(2);
  await run(h, 1, "/join vault hunter2");
  h.send(1, "the code is 1234");
  h.send(1, "/history");
  h.send(1, "/part"); // leaves before the answer comes
  await h.settle();
  const told = h.read(1);
  assert.ok(told.includes("You left #vault; its lines are not shown here."), told.join("\n"));
  assert.ok(!told.some((l) => l.includes("the code is 1234")));
});

Deno.test("kept rooms: the owner keeps a room; it outlives its members and a restart", async () => {
  const { h, store } = withStore(2);
  await run(h, 1, "/nick alice");
  await run(h, 1, "/register correct-horse");
  await run(h, 1, "/join den");
  await run(h, 1, "/topic plans");
  h.send(1, "before the restart");
  h.read(2);
  assert.match((await run(h, 2, "/join den"))[0], /You are now in #den/);
  assert.match(
    (await run(h, 2, "/room keep on"))[0],
    /^Only #den.s owner \(alice, identified\) or a server operator/,
  );
  h.read(1);
  assert.match((await run(h, 1, "/room keep on"))[0], /^#den is kept/);
  h.hangUp(1);
  h.hangUp(2);
  // A restart: a new hub from what the store kept.
  const again = new HubHarness({ rateLimit: 0 }, { store: reopened(store) });
  again.open(1, "10.0.0.1");
  const rooms = await run(again, 1, "/rooms");
  assert.ok(rooms.some((l) => /#den .*\(kept\)\s+plans/.test(l)), rooms.join("\n"));
  const joined = await run(again, 1, "/join den");
  assert.ok(joined.includes("Topic: plans (set by alice)"), joined.join("\n"));
  assert.ok(joined.some((l) => /<alice> before the restart/.test(l)), joined.join("\n"));
});

Deno.test("kept rooms: a room not kept goes with its lines", async () => {
  const { h, store } = withStore(1);
  await run(h, 1, "/join tmp");
  h.send(1, "gone soon");
  await run(h, 1, "/part");
  const left = store.answer({ q: "lines", room: "tmp", limit: 10 });
  assert.deepEqual("lines" in left ? left.lines : null, []);
});

Deno.test("restart: newcomers get the lobby's last lines from the store", () => {
  const { h, store } = withStore(1);
  h.send(1, "remember me");
  const again = new HubHarness({}, { store: reopened(store) });
  const welcome = again.open(1);
  assert.ok(welcome.some((l) => /<guest-\d+> remember me/.test(l)), welcome.join("\n"));
});

Deno.test("welcome: one line says how long lines are kept", () => {
  const h = new HubHarness({ retention: 7 * 86_400_000, store: "shat.db" });
  assert.ok(
    h.open(1).includes(
      "Room lines are kept for 7d (/history, /search); private messages are never kept.",
    ),
  );
  const off = new HubHarness({ store: "off" });
  assert.ok(off.open(1).some((l) => /kept in memory only, until the server restarts/.test(l)));
});

/** A store as it would open again after a restart: what `store` holds, in a new one. */
function reopened(store: MemoryStore): MemoryStore {
  const next = new MemoryStore();
  const snap = store.snapshot();
  Object.assign(next.start, snap);
  // The lines themselves, for /history after the restart.
  for (const r of snap.recent) next.write(r.lines.map((line) => ({ t: "line", line })));
  return next;
}

Deno.test("retention: lines older than --retention are deleted; newer ones stay", async () => {
  const { h } = withStore(2, new MemoryStore(), { retention: 3_600_000 });
  h.send(1, "an old line");
  h.advance(2 * 3_600_000);
  h.send(1, "a fresh line");
  h.advance(60 * SEC);
  assert.equal(await h.keeper!.prune(), 1);
  h.read(2);
  const page = await run(h, 2, "/history");
  assert.deepEqual(page.slice(1, -1).map((l) => l.replace(/^.*> /, "")), ["a fresh line"]);
});

Deno.test("accounts: a login whose answer comes after the account was deleted is refused", async () => {
  const { h } = withStore(2);
  await run(h, 1, "/nick alice");
  await run(h, 1, "/register correct-horse");
  h.read(2);
  // Both asked at once: the deletion is answered first.
  h.send(1, "/unregister correct-horse");
  h.send(2, "/identify alice correct-horse");
  await h.settle();
  assert.ok(h.read(2).includes("alice is not registered."));
  assert.equal(h.hub.accountOf({ id: 2 } as never), "");
});

Deno.test("accounts: identifying logs out every other session of the account, whatever its nick", async () => {
  const { h } = withStore(3);
  await run(h, 1, "/nick alice");
  await run(h, 1, "/register correct-horse");
  // Someone who learnt the password logs in and hides under another nick.
  await run(h, 2, "/identify alice correct-horse");
  await run(h, 2, "/nick xavier");
  assert.equal(h.hub.accountOf({ id: 2 } as never), "alice");
  h.read(1);
  await run(h, 3, "/identify alice correct-horse");
  assert.equal(h.hub.accountOf({ id: 2 } as never), "", "the intruder is logged out");
  assert.ok(
    h.read(2).some((l) =>
      /^Someone identified as alice from another connection, so you are logged out here/.test(l)
    ),
  );
  // A new password logs out the others too.
  await run(h, 1, "/identify alice correct-horse");
  assert.deepEqual(await run(h, 1, "/password correct-horse battery-staple"), [
    "Password changed. Any other session of this account is logged out.",
  ]);
  assert.equal(h.hub.accountOf({ id: 3 } as never), "");
});

Deno.test("accounts: a password with a space is refused (it could never be typed to /identify)", async () => {
  const { h } = withStore(1);
  await run(h, 1, "/nick alice");
  assert.deepEqual(await run(h, 1, "/register my secret pass"), [
    "A password may not contain spaces.",
  ]);
});

Deno.test("accounts: hanging up before the answer does not make a wrong guess free", async () => {
  const { h } = withStore(1);
  await run(h, 1, "/nick alice");
  await run(h, 1, "/register correct-horse");
  h.open(5, "10.0.0.5");
  h.send(5, "/identify alice wrong-guess");
  h.hangUp(5);
  await h.settle();
  assert.equal(h.hub.strikesOf("10.0.0.5"), 1);
});

Deno.test("accounts: password checks are throttled per address, right or wrong", async () => {
  const { h } = withStore(1);
  await run(h, 1, "/nick junk");
  await run(h, 1, "/register junk-password");
  h.open(2, "10.0.0.2");
  for (let i = 0; i < 6; i++) {
    assert.ok(
      (await run(h, 2, "/identify junk junk-password")).includes("You are identified as junk."),
    );
    await run(h, 2, "/nick other");
  }
  assert.match(
    (await run(h, 2, "/identify junk junk-password"))[0],
    /^Too many password attempts from your address; try again in \d+s\.$/,
  );
});

Deno.test("accounts: a deleted account's kept rooms are kept no more", async () => {
  const { h } = withStore(1);
  await run(h, 1, "/nick alice");
  await run(h, 1, "/register correct-horse");
  await run(h, 1, "/join den");
  await run(h, 1, "/room keep on");
  await run(h, 1, "/part");
  assert.ok((await run(h, 1, "/rooms")).some((l) => l.includes("#den")));
  await run(h, 1, "/unregister correct-horse");
  assert.ok(!(await run(h, 1, "/rooms")).some((l) => l.includes("#den")), "gone once empty");
});

Deno.test("history: /history and /search leave out the people you ignore", async () => {
  const { h } = withStore(2);
  await run(h, 2, "/nick troll");
  h.send(2, "you suck");
  h.send(1, "hello everyone");
  await run(h, 1, "/ignore troll");
  const page = await run(h, 1, "/history");
  assert.deepEqual(page.slice(1, -1).map((l) => l.replace(/^\[[^\]]+\] /, "")), [
    `<${h.hub.nickOf(1)}> hello everyone`,
  ]);
  assert.deepEqual(await run(h, 1, "/search suck"), ["-- nothing in #lobby has all of: suck --"]);
});

Deno.test("input: a password command typed after a space is not said to the room", async () => {
  const { h } = withStore(2);
  h.read(2);
  assert.match((await run(h, 1, " /identify carol newpass99"))[0], /space before its \//);
  assert.deepEqual(h.read(2), []);
});
