/**
 * The hub against people who try to get around its rules, with a fake clock and no sockets:
 * slow token guessing, floods through fresh connections, the room token, a lagging hub, a
 * poisoned history, lookalike nicks, sloppy operator input — and people behind one address who
 * must never be mistaken for spammers.
 */
import assert from "node:assert/strict";
import { NOTICE, PREAUTH_LINES } from "../../src/chat/hub.ts";
import { Outbox } from "../../src/chat/shared_log.ts";
import { HubHarness, seededRandom } from "../support/helpers.ts";

const SEC = 1_000;

Deno.test("abuse: wrong /op tokens end in a ban, however slowly they come", () => {
  const h = new HubHarness({ adminToken: "letmein" });
  h.crowd(2);
  for (let i = 1; i <= 4; i++) {
    h.advance(30 * SEC);
    h.send(1, `/op guess-${i}`);
    assert.deepEqual(h.read(1), [`Wrong operator token. (strike ${i} of 5)`]);
    // Polite chatting in between takes no wrong-token strike away.
    h.advance(30 * SEC);
    h.send(1, "just chatting");
    assert.equal(h.hub.strikesOf("10.0.0.1"), i, `after guess ${i} and a good line`);
  }
  h.advance(30 * SEC);
  h.send(1, "/op guess-5");
  assert.ok(h.read(1).includes("You have been banned for spamming."));
  assert.ok(h.closed.has(1));
  assert.match(
    h.log.text(),
    /strike client=1 nick=guest-\d+ strikes=5\/5 reason="wrong operator token"/,
  );
});

Deno.test("abuse: wrong-token strikes are forgotten after the strike memory", () => {
  const h = new HubHarness({ adminToken: "letmein", banDuration: 60 * SEC });
  h.crowd(1);
  h.advance(SEC);
  h.send(1, "/op nope");
  assert.equal(h.hub.strikesOf("10.0.0.1"), 1);
  h.advance(61 * SEC); // the memory of wrong secrets runs out
  h.send(1, "a good line");
  assert.equal(h.hub.strikesOf("10.0.0.1"), 0, "then good lines wear the strike away as usual");
});

Deno.test("abuse: a right /op after wrong ones works; the wrong ones still count", () => {
  const h = new HubHarness({ adminToken: "letmein" });
  h.crowd(1);
  h.advance(SEC);
  h.send(1, "/op typo");
  h.advance(SEC);
  h.send(1, "/op letmein");
  assert.deepEqual(h.read(1).at(-1), "You are now an operator. /help lists the operator commands.");
  assert.equal(h.hub.strikesOf("10.0.0.1"), 1);
});

Deno.test("abuse: a flood through fresh connections is struck and banned like one on a single connection", () => {
  const h = new HubHarness();
  h.crowd(1, () => "10.0.0.99"); // a bystander elsewhere
  let delivered = 0;
  let banned = false;
  for (let i = 0; i < 100 && !banned; i++) {
    const id = 100 + i;
    const told = h.open(id, "10.0.0.66");
    if (told[0]?.startsWith("You are still temporarily banned")) {
      banned = true;
      break;
    }
    h.now += 5;
    h.send(id, `buy cheap stuff ${i}`);
    h.read(id);
    h.hangUp(id);
    h.now += 5;
    delivered += h.read(1).filter((l) => l.includes("buy cheap stuff")).length;
  }
  assert.ok(banned, "the address got banned");
  assert.ok(delivered <= 2, `${delivered} flood lines reached the room`);
  assert.match(h.log.text(), /reason="too fast from one address"/);
});

Deno.test("abuse: a hasty /quit still leaves, but its reason is not shown", () => {
  const h = new HubHarness({ connectRate: { burst: 0, per: 0 } });
  h.crowd(1, () => "10.0.0.99");
  h.advance(SEC);
  h.open(2, "10.0.0.66");
  const nick2 = h.hub.nickOf(2)!;
  h.advance(SEC);
  h.send(2, "/quit visit spam.example");
  h.read(1);
  for (let i = 0; i < 3; i++) {
    const id = 3 + i;
    h.open(id, "10.0.0.66");
    const nick = h.hub.nickOf(id)!;
    h.now += 10;
    h.send(id, "/quit visit spam.example");
    assert.deepEqual(h.read(id).at(-1), "Goodbye!", "the connection still closes");
    assert.equal(h.closed.get(id), "flush");
    const room = h.read(1);
    assert.ok(room.includes(`${NOTICE}${nick} left (quit)`), room.join("\n"));
    assert.ok(!room.some((l) => l.includes("spam.example")), "the reason is not shown");
  }
  assert.ok(nick2);
});

