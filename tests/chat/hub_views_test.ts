/**
 * Views in the hub, with a fake clock and no sockets: what a character-mode telnet user sees
 * (colours, the bell on mentions and private messages, their own lines shown back, a prompt),
 * what a line-mode client sees (plain text), the toggles, and rendering once per view.
 */
import assert from "node:assert/strict";
import { promptFor } from "../../src/chat/hub.ts";
import { nickColor } from "../../src/chat/render.ts";
import { Outbox } from "../../src/chat/shared_log.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { HubHarness } from "../support/helpers.ts";

const SEC = 1_000;
const ESC = "\x1b";
const BEL = "\x07";

/** A harness whose first `n` clients are joined; those in `telnet` switched to character mode. */
function room(n: number, telnet: number[] = []): { h: HubHarness; nicks: string[] } {
  const h = new HubHarness();
  const nicks = h.crowd(n);
  for (const id of telnet) h.hub.handle({ type: "terminal", id, charMode: true }, h.now);
  h.advance(SEC);
  return { h, nicks };
}

Deno.test("views: a character-mode client gets a prompt with its nick, and a new one on rename", () => {
  const { h, nicks } = room(2, [1]);
  assert.equal(h.prompts.get(1), promptFor(nicks[0], "lobby"));
  assert.equal(h.prompts.get(2), undefined, "line-mode clients get no prompt");
  h.send(1, "/nick alice");
  assert.equal(h.prompts.get(1), "[alice #lobby] ");
});

Deno.test("views: colours for character mode, plain text for line mode", () => {
  const { h, nicks } = room(3, [1]);
  h.send(3, "hello all");
  const colored = h.read(1);
  assert.deepEqual(colored, [`<${nickColor(nicks[2])}${nicks[2]}${ESC}[0m> hello all`]);
  assert.deepEqual(h.read(2), [`<${nicks[2]}> hello all`], "nc: no escape sequence");
  h.advance(SEC);
  h.send(3, "/me waves");
  assert.ok(h.read(1)[0].startsWith(`* ${nickColor(nicks[2])}`));
  assert.deepEqual(h.read(2), [`* ${nicks[2]} waves`]);
  h.advance(SEC);
  h.send(3, "/nick carol");
  assert.deepEqual(h.read(1), [`${ESC}[90m*** ${nicks[2]} is now carol${ESC}[0m`]);
  assert.deepEqual(h.read(2), [`*** ${nicks[2]} is now carol`]);
});

Deno.test("views: someone whose line the server edits sees their own line back once", () => {
  const { h, nicks } = room(2, [1]);
  h.send(1, "my own words");
  const own = h.read(1);
  assert.equal(own.length, 1);
  assert.ok(own[0].includes("my own words") && own[0].includes(nicks[0]), own[0]);
  assert.ok(own[0].includes(`${ESC}[1m`), "styled as one's own");
  h.advance(SEC);
  h.send(1, "/me stretches");
  assert.equal(h.read(1).length, 1, "an action too");
  h.read(2);
  h.advance(SEC);
  h.send(2, "a line-mode client's terminal already shows what it typed");
  assert.deepEqual(h.read(2), [], "so it is not shown again");
  h.advance(SEC);
  h.send(1, "/who");
  assert.ok(!h.read(1).some((l) => l.includes("/who")), "commands are answered, not echoed");
});

Deno.test("views: a mention is highlighted and rings the bell; private messages ring it too", () => {
  const { h, nicks } = room(3, [1]);
  h.send(1, "/nick alice");
  h.read(1);
  h.read(2);
  h.read(3);
  h.advance(SEC);
  h.send(3, "hey ALICE, look at this.");
  const got = h.read(1)[0];
  assert.ok(got.includes(`${ESC}[1;33mhey ALICE, look at this.${ESC}[0m`), got);
  assert.ok(got.endsWith(BEL), "the bell");
  assert.deepEqual(h.read(2), [`<${nicks[2]}> hey ALICE, look at this.`], "others: plain");
  h.advance(SEC);
  h.send(3, "malice is not a mention; alice. is");
  assert.ok(h.read(1)[0].endsWith(BEL));
  h.advance(SEC);
  h.send(3, "malicious words only");
  assert.ok(!h.read(1)[0].includes(BEL), "a nick inside a word is no mention");
  h.advance(SEC);
  h.send(3, "/msg alice psst");
  const priv = h.read(1)[0];
  assert.ok(priv.includes("[private]") && priv.includes("psst") && priv.endsWith(BEL), priv);
  h.advance(SEC);
  h.send(1, "/bell off");
  assert.deepEqual(h.read(1), ["The bell off."]);
  h.advance(SEC);
  h.send(3, "alice again");
  assert.ok(!h.read(1)[0].includes(BEL), "no bell once it is off");
});

