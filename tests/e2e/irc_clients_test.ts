/**
 * IRC end to end with real clients: the server process with its IRC port on, irssi in a tmux
 * terminal and weechat-headless (steered through its FIFO, read through its logs) talking with
 * people on the real `telnet` (in tmux) and the real `nc`. Without one of the programs these
 * tests skip, except under CI=true, where that fails.
 */
import assert from "node:assert/strict";
import { hasProgram } from "../support/proc.ts";
import {
  IRC_NAME,
  Irssi,
  NcPerson,
  startIrcShat,
  TelnetPerson,
  Weechat,
} from "../support/irc_clients.ts";

const CI = Deno.env.get("CI") === "true";

/** Whether tests needing `programs` must skip (or, under CI, a failing test says why). */
function lacking(what: string, programs: string[]): boolean {
  const missing = programs.filter((p) => !hasProgram(p));
  if (missing.length === 0) return false;
  const msg = `irc clients: ${missing.join(", ")} not installed (apt-get install ${
    missing.map((p) => p === "nc" ? "netcat-openbsd" : p).join(" ")
  })`;
  if (CI) {
    Deno.test(`irc clients: ${what} installed`, () => {
      throw new Error(msg);
    });
  } else console.warn(`${msg}: skipping`);
  return true;
}

const noIrssi = lacking("tmux, telnet, nc and irssi", ["tmux", "telnet", "nc", "irssi"]);
const noWeechat = lacking("tmux, telnet, nc and weechat-headless", [
  "tmux",
  "telnet",
  "nc",
  "weechat-headless",
]);

/** `text` as a pattern that matches it literally. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * How irssi shows `nick`'s line: `<@nick> text` in the active channel (the mark is the nick's
 * mode, a space for none), `<@nick:#room> text` for another channel in the window.
 */
function saidIn(nick: string, text: string, room?: string): RegExp {
  const where = room ? `(?::${literal(room)})?` : "";
  return new RegExp(`<[ @+]?${literal(nick)}${where}> ${literal(text)}`);
}

/** How irssi shows `nick`'s action: ` * nick text` (` * nick:#room text` from another channel). */
function didIn(nick: string, text: string, room?: string): RegExp {
  const where = room ? `(?::${literal(room)})?` : "";
  return new RegExp(`\\* ${literal(nick)}${where} ${literal(text)}`);
}

/** The rows of `rows` that contain `text`. */
function having(rows: string[], text: string): string[] {
  return rows.filter((r) => r.includes(text));
}