Deno.test("abuse: an address opening connections too fast is refused with one line", () => {
  const h = new HubHarness({ connectRate: { burst: 3, per: 30 * SEC } });
  for (let id = 1; id <= 3; id++) assert.match(h.open(id, "10.0.0.5")[1], /^Welcome/);
  assert.deepEqual(h.open(4, "10.0.0.5"), [
    "Too many new connections from your address. Try again in 10s.",
  ]);
  assert.equal(h.closed.get(4), "refuse");
  assert.match(h.open(5, "10.0.0.6")[1], /^Welcome/, "other addresses are not affected");
  h.advance(10 * SEC);
  assert.match(h.open(6, "10.0.0.5")[1], /^Welcome/, "one more is earned back per 10 s");
  assert.match(h.open(7, "10.0.0.5")[0], /^Too many new connections/);
  assert.match(h.log.text(), /WARN connections from one address too fast: refusing/);
});

Deno.test("abuse: people sharing one address (NAT), each writing every second or two, are never struck", () => {
  const h = new HubHarness();
  const PEOPLE = 10;
  const rand = seededRandom(7);
  for (let id = 1; id <= PEOPLE; id++) h.open(id, "192.0.2.1"); // one classroom, one address
  h.open(99, "10.0.0.99"); // someone listening from elsewhere
  for (let id = 1; id <= PEOPLE; id++) h.read(id);
  h.read(99);
  // Each person writes at their own pace, between 1 and 2 s apart, for five minutes; several
  // lines often arrive in the same millisecond.
  const next = Array.from({ length: PEOPLE }, () => Math.floor(rand() * 2_000));
  let sent = 0;
  const start = h.now;
  for (let t = 0; t < 300_000; t += 10) {
    h.now = start + t;
    for (let p = 0; p < PEOPLE; p++) {
      if (next[p] > t) continue;
      h.send(p + 1, `line ${sent++}`);
      next[p] = t + 1_000 + Math.floor(rand() * 100) * 10;
    }
  }
  const heard = h.read(99).filter((l) => / line \d+$/.test(l)).length;
  assert.equal(heard, sent, "every line reached the room");
  assert.equal(h.hub.strikesOf("192.0.2.1"), 0);
  assert.ok(!h.log.text().includes("strike"), "no strike at all");
  assert.ok(sent > 1_500, `${sent} lines`);
});

Deno.test("abuse: lines are judged by when they arrived, not when a busy hub got to them", () => {
  const h = new HubHarness();
  h.crowd(2);
  h.advance(SEC);
  const t0 = h.now;
  // Read 600 ms apart, handled together 2 s later: both are fine.
  h.now = t0 + 2_000;
  h.input(1, ["first"], false, 0, { at: t0 });
  h.input(1, ["second"], false, 0, { at: t0 + 600 });
  assert.deepEqual(h.read(2).map((l) => l.split("> ")[1]), ["first", "second"]);
  assert.deepEqual(h.read(1), []);
  assert.equal(h.hub.strikesOf("10.0.0.1"), 0);
  // Read 100 ms apart: too fast, however late the hub handles them.
  h.now += 5_000;
  const t1 = h.now;
  h.now = t1 + 3_000;
  h.input(1, ["third"], false, 0, { at: t1 });
  h.input(1, ["fourth"], false, 0, { at: t1 + 100 });
  assert.deepEqual(h.read(1), ["Slow down: that line was not sent. (strike 1 of 5)"]);
});

Deno.test("abuse: before the room token, input is on a small budget", () => {
  const h = new HubHarness({ token: "s3cret", maxStrikes: 3 });
  h.open(1, "10.0.0.1");
  h.read(1);
  h.send(1, ...Array(PREAUTH_LINES).fill(""));
  assert.ok(!h.closed.has(1), "a few empty lines are fine");
  h.send(1, "");
  assert.deepEqual(h.read(1), ["Too much input before the room token; goodbye."]);
  assert.equal(h.closed.get(1), "flush");
  assert.equal(h.hub.strikesOf("10.0.0.1"), 1);
  // Bytes count too, even when they make no line.
  h.open(2, "10.0.0.2");
  h.read(2);
  h.input(2, [], true, 0, { bytes: 4_000 });
  assert.deepEqual(h.read(2), ["Too much input before the room token; goodbye."]);
  assert.equal(h.hub.strikesOf("10.0.0.2"), 1);
  // The budget never keeps out the person who types the token.
  h.open(3, "10.0.0.3");
  h.read(3);
  h.send(3, "", "s3cret");
  assert.match(h.read(3)[1], /^Welcome/);
});

