/**
 * The IRC port over real TCP, with the server in-process: registration and its numerics, CAP,
 * PASS, nicks shared with telnet people, several rooms at once, long lines split to 512 bytes,
 * the keepalive, fakelag, CTCP, a flood, a bot, and the nick mapping. Telnet people and IRC
 * clients meet in the same rooms; each connects from its own 127.x address.
 */
import assert from "node:assert/strict";
import { startServer, TestClient, type TestServer, until } from "../support/helpers.ts";
import { IrcClient, ircPort, mask } from "../support/irc.ts";
import type { IrcMessage } from "../../src/chat/irc/wire.ts";
import { FAKELAG_BURST, FAKELAG_QUEUE } from "../../src/chat/irc/parts.ts";

const SERVER = "irc.shat.test";

/** A server with the IRC port on (ephemeral), named {@link SERVER}, plus `over`. */
function ircServer(
  over: Parameters<typeof startServer>[0] = {},
  opts: Parameters<typeof startServer>[1] = {},
): TestServer {
  return startServer({ ircPort: 0, ircName: SERVER, logLevel: "info", ...over }, opts);
}

let telnetSyncs = 0;

/**
 * A barrier for a telnet person: a command whose answer is unique. Once it is answered, every
 * line the person sent before has been handled by the hub (one connection, in order).
 */
async function telnetSync(t: TestClient): Promise<void> {
  const word = `zz${++telnetSyncs}`;
  await t.send(`/who ${word}`);
  await t.waitFor(`There is no room ${word}.`);
}

/** Lines of `t` from index `from` on. */
function after(t: TestClient, from: number): string[] {
  return t.lines.slice(from);
}

/** A telnet person from `from` who took the nick `nick` (in the lobby). */
async function person(s: TestServer, nick: string, from: string): Promise<TestClient> {
  const t = await TestClient.join(s.port, from);
  await t.send(`/nick ${nick}`);
  await t.waitFor(`You are now ${nick}.`);
  return t;
}

/** `c` joins `channels` (comma list) and waits for the end of NAMES of each. */
async function join(c: IrcClient, channels: string): Promise<void> {
  const from = c.mark();
  await c.send(`JOIN ${channels}`);
  for (const ch of channels.split(",")) {
    await c.waitFor((m) => m.command === "366" && m.params[1] === ch, from);
  }
}

/** The nicks a NAMES reply (353 lines after `from`) lists for `channel`, prefixes kept. */
function names(c: IrcClient, channel: string, from: number): Set<string> {
  const out = new Set<string>();
  for (const m of c.since(from)) {
    if (m.command === "353" && m.params[2] === channel) {
      for (const n of m.params[3].split(" ")) if (n) out.add(n);
    }
  }
  return out;
}

/** `names` without the @ and + prefixes. */
function bare(ns: Set<string>): Set<string> {
  return new Set([...ns].map((n) => n.replace(/^[@+]+/, "")));
}

/** A PRIVMSG (or other `command`) from `source` to `target` with text `text`. */
function isMsg(source: string, target: string, text?: string, command = "PRIVMSG") {
  return (m: IrcMessage) =>
    m.command === command && m.source === source && m.params[0] === target &&
    (text === undefined || m.params[1] === text);
}

async function closeAll(...cs: (IrcClient | TestClient | undefined)[]): Promise<void> {
  await Promise.all(cs.map((c) => c?.close()));
}

// ---- 1. Registration ----------------------------------------------------------------------------

Deno.test("irc over TCP: NICK+USER get 001-005, the LUSERS numerics and the MOTD, from --irc-name", async () => {
  const s = ircServer({ name: "Test Chat" }, { motd: ["Be kind.", "No spam, please."] });
  const t = await TestClient.join(s.port, "127.0.0.3");
  const c = await IrcClient.connect(ircPort(s), "127.0.0.2");
  try {
    await c.send("NICK alice", "USER alice 0 * :Alice Liddell");
    await c.waitFor("376");
    const nums = c.messages.filter((m) => /^\d{3}$/.test(m.command));
    for (const m of nums) {
      assert.equal(m.source, SERVER, `numeric ${m.command} comes from --irc-name`);
      assert.equal(m.params[0], "alice", `numeric ${m.command} is addressed to the nick`);
    }
    assert.equal(c.messages[0].command, "001", "nothing comes before 001");
    const order = nums.map((m) => m.command);
    assert.deepEqual(order.slice(0, 5), ["001", "002", "003", "004", "005"]);
    const welcome = nums[0].params.at(-1)!;
    assert.ok(welcome.includes("alice"), welcome);
    const v004 = nums[3].params;
    assert.equal(v004[1], SERVER, "004 names the server");

    const isupport = nums.filter((m) => m.command === "005");
    assert.ok(isupport.length >= 1);
    const tokens = new Map<string, string>();
    for (const m of isupport) {
      assert.match(m.params.at(-1)!, /supported/, "005 ends with its text");
      for (const tok of m.params.slice(1, -1)) {
        const eq = tok.indexOf("=");
        tokens.set(eq < 0 ? tok : tok.slice(0, eq), eq < 0 ? "" : tok.slice(eq + 1));
      }
    }
    assert.equal(tokens.get("CHANTYPES"), "#");
    assert.match(tokens.get("PREFIX") ?? "", /^\([a-z]+\)\S+$/);
    assert.match(tokens.get("CASEMAPPING") ?? "", /^(ascii|rfc1459|strict-rfc1459)$/);
    for (const k of ["NICKLEN", "CHANNELLEN", "TOPICLEN"]) {
      assert.match(tokens.get(k) ?? "", /^[1-9]\d*$/, k);
    }
    assert.match(tokens.get("NETWORK") ?? "", /^\S+$/);

    // LUSERS after 005, before the MOTD; 251 first and 255 with it.
    const i251 = order.indexOf("251");
    const i255 = order.indexOf("255");
    const i375 = order.indexOf("375");
    const i376 = order.indexOf("376");
    const last005 = order.lastIndexOf("005");
    assert.ok(last005 < i251 && i251 < i255 && i255 < i375 && i375 < i376, order.join(" "));
    assert.match(nums[i251].params.at(-1)!, /There are 2 users/, "the telnet person and alice");
    const motd = nums.filter((m) => m.command === "372").map((m) => m.params.at(-1));
    assert.deepEqual(motd, ["- Be kind.", "- No spam, please."]);
    assert.ok(order.slice(i375, i376).every((n) => n === "375" || n === "372"));
    assert.ok(!order.includes("422"), "a MOTD is configured: no 422");
    assert.ok(!order.includes("451") && !order.includes("433"));
  } finally {
    await closeAll(c, t);
    await s.stop();
  }
});

