/** The telnet side of a connection, byte for byte: commands, detection, negotiation, NAWS. */
import assert from "node:assert/strict";
import { MAX_SUBNEG, TelnetSession } from "../../src/net/telnet.ts";
import { LineEditor } from "../../src/terminal/editor.ts";

const enc = new TextEncoder();

const IAC = 255;
const [DONT, DO, WONT, WILL, SB, SE] = [254, 253, 252, 251, 250, 240];

/** Our offer: WILL ECHO, WILL SGA, DO NAWS, DO TTYPE, then `\r\e[K`. */
const OFFER = [IAC, WILL, 1, IAC, WILL, 3, IAC, DO, 31, IAC, DO, 24];
const BINARY = [IAC, WILL, 0, IAC, DO, 0];
const WIPE = [0x0d, 0x1b, 0x5b, 0x4b];
const PROBE = [...OFFER, ...BINARY, ...WIPE];

/** PuTTY's opening, sent before anything from the server. */
const PUTTY = [
  ...[IAC, WILL, 31, IAC, WILL, 32, IAC, WILL, 24, IAC, WILL, 39],
  ...[IAC, DO, 1, IAC, WILL, 3, IAC, DO, 3],
];

/** What inetutils, netkit, BusyBox and PuTTY all answered to the offer. */
const ANSWER = [IAC, DO, 1, IAC, DO, 3, IAC, WILL, 31, IAC, SB, 31, 0, 80, 0, 24, IAC, SE];

function bytes(...parts: (string | number[])[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) out.push(...(typeof p === "string" ? enc.encode(p) : p));
  return new Uint8Array(out);
}

function feed(t: TelnetSession, ...parts: (string | number[])[]): number[] {
  return [...t.feed(bytes(...parts))];
}

function reply(t: TelnetSession): number[] {
  return [...(t.takeReply() ?? [])];
}

// ---- Commands out of the data -----------------------------------------------------------------

Deno.test("telnet: plain data comes back as the same buffer, one indexOf and done", () => {
  const t = new TelnetSession();
  t.feed(bytes("first\n"));
  const chunk = bytes("hello there");
  assert.equal(t.feed(chunk), chunk);
  assert.equal(t.removed, 0);
});

Deno.test("telnet: options, subnegotiations and two-byte commands are removed", () => {
  const t = new TelnetSession();
  const data = feed(
    t,
    "a",
    [IAC, WILL, 24],
    "b",
    [IAC, 241], // NOP
    [IAC, 246], // AYT
    [IAC, 249], // GA
    [IAC, 242], // DM
    [IAC, SE], // stray SE
    "c",
    [IAC, SB, 24, 0, 0x0d, 0x0a, 0x41, IAC, SE],
    "d",
  );
  assert.deepEqual(data, [...enc.encode("abcd")]);
  assert.equal(t.removed, 3 + 2 * 5 + 9);
});

Deno.test("telnet: IAC EC, EL and IP become Backspace, Ctrl-U and Ctrl-C", () => {
  const t = new TelnetSession();
  assert.deepEqual(feed(t, "ab", [IAC, 247], "c", [IAC, 248], [IAC, 244]), [
    0x61,
    0x62,
    0x7f,
    0x63,
    0x15,
    0x03,
  ]);
  assert.equal(t.removed, 3);
});

Deno.test("telnet: a lone 0xFF is invalid data, kept with the byte after it", () => {
  const t = new TelnetSession();
  t.feed(bytes("x\n")); // a raw client, settled
  assert.deepEqual(feed(t, "caf", [0xff], "e!"), [0x63, 0x61, 0x66, 0xff, 0x65, 0x21]);
  assert.deepEqual(feed(t, [IAC, IAC]), [0xff], "IAC IAC is one 0xFF");
  assert.deepEqual(feed(t, [IAC, IAC, 0x41]), [0xff, 0x41]);
});

Deno.test("telnet: a lone 0xFF at the end of a read, data in the next", () => {
  const t = new TelnetSession();
  t.feed(bytes("x\n"));
  assert.deepEqual(feed(t, "caf", [0xff]), [0x63, 0x61, 0x66]);
  assert.deepEqual(feed(t, "e!"), [0xff, 0x65, 0x21], "the output is one byte longer here");
  assert.deepEqual(feed(t, [0xff]), []);
  assert.deepEqual(feed(t, [0xff]), [0xff], "IAC | IAC");
  assert.deepEqual(feed(t, [0xff]), []);
  assert.deepEqual(feed(t, [241, 0x41]), [0x41], "IAC | NOP");
});