Deno.test("abuse: not giving the room token in time is a strike", () => {
  const h = new HubHarness({ token: "s3cret", authTimeout: 10 * SEC, maxStrikes: 2 });
  h.open(1, "10.0.0.1");
  h.advance(10 * SEC);
  assert.deepEqual(h.read(1).at(-1), "No token within 10s; goodbye.");
  assert.equal(h.hub.strikesOf("10.0.0.1"), 1);
  h.open(2, "10.0.0.1");
  h.advance(10 * SEC);
  assert.ok(h.read(2).includes("You have been banned for spamming."), "holding places adds up");
});

Deno.test("abuse: a room-token guess is never offset, and the wrong one is struck", () => {
  const h = new HubHarness({ token: "s3cret", maxStrikes: 3 });
  for (let i = 1; i <= 2; i++) {
    h.open(i, "10.0.0.1");
    h.send(i, `guess${i}`);
    assert.deepEqual(h.read(i).at(-1), `Wrong token. (strike ${i} of 3)`);
  }
  h.open(3, "10.0.0.1");
  h.send(3, "s3cret");
  h.advance(SEC);
  h.send(3, "now I am in and polite");
  assert.equal(h.hub.strikesOf("10.0.0.1"), 2, "good lines do not wash away wrong tokens");
});

Deno.test("abuse: telnet negotiation floods reported by the shell are struck", () => {
  const h = new HubHarness();
  h.crowd(1);
  h.input(1, [], false, 0, { telnetFloods: 1 });
  assert.deepEqual(h.read(1), ["Too many telnet commands. (strike 1 of 5)"]);
  assert.match(h.log.text(), /reason="telnet negotiation flood"/);
});

Deno.test("abuse: a poisoned history never locks newcomers out nor multiplies per newcomer", () => {
  const junk = "\ufffd".repeat(1_300); // ~4 KiB of replacement characters once encoded
  const h = new HubHarness({ history: 100, historyBytes: 16 * 1024, maxOutbox: 64 * 1024 });
  h.crowd(1);
  for (let i = 0; i < 40; i++) {
    h.advance(SEC);
    h.send(1, `${i} ${junk}`);
  }
  const a = h.open(2);
  const b = h.open(3);
  assert.ok(!h.closed.has(2) && !h.closed.has(3), "newcomers are welcome, not dropped");
  const shown = a.filter((l) => l.startsWith("[12:00] "));
  assert.ok(shown.length > 0 && shown.length < 40, `${shown.length} lines of history`);
  assert.ok(shown.at(-1)!.includes("39 "), "the newest lines are kept");
  const bytes = new TextEncoder().encode(a.join("\r\n")).length;
  assert.ok(bytes < 18 * 1024, `welcome of ${bytes} bytes stays near --history-bytes`);
  assert.deepEqual(a.slice(2), b.slice(2), "everyone is shown the same history");
});

Deno.test("abuse: newcomers share one copy of the history", () => {
  const h = new HubHarness();
  h.crowd(1);
  h.advance(SEC);
  h.send(1, "something worth keeping");
  const dec = new TextDecoder();
  const historyOf = (id: number) => {
    const ob = new Outbox();
    h.hub.handle({ type: "open", id, ip: "10.0.0.2", port: 1, outbox: ob }, h.now);
    const parts = [];
    for (let b = ob.take(1); b; b = ob.take(1)) parts.push(b);
    return parts.find((b) => dec.decode(b).startsWith("-- history"));
  };
  const two = historyOf(2);
  assert.ok(two && dec.decode(two).includes("something worth keeping"), "history was sent");
  assert.equal(two, historyOf(3), "the history block is one buffer, shared");
});

Deno.test("abuse: the welcome is never what gets someone dropped", () => {
  // An outbox barely bigger than the welcome: the welcome still goes out whole.
  const h = new HubHarness({ maxOutbox: 1_250 }, { motd: ["x".repeat(900)] });
  assert.match(h.open(1)[1], /^Welcome/);
  assert.ok(!h.closed.has(1));
  assert.equal(h.hub.online, 1);
});