Deno.test("irc over TCP: without a MOTD the welcome ends in 422", async () => {
  const s = ircServer();
  const c = await IrcClient.connect(ircPort(s), "127.0.0.2");
  try {
    await c.send("USER bob 0 * :Bob", "NICK bob"); // USER first is fine too
    const m = await c.waitFor("422");
    assert.equal(m.source, SERVER);
    assert.equal(m.params[0], "bob");
    const order = c.messages.map((m) => m.command);
    assert.ok(!order.includes("375") && !order.includes("376"), order.join(" "));
    assert.ok(order.indexOf("005") < order.indexOf("251"));
    assert.ok(order.indexOf("251") < order.indexOf("422"));
  } finally {
    await c.close();
    await s.stop();
  }
});

// ---- 2. CAP -------------------------------------------------------------------------------------

Deno.test("irc over TCP: CAP LS holds registration until CAP END; unknown caps NAK; echo-message", async () => {
  const s = ircServer({ rateLimit: 0 });
  const port = ircPort(s);
  const alice = await IrcClient.connect(port, "127.0.0.2");
  let bob: IrcClient | undefined;
  try {
    await alice.send("CAP LS 302", "NICK alice", "USER alice 0 * :Alice");
    const ls = await alice.waitFor("CAP");
    assert.equal(ls.source, SERVER);
    assert.deepEqual(ls.params.slice(0, 2), ["*", "LS"]);
    assert.ok(ls.params.at(-1)!.split(" ").includes("echo-message"), ls.params.join(" "));
    await alice.sync();
    const early = alice.messages.map((m) => m.command);
    assert.ok(!early.includes("001"), `no 001 before CAP END: ${early.join(" ")}`);

    let from = alice.mark();
    await alice.send("CAP REQ :bogus-cap");
    let reply = await alice.waitFor("CAP", from);
    assert.deepEqual(reply.params, ["*", "NAK", "bogus-cap"]);
    from = alice.mark();
    await alice.send("CAP REQ :echo-message bogus-cap");
    reply = await alice.waitFor("CAP", from);
    assert.deepEqual(reply.params, ["*", "NAK", "echo-message bogus-cap"], "all or nothing");
    await alice.sync();
    assert.ok(!alice.messages.some((m) => m.command === "001"), "still held");

    from = alice.mark();
    await alice.send("CAP REQ :echo-message");
    reply = await alice.waitFor("CAP", from);
    assert.deepEqual(reply.params, ["*", "ACK", "echo-message"]);
    await alice.send("CAP END");
    await alice.waitFor("001", from);
    await alice.waitFor((m) => m.command === "376" || m.command === "422", from);

    from = alice.mark();
    await alice.send("CAP LIST");
    reply = await alice.waitFor("CAP", from);
    assert.deepEqual(reply.params, ["alice", "LIST", "echo-message"]);

    bob = await IrcClient.register(port, "bob", "127.0.0.3");
    await join(alice, "#a");
    await join(bob, "#a");
    from = alice.mark();
    await alice.send("PRIVMSG #a :hello, me");
    await alice.waitFor(isMsg(mask("alice"), "#a", "hello, me"), from);
    await bob.waitFor(isMsg(mask("alice"), "#a", "hello, me"));

    // Without echo-message a client's own line is not sent back.
    const bobFrom = bob.mark();
    await bob.send("PRIVMSG #a :hi from bob");
    await alice.waitFor(isMsg(mask("bob"), "#a", "hi from bob"));
    await bob.sync();
    assert.ok(!bob.since(bobFrom).some((m) => m.command === "PRIVMSG"), "bob has no echo");
  } finally {
    await closeAll(alice, bob);
    await s.stop();
  }
});