Deno.test("views: /color, /bell and /timestamps toggle, and say how they are", () => {
  const { h, nicks } = room(2);
  h.send(2, "/color");
  assert.deepEqual(h.read(2), ["Colours is off. Usage: /color on|off"]);
  h.advance(SEC);
  h.send(2, "/color on");
  assert.deepEqual(h.read(2), ["Colours on."]);
  h.advance(SEC);
  h.send(2, "/timestamps on");
  assert.deepEqual(h.read(2), ["Timestamps on."]);
  h.advance(SEC);
  h.send(1, "tick");
  assert.deepEqual(h.read(2), [
    `${ESC}[90m12:00${ESC}[0m <${nickColor(nicks[0])}${nicks[0]}${ESC}[0m> tick`,
  ]);
  h.advance(SEC);
  h.send(2, "/color off");
  h.read(2);
  h.advance(SEC);
  h.send(1, "tock");
  assert.deepEqual(h.read(2), [`12:00 <${nicks[0]}> tock`]);
  h.advance(SEC);
  h.send(2, "/bell on");
  h.read(2);
  h.advance(SEC);
  h.send(1, `ping ${nicks[1]}`);
  assert.deepEqual(h.read(2), [`12:00 <${nicks[0]}> ping ${nicks[1]}${BEL}`]);
});

Deno.test("views: a broadcast is rendered and stored once per view, whatever the readers", () => {
  const { h, nicks } = room(5, [1, 2]);
  const log = (id: number) => h.outboxes.get(id)!.log!;
  assert.equal(log(1), log(2), "both colour readers read one log");
  assert.equal(log(3), log(4), "all plain readers read one log");
  assert.notEqual(log(1), log(3));
  const before = [log(1).head, log(3).head];
  h.send(5, "one line for everyone");
  const plain = new TextEncoder().encode(`<${nicks[4]}> one line for everyone\r\n`).length;
  assert.equal(log(3).head - before[1], plain, "the plain log grew by one copy of the line");
  assert.ok(log(1).head - before[0] > plain, "the colour log by one coloured copy");
  assert.deepEqual(h.read(3), h.read(4));
  assert.deepEqual(h.read(1), h.read(2));
});

Deno.test("views: /help tells line-mode users about Ctrl-R and telnet users about their keys", () => {
  const { h } = room(2, [1]);
  h.send(1, "/help");
  const keys = h.read(1);
  assert.ok(keys.some((l) => l.includes("Tab completes")), keys.join("\n"));
  h.send(2, "/help");
  const plain = h.read(2);
  assert.ok(plain.some((l) => l.includes("Ctrl-R reprints your line")), plain.join("\n"));
  for (const usage of ["/color on|off", "/bell on|off", "/timestamps on|off"]) {
    assert.ok(plain.some((l) => l.includes(usage)), usage);
  }
});

Deno.test("views: Tab completion offers nicks by prefix and /commands at the start of a line", () => {
  const { h } = room(3, [1]);
  const names = (id: number, word: string, start: boolean) =>
    h.hub.complete(id, word, start, 64).shown;
  h.send(2, "/nick Alice");
  h.advance(SEC);
  h.send(3, "/nick alfred");
  assert.deepEqual(names(1, "al", false), ["alfred", "Alice"]);
  assert.deepEqual(h.hub.complete(1, "al", false, 64), {
    shown: ["alfred", "Alice"],
    total: 2,
    common: "al",
  });
  assert.deepEqual(names(1, "ALI", true), ["Alice"]);
  assert.deepEqual(names(1, "/ni", true), ["/nick"]);
  assert.deepEqual(names(1, "/ni", false), [], "a /word mid-line is not a command");
  assert.deepEqual(names(1, "/ban", true), [], "operator commands only with operators");
  assert.deepEqual(names(1, "zz", false), []);
  // The index follows renames and leaves.
  h.advance(SEC);
  h.send(3, "/nick bert");
  assert.deepEqual(names(1, "al", false), ["Alice"]);
  h.hangUp(2);
  assert.deepEqual(names(1, "al", false), []);
  assert.deepEqual(names(1, "be", false), ["bert"]);
});

Deno.test("views: Tab in a room of 2000 lists a bounded few, with the count and the common prefix", () => {
  const h = new HubHarness({ maxPerIp: 0, connectRate: { burst: 0, per: 0 }, announceMax: 1 });
  const n = 2000;
  for (let i = 1; i <= n; i++) h.open(i, `10.${i >> 8}.${i & 255}.1`);
  for (let i = 2; i <= n; i++) {
    h.send(i, `/nick member${String(i).padStart(4, "0")}`);
  }
  const all = h.hub.complete(1, "mem", false, 64);
  assert.equal(all.total, n - 1);
  assert.equal(all.shown.length, 64, "at most the listed number, however many match");
  assert.equal(all.shown[0], "member0002");
  assert.equal(all.common, "member");
  const some = h.hub.complete(1, "member19", false, 64);
  assert.equal(some.total, 100);
  assert.equal(some.common, "member19");
  const one = h.hub.complete(1, "MEMBER0777", false, 64);
  assert.deepEqual(one, { shown: ["member0777"], total: 1, common: "member0777" });
});

