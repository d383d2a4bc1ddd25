/**
 * The IRC door in the hub, with a fake clock and no sockets: registration, several rooms per
 * session, what telnet people and IRC clients see of each other, the keepalive, fakelag, and
 * Shat's rules (rate limit, strikes, bans, room operators) for IRC sessions.
 */
import assert from "node:assert/strict";
import { HubHarness } from "../support/helpers.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { FAKELAG_BURST, FAKELAG_QUEUE } from "../../src/chat/irc/parts.ts";

const SERVER = "irc.test";

function harness(over: Record<string, unknown> = {}, motd?: string[]): HubHarness {
  return new HubHarness({ ircName: SERVER, ...over }, { motd });
}

/** The numerics (codes) among `lines`, in order. */
function codes(lines: string[]): string[] {
  return lines.map((l) => / (\d{3}) /.exec(l)?.[1]).filter((c): c is string => !!c);
}

/** A telnet person `id` who took `nick` and (optionally) went to `room`. */
function telnet(h: HubHarness, id: number, nick: string, room = "", ip = "10.0.1.1"): void {
  h.open(id, ip);
  h.send(id, `/nick ${nick}`);
  h.advance(600);
  if (room) {
    h.send(id, `/join ${room}`);
    h.advance(600);
  }
  h.read(id);
}

Deno.test("irc: NICK and USER register: 001-005, LUSERS, MOTD, all from the server's name", () => {
  const h = harness({}, ["be kind"]);
  const told = h.irc(1, "alice");
  assert.deepEqual(codes(told).slice(0, 5), ["001", "002", "003", "004", "005"]);
  assert(told.every((l) => l.startsWith(`:${SERVER} `)), told.join("\n"));
  const isupport = told.find((l) => / 005 /.test(l))!;
  for (
    const token of [
      "CHANTYPES=#",
      "PREFIX=(ov)@+",
      "CASEMAPPING=ascii",
      "NICKLEN=",
      "CHANNELLEN=",
      "TOPICLEN=",
      "NETWORK=",
    ]
  ) {
    assert(isupport.includes(token), `${token} in ${isupport}`);
  }
  for (const c of ["251", "255", "375", "372", "376"]) assert(codes(told).includes(c), c);
  assert(told.some((l) => l.endsWith(":- be kind")));
  // Not in any room until it asks.
  h.open(2);
  h.send(2, "/who");
  assert(!h.read(2).join("\n").includes("alice"));
});

Deno.test("irc: CAP holds registration until CAP END; commands before it get 451", () => {
  const h = harness();
  h.open(1, "10.0.0.1", 40_001, "irc");
  h.send(1, "CAP LS 302", "NICK alice", "USER alice 0 * :Alice", "JOIN #lobby");
  const early = h.read(1);
  assert(early.some((l) => l.includes(" CAP * LS ")));
  assert(!codes(early).includes("001"), early.join("\n"));
  assert(codes(early).includes("451"));
  h.send(1, "CAP REQ :echo-message", "CAP REQ :no-such-cap", "CAP END");
  const after = h.read(1);
  assert(
    after.some((l) =>
      l.includes(" CAP * ACK :echo-message") || l.includes(" CAP * ACK echo-message")
    ),
  );
  assert(after.some((l) => l.includes(" NAK ")));
  assert(codes(after).includes("001"));
});

Deno.test("irc: a nick held by a telnet person is 433; one IRC cannot carry is 432", () => {
  const h = harness();
  telnet(h, 1, "bob");
  h.open(2, "10.0.0.2", 40_002, "irc");
  h.send(2, "NICK bob", "NICK 1abc", "NICK a.b", "USER x 0 * :x");
  const told = h.read(2);
  assert.deepEqual(codes(told).slice(0, 3), ["433", "432", "432"]);
  h.send(2, "NICK carol");
  assert(codes(h.read(2)).includes("001"));
  // …and the other way round: the telnet person cannot take the IRC client's nick.
  h.advance(600);
  h.send(1, "/nick carol");
  assert.match(h.read(1).join("\n"), /carol is taken/);
});