// ---- 3. Before registration, PASS ---------------------------------------------------------------

Deno.test("irc over TCP: commands before registration get 451; PASS must be the room token", async () => {
  const s = ircServer({ token: "s3cret" });
  const port = ircPort(s);
  const good = await IrcClient.connect(port, "127.0.0.2");
  const none = await IrcClient.connect(port, "127.0.0.3");
  const wrong = await IrcClient.connect(port, "127.0.0.4");
  try {
    await good.send("JOIN #a", "PRIVMSG #lobby :hi", "WHO #lobby");
    await good.sync();
    const early = good.messages.filter((m) => m.command === "451");
    assert.equal(early.length, 3, good.lines.map((l) => l.text).join("\n"));
    for (const m of early) {
      assert.equal(m.source, SERVER);
      assert.equal(m.params[0], "*");
    }
    await good.send("PASS s3cret", "NICK good", "USER good 0 * :Good");
    await good.waitFor("001");
    let from = good.mark();
    await good.send("PASS s3cret");
    const again = await good.waitFor("462", from);
    assert.equal(again.params[0], "good");

    // No PASS at all: 464, then ERROR, and the server hangs up.
    await none.send("NICK none", "USER none 0 * :None");
    await none.waitFor("464");
    await none.waitFor("ERROR");
    await none.waitClosed();
    assert.ok(!none.messages.some((m) => m.command === "001"));

    await wrong.send("PASS nope", "NICK wrong", "USER wrong 0 * :Wrong");
    await wrong.waitFor("464");
    await wrong.waitFor("ERROR");
    await wrong.waitClosed();
    assert.ok(!wrong.messages.some((m) => m.command === "001"));

    // The member is still served.
    from = good.mark();
    await join(good, "#lobby");
    assert.ok(names(good, "#lobby", from).has("good"));
  } finally {
    await closeAll(good, none, wrong);
    await s.stop();
  }
  assert.ok(!s.log.text().includes("s3cret"), "the token is never logged");
  assert.ok(!s.log.text().includes("nope"), "nor a wrong one");
});

// ---- 4. Nicks -----------------------------------------------------------------------------------

Deno.test("irc over TCP: a nick in use is 433 (IRC or telnet holder), an invalid one 432", async () => {
  const s = ircServer({ rateLimit: 0 });
  const port = ircPort(s);
  const alice = await IrcClient.register(port, "alice", "127.0.0.2");
  const bob = await person(s, "bob", "127.0.0.3");
  const x = await IrcClient.connect(port, "127.0.0.4");
  let y: IrcClient | undefined;
  let z: IrcClient | undefined;
  try {
    const expect = async (c: IrcClient, line: string, code: string, me = "*") => {
      const from = c.mark();
      await c.send(line);
      const m = await c.waitFor((m) => /^\d{3}$/.test(m.command), from);
      assert.equal(m.command, code, `${line} → ${m.command} ${m.params.join(" ")}`);
      assert.equal(m.params[0], me, `${line}: addressed to ${me}`);
      return m;
    };
    let m = await expect(x, "NICK alice", "433");
    assert.equal(m.params[1], "alice");
    await expect(x, "NICK ALICE", "433");
    m = await expect(x, "NICK bob", "433"); // a telnet person holds it
    assert.equal(m.params[1], "bob");
    await expect(x, "NICK Bob", "433");
    m = await expect(x, "NICK 1abc", "432");
    assert.equal(m.params[1], "1abc");
    await expect(x, "NICK a.b", "432");
    await expect(x, "NICK :a b", "432"); // a nick with a space in it
    await expect(x, "NICK", "431");
    await x.send("USER x 0 * :X");
    await x.sync();
    assert.ok(!x.messages.some((m) => m.command === "001"), "no nick yet, not registered");
    await x.send("NICK carol");
    await x.waitFor("001");

    // After registration a rename into a taken nick is refused the same way.
    await expect(x, "NICK alice", "433", "carol");
    await expect(x, "NICK bob", "433", "carol");
    await expect(x, "NICK 9lives", "432", "carol");

    // A telnet person cannot take an IRC client's nick either.
    await bob.send("/nick alice");
    await bob.waitFor("alice is taken; pick another name.");
    await bob.send("/nick CAROL");
    await bob.waitFor("carol is taken; pick another name.");

    // Once alice has gone, her nick is free: the telnet person takes it, and IRC cannot.
    await alice.send("QUIT :bye");
    await alice.waitFor("ERROR");
    await alice.waitClosed();
    await bob.send("/nick alice");
    await bob.waitFor("You are now alice.");
    y = await IrcClient.connect(port, "127.0.0.5");
    await expect(y, "NICK alice", "433");
    await y.send("NICK bob", "USER bob 0 * :Bob"); // bob is free now
    const welcome = await y.waitFor("001");
    assert.equal(welcome.params[0], "bob");

    // NICK takes one parameter: a second one is ignored (RFC 2812 3.1.2).
    z = await IrcClient.connect(port, "127.0.0.6");
    await z.send("NICK dave extra", "USER dave 0 * :Dave");
    assert.equal((await z.waitFor("001")).params[0], "dave");
  } finally {
    await closeAll(alice, bob, x, y, z);
    await s.stop();
  }
});