Deno.test("telnet: split at every byte, commands come out the same", () => {
  const stream = bytes(
    "hi\r\n",
    PUTTY,
    "a",
    [IAC, SB, 31, 0, 255, 255, 0, 24, IAC, SE],
    [IAC, 247],
    "b",
    [0xff, 0x41],
    [IAC, IAC],
    "c",
  );
  const whole = new TelnetSession();
  const want = [...whole.feed(stream.slice())];
  const wantReply = reply(whole);
  const split = new TelnetSession();
  const got: number[] = [];
  for (const b of stream) got.push(...split.feed(new Uint8Array([b])));
  assert.deepEqual(got, want);
  assert.deepEqual(reply(split), wantReply);
  assert.equal(split.width, 255);
  assert.deepEqual(got, [...bytes("hi\r\na", [0x7f], "b", [0xff, 0x41, 0xff], "c")]);
});

Deno.test("telnet: a subnegotiation without IAC SE is given up after 64 bytes", () => {
  const t = new TelnetSession();
  const junk = "x".repeat(10_000);
  const data = t.feed(bytes([IAC, SB], junk, "hello\r\n"));
  assert.equal(data.length, 10_000 - MAX_SUBNEG + 7);
  assert.equal(new TextDecoder().decode(data.subarray(-7)), "hello\r\n");
  assert.deepEqual(feed(t, "later"), [...enc.encode("later")]);
  const flood = new TelnetSession();
  const chunk = bytes([IAC, SB, 31], "x".repeat(40));
  for (let i = 0; i < 100; i++) {
    // Each IAC SB starts a new subnegotiation: all bytes are commands, and counted as removed
    // so the caller's line budget still sees a flood of them.
    assert.equal(flood.feed(chunk.slice()).length, 0);
    assert.equal(flood.removed, 43);
  }
});

// ---- Detection: raw clients never see an IAC byte ---------------------------------------------

Deno.test("telnet: a first line ending in LF is a raw client: never an IAC byte", () => {
  const t = new TelnetSession();
  feed(t, "hello\n");
  assert.equal(t.takeReply(), null);
  assert.equal(t.isRaw, true);
  feed(t, "more\r\n", [IAC, DO, 1], [IAC, WILL, 34], [IAC, SB, 31, 0, 80, 0, 24, IAC, SE]);
  assert.equal(t.takeReply(), null, "not even after IAC bytes later");
  assert.equal(t.isTelnet, false);
  assert.equal(t.charMode, false);
  assert.equal(t.width, 0);
});

Deno.test("telnet: a first line ending in CR LF or CR NUL gets the probe, once", () => {
  for (const end of [[0x0d, 0x0a], [0x0d, 0x00]]) {
    const t = new TelnetSession();
    assert.deepEqual(feed(t, "hel"), [...enc.encode("hel")]);
    assert.equal(t.takeReply(), null, "nothing before the line ends");
    feed(t, "lo", end.slice(0, 1));
    assert.equal(t.takeReply(), null, "a CR alone does not decide yet");
    feed(t, end.slice(1));
    assert.deepEqual(reply(t), PROBE);
    assert.equal(t.isTelnet, true);
    assert.equal(t.charMode, false, "no answer yet: line mode");
    feed(t, "second\r\n");
    assert.equal(t.takeReply(), null, "a second line does not probe again");
  }
});

Deno.test("telnet: a lone CR first line (then text) is raw", () => {
  const t = new TelnetSession();
  feed(t, "hi\rthere\r\n");
  assert.equal(t.takeReply(), null);
  assert.equal(t.isRaw, true);
});

Deno.test("telnet: without BINARY the probe is exactly the measured one", () => {
  const t = new TelnetSession({ binary: false });
  feed(t, "hi\r\n");
  assert.deepEqual(reply(t), [...OFFER, ...WIPE]);
  feed(t, [IAC, DO, 0], [IAC, WILL, 0]);
  assert.deepEqual(reply(t), [IAC, WONT, 0, IAC, DONT, 0], "then BINARY is refused, once");
  feed(t, [IAC, DO, 0], [IAC, WILL, 0]);
  assert.equal(t.takeReply(), null);
});