Deno.test("views: history is shown in colour to a colour client", () => {
  const h = new HubHarness({ token: "t" });
  h.open(1);
  h.send(1, "t");
  h.read(1);
  h.advance(SEC);
  h.send(1, "remember me");
  h.open(2);
  h.hub.handle({ type: "terminal", id: 2, charMode: true }, h.now);
  h.send(2, "t");
  const welcome = h.read(2);
  assert.ok(welcome.some((l) => l.startsWith("[12:00] <" + ESC) && l.includes("remember me")));
  h.open(3);
  h.send(3, "t");
  assert.ok(h.read(3).some((l) => /^\[12:00\] <guest-\d+> remember me$/.test(l)), "plain");
});

// ---- Screen-reader mode -------------------------------------------------------------------------

/** Everything client `id` was sent, as one string (escape sequences and bells included). */
function raw(h: HubHarness, id: number): string {
  return h.read(id).join("\n");
}

Deno.test("views: the welcome opens with one short line on screen-reader mode (not on the web page)", () => {
  const h = new HubHarness();
  const welcome = h.open(1);
  assert.equal(welcome[0], "Using a screen reader? Type /screenreader on.");
  assert.match(welcome[1], /^Welcome to Shat!/);
  h.send(1, "/help");
  assert.ok(
    h.read(1).some((l) => /^\s+\/screenreader on\|off\s+plain lines for a screen reader/.test(l)),
    "/help lists /screenreader",
  );
  const outbox = new Outbox();
  h.outboxes.set(2, outbox);
  h.handle({
    type: "open",
    id: 2,
    ip: "10.0.0.2",
    port: 1,
    outbox,
    transport: "ws",
  });
  assert.match(h.read(2)[0], /^Welcome to Shat!/, "a browser: no tip");
});

Deno.test("views: /screenreader on: plain whole lines, sender first, no prompt, no colour, no bell", () => {
  const { h, nicks } = room(3, [1]);
  h.send(1, "/nick alice");
  h.send(1, "/timestamps on");
  h.read(1);
  h.read(3);
  h.advance(SEC);
  h.send(1, "/screenreader on");
  assert.deepEqual(h.read(1), ["Screen reader mode on: plain lines, no prompt, no colours."]);
  assert.equal(h.lineModes.get(1), true, "the connection is told to stop editing the line");
  const prompt = h.prompts.get(1);
  assert.deepEqual(h.hub.view({ id: 1 } as never), {
    bot: false,
    screenReader: true,
    color: false,
    bell: false,
    timestamps: false,
    charMode: false,
    web: false,
  });
  h.advance(SEC);
  h.send(3, "hey alice, look");
  assert.deepEqual(h.read(1), [`<${nicks[2]}> hey alice, look`], "a mention: no colour, no bell");
  h.advance(SEC);
  h.send(3, "/me waves at alice");
  h.advance(SEC);
  h.send(3, "/msg alice psst");
  h.advance(SEC);
  h.send(2, "/nick bob");
  assert.deepEqual(h.read(1), [
    `* ${nicks[2]} waves at alice`,
    `[private] <${nicks[2]}> psst`,
    `*** ${nicks[1]} is now bob`,
  ]);
  h.advance(SEC);
  h.read(2);
  h.send(1, "my own words");
  assert.deepEqual(h.read(1), [], "own lines are not repeated: the terminal showed them");
  assert.deepEqual(h.read(2), ["<alice> my own words"]);
  h.advance(SEC);
  h.send(1, "/nick alicia");
  assert.deepEqual(h.read(1), ["You are now alicia."]);
  assert.equal(h.prompts.get(1), prompt, "no prompt after a rename");
  // The client answers the switch (line mode), or asks for character mode again: no prompt,
  // no colours either way.
  h.handle({ type: "terminal", id: 1, charMode: false });
  h.handle({ type: "terminal", id: 1, charMode: true });
  assert.equal(h.prompts.get(1), prompt);
  assert.equal(h.lineModes.get(1), true);
  h.advance(SEC);
  h.send(1, "/color on");
  h.advance(SEC);
  h.send(1, "/bell on");
  assert.deepEqual(h.read(1), [
    "Screen reader mode keeps colours and the bell off (/screenreader off first).",
    "Screen reader mode keeps colours and the bell off (/screenreader off first).",
  ]);
  h.advance(SEC);
  h.send(3, "alicia: still plain?");
  const got = raw(h, 1);
  assert.equal(got, `<${nicks[2]}> alicia: still plain?`);
  assert.ok(!got.includes(ESC) && !got.includes(BEL));
  h.advance(SEC);
  h.send(1, "/screenreader");
  assert.deepEqual(h.read(1), ["Screen reader mode is on. Usage: /screenreader on|off"]);
});