Deno.test("irc over TCP: a nick as long as 005's NICKLEN is accepted", async () => {
  const s = ircServer({ rateLimit: 0 });
  const port = ircPort(s);
  const alice = await IrcClient.register(port, "alice", "127.0.0.2");
  const y = await IrcClient.connect(port, "127.0.0.3");
  try {
    // NICKLEN is the longest nick a client may set (modern.ircdocs.horse, RPL_ISUPPORT).
    const isupport = alice.messages.filter((m) => m.command === "005").flatMap((m) => m.params);
    const nicklen = Number(isupport.find((p) => p.startsWith("NICKLEN="))!.slice(8));
    const longest = "n".repeat(nicklen);
    await y.send(`NICK ${longest}`, `USER n 0 * :Long`);
    await y.sync();
    const got = y.messages.filter((m) => /^(001|43\d)$/.test(m.command));
    assert.deepEqual(
      got.map((m) => [m.command, m.params[0]]),
      [["001", longest]],
      `NICKLEN=${nicklen}, but: ${got.map((m) => `${m.command} ${m.params.join(" ")}`)}`,
    );
  } finally {
    await closeAll(alice, y);
    await s.stop();
  }
});

// ---- 5. Several rooms at once -------------------------------------------------------------------

Deno.test("irc over TCP: one IRC client in #a and #b; each room hears only its own lines", async () => {
  const s = ircServer({ rateLimit: 0 });
  const port = ircPort(s);
  const alice = await IrcClient.register(port, "alice", "127.0.0.2");
  const bob = await IrcClient.register(port, "bob", "127.0.0.5"); // an IRC witness in both
  const carol = await person(s, "carol", "127.0.0.3");
  const dave = await person(s, "dave", "127.0.0.4");
  try {
    await join(alice, "#a,#b");
    assert.ok(alice.messages.some(isMsg(mask("alice"), "#a", undefined, "JOIN")));
    assert.ok(alice.messages.some(isMsg(mask("alice"), "#b", undefined, "JOIN")));
    await join(bob, "#a,#b");
    await carol.send("/join a");
    await carol.waitFor("You are now in #a");
    await dave.send("/join b");
    await dave.waitFor("You are now in #b");
    await alice.waitFor(isMsg(mask("carol"), "#a", undefined, "JOIN"));
    await alice.waitFor(isMsg(mask("dave"), "#b", undefined, "JOIN"));

    await alice.send("PRIVMSG #a :hello a", "PRIVMSG #b :hello b");
    await carol.waitFor("<alice> hello a");
    await dave.waitFor("<alice> hello b");
    await telnetSync(carol);
    await telnetSync(dave);
    assert.ok(!carol.lines.some((l) => l.includes("hello b")), "#a never hears #b");
    assert.ok(!dave.lines.some((l) => l.includes("hello a")), "#b never hears #a");

    await carol.send("from carol in a");
    await dave.send("from dave in b");
    await alice.waitFor(isMsg(mask("carol"), "#a", "from carol in a"));
    await alice.waitFor(isMsg(mask("dave"), "#b", "from dave in b"));

    let from = alice.mark();
    await alice.send("NAMES #a");
    await alice.waitFor((m) => m.command === "366" && m.params[1] === "#a", from);
    const inA = names(alice, "#a", from);
    assert.deepEqual(bare(inA), new Set(["alice", "bob", "carol"]));
    assert.ok(inA.has("@alice"), "the room's maker is its operator");
    from = alice.mark();
    await alice.send("NAMES #b");
    await alice.waitFor((m) => m.command === "366" && m.params[1] === "#b", from);
    assert.deepEqual(bare(names(alice, "#b", from)), new Set(["alice", "bob", "dave"]));

    // PART #a: #a is told, #b is not, and alice still hears #b.
    let cFrom = carol.lines.length;
    let dFrom = dave.lines.length;
    await alice.send("PART #a :see you");
    await alice.waitFor(isMsg(mask("alice"), "#a", "see you", "PART"));
    await bob.waitFor(isMsg(mask("alice"), "#a", "see you", "PART"));
    await carol.waitFor("*** alice left (see you)");
    from = alice.mark();
    await carol.send("a after the part");
    await telnetSync(carol);
    await dave.send("b after the part");
    await alice.waitFor(isMsg(mask("dave"), "#b", "b after the part"), from);
    await alice.sync();
    assert.ok(!alice.since(from).some((m) => m.params[0] === "#a"), "alice left #a");
    await telnetSync(dave);
    assert.ok(!after(dave, dFrom).some((l) => l.includes("alice")), "#b was not told");
    from = alice.mark();
    await alice.send("NAMES #b");
    await alice.waitFor((m) => m.command === "366" && m.params[1] === "#b", from);
    assert.deepEqual(bare(names(alice, "#b", from)), new Set(["alice", "bob", "dave"]));

    // Back in #a, then QUIT: each room is told once, and bob (in both) gets one QUIT.
    await join(alice, "#a");
    await carol.waitFor((l) => l === "*** alice joined");
    cFrom = carol.lines.length;
    dFrom = dave.lines.length;
    const bFrom = bob.mark();
    await alice.send("QUIT :gone fishing");
    await alice.waitFor("ERROR");
    await alice.waitClosed();
    await carol.waitFor((l) => l.startsWith("*** alice left"));
    await dave.waitFor((l) => l.startsWith("*** alice left"));
    await bob.waitFor((m) => m.command === "QUIT" && m.source === mask("alice"), bFrom);
    await telnetSync(carol);
    await telnetSync(dave);
    await bob.sync();
    const quits = bob.since(bFrom).filter((m) => m.command === "QUIT");
    assert.equal(quits.length, 1, "one QUIT for two shared rooms");
    assert.equal(after(carol, cFrom).filter((l) => l.startsWith("*** alice left")).length, 1);
    assert.equal(after(dave, dFrom).filter((l) => l.startsWith("*** alice left")).length, 1);
  } finally {
    await closeAll(alice, bob, carol, dave);
    await s.stop();
  }
});