Deno.test("telnet: an IAC first gets the probe, then answers; PuTTY ends in character mode", () => {
  const t = new TelnetSession();
  const data = feed(t, PUTTY);
  assert.deepEqual(data, []);
  assert.equal(t.isTelnet, true);
  assert.deepEqual(reply(t), [
    ...PROBE,
    ...[IAC, DONT, 32], // TSPEED refused
    ...[IAC, SB, 24, 1, IAC, SE], // its WILL TTYPE answered our DO TTYPE: which terminal?
    ...[IAC, DONT, 39], // NEW-ENVIRON refused
    ...[IAC, DO, 3], // its WILL SGA accepted
  ]);
  assert.equal(t.charMode, true, "its DO ECHO answered our WILL ECHO");
  assert.equal(t.modeChangedAt, 0);
  // PuTTY's answers to our probe and refusals: nothing more to say.
  feed(t, [IAC, WONT, 32, IAC, WONT, 39], [IAC, DO, 0, IAC, WILL, 0]);
  feed(t, [IAC, SB, 31, 0, 120, 0, 40, IAC, SE]);
  assert.equal(t.takeReply(), null);
  assert.equal(t.width, 120);
  assert.equal(t.height, 40);
  assert.equal(t.resized, true);
});

Deno.test("telnet: the usual answer to the offer: character mode, 80x24, nothing to reply", () => {
  const t = new TelnetSession();
  feed(t, "nick\r\n");
  reply(t);
  const data = feed(t, ANSWER, [IAC, DO, 0, IAC, WILL, 0]);
  assert.deepEqual(data, []);
  assert.equal(t.charMode, true);
  assert.equal(t.modeChangedAt, 0);
  assert.equal(t.width, 80);
  assert.equal(t.height, 24);
  assert.equal(t.resized, true);
  assert.equal(t.resizes, 1);
  assert.equal(t.takeReply(), null);
});

Deno.test("telnet: acknowledgements are never answered, however often they come", () => {
  const t = new TelnetSession();
  feed(t, "x\r\n");
  reply(t);
  for (let i = 0; i < 100; i++) {
    feed(t, ANSWER, [IAC, DO, 0, IAC, WILL, 0, IAC, WILL, 3, IAC, DO, 3]);
  }
  assert.deepEqual(reply(t), [IAC, DO, 3], "only the first WILL SGA is answered");
  for (let i = 0; i < 100; i++) feed(t, ANSWER);
  assert.equal(t.takeReply(), null);
});

Deno.test("telnet: unknown options and LINEMODE are refused once, however often repeated", () => {
  const t = new TelnetSession();
  feed(t, "x\r\n");
  reply(t);
  for (let i = 0; i < 50; i++) feed(t, [IAC, WILL, 34, IAC, DO, 99, IAC, WILL, 99, IAC, DO, 24]);
  assert.deepEqual(reply(t), [
    ...[IAC, DONT, 34, IAC, WONT, 99, IAC, DONT, 99, IAC, WONT, 24],
  ]);
  for (let i = 0; i < 50; i++) feed(t, [IAC, WONT, 34, IAC, DONT, 99, IAC, WONT, 99]);
  assert.equal(t.takeReply(), null, "their acknowledgements of our refusals are not answered");
});

Deno.test("telnet: a refusal of our offer is not answered (BusyBox and BINARY)", () => {
  const t = new TelnetSession();
  feed(t, "x\r\n");
  reply(t);
  feed(t, [IAC, DONT, 0, IAC, WONT, 0], ANSWER);
  assert.equal(t.takeReply(), null);
  assert.equal(t.charMode, true);
});

Deno.test("telnet: DO ECHO that comes late still switches, at the right offset", () => {
  const t = new TelnetSession();
  feed(t, "x\r\n");
  reply(t);
  feed(t, "typed in line mode\r\n");
  assert.equal(t.charMode, false);
  assert.equal(t.modeChangedAt, -1);
  const data = feed(t, "ab", [IAC, DO, 1], "cd");
  assert.deepEqual(data, [...enc.encode("abcd")]);
  assert.equal(t.charMode, true);
  assert.equal(t.modeChangedAt, 2, "'ab' was typed before the switch, 'cd' after");
  feed(t, "e");
  assert.equal(t.modeChangedAt, -1, "only the read that switched reports it");
  assert.equal(t.takeReply(), null);
});

Deno.test("telnet: DONT ECHO leaves character mode (acknowledged once); DO ECHO returns", () => {
  const t = new TelnetSession();
  feed(t, "x\r\n", ANSWER);
  reply(t);
  feed(t, [IAC, DONT, 1]);
  assert.deepEqual(reply(t), [IAC, WONT, 1]);
  assert.equal(t.charMode, false);
  assert.equal(t.modeChangedAt, 0);
  feed(t, [IAC, DONT, 1]);
  assert.equal(t.takeReply(), null);
  feed(t, [IAC, DO, 1]);
  assert.deepEqual(reply(t), [IAC, WILL, 1]);
  assert.equal(t.charMode, true);
});