Deno.test({
  name: "irc clients: irssi joins #lobby and a keyed room, talks with telnet and nc both ways",
  ignore: noIrssi,
  async fn() {
    const shat = await startIrcShat();
    let nora: NcPerson | null = null;
    let tom: TelnetPerson | null = null;
    let ivy: Irssi | null = null;
    try {
      // nora (nc) makes #secret with a key; tom (telnet) stays in #lobby.
      nora = await NcPerson.start(shat.port, "127.0.0.3", "nora");
      await nora.say("/join #secret hunter2");
      await nora.waitFor("You are now in #secret");
      tom = await TelnetPerson.start(shat.port, "127.0.0.2", "tom");

      ivy = await Irssi.start(shat.ircPort, "127.0.0.4", "ivy");
      await ivy.type("/join #lobby");
      await ivy.waitFor("ivy [ivy@shat] has joined #lobby");
      await tom.waitFor("*** ivy joined");
      await ivy.type("/join #secret wrong");
      await ivy.waitFor("Cannot join to channel #secret");
      await ivy.type("/join #secret hunter2");
      await ivy.waitFor((rows) =>
        rows.some((r) => r.includes("ivy [ivy@shat] has joined #secret")) &&
        rows.some((r) => r.includes("[@nora] [ ivy]")) // the room's owner is its operator
      );
      await nora.waitFor("*** ivy joined");

      // Lines both ways, in both rooms. #secret is irssi's active channel now.
      await tom.say("hello from telnet");
      await ivy.waitFor(saidIn("tom", "hello from telnet", "#lobby"));
      await nora.say("hello from nc");
      await ivy.waitFor(saidIn("nora", "hello from nc", "#secret"));
      await ivy.type("hi nora");
      await nora.waitFor("<ivy> hi nora");
      await ivy.type("/window item goto #lobby");
      await ivy.type("hi tom");
      await tom.waitFor("<ivy> hi tom");

      // Text beyond ASCII, both ways.
      await ivy.type("ça va? naïve ✓");
      await tom.waitFor("<ivy> ça va? naïve ✓");
      await tom.say("très bien, ünïcödé");
      await ivy.waitFor(saidIn("tom", "très bien, ünïcödé", "#lobby"));

      // Actions both ways.
      await ivy.type("/me waves");
      await tom.waitFor("* ivy waves");
      await tom.say("/me dances");
      await ivy.waitFor(didIn("tom", "dances", "#lobby"));

      // Private lines both ways.
      await ivy.type("/msg tom psst");
      await tom.waitFor("[private] <ivy> psst");
      await tom.say("/msg ivy psst yourself");
      await ivy.waitFor("[tom(tom@shat)] psst yourself");

      // The topic.
      await ivy.type("/topic new topic");
      await tom.waitFor("*** ivy set the topic: new topic");
      await ivy.waitFor("ivy changed the topic of #lobby to: new topic");
      let below = await ivy.mark();
      await ivy.type("/topic");
      await below.waitFor((rows) =>
        rows.some((r) => r.includes("Topic for #lobby: new topic")) &&
        rows.some((r) => r.includes("Topic set by ivy"))
      );

      // NAMES and WHOIS.
      below = await ivy.mark();
      await ivy.type("/names");
      await below.waitFor((rows) =>
        rows.some((r) => r.includes("[Users #lobby]")) &&
        rows.some((r) => /\[ ivy\]/.test(r) && /\[ tom\]/.test(r))
      );
      below = await ivy.mark();
      await ivy.type("/whois tom");
      const whois = await below.waitFor("End of WHOIS");
      const text = whois.join("\n");
      assert.match(text, /tom \[tom@shat\]/, text);
      assert.match(text, /channels\s*: #lobby/, text);
      assert.match(text, new RegExp(`server\\s*: ${IRC_NAME}`), text);

      // Rooms keep their lines: tom never saw a #secret line, nora never a #lobby one.
      const tomRows = await tom.rows();
      assert.deepEqual(having(tomRows, "hello from nc"), [], "#secret's lines stay in #secret");
      assert.deepEqual(having(tomRows, "hi nora"), []);
      assert.deepEqual(having(nora.lines(), "hello from telnet"), []);
      assert.deepEqual(having(nora.lines(), "hi tom"), []);

      // tom moves into #secret: irssi sees him leave #lobby and join #secret.
      await tom.say("/join #secret hunter2");
      await ivy.waitFor("tom [tom@shat] has left #lobby");
      await ivy.waitFor("tom [tom@shat] has joined #secret");
      await tom.say("made it");
      await ivy.waitFor(saidIn("tom", "made it", "#secret"));

      // PART: both in #secret see ivy leave.
      await ivy.type("/part #secret");
      await nora.waitFor("*** ivy left");
      await tom.waitFor("*** ivy left");
      await tom.say("/join #lobby");
      await tom.waitFor((rows) => rows.some((r) => r.startsWith("[tom #lobby]")));
      await ivy.waitFor("tom [tom@shat] has joined #lobby");

      // NICK: a rename is seen as one.
      await ivy.type("/nick ivy2");
      await ivy.waitFor("You're now known as ivy2");
      await tom.waitFor("*** ivy is now ivy2");

      // QUIT: the lobby sees ivy go; irssi exits.
      await ivy.type("/quit bye");
      await tom.waitFor("*** ivy2 left (Quit)");
      assert.equal(await ivy.term.waitExit(), 0);
    } finally {
      await ivy?.stop();
      await tom?.stop();
      await nora?.stop();
      await shat.stop();
    }
  },
});

Deno.test({
  name: "irc clients: kicks on irssi: a room owner sends irssi out, an IRC operator drops telnet",
  ignore: noIrssi,
  async fn() {
    const shat = await startIrcShat([], { SHAT_ADMIN_TOKEN: "op-secret" });
    let tom: TelnetPerson | null = null;
    let olga: Irssi | null = null;
    try {
      tom = await TelnetPerson.start(shat.port, "127.0.0.2", "tom");
      olga = await Irssi.start(shat.ircPort, "127.0.0.4", "olga");
      await olga.type("/join #lobby");
      await olga.waitFor("olga [olga@shat] has joined #lobby");
      await tom.waitFor("*** olga joined");

      // tom makes #den and owns it: his /kick sends olga out of #den only.
      await tom.say("/join #den");
      await tom.waitFor("You are now in #den");
      await olga.waitFor("tom [tom@shat] has left #lobby");
      await olga.type("/join #den");
      await olga.waitFor("olga [olga@shat] has joined #den");
      await tom.waitFor("*** olga joined");
      await tom.say("/kick olga out you go");
      await olga.waitFor("olga was kicked from #den by tom [out you go]");
      await tom.say("/join #lobby");
      await olga.waitFor("tom [tom@shat] has joined #lobby");
      await tom.say("back in the lobby");
      await olga.waitFor(saidIn("tom", "back in the lobby", "#lobby"));

      // Not an operator yet: the kick is refused and tom stays.
      let below = await olga.mark();
      await olga.type("/kick #lobby tom too early");
      await below.waitFor("Only server operators can do that in #lobby");
      await tom.say("still here");
      await olga.waitFor(saidIn("tom", "still here", "#lobby"));

      below = await olga.mark();
      await olga.type("/oper olga wrong-token");
      await below.waitFor("Password incorrect");
      await olga.type("/oper olga op-secret");
      await below.waitFor("You are now an IRC operator");
      below = await olga.mark();
      await olga.type("/whois olga");
      await below.waitFor((rows) =>
        rows.some((r) => r.includes(": server operator")) &&
        rows.some((r) => r.includes("End of WHOIS"))
      );

      // A server operator's kick disconnects: telnet is told why and the connection ends.
      below = await olga.mark();
      await olga.type("/kick #lobby tom flooding");
      await tom.waitFor("You have been kicked by olga: flooding");
      await tom.waitFor("Connection closed by foreign host.");
      await tom.term.waitExit();
      await below.waitFor("Kicked tom.");
      await below.waitFor("tom [tom@shat] has quit [kicked by olga: flooding]");
      below = await olga.mark();
      await olga.type("/names #lobby");
      const names = await below.waitFor("Total of 1 nicks");
      assert.ok(!names.some((r) => /\[[ @+]tom\]/.test(r)), names.join("\n"));
    } finally {
      await olga?.stop();
      await tom?.stop();
      await shat.stop();
    }
  },
});

Deno.test({
  name: "irc clients: after /oper, another irssi's nick list and WHOIS agree on who has @",
  ignore: noIrssi,
  async fn() {
    const shat = await startIrcShat([], { SHAT_ADMIN_TOKEN: "op-secret" });
    let olga: Irssi | null = null;
    let ivy: Irssi | null = null;
    try {
      olga = await Irssi.start(shat.ircPort, "127.0.0.4", "olga");
      ivy = await Irssi.start(shat.ircPort, "127.0.0.6", "ivy");
      await olga.type("/join #lobby");
      await olga.waitFor("olga [olga@shat] has joined #lobby");
      await ivy.type("/join #lobby");
      await ivy.waitFor("ivy [ivy@shat] has joined #lobby");
      await olga.waitFor("ivy [ivy@shat] has joined #lobby");
      await olga.type("/oper olga op-secret");
      await olga.waitFor("You are now an IRC operator");

      // What the server says of olga in #lobby, and what ivy's irssi was told by JOIN/MODE.
      let below = await ivy.mark();
      await ivy.type("/whois olga");
      const whois = (await below.waitFor("End of WHOIS")).join("\n");
      const channels = /channels : (\S+)/.exec(whois)?.[1];
      assert.ok(channels === "@#lobby" || channels === "#lobby", whois);
      below = await ivy.mark();
      await ivy.type("/names #lobby");
      const names = (await below.waitFor("Total of 2 nicks")).join("\n");
      const mark = /\[([ @+])olga\]/.exec(names)?.[1];
      assert.ok(mark !== undefined, names);
      assert.equal(
        mark === "@",
        channels === "@#lobby",
        `WHOIS says ${channels} but ivy's nick list shows [${mark}olga]: when olga becomes a ` +
          "server operator the room must get MODE #lobby +o olga, or NAMES/WHOIS must not mark " +
          "server operators @",
      );
    } finally {
      await ivy?.stop();
      await olga?.stop();
      await shat.stop();
    }
  },
});

/** A weechat log line `nick\ttext` (the nick may carry its mode, `@nora`). */
function logged(nick: string, text: string): RegExp {
  return new RegExp(`^[@+]?${literal(nick)}\t${literal(text)}$`, "m");
}

Deno.test({
  name: "irc clients: weechat-headless talks with telnet and nc, /me, /msg, /topic, /part, /quit",
  ignore: noWeechat,
  async fn() {
    const shat = await startIrcShat();
    let tom: TelnetPerson | null = null;
    let nora: NcPerson | null = null;
    let wee: Weechat | null = null;
    const lobby = "irc.shat.#lobby";
    const secret = "irc.shat.#secret";
    try {
      nora = await NcPerson.start(shat.port, "127.0.0.3", "nora");
      await nora.say("/join #secret hunter2");
      await nora.waitFor("You are now in #secret");
      tom = await TelnetPerson.start(shat.port, "127.0.0.2", "tom");
      wee = await Weechat.start(shat.ircPort, "127.0.0.5", "wee", "#secret,#lobby hunter2");
      await wee.waitLog(lobby, /has joined #lobby/);
      await wee.waitLog(secret, /has joined #secret/);
      await tom.waitFor("*** wee joined");
      await nora.waitFor("*** wee joined");

      await tom.say("hello from telnet");
      await wee.waitLog(lobby, logged("tom", "hello from telnet"));
      await wee.send(lobby, "hello from weechat");
      await tom.waitFor("<wee> hello from weechat");
      await nora.say("hello from nc");
      await wee.waitLog(secret, logged("nora", "hello from nc"));
      await wee.send(secret, "hi nora");
      await nora.waitFor("<wee> hi nora");

      await wee.send(lobby, "/me waves");
      await tom.waitFor("* wee waves");
      await tom.say("/me dances");
      await wee.waitLog(lobby, /^ \*\ttom dances$/m);

      await wee.send("irc.server.shat", "/msg tom psst");
      await tom.waitFor("[private] <wee> psst");
      await tom.say("/msg wee psst yourself");
      await wee.waitLog("irc.shat.tom", logged("tom", "psst yourself"));

      await wee.send(lobby, "/topic weechat was here");
      await tom.waitFor("*** wee set the topic: weechat was here");
      await wee.waitLog(lobby, /wee has changed topic for #lobby to "weechat was here"/);

      await wee.send(secret, "/part");
      await nora.waitFor("*** wee left");
      await wee.waitLog(secret, /wee \(wee@shat\) has left #secret/);
      await wee.send(lobby, "/quit bye");
      await tom.waitFor("*** wee left (Quit)");
      assert.equal((await wee.exited()).code, 0);
    } finally {
      await wee?.stop();
      await tom?.stop();
      await nora?.stop();
      await shat.stop();
    }
  },
});