Deno.test("abuse: lookalike, address-like, reserved and guest-form nicks are refused", () => {
  const h = new HubHarness();
  h.crowd(2);
  h.advance(SEC);
  h.send(1, "/nick alice");
  h.read(1);
  h.read(2);
  const tries: [string, string][] = [
    ["/nick aIice", "aIice looks too much like alice; pick another name."],
    ["/nick a1ice", "a1ice looks too much like alice; pick another name."],
    ["/nick ALICE", "alice is taken; pick another name."],
    ["/nick 10.0.0.1", "A nickname may not look like an IP address."],
    ["/nick 127.0.0.07", "A nickname may not look like an IP address."],
    ["/nick Server", "Server is reserved; pick another name."],
    ["/nick SERVER", "SERVER is reserved; pick another name."],
    ["/nick r00t", "r00t is reserved; pick another name."],
    ["/nick guest-1234", "guest-NNNN names are given out by the server; pick another."],
    ["/nick Guest-l234", "guest-NNNN names are given out by the server; pick another."],
  ];
  for (const [line, answer] of tries) {
    h.advance(SEC);
    h.send(2, line);
    assert.deepEqual(h.read(2), [answer], line);
  }
  h.advance(SEC);
  h.send(1, "/nick rnallory");
  h.read(1);
  h.read(2);
  h.advance(SEC);
  h.send(2, "/nick mallory");
  assert.deepEqual(h.read(2), ["mallory looks too much like rnallory; pick another name."]);
  h.advance(SEC);
  h.send(1, "/nick aIice");
  assert.deepEqual(h.read(1), ["You are now aIice."], "your own lookalike is fine");
  assert.deepEqual(h.read(2), [`${NOTICE}rnallory is now aIice`]);
});

Deno.test("abuse: notices have a form no line a person sends can take", () => {
  const h = new HubHarness();
  const [a, b] = h.crowd(2);
  h.advance(SEC);
  h.send(1, "/me left (quit: bye)");
  assert.deepEqual(h.read(2), [`* ${a} left (quit: bye)`]);
  h.hangUp(1, "quit: bye");
  assert.deepEqual(h.read(2), [`*** ${a} left (quit: bye)`]);
  h.advance(SEC);
  h.send(2, "*** alice joined");
  h.open(3);
  h.read(3);
  h.advance(SEC);
  h.send(2, "*** mallory is the new operator");
  assert.deepEqual(h.read(3), [`<${b}> *** mallory is the new operator`]);
});

Deno.test("abuse: /ban and /unban take addresses strictly, in every spelling of one host", () => {
  const h = new HubHarness({ adminToken: "k" });
  h.crowd(1);
  h.advance(SEC);
  h.send(1, "/op k");
  h.read(1);
  const cmds: [string, string][] = [
    [
      "/ban 127.0.0.07",
      "127.0.0.07 is neither a nick here nor an IP address: leading zeros are ambiguous " +
      "(some tools read them as octal).",
    ],
    ["/ban ::ffff:10.0.0.7 1h", "Banned 10.0.0.7 for 1h; 0 connections closed."],
    ["/ban 2001:DB8:0:0::1", "Banned 2001:db8::/64 for 10m; 0 connections closed."],
    ["/ban 10.0.0.8 366d", "Bans last at most 365d."],
    ["/ban 10.0.0.8 100000000d", "Bans last at most 365d."],
    ["/ban 10.0.0.8 -5m", "Durations look like 30s, 10m, 2h or 1d."],
    ["/ban 10.0.0.8 365d long one", "Banned 10.0.0.8 for 365d; 0 connections closed."],
    [
      "/unban 010.0.0.8",
      "010.0.0.8 is not an IP address: leading zeros are ambiguous (some tools read them as octal).",
    ],
    ["/unban ::FFFF:10.0.0.7", "Unbanned 10.0.0.7."],
  ];
  for (const [line, answer] of cmds) {
    h.advance(SEC);
    h.send(1, line);
    assert.deepEqual(h.read(1), [answer], line);
  }
  assert.deepEqual(h.open(5, "::ffff:10.0.0.8"), [
    "You are still temporarily banned. Try again in 364d 23h.",
  ], "the mapped spelling of a banned address is refused too");
  assert.match(h.open(6, "10.0.0.7")[1], /^Welcome/, "unbanned through its other spelling");
  const saved = h.saves.at(-1)!.map((b) => b.ip).sort();
  assert.deepEqual(saved, ["10.0.0.8", "2001:db8::/64"]);
});