Deno.test("views: /screenreader off offers the editor again; character mode brings colours back", () => {
  const { h, nicks } = room(2, [1]);
  h.send(1, "/screenreader on");
  h.read(1);
  h.advance(SEC);
  h.send(1, "/screenreader off");
  assert.deepEqual(h.read(1), ["Screen reader mode off."]);
  assert.equal(h.lineModes.get(1), false, "the connection may edit the line again");
  assert.equal(h.prompts.get(1), promptFor(nicks[0], "lobby"));
  h.handle({ type: "terminal", id: 1, charMode: true }); // the client took character mode again
  h.advance(SEC);
  h.send(2, "colour again");
  assert.ok(raw(h, 1).includes(ESC), "colours, as for any character-mode client");
});

Deno.test("views: a line-mode (nc) client: /screenreader on turns colour and bell off", () => {
  const { h, nicks } = room(2);
  h.send(1, "/color on");
  h.send(1, "/bell on");
  h.read(1);
  h.advance(SEC);
  h.send(1, "/screenreader on");
  h.read(1);
  h.advance(SEC);
  h.send(2, `hi ${nicks[0]}`);
  assert.deepEqual(h.read(1), [`<${nicks[1]}> hi ${nicks[0]}`]);
});

Deno.test("views: a client that announces a screen reader (MTTS) gets the mode; dumb: no colours", () => {
  const { h, nicks } = room(3, [1, 2]);
  h.handle({ type: "terminal", id: 1, charMode: true, termType: "xterm", screenReader: true });
  assert.deepEqual(h.read(1), [
    "Your client announced a screen reader: screen reader mode is on (/screenreader off).",
  ]);
  assert.equal(h.lineModes.get(1), true);
  assert.equal(h.hub.view({ id: 1 } as never).charMode, false);
  // termType dumb (before or after the switch to character mode): no colours.
  h.handle({ type: "terminal", id: 2, charMode: true, termType: "dumb" });
  h.handle({ type: "terminal", id: 3, charMode: false, termType: "dumb" });
  h.handle({ type: "terminal", id: 3, charMode: true, termType: "dumb" });
  assert.equal(h.prompts.get(3), promptFor(nicks[2], "lobby"), "a dumb terminal still edits");
  h.read(2);
  h.read(3);
  h.advance(SEC);
  h.send(1, "plain for everyone");
  assert.deepEqual(h.read(2), [`<${nicks[0]}> plain for everyone`]);
  assert.deepEqual(h.read(3), [`<${nicks[0]}> plain for everyone`]);
  h.advance(SEC);
  h.send(3, "/color on");
  h.read(3);
  h.advance(SEC);
  h.send(1, "colour on request");
  assert.ok(raw(h, 3).includes(ESC), "the person can still ask for colours");
  // Someone who turned the mode off is not put back in it by their client.
  h.advance(SEC);
  h.send(1, "/screenreader off");
  h.read(1);
  h.handle({ type: "terminal", id: 1, charMode: true, termType: "xterm", screenReader: true });
  assert.equal(h.hub.view({ id: 1 } as never).charMode, true);
  assert.deepEqual(h.read(1), []);
});

Deno.test("views: screen-reader mode is kept with the account and comes back on /identify", async () => {
  const h = new HubHarness({ rateLimit: 0 }, { store: new MemoryStore() });
  h.crowd(1);
  const run = async (id: number, line: string) => {
    h.send(id, line);
    await h.settle();
    return h.read(id);
  };
  await run(1, "/nick alice");
  await run(1, "/register correct-horse");
  await run(1, "/screenreader on");
  h.hangUp(1);
  h.open(2, "10.0.0.2");
  h.handle({ type: "terminal", id: 2, charMode: true });
  h.read(2);
  const told = await run(2, "/identify alice correct-horse");
  assert.ok(told.includes("Screen reader mode on, as kept."), told.join("\n"));
  assert.equal(h.lineModes.get(2), true);
  assert.equal((h.hub.view({ id: 2 } as never) as { screenReader?: boolean }).screenReader, true);
  await run(2, "/screenreader off");
  h.hangUp(2);
  h.open(3, "10.0.0.3");
  // The client announces a screen reader, but the account says the person turned it off.
  h.handle({ type: "terminal", id: 3, charMode: true, screenReader: true });
  h.read(3);
  const back = await run(3, "/identify alice correct-horse");
  assert.ok(back.includes("Screen reader mode off, as kept."), back.join("\n"));
  assert.equal(h.prompts.get(3), promptFor("alice", "lobby"));
});