Deno.test("telnet: NAWS with a doubled IAC (width 255), width 0, and repeats", () => {
  const t = new TelnetSession();
  feed(t, [IAC, WILL, 31]);
  reply(t);
  feed(t, [IAC, SB, 31, 0, IAC, IAC, 0, 24, IAC, SE]);
  assert.equal(t.width, 255);
  assert.equal(t.height, 24);
  assert.equal(t.resized, true);
  feed(t, [IAC, SB, 31, IAC, IAC, IAC, IAC, 1, 0, IAC, SE]);
  assert.equal(t.width, 65535);
  assert.equal(t.height, 256);
  feed(t, [IAC, SB, 31, 0, 0, 0, 0, IAC, SE]);
  assert.equal(t.width, 0, "0 = unknown");
  assert.equal(t.height, 0);
  assert.equal(t.resizes, 3);
  feed(t, [IAC, SB, 31, 0, 0, 0, 0, IAC, SE]);
  assert.equal(t.resized, false, "the same size again is no resize");
  assert.equal(t.resizes, 3);
  feed(t, [IAC, SB, 31, 0, 100, IAC, SE]);
  assert.equal(t.width, 0, "a short report is ignored");
  feed(t, [IAC, SB, 31, 0], [100, 0, 30], [IAC], [SE]);
  assert.equal(t.width, 100, "split across reads");
  assert.equal(t.height, 30);
  assert.equal(t.takeReply(), null);
});

Deno.test("telnet: a command inside a subnegotiation ends it", () => {
  const t = new TelnetSession();
  feed(t, [IAC, WILL, 31]);
  reply(t);
  assert.deepEqual(feed(t, [IAC, SB, 31, 0, 80, IAC, 247], "ok"), [0x7f, 0x6f, 0x6b]);
});

// ---- With the editor --------------------------------------------------------------------------

Deno.test("telnet + editor: PuTTY's IAC EC and IAC EL edit the line", () => {
  const t = new TelnetSession();
  feed(t, PUTTY);
  reply(t);
  const ed = new LineEditor({ maxLine: 100, prompt: "> ", width: t.width });
  ed.draw();
  ed.feed(t.feed(bytes("helo", [IAC, 247], "lo")));
  assert.equal(ed.line, "hello");
  ed.feed(t.feed(bytes([IAC, 248], "hi")));
  assert.equal(ed.line, "hi");
  const r = ed.feed(t.feed(bytes([IAC, 244], "ok\r\n")));
  assert.deepEqual(r.lines, ["ok"]);
});

// ---- TTYPE (RFC 1091) and MTTS -----------------------------------------------------------------

const SEND_TTYPE = [IAC, SB, 24, 1, IAC, SE];

/** `IAC SB TTYPE IS name IAC SE`. */
function ttypeIs(name: string): number[] {
  return [IAC, SB, 24, 0, ...enc.encode(name), IAC, SE];
}

/** A telnet session past the probe whose client agreed to TTYPE (the first SEND taken). */
function agreed(): TelnetSession {
  const t = new TelnetSession();
  feed(t, "nick\r\n");
  reply(t);
  feed(t, [IAC, WILL, 24]);
  assert.deepEqual(reply(t), SEND_TTYPE, "WILL TTYPE: asked at once");
  return t;
}

Deno.test("telnet TTYPE: an MTTS client is asked three times; bit 64 is a screen reader", () => {
  const t = agreed();
  feed(t, ttypeIs("MUDLET"));
  assert.equal(t.terminalChanged, true);
  assert.equal(t.termType, "mudlet", "the first name, until MTTS says it was the client's");
  assert.deepEqual(reply(t), SEND_TTYPE, "a new name: asked again");
  feed(t, ttypeIs("ANSI-TRUECOLOR"));
  assert.deepEqual(reply(t), SEND_TTYPE, "asked a third time");
  assert.equal(t.screenReader, false);
  feed(t, ttypeIs("MTTS 2379")); // 2048+256+64+8+2+1: … SCREEN READER … ANSI
  assert.equal(t.terminalChanged, true);
  assert.equal(t.screenReader, true, "MTTS bit 64");
  assert.equal(t.termType, "ansi-truecolor", "with MTTS, the second name is the terminal's");
  assert.equal(t.takeReply(), null, "three asks, no fourth");
  feed(t, ttypeIs("MTTS 2379"));
  assert.equal(t.terminalChanged, false);
  assert.equal(t.takeReply(), null);
});

Deno.test("telnet TTYPE: MTTS without bit 64 is no screen reader", () => {
  const t = agreed();
  for (const name of ["TINTIN++", "XTERM-256COLOR", "MTTS 137"]) feed(t, ttypeIs(name));
  assert.equal(t.screenReader, false);
  assert.equal(t.termType, "xterm-256color");
});