// ---- 6. Long lines ------------------------------------------------------------------------------

/** Checks that `pieces`, rejoined at their break spaces (dropped by the split), are `text`. */
function assertRejoins(pieces: string[], text: string): void {
  let pos = 0;
  pieces.forEach((p, i) => {
    assert.ok(p !== "", `piece ${i} is not empty`);
    assert.equal(text.slice(pos, pos + p.length), p, `piece ${i} continues the text`);
    pos += p.length;
    if (i < pieces.length - 1 && text[pos] === " ") pos++; // the break space
  });
  assert.equal(pos, text.length, "nothing lost at the end");
}

Deno.test("irc over TCP: a 1500-character telnet line reaches IRC as PRIVMSGs of at most 512 bytes", async () => {
  const s = ircServer({ rateLimit: 0, maxLine: 8192 });
  const alice = await IrcClient.register(ircPort(s), "alice", "127.0.0.2");
  const carol = await person(s, "carol", "127.0.0.3");
  try {
    await join(alice, "#lobby");
    const words = Array.from({ length: 200 }, (_, i) => `word${i}`).join(" ").slice(0, 1500)
      .trimEnd();
    const solid = Array.from({ length: 1500 }, (_, i) => String.fromCharCode(97 + (i % 26)))
      .join("");
    const wide = "é€😀ü".repeat(300); // 2, 3, 4 and 2 bytes: a cut could land inside any
    for (const text of [words, solid, wide]) {
      const from = alice.mark();
      await carol.send(text);
      await alice.waitFor(isMsg(mask("carol"), "#lobby"), from);
      await alice.sync();
      const lines = alice.lines.slice(from).filter((l) => isMsg(mask("carol"), "#lobby")(l.msg));
      assert.ok(lines.length >= 3, `${lines.length} pieces for ${text.length} characters`);
      for (const l of lines) assert.ok(l.bytes <= 512, `${l.bytes} bytes: ${l.text}`);
      assertRejoins(lines.map((l) => l.msg.params[1]), text);
    }
    // An action is split too, each piece a whole CTCP ACTION.
    let from = alice.mark();
    await carol.send(`/me ${words}`);
    await alice.waitFor(isMsg(mask("carol"), "#lobby"), from);
    await alice.sync();
    const acts = alice.lines.slice(from).filter((l) => isMsg(mask("carol"), "#lobby")(l.msg));
    assert.ok(acts.length >= 3, `${acts.length} pieces`);
    for (const l of acts) assert.ok(l.bytes <= 512, `${l.bytes} bytes: ${l.text}`);
    const bodies = acts.map((l) => l.msg.params[1]);
    for (const b of bodies) assert.ok(b.startsWith("\x01ACTION ") && b.endsWith("\x01"), b);
    assertRejoins(bodies.map((b) => b.slice(8, -1)), words);

    // A full 512-byte line from an IRC client gets a longer source when relayed: still split.
    const bob = await IrcClient.register(ircPort(s), "bob", "127.0.0.4");
    try {
      await join(bob, "#lobby");
      const head = "PRIVMSG #lobby :";
      const text = "x".repeat(510 - head.length);
      from = alice.mark();
      await bob.send(head + text);
      await alice.waitFor(isMsg(mask("bob"), "#lobby"), from);
      await alice.sync();
      const got = alice.lines.slice(from).filter((l) => isMsg(mask("bob"), "#lobby")(l.msg));
      for (const l of got) assert.ok(l.bytes <= 512, `${l.bytes} bytes: ${l.text}`);
      assertRejoins(got.map((l) => l.msg.params[1]), text);
    } finally {
      await bob.close();
    }
    assert.deepEqual(alice.invalid, [], "no line was cut inside a UTF-8 character");
  } finally {
    await closeAll(alice, carol);
    await s.stop();
  }
});

// ---- 7. Keepalive -------------------------------------------------------------------------------