Deno.test("abuse: in safe mode, refusals and their summaries never name the address", () => {
  const BANNED = "10.0.0.9";
  const CROWDED = "10.0.0.5";
  for (const safeMode of [false, true]) {
    const h = new HubHarness(
      { safeMode, maxPerIp: 2, connectRate: { burst: 4, per: 60 * SEC } },
      { bans: [{ ip: BANNED, until: Date.UTC(2030, 0), reason: "spam", by: "op", since: 0 }] },
    );
    const mode = safeMode ? "safe mode" : "normal";
    // Two members, then two refusals past --max-per-ip (a line, then one counted for later)...
    for (let id = 1; id <= 2; id++) assert.match(h.open(id, CROWDED)[1], /^Welcome/, mode);
    for (let id = 3; id <= 4; id++) {
      assert.deepEqual(h.open(id, CROWDED), ["Too many connections from your address (limit 2)."]);
    }
    // ... then the connect rate runs dry: two refusals as too fast.
    for (let id = 5; id <= 6; id++) assert.match(h.open(id, CROWDED)[0], /^Too many new/, mode);
    // A banned address, twice.
    for (let id = 7; id <= 8; id++) assert.match(h.open(id, BANNED)[0], /still temporarily/);
    // The 60 s window is swept on a tick: the repeats are summarized.
    h.advance(60 * SEC);
    const log = h.log.text();
    const shown = (ip: string) => safeMode ? "hidden" : ip.replaceAll(".", "\\.");
    const lines = [
      `WARN too many connections from one address addr=${shown(CROWDED)} limit=2`,
      `WARN connections from one address too fast: refusing addr=${shown(CROWDED)} limit=4/1m`,
      `WARN more connections refused from one address addr=${shown(CROWDED)} times=1 within=60s`,
      `WARN more connections from one address refused as too fast addr=${
        shown(CROWDED)
      } times=1 within=60s`,
      `INFO refused banned address addr=${safeMode ? "hidden" : `${shown(BANNED)}:40007`} left=`,
      `INFO refused banned address again addr=${shown(BANNED)} times=1 within=60s`,
    ];
    for (const line of lines) assert.match(log, new RegExp(`^${line}`, "m"), `${mode}: ${line}`);
    if (safeMode) {
      for (const secret of [CROWDED, BANNED, "4000"]) {
        assert.ok(!log.includes(secret), `safe mode logged ${secret}:\n${log}`);
      }
    }
  }
});

Deno.test("abuse: an operator's ban of a chosen length refuses for that long, and no longer", () => {
  const h = new HubHarness({ adminToken: "k" });
  const [, target] = h.crowd(2);
  h.advance(SEC);
  h.send(1, "/op k");
  h.read(1);
  h.advance(SEC);
  h.send(1, `/ban ${target} 2h posting links`);
  assert.deepEqual(h.read(1).at(-1), `Banned ${target}'s address for 2h; 1 connection closed.`);
  assert.ok(h.closed.has(2));
  const banned = h.now;
  h.advance(60 * 60 * SEC + 59 * 60 * SEC); // 1h59m later: a minute left
  assert.equal(h.now - banned, (2 * 60 - 1) * 60 * SEC);
  assert.deepEqual(h.open(3, "10.0.0.2"), [
    "You are still temporarily banned. Try again in 1m.",
  ]);
  assert.equal(h.closed.get(3), "refuse");
  // 2h01m after the ban, before any tick could prune it: the ban itself has run out.
  h.now += 2 * 60 * SEC;
  assert.match(h.open(4, "10.0.0.2")[1], /^Welcome/, "the ban has run out");
  assert.ok(!h.closed.has(4));
});

Deno.test("abuse: with an admin token set, non-operators' /ban, /unban and /bans change nothing", () => {
  const until = 1_700_000_000_000 + 60 * 60 * SEC;
  const h = new HubHarness({ adminToken: "k" }, {
    bans: [{ ip: "10.0.0.9", until, reason: "spam", by: "op", since: 1_700_000_000_000 }],
  });
  const [, other] = h.crowd(2);
  const before = h.hub.bans(h.now);
  const refused = ["Only operators can do that. Operators get in with /op TOKEN."];
  for (
    const line of [
      `/ban ${other} 2h go away`,
      `/ban ${other}`,
      "/ban 10.0.0.7 1h",
      "/unban 10.0.0.9",
      "/bans",
    ]
  ) {
    h.advance(SEC);
    h.send(1, line);
    assert.deepEqual(h.read(1), refused, line);
  }
  assert.deepEqual(h.read(2), [], `${other} was told nothing`);
  assert.ok(!h.closed.has(2), `${other} is still here`);
  assert.deepEqual(h.hub.bans(h.now), before, "the ban list is as it was");
  assert.deepEqual(h.saves, [], "no ban was saved");
  assert.match(h.open(3, "10.0.0.2")[1], /^Welcome/, `${other}'s address is not banned`);
  assert.match(h.open(4, "10.0.0.7")[1], /^Welcome/, "nor the address typed");
  assert.deepEqual(h.open(5, "10.0.0.9"), [
    "You are still temporarily banned. Try again in 59m 55s.", // five commands, a second apart
  ], "the standing ban stands");
  assert.ok(!/operator: (ban|unban)/.test(h.log.text()), "no operator action was logged");
});