Deno.test("irc: one session in two rooms; each room sees only its own lines", () => {
  const h = harness();
  telnet(h, 1, "tina", "#a");
  telnet(h, 2, "tom", "#b", "10.0.1.2");
  const joined = h.irc(3, "ian", ["#a", "#b"], "10.0.0.3");
  assert(joined.includes(":ian!ian@shat JOIN #a"));
  assert(joined.includes(":ian!ian@shat JOIN #b"));
  assert(joined.some((l) => / 353 ian = #a :.*tina/.test(l)));
  assert.deepEqual(h.read(1), ["*** ian joined"]);
  assert.deepEqual(h.read(2), ["*** ian joined"]);
  h.send(3, "PRIVMSG #a :hello a");
  h.advance(600);
  h.send(3, "PRIVMSG #b :hello b");
  assert.deepEqual(h.read(1), ["<ian> hello a"]);
  assert.deepEqual(h.read(2), ["<ian> hello b"]);
  assert.deepEqual(h.read(3), []); // no echo unless echo-message
  h.advance(600);
  h.send(1, "from tina");
  h.advance(600);
  h.send(2, "/me waves");
  assert.deepEqual(h.read(3), [
    ":tina!tina@shat PRIVMSG #a :from tina",
    ":tom!tom@shat PRIVMSG #b :\x01ACTION waves\x01",
  ]);
  h.send(3, "PART #a :later");
  assert.deepEqual(h.read(3), [":ian!ian@shat PART #a :later"]);
  assert.deepEqual(h.read(1), ["*** ian left (later)"]);
  h.advance(600);
  h.send(3, "PRIVMSG #a :still?");
  assert(codes(h.read(3)).includes("404"));
  h.advance(600);
  h.send(3, "PRIVMSG #b :still here");
  assert.deepEqual(h.read(2), ["<ian> still here"]);
});

Deno.test("irc: joins, renames, topics and leaves of telnet people reach IRC as IRC messages", () => {
  const h = harness();
  h.irc(1, "ian", ["#lobby"]);
  h.open(2, "10.0.1.2");
  const guest = h.hub.nickOf(2)!;
  const seen = h.read(1);
  assert.deepEqual(seen, [`:${guest}!${guest.slice(0, 10)}@shat JOIN #lobby`]);
  h.send(2, "/nick tina");
  assert.deepEqual(h.read(1), [`:${guest}!${guest.slice(0, 10)}@shat NICK tina`]);
  h.advance(600);
  h.send(2, "/topic snacks at six");
  assert.deepEqual(h.read(1), [":tina!tina@shat TOPIC #lobby :snacks at six"]);
  h.advance(600);
  h.send(2, "/join #elsewhere");
  assert.deepEqual(h.read(1), [":tina!tina@shat PART #lobby :left for #elsewhere"]);
  h.hangUp(2);
  assert.deepEqual(h.read(1), []);
});

Deno.test("irc: history comes as PRIVMSG lines before the end of NAMES; the topic with 332/333", () => {
  const h = harness();
  telnet(h, 1, "tina");
  h.send(1, "/topic welcome");
  h.advance(600);
  h.send(1, "first line");
  h.advance(600);
  h.send(1, "/me stretches");
  const told = h.irc(2, "ian", ["#lobby"], "10.0.0.2");
  const at = (re: RegExp) => told.findIndex((l) => re.test(l));
  assert(at(/ 332 ian #lobby :welcome/) > at(/ JOIN #lobby/));
  assert(at(/ 333 ian #lobby tina!/) > 0);
  const first = at(/:tina!tina@shat PRIVMSG #lobby :first line/);
  const action = told.indexOf(":tina!tina@shat PRIVMSG #lobby :\x01ACTION stretches\x01");
  const end = at(/ 366 ian #lobby /);
  assert(first > 0 && action > first && end > action, told.join("\n"));
});

Deno.test("irc: a line longer than an IRC message is split, nothing lost", () => {
  const h = harness({ maxLine: 4096 });
  h.irc(1, "ian", ["#lobby"]);
  telnet(h, 2, "tina", "", "10.0.1.2");
  h.read(1);
  const words = Array.from({ length: 300 }, (_, i) => `w${i}`).join(" ");
  h.send(2, words);
  const got = h.read(1);
  assert(got.length > 1);
  for (const l of got) {
    assert(new TextEncoder().encode(l + "\r\n").length <= 512, l);
    assert(l.startsWith(":tina!tina@shat PRIVMSG #lobby :"));
  }
  assert.deepEqual(
    got.map((l) => l.slice(":tina!tina@shat PRIVMSG #lobby :".length)).join(" "),
    words,
  );
});

Deno.test("irc: private messages both ways, and a nick IRC cannot carry is mapped", () => {
  const h = harness();
  h.irc(1, "ian", ["#lobby"]);
  telnet(h, 2, "a.b", "", "10.0.1.2");
  h.read(1);
  h.send(2, "/msg ian psst");
  assert.deepEqual(h.read(1), [":a|b!a|b@shat PRIVMSG ian :psst"]);
  assert.deepEqual(h.read(2), ["[private to ian] psst"]);
  h.send(1, "PRIVMSG a|b :hi back");
  assert.deepEqual(h.read(2), ["[private] <ian> hi back"]);
  h.advance(600);
  h.send(1, "NAMES #lobby");
  assert(h.read(1).some((l) => / 353 ian = #lobby :.*a\|b/.test(l)));
});

Deno.test("irc: a silent client is sent PING and dropped when it does not answer", () => {
  const h = harness({ ircPing: 60_000 });
  h.irc(1, "ian", ["#lobby"]);
  h.irc(2, "ivy", ["#lobby"], "10.0.0.2");
  h.read(1);
  h.advance(61_000);
  assert(h.read(1).includes(`PING :${SERVER}`));
  assert(h.read(2).includes(`PING :${SERVER}`));
  h.send(2, `PONG :${SERVER}`);
  h.advance(61_000);
  assert(h.closed.has(1), "the silent one is dropped");
  assert.match(h.read(1).join("\n"), /ERROR :Closing link: Ping timeout/);
  assert(!h.closed.has(2), "the one that answered stays");
  assert(h.read(2).includes(":ian!ian@shat QUIT :Ping timeout: 60 seconds"));
});

Deno.test("irc: a connect burst waits its turn (fakelag) and is never struck; a pile-up is a flood", () => {
  const h = harness();
  h.irc(1, "ian");
  // NICK and USER took two turns of the burst already.
  const burst = Array.from({ length: FAKELAG_BURST + 2 }, () => "WHO #lobby");
  h.send(1, ...burst);
  assert.deepEqual(codes(h.read(1)).filter((c) => c === "315").length, FAKELAG_BURST - 2);
  h.advance(3_000);
  assert.deepEqual(codes(h.read(1)).filter((c) => c === "315").length, 4);
  assert.deepEqual(h.hub.strikesOf("10.0.0.1"), 0);
  h.send(1, ...Array.from({ length: FAKELAG_BURST + FAKELAG_QUEUE + 1 }, () => "WHO #lobby"));
  assert(h.closed.has(1));
  assert.match(h.read(1).join("\n"), /ERROR :Closing link: Excess Flood/);
});

Deno.test("irc: chat lines meet the rate limit; a flood is struck and banned like a telnet one", () => {
  const h = harness();
  h.irc(1, "ian", ["#lobby"]);
  telnet(h, 2, "tina", "", "10.0.1.2");
  h.read(1);
  for (let i = 0; i < 6 && !h.closed.has(1); i++) h.send(1, `PRIVMSG #lobby :spam ${i}`);
  assert.deepEqual(h.read(2).filter((l) => l.startsWith("<ian>")), ["<ian> spam 0"]);
  assert(h.closed.has(1), "banned and dropped");
  const again = h.open(3, "10.0.0.1", 40_003, "irc");
  assert.match(again.join("\n"), /^ERROR :.*banned/);
});

Deno.test("irc: a room operator's KICK sends an IRC client out of that room only", () => {
  const h = harness();
  telnet(h, 1, "owner", "#club");
  h.irc(2, "ian", ["#club", "#lobby"], "10.0.0.2");
  h.read(1);
  h.send(1, "/kick ian noisy");
  assert(h.read(2).includes(":owner!owner@shat KICK #club ian :noisy"));
  h.advance(600);
  h.send(2, "PRIVMSG #lobby :still in the lobby");
  assert(!h.closed.has(2));
  h.send(2, "NAMES #club");
  const names = h.read(2).find((l) => / 353 ian = #club :/.test(l))!;
  assert.match(names, /:@owner$/);
});

Deno.test("irc: OPER with the operator token, then KICK disconnects a telnet person", () => {
  const h = harness({ adminToken: "s3cret" });
  telnet(h, 1, "tina");
  h.irc(2, "ian", ["#lobby"], "10.0.0.2");
  h.send(2, "OPER whoever wrong");
  assert(codes(h.read(2)).includes("464"));
  h.advance(600);
  h.send(2, "OPER whoever s3cret");
  assert(codes(h.read(2)).includes("381"));
  h.advance(600);
  h.send(2, "KICK #lobby tina :enough");
  assert(h.closed.has(1));
  assert.match(h.read(1).join("\n"), /kicked by ian: enough/);
  assert(h.read(2).some((l) => l.startsWith(":tina!tina@shat QUIT :kicked by ian")));
});

Deno.test("irc: the room token is PASS; a wrong one is 464 and goodbye", () => {
  const h = harness({ token: "letmein" });
  h.open(1, "10.0.0.1", 40_001, "irc");
  h.send(1, "PASS nope", "NICK ian", "USER ian 0 * :i");
  assert(codes(h.read(1)).includes("464"));
  assert(h.closed.has(1));
  h.open(2, "10.0.0.2", 40_002, "irc");
  h.send(2, "PASS letmein", "NICK ian", "USER ian 0 * :i");
  assert(codes(h.read(2)).includes("001"));
});

Deno.test("irc: QUIT tells each room once; the IRC peers get one QUIT", () => {
  const h = harness();
  telnet(h, 1, "tina", "#a");
  h.irc(2, "ian", ["#a", "#b"], "10.0.0.2");
  h.irc(3, "ivy", ["#a", "#b"], "10.0.0.3");
  h.read(1);
  h.read(2);
  h.send(2, "QUIT :bye");
  assert.deepEqual(h.read(3).filter((l) => / QUIT /.test(l)), [":ian!ian@shat QUIT :Quit"]);
  assert.deepEqual(h.read(1), ["*** ian left (Quit)"]);
});

Deno.test("irc: PASS nick:password logs in to the account; the nick is refused to others", async () => {
  const h = new HubHarness({ ircName: SERVER }, { store: new MemoryStore() });
  telnet(h, 1, "alice");
  h.send(1, "/register correct-horse");
  await h.settle();
  h.hangUp(1);
  // Someone else cannot take the registered nick over IRC…
  h.open(2, "10.0.0.2", 40_002, "irc");
  h.send(2, "NICK alice");
  assert.match(h.read(2).join("\n"), / 433 \* alice :Nickname is registered/);
  // …its owner comes in with the password in PASS.
  h.open(3, "10.0.0.3", 40_003, "irc");
  h.send(3, "PASS alice:correct-horse", "NICK alice", "USER alice 0 * :Alice");
  await h.settle();
  const told = h.read(3);
  assert(codes(told).includes("001"));
  assert(told.some((l) => / NICK :?alice$/.test(l)), told.join("\n"));
  h.send(3, "WHOIS alice");
  assert(h.read(3).some((l) => / 330 alice alice alice :is logged in as/.test(l)));
});

Deno.test("irc: with other processes, an IRC session's lines go through the room's order, and theirs reach it", () => {
  const h = new HubHarness({ ircName: SERVER, rateLimit: 0 }, { node: "A" });
  h.fromCluster({
    kind: "snapshot",
    snap: { members: [], rooms: [], bans: [], history: [] },
    reset: false,
  });
  h.irc(1, "ian", ["#lobby", "#ops"]);
  const rooms = (t: string) =>
    h.cluster.filter((o) => o.op === "room" && o.ev.t === t).map((o) =>
      (o as { room: string }).room
    );
  assert.deepEqual(rooms("enter"), ["lobby", "ops"], "the others hear of each room it joins");
  h.cluster.length = 0;
  h.send(1, "PRIVMSG #ops :deploying");
  const say = h.cluster.find((o) => o.op === "room" && o.ev.t === "say");
  assert(say && say.op === "room" && say.room === "ops", "proposed in #ops");
  // Someone on process B comes into #ops and speaks there.
  const bob = { id: 7, nick: "bob", ip: "10.0.0.9", room: "ops", away: "", op: false, active: 0 };
  const fromB = (ev: unknown, seq: number) =>
    h.fromCluster({ kind: "bus", bus: { kind: "room", node: "B", room: "ops", seq, ev } as never });
  fromB({ t: "enter", m: bob, name: "ops", notice: "bob joined" }, 1);
  fromB({ t: "say", kind: "chat", id: 7, nick: "bob", text: "looks good", at: h.now }, 2);
  fromB({ t: "nick", id: 7, from: "bob", to: "rob", notice: "bob is now rob" }, 3);
  fromB({ t: "leave", id: 7, nick: "rob", notice: "rob left (bye)" }, 4);
  assert.deepEqual(h.read(1), [
    ":bob!bob@shat JOIN #ops",
    ":bob!bob@shat PRIVMSG #ops :looks good",
    ":bob!bob@shat NICK rob",
    ":rob!rob@shat PART #ops :rob left (bye)",
  ]);
  // Parting the room the others know it in, it stays known in its other room.
  h.cluster.length = 0;
  h.send(1, "PART #ops");
  assert.deepEqual(rooms("leave"), ["ops"]);
  assert.deepEqual(rooms("enter"), ["lobby"]);
});

Deno.test("irc: operator roles and room modes reach IRC clients as MODE, whoever set them", () => {
  const h = harness({ adminToken: "s3cret" });
  telnet(h, 1, "owner", "#club");
  telnet(h, 2, "tina", "#club", "10.0.1.2");
  h.irc(3, "ian", ["#club"], "10.0.0.3");
  h.read(1);
  h.read(2);
  h.send(1, "/room op tina");
  h.advance(600);
  h.send(1, "/room moderated on");
  h.advance(600);
  h.send(2, "/op s3cret");
  assert.deepEqual(h.read(3).filter((l) => / MODE /.test(l)), [
    ":owner!owner@shat MODE #club +o tina",
    ":owner!owner@shat MODE #club +m",
    `:${SERVER} MODE #club +o tina`,
  ]);
  h.send(3, "MODE #club");
  assert(h.read(3).some((l) => / 324 ian #club :?\+n.*m/.test(l)));
});

Deno.test("irc: in one room a session reads the room's IRC log; a second room and back loses and repeats nothing", () => {
  const h = harness();
  telnet(h, 1, "tina", "#a");
  telnet(h, 2, "tom", "#b", "10.0.1.2");
  h.irc(3, "ian", ["#a"], "10.0.0.3");
  h.irc(4, "ivy", ["#a"], "10.0.0.4");
  h.read(1);
  h.read(3);
  h.send(1, "one");
  h.advance(600);
  assert.deepEqual(h.read(3), [":tina!tina@shat PRIVMSG #a :one"]);
  assert.deepEqual(h.read(4), [":tina!tina@shat PRIVMSG #a :one"]);
  h.send(3, "JOIN #b");
  h.advance(600);
  assert(h.read(3).includes(":ian!ian@shat JOIN #b"));
  h.send(1, "two");
  h.advance(600);
  h.send(2, "three");
  h.advance(600);
  assert.deepEqual(h.read(3), [
    ":tina!tina@shat PRIVMSG #a :two",
    ":tom!tom@shat PRIVMSG #b :three",
  ]);
  assert.deepEqual(h.read(4), [":tina!tina@shat PRIVMSG #a :two"]);
  h.send(3, "PART #b");
  h.advance(600);
  h.send(1, "four");
  h.advance(600);
  h.send(2, "five");
  h.advance(600);
  assert.deepEqual(h.read(3), [":ian!ian@shat PART #b", ":tina!tina@shat PRIVMSG #a :four"]);
  h.send(3, "PRIVMSG #a :mine");
  h.advance(600);
  assert.deepEqual(h.read(3), []); // no echo unless echo-message
  assert.deepEqual(h.read(4), [
    ":tina!tina@shat PRIVMSG #a :four",
    ":ian!ian@shat PRIVMSG #a :mine",
  ]);
  h.send(4, "QUIT :bye");
  assert.deepEqual(h.read(3), [":ivy!ivy@shat QUIT :Quit"]);
  assert.deepEqual(h.read(1), ["<ian> mine", "*** ivy left (Quit)"]);
});

Deno.test("irc: past --announce-max IRC clients are not told who comes and goes; NAMES lists all", () => {
  const h = harness({ announceMax: 2 });
  h.irc(1, "ian", ["#lobby"]);
  h.open(2, "10.0.1.2");
  assert.equal(h.read(1).length, 1, "two people: the join is told");
  h.open(3, "10.0.1.3");
  assert.deepEqual(h.read(1), [], "three: it is not");
  const own = h.irc(4, "ivy", ["#lobby"], "10.0.0.4");
  assert(own.includes(":ivy!ivy@shat JOIN #lobby"), "a session is always told of its own join");
  assert.deepEqual(h.read(1), []);
  h.send(1, "NAMES #lobby");
  const names = h.read(1).find((l) => / 353 /.test(l))!;
  for (const n of ["ian", "ivy", h.hub.nickOf(2)!, h.hub.nickOf(3)!]) assert(names.includes(n), n);
  h.hangUp(2);
  h.send(4, "PART #lobby");
  assert.deepEqual(h.read(4), [":ivy!ivy@shat PART #lobby"]);
  assert.deepEqual(h.read(1), []);
});

Deno.test("irc: chat lines waiting behind fakelagged commands keep the pace they were sent at", () => {
  const h = harness();
  telnet(h, 1, "tina");
  h.irc(2, "ian", ["#lobby"], "10.0.0.2");
  h.read(1);
  h.send(2, ...Array.from({ length: FAKELAG_BURST + 4 }, () => "WHO #lobby"));
  h.now += 600;
  h.send(2, "PRIVMSG #lobby :first");
  h.now += 600;
  h.send(2, "PRIVMSG #lobby :second");
  assert.deepEqual(h.read(1), [], "both wait behind the WHOs");
  h.advance(5_000);
  assert.deepEqual(h.read(1), ["<ian> first", "<ian> second"]);
  assert.equal(h.hub.strikesOf("10.0.0.2"), 0, "sent 600 ms apart: no strike");
});

Deno.test("irc: a refusal names the IRC way to become an operator", () => {
  const h = harness({ adminToken: "s3cret" });
  telnet(h, 1, "tina");
  h.irc(2, "ian", ["#lobby"], "10.0.0.2");
  h.send(2, "MODE #lobby +m");
  assert.match(h.read(2).join("\n"), /Operators get in with \/oper NAME TOKEN/);
});

Deno.test("irc: with echo-message the author gets its line back once, in one room or in two", () => {
  const h = harness();
  telnet(h, 1, "tina", "#a");
  h.open(3, "10.0.0.3", 40_003, "irc");
  h.send(3, "CAP LS 302", "NICK ian", "USER ian 0 * :Ian", "CAP REQ :echo-message", "CAP END");
  h.send(3, "JOIN #a");
  h.irc(4, "ivy", ["#a"], "10.0.0.4");
  h.read(1);
  h.read(3);
  h.send(3, "PRIVMSG #a :reading the log");
  h.advance(600);
  assert.deepEqual(h.read(3), [":ian!ian@shat PRIVMSG #a :reading the log"]);
  assert.deepEqual(h.read(4), [":ian!ian@shat PRIVMSG #a :reading the log"]);
  h.send(3, "JOIN #b");
  h.advance(600);
  h.read(3);
  h.send(3, "PRIVMSG #a :in two rooms");
  h.advance(600);
  h.send(4, "PRIVMSG #a :from ivy");
  h.advance(600);
  assert.deepEqual(h.read(3), [
    ":ian!ian@shat PRIVMSG #a :in two rooms",
    ":ivy!ivy@shat PRIVMSG #a :from ivy",
  ]);
  assert.deepEqual(h.read(4), [":ian!ian@shat PRIVMSG #a :in two rooms"]);
  assert.deepEqual(h.read(1), [
    "<ian> reading the log",
    "<ian> in two rooms",
    "<ivy> from ivy",
  ]);
});

Deno.test("irc: an IRC session elsewhere in two rooms is in both here, until it leaves each", () => {
  const h = new HubHarness({ ircName: SERVER, rateLimit: 0 }, { node: "A" });
  h.fromCluster({
    kind: "snapshot",
    snap: { members: [], rooms: [], bans: [], history: [] },
    reset: false,
  });
  // Here: its own enter for a second room says where else it is.
  h.irc(1, "ian", ["#lobby", "#ops"]);
  const enters = h.cluster.filter((o) => o.op === "room" && o.ev.t === "enter");
  const last = enters.at(-1) as { room: string; ev: { m: { room: string; also?: string[] } } };
  assert.equal(last.room, "ops");
  assert.deepEqual(last.ev.m.also, ["lobby"]);
  telnet(h, 2, "tina", "#ops", "10.0.0.2");
  // Elsewhere: ivy on B joins #lobby, then #ops as well.
  const ivy = { id: 7, nick: "ivy", ip: "10.0.0.9", room: "lobby", away: "", op: false, active: 0 };
  const seqs = new Map<string, number>();
  const fromB = (room: string, ev: unknown) => {
    const seq = (seqs.get(room) ?? 0) + 1;
    seqs.set(room, seq);
    h.fromCluster({ kind: "bus", bus: { kind: "room", node: "B", room, seq, ev } as never });
  };
  // The harness's own proposals took the first numbers of #lobby and #ops.
  seqs.set("lobby", h.cluster.filter((o) => o.op === "room" && o.room === "lobby").length);
  seqs.set("ops", h.cluster.filter((o) => o.op === "room" && o.room === "ops").length);
  fromB("lobby", { t: "enter", m: ivy, name: "lobby", notice: "ivy joined" });
  fromB("ops", {
    t: "enter",
    m: { ...ivy, room: "ops", also: ["lobby"] },
    name: "ops",
    notice: "ivy joined",
  });
  h.read(1);
  h.read(2);
  const names = (room: string) => {
    h.send(1, `NAMES #${room}`);
    return h.read(1).filter((l) => / 353 /.test(l)).join(" ");
  };
  assert.match(names("lobby"), /\bivy\b/);
  assert.match(names("ops"), /\bivy\b/);
  h.send(2, "/who");
  assert(h.read(2).some((l) => /^ {2}ivy\b/.test(l)), "a telnet person in #ops sees ivy there");
  // ivy leaves #ops: still in #lobby; then #lobby: gone.
  fromB("ops", { t: "leave", id: 7, nick: "ivy", notice: "ivy left" });
  assert.doesNotMatch(names("ops"), /\bivy\b/);
  assert.match(names("lobby"), /\bivy\b/);
  fromB("lobby", { t: "leave", id: 7, nick: "ivy", notice: "ivy left" });
  assert.doesNotMatch(names("lobby"), /\bivy\b/);
  h.send(1, "WHOIS ivy");
  assert(codes(h.read(1)).includes("401"));
});