Deno.test("irc over TCP: --irc-ping: a silent client is pinged and dropped; one that answers stays", async () => {
  // A short line timeout makes the server tick every 100 ms.
  const s = ircServer({ ircPing: 1_000, lineTimeout: 500 });
  const port = ircPort(s);
  const silent = await IrcClient.register(port, "silent", "127.0.0.2");
  const awake = await IrcClient.register(port, "awake", "127.0.0.3");
  awake.autoPong = true;
  try {
    const ping = await silent.waitFor("PING", 0, 5_000);
    assert.ok(ping.params.length >= 1, "a PING carries a token");
    const error = await silent.waitFor("ERROR", 0, 5_000);
    assert.match(error.params.at(-1)!, /ping timeout/i);
    await silent.waitClosed(5_000);

    // The one that answers was pinged too, answers, and is pinged again rather than dropped.
    await until(
      () => awake.messages.filter((m) => m.command === "PING").length >= 2,
      "a second PING",
      6_000,
    );
    await awake.sync();
    assert.ok(!awake.ended);
    assert.ok(!awake.messages.some((m) => m.command === "ERROR"));
  } finally {
    await closeAll(silent, awake);
    await s.stop();
  }
  assert.match(s.log.text(), /irc session dropped .*reason="Ping timeout/);
});

// ---- 8. Fakelag ---------------------------------------------------------------------------------

Deno.test("irc over TCP: a connect burst is answered in full and never struck", async () => {
  const s = ircServer();
  const c = await IrcClient.connect(ircPort(s), "127.0.0.2");
  try {
    const burst = [
      "CAP LS 302",
      "NICK burst",
      "USER burst 0 * :Burst",
      "CAP REQ :echo-message",
      "CAP END",
      "JOIN #a",
      "MODE #a",
      "WHO #a",
      "MODE #a b",
      "NAMES #a",
      "TOPIC #a",
      "LUSERS",
    ];
    assert.ok(burst.length < FAKELAG_BURST);
    await c.send(...burst, "PING :end-of-burst");
    await c.waitFor((m) => m.command === "PONG" && m.params.at(-1) === "end-of-burst");
    const got = c.messages.map((m) => m.command + (m.command === "CAP" ? " " + m.params[1] : ""));
    for (
      const code of ["CAP LS", "CAP ACK", "001", "005", "JOIN", "324", "315", "368", "331", "255"]
    ) {
      assert.ok(got.includes(code), `${code} in ${got.join(" ")}`);
    }
    assert.equal(got.filter((g) => g === "366").length, 2, "JOIN's NAMES and NAMES");
    assert.equal(got.filter((g) => g === "251").length, 2, "the welcome's LUSERS and LUSERS");
    const notices = c.messages.filter((m) => m.command === "NOTICE").map((m) => m.params[1]);
    assert.ok(!notices.some((n) => /slow down|strike/i.test(n)), notices.join("\n"));
    assert.ok(!c.ended);
  } finally {
    await c.close();
    await s.stop();
  }
  assert.ok(!/INFO strike/.test(s.log.text()), "no strike for a connect burst");
});

Deno.test("irc over TCP: a flood of protocol commands waits its turn, and too many is Excess Flood", async () => {
  const s = ircServer();
  const port = ircPort(s);
  const flood = await IrcClient.register(port, "flood", "127.0.0.2");
  const steady = await IrcClient.register(port, "steady", "127.0.0.3");
  try {
    // More than a burst and a full queue at once: dropped, and not everything was answered.
    const n = FAKELAG_BURST + FAKELAG_QUEUE + 10;
    await flood.send(...Array.from({ length: n }, () => "WHO #lobby"));
    const error = await flood.waitFor("ERROR");
    assert.match(error.params.at(-1)!, /Excess Flood/);
    await flood.waitClosed();
    const answered = flood.messages.filter((m) => m.command === "315").length;
    assert.ok(answered < n, `${answered} of ${n} answered`);

    // 80 at once (a burst plus a queue): not all answered at once, or dropped as above; never
    // a "Slow down" strike for protocol commands.
    const from = steady.mark();
    await steady.send(...Array.from({ length: 80 }, () => "WHO #lobby"));
    const done = () =>
      steady.ended || steady.since(from).filter((m) => m.command === "315").length >= 10;
    await until(done, "the first answers", 5_000);
    await new Promise((r) => setTimeout(r, 300));
    const now = steady.since(from).filter((m) => m.command === "315").length;
    const dropped = steady.since(from).some((m) => m.command === "ERROR");
    assert.ok(dropped || now < 80, `${now} of 80 answered at once`);
    if (!dropped) {
      // The queue drains at the steady pace.
      await until(
        () => steady.since(from).filter((m) => m.command === "315").length > now,
        "the queue to drain",
        3_000,
      );
    }
    const notices = steady.messages.filter((m) => m.command === "NOTICE").map((m) => m.params[1]);
    assert.ok(!notices.some((t) => /slow down/i.test(t)), notices.join("\n"));
  } finally {
    await closeAll(flood, steady);
    await s.stop();
  }
  assert.match(s.log.text(), /irc session dropped .*reason="Excess Flood"/);
});

// ---- 9. CTCP ------------------------------------------------------------------------------------

Deno.test("irc over TCP: CTCP ACTION both ways; CTCP VERSION to a nick gets a NOTICE", async () => {
  const s = ircServer({ rateLimit: 0 });
  const port = ircPort(s);
  const alice = await IrcClient.register(port, "alice", "127.0.0.2");
  const bob = await IrcClient.register(port, "bob", "127.0.0.4");
  const carol = await person(s, "carol", "127.0.0.3");
  try {
    await join(alice, "#a");
    await join(bob, "#a");
    await carol.send("/join a");
    await carol.waitFor("You are now in #a");

    await alice.send("PRIVMSG #a :\x01ACTION waves\x01");
    await carol.waitFor((l) => l === "* alice waves");
    await bob.waitFor(isMsg(mask("alice"), "#a", "\x01ACTION waves\x01"));

    await carol.send("/me waves back");
    await alice.waitFor(isMsg(mask("carol"), "#a", "\x01ACTION waves back\x01"));
    await bob.waitFor(isMsg(mask("carol"), "#a", "\x01ACTION waves back\x01"));

    let from = alice.mark();
    await alice.send("PRIVMSG carol :\x01VERSION\x01");
    const version = await alice.waitFor((m) => m.command === "NOTICE", from);
    assert.equal(version.source, mask("carol"));
    assert.equal(version.params[0], "alice");
    const reply = version.params[1];
    assert.ok(reply.startsWith("\x01VERSION ") && reply.endsWith("\x01"), JSON.stringify(reply));

    from = alice.mark();
    await alice.send("PRIVMSG carol :\x01PING 12345\x01");
    const pong = await alice.waitFor((m) => m.command === "NOTICE", from);
    assert.equal(pong.params[1], "\x01PING 12345\x01");

    await telnetSync(carol);
    assert.ok(!carol.raw.includes("\x01"), "no CTCP bytes on the telnet screen");
    assert.ok(!carol.lines.some((l) => /VERSION|PING 12345/.test(l)), "CTCP requests are answered");
  } finally {
    await closeAll(alice, bob, carol);
    await s.stop();
  }
});

Deno.test("irc over TCP: between IRC clients a private ACTION stays CTCP, and a NOTICE stays a NOTICE", async () => {
  const s = ircServer({ rateLimit: 0 });
  const port = ircPort(s);
  const alice = await IrcClient.register(port, "alice", "127.0.0.2");
  const bob = await IrcClient.register(port, "bob", "127.0.0.4");
  const carol = await person(s, "carol", "127.0.0.3");
  try {
    await join(alice, "#lobby");
    await join(bob, "#lobby");
    const from = bob.mark();
    await alice.send(
      "PRIVMSG bob :\x01ACTION hugs\x01",
      "NOTICE bob :a private notice",
      "NOTICE #lobby :a notice to the room",
    );
    await carol.waitFor((l) => l.endsWith("a notice to the room"));
    await bob.sync();
    const got = bob.since(from).filter((m) => m.source === mask("alice"));
    const shown = got.map((m) => `${m.command} ${m.params.join(" ")}`).join("\n");
    // RFC 2812 3.3.2: nothing may answer a NOTICE automatically, so a bot must see one as such.
    const wanted: [string, string, string][] = [
      ["PRIVMSG", "bob", "\x01ACTION hugs\x01"],
      ["NOTICE", "bob", "a private notice"],
      ["NOTICE", "#lobby", "a notice to the room"],
    ];
    const missing = wanted.filter(([cmd, to, text]) =>
      !got.some(isMsg(mask("alice"), to, text, cmd))
    );
    assert.deepEqual(missing, [], `bob got:\n${shown}`);
  } finally {
    await closeAll(alice, bob, carol);
    await s.stop();
  }
});

// ---- 10. A flood of chat lines ------------------------------------------------------------------

Deno.test("irc over TCP: PRIVMSG faster than the rate limit is struck, then banned like telnet", async () => {
  const s = ircServer({ banDuration: 2_000 });
  const port = ircPort(s);
  const bystander = await TestClient.join(s.port, "127.0.0.3");
  const flooder = await IrcClient.register(port, "flooder", "127.0.0.66");
  let refused: IrcClient | undefined;
  let back: IrcClient | undefined;
  try {
    await join(flooder, "#lobby");
    await flooder.send(...Array.from({ length: 10 }, (_, i) => `PRIVMSG #lobby :spam ${i}`));
    const error = await flooder.waitFor("ERROR");
    await flooder.waitClosed();
    const why = error.params.at(-1)!;
    assert.match(why, /banned for spamming/);
    const notices = flooder.messages
      .filter((m) => m.command === "NOTICE" && m.source === SERVER)
      .map((m) => m.params[1]);
    const strikes = notices.filter((t) => t.startsWith("Slow down"));
    assert.equal(strikes.length, 5, notices.join("\n"));
    assert.match(strikes[0], /\(strike 1 of 5\)$/);

    await bystander.waitFor("flooder left");
    await telnetSync(bystander);
    const spam = bystander.lines.filter((l) => l.includes("spam "));
    assert.deepEqual(spam, ["<flooder> spam 0"], "only the first line reached the room");

    // The address is banned: a new connection is refused with an ERROR.
    refused = await IrcClient.connect(port, "127.0.0.66");
    const no = await refused.waitFor("ERROR");
    assert.match(no.params.at(-1)!, /banned/);
    await refused.waitClosed();
    assert.ok(!refused.messages.some((m) => m.command === "001"));

    // Once the ban ends the address is welcome again.
    const end = Date.now() + 10_000;
    while (!back) {
      const c = await IrcClient.connect(port, "127.0.0.66");
      await c.send("NICK flooder", "USER flooder 0 * :F");
      const first = await c.waitFor((m) => m.command === "ERROR" || m.command === "001");
      if (first.command === "001") back = c;
      else {
        await c.close();
        assert.ok(Date.now() < end, "the ban ended");
        await new Promise((r) => setTimeout(r, 250));
      }
    }

    // The ERROR's two sentences ("…spamming." and "The ban ends in 2s.") keep their space.
    assert.doesNotMatch(why, /\.[A-Z]/, why);
  } finally {
    await closeAll(bystander, flooder, refused, back);
    await s.stop();
  }
  assert.match(s.log.text(), /WARN address banned addr=127\.0\.0\.66/);
});

// ---- 11. A bot ----------------------------------------------------------------------------------

Deno.test("irc over TCP: a raw-socket bot joins #lobby, answers !ping with pong, and leaves", async () => {
  const s = ircServer({ rateLimit: 0 });
  const carol = await person(s, "carol", "127.0.0.3");
  const bot = await IrcClient.connect(ircPort(s), "127.0.0.2");
  try {
    // The bot, as a script would be: register, join, wait for !ping, answer, leave.
    await bot.send("NICK pingbot", "USER pingbot 0 * :a ping bot");
    await bot.waitFor("001");
    await bot.send("JOIN #lobby");
    await bot.waitFor((m) => m.command === "366" && m.params[1] === "#lobby");
    await carol.waitFor((l) => l === "*** pingbot joined");

    const from = bot.mark();
    await carol.send("!ping");
    const asked = await bot.waitFor(
      (m) => m.command === "PRIVMSG" && m.params[0] === "#lobby" && m.params[1] === "!ping",
      from,
    );
    const who = asked.source.split("!")[0];
    assert.equal(who, "carol");
    await bot.send(`PRIVMSG ${asked.params[0]} :pong`);
    await carol.waitFor((l) => l === "<pingbot> pong");

    await bot.send("PART #lobby :done here", "QUIT :bye");
    await bot.waitFor("ERROR");
    await bot.waitClosed();
    await carol.waitFor((l) => l === "*** pingbot left (done here)");
    await telnetSync(carol);
    assert.equal(carol.lines.filter((l) => l.includes("pingbot left")).length, 1);
  } finally {
    await closeAll(carol, bot);
    await s.stop();
  }
});

// ---- 12. Nick mapping ---------------------------------------------------------------------------

Deno.test("irc over TCP: telnet nicks IRC cannot carry are mapped: a.b is a|b, 1x is `1x", async () => {
  const s = ircServer({ rateLimit: 0 });
  const port = ircPort(s);
  const dotted = await person(s, "a.b", "127.0.0.3");
  const alice = await IrcClient.register(port, "alice", "127.0.0.2");
  let other: IrcClient | undefined;
  try {
    let from = alice.mark();
    await join(alice, "#lobby");
    assert.ok(names(alice, "#lobby", from).has("a|b"), [...names(alice, "#lobby", from)].join());

    await dotted.send("hi from a dot b");
    await alice.waitFor(isMsg(mask("a|b"), "#lobby", "hi from a dot b"));

    await alice.send("PRIVMSG a|b :psst");
    await dotted.waitFor((l) => l === "[private] <alice> psst");
    await dotted.send("/msg alice psst back");
    await alice.waitFor(isMsg(mask("a|b"), "alice", "psst back"));

    from = alice.mark();
    await alice.send("WHOIS a|b");
    const whois = await alice.waitFor("311", from);
    assert.equal(whois.params[1], "a|b");

    // An IRC client cannot take the mapped form of a telnet person's nick.
    other = await IrcClient.connect(port, "127.0.0.4");
    await other.send("NICK a|b");
    assert.equal((await other.waitFor("433")).params[1], "a|b");

    from = alice.mark();
    await dotted.send("/nick 1x");
    const nick = await alice.waitFor((m) => m.command === "NICK", from);
    assert.equal(nick.source, mask("a|b"));
    assert.equal(nick.params[0], "`1x");
    from = alice.mark();
    await alice.send("NAMES #lobby");
    await alice.waitFor("366", from);
    const now = names(alice, "#lobby", from);
    assert.ok(now.has("`1x") && !now.has("a|b"), [...now].join());

    await dotted.send("now I am 1x");
    await alice.waitFor(isMsg(mask("`1x"), "#lobby", "now I am 1x"));
    await alice.send("PRIVMSG `1x :hello 1x");
    await dotted.waitFor((l) => l === "[private] <alice> hello 1x");
  } finally {
    await closeAll(dotted, alice, other);
    await s.stop();
  }
});