Deno.test("telnet TTYPE: a repeated name ends the list (RFC 1091); dumb is kept as told", () => {
  const t = agreed();
  feed(t, ttypeIs("DUMB"));
  assert.equal(t.termType, "dumb");
  assert.equal(t.terminalChanged, true);
  assert.deepEqual(reply(t), SEND_TTYPE);
  feed(t, ttypeIs("DUMB"));
  assert.equal(t.terminalChanged, false, "nothing new");
  assert.equal(t.takeReply(), null, "the same name again: the list is over, no third ask");
  assert.equal(t.termType, "dumb");
  assert.equal(t.screenReader, false);
});

Deno.test("telnet TTYPE: names are cut to 40 printable ASCII characters", () => {
  const t = agreed();
  feed(t, [
    IAC,
    SB,
    24,
    0,
    0x1b,
    ...enc.encode("[31mX"),
    0x07,
    ...enc.encode("y".repeat(50)),
    IAC,
    SE,
  ]);
  assert.equal(t.termType, ("[31mx" + "y".repeat(50)).slice(0, 40));
  assert.ok(/^[\x20-\x7e]{40}$/.test(t.termType));
});

Deno.test("telnet TTYPE: unasked replies change nothing; a flood of them is bounded", () => {
  const t = new TelnetSession();
  feed(t, "nick\r\n");
  reply(t);
  // Before any WILL TTYPE: not asked, not taken.
  feed(t, ttypeIs("MTTS 64"));
  assert.equal(t.terminalChanged, false);
  assert.equal(t.screenReader, false);
  feed(t, [IAC, WILL, 24]);
  assert.deepEqual(reply(t), SEND_TTYPE);
  // A flood: thousands of replies, WILL/WONT TTYPE churn, in one read.
  const flood: number[] = [];
  for (let i = 0; i < 2_000; i++) {
    flood.push(...ttypeIs(`T${i}`), IAC, WONT, 24, IAC, WILL, 24);
  }
  const data = feed(t, flood, "typed");
  assert.deepEqual(data, [...enc.encode("typed")], "only the typed text is data");
  assert.equal(t.removed, flood.length, "every command byte counts toward the telnet budget");
  const out = reply(t);
  const asks = out.filter((_, i) => out[i] === SB && out[i + 1] === 24).length;
  assert.equal(asks, 2, "three asks in all, whatever the client sends");
  assert.equal(t.termType, "t0", "the first answer");
  assert.equal(t.screenReader, false);
});

Deno.test("telnet TTYPE: a raw client is never asked", () => {
  const t = new TelnetSession();
  feed(t, "nick\n");
  feed(t, [IAC, WILL, 24]);
  assert.equal(t.takeReply(), null);
});

// ---- Screen-reader mode: line mode again --------------------------------------------------------

Deno.test("telnet: screen-reader mode gives line editing back (WONT ECHO, WONT SGA), and keeps it", () => {
  const t = new TelnetSession();
  feed(t, "nick\r\n");
  reply(t);
  feed(t, ANSWER);
  assert.equal(t.charMode, true);
  t.setLineOnly(true);
  assert.equal(t.charMode, false);
  assert.deepEqual(reply(t), [IAC, WONT, 1, IAC, WONT, 3]);
  feed(t, [IAC, DONT, 1, IAC, DONT, 3]);
  assert.equal(t.takeReply(), null, "the acknowledgements are not answered");
  assert.equal(t.modeChangedAt, -1);
  feed(t, [IAC, DO, 1]);
  assert.deepEqual(reply(t), [IAC, WONT, 1], "a DO ECHO is refused: the client keeps echoing");
  assert.equal(t.charMode, false);
  feed(t, [IAC, DO, 1]);
  assert.deepEqual(reply(t), [IAC, WONT, 1], "every time (left unanswered, it would type blind)");
  t.setLineOnly(false);
  assert.deepEqual(reply(t), [IAC, WILL, 1, IAC, WILL, 3], "off: character mode offered again");
  feed(t, [IAC, DO, 1, IAC, DO, 3]);
  assert.equal(t.charMode, true);
  assert.equal(t.modeChangedAt, 0);
  assert.equal(t.takeReply(), null);
});

Deno.test("telnet: in screen-reader mode from the start, character mode is never offered", () => {
  const t = new TelnetSession();
  t.setLineOnly(true);
  assert.equal(t.takeReply(), null, "not a telnet client yet: nothing sent");
  feed(t, "nick\r\n");
  assert.deepEqual(reply(t), [IAC, DO, 31, IAC, DO, 24, ...BINARY, ...WIPE]);
});
