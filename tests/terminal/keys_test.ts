/**
 * The key decoder alone (bytes in, keys out, state across feeds), and the input history: the
 * pieces the line editor is built from, without a screen.
 */
import assert from "node:assert/strict";
import { type EditKey, KeyDecoder } from "../../src/terminal/keys.ts";
import { History, HISTORY_BYTES, HISTORY_LINES } from "../../src/terminal/history.ts";
import type { Meter } from "../../src/terminal/meter.ts";

const enc = new TextEncoder();

/** A decoder whose keys are written down as `"text:…"` or the key's name. */
class Recorder {
  readonly meter: Meter = { steps: 0 };
  readonly events: string[] = [];
  stop: EditKey | null = null;
  stopped = false;
  readonly keys = new KeyDecoder({
    type: (text) => this.events.push(`text:${text}`),
    press: (key) => {
      this.events.push(key);
      if (key === this.stop) this.stopped = true;
    },
    spent: () => this.meter.steps,
    stopped: () => this.stopped,
  }, this.meter);

  /** Decodes `input` whole and flushes; returns the events and forgets them. */
  feed(input: string | number[], maxWork?: number): string[] {
    const data = typeof input === "string" ? enc.encode(input) : new Uint8Array(input);
    assert.equal(this.keys.decode(data, maxWork), data.length);
    this.keys.flush();
    return this.events.splice(0);
  }
}

const FORMS: [string, string[]][] = [
  ["\x1b[D\x1b[C\x1b[A\x1b[B\x1b[H\x1b[F", ["left", "right", "up", "down", "home", "end"]],
  ["\x1bOD\x1bOC\x1bOA\x1bOB\x1bOH\x1bOF\x1bOM", [
    "left",
    "right",
    "up",
    "down",
    "home",
    "end",
    "enter",
  ]],
  ["\x1b[1;5D\x1b[1;3C\x1b[1;2D", ["wordLeft", "wordRight", "left"]],
  ["\x1b[1~\x1b[7~\x1b[4~\x1b[8~\x1b[3~\x1b[5~", ["home", "home", "end", "end", "delete"]],
  ["\x1bb\x1bf\x1b\x7f\x1b\x08\x1bx", ["wordLeft", "wordRight", "killWord", "killWord"]],
  ["\x01\x02\x03\x04\x05\x06\x08\x09", [
    "home",
    "left",
    "clearLine",
    "deleteOrLeave",
    "end",
    "right",
    "backspace",
    "tab",
  ]],
  ["\x0b\x0c\x0e\x10\x15\x17\x7f\x00\x07", [
    "killToEnd",
    "clearScreen",
    "down",
    "up",
    "killToStart",
    "killWord",
    "backspace",
  ]],
  ["\r\r\n\r\0\n\x1bOM", ["enter", "enter", "enter", "enter", "enter"]],
  ["\x1b]0;title\x07\x1bP1q\x1b\\\x1b[?25h\x1b(B\x1b[>1D\x1b[1 D", []],
  ["\x1b]0;oops\r", ["enter"]],
];

Deno.test("keys: every form of every key, and the sequences no key sends", () => {
  const r = new Recorder();
  for (const [input, want] of FORMS) assert.deepEqual(r.feed(input), want, JSON.stringify(input));
  assert.deepEqual(r.feed([0xc2, 0x9b, 0x44, 0xc2, 0x8f, 0x41]), ["left", "up"], "8-bit CSI, SS3");
});

Deno.test("keys: text comes in one piece before the next key; bidi controls never", () => {
  const r = new Recorder();
  assert.deepEqual(r.feed("héllo\u202e 中😀\x1b[Dab"), ["text:héllo 中😀", "left", "text:ab"]);
  // An ignored control still ends the piece: typed text before it is inserted first.
  assert.deepEqual(r.feed("e\x07\u0301"), ["text:e", "text:\u0301"]);
});

Deno.test("keys: invalid UTF-8 becomes U+FFFD and the byte that cut it short still counts", () => {
  const r = new Recorder();
  assert.deepEqual(r.feed([0x61, 0xff, 0xc3, 0x41, 0xe0, 0x80, 0xed, 0xa0, 0x80]), [
    "text:a\ufffd\ufffdA\ufffd\ufffd\ufffd\ufffd\ufffd",
  ]);
  assert.deepEqual(r.feed([0xc3, 0x0d]), ["text:\ufffd", "enter"]);
});

Deno.test("keys: a key split at every byte decodes as it does whole", () => {
  const script = "aé\x1b[1;5Dж\r\0😀\x1b]x\x07\x1bOH\x1b\x1b[C\x04";
  const data = enc.encode(script);
  const whole = new Recorder().feed(script);
  const joined = (events: string[]) => events.map((e) => e.replace(/^text:/, "\0")).join(",");
  for (let k = 0; k <= data.length; k++) {
    const r = new Recorder();
    r.keys.decode(data.subarray(0, k));
    r.keys.decode(data.subarray(k));
    r.keys.flush();
    // Text may come in two pieces where the split falls inside it; the keys are the same.
    const got = r.events.filter((e) => !e.startsWith("text:"));
    assert.deepEqual(got, whole.filter((e) => !e.startsWith("text:")), `split at ${k}`);
    const text = r.events.filter((e) => e.startsWith("text:")).join("").replaceAll("text:", "");
    assert.equal(text, "aéж😀", `split at ${k}: ${joined(r.events)}`);
  }
});

Deno.test("keys: one step per code point that is not text; maxWork and stopped end a decode", () => {
  const r = new Recorder();
  r.feed("\x1b[1;5D");
  assert.equal(r.meter.steps, 6, "each byte of a sequence");
  r.meter.steps = 0;
  r.feed("abc\u202e");
  assert.equal(r.meter.steps, 1, "text is not counted here; a bidi control dropped is");
  r.meter.steps = 0;
  const data = enc.encode("\x01".repeat(100));
  assert.equal(r.keys.decode(data, 10), 11, "stops after the byte that passes the budget");
  assert.equal(r.keys.decode(enc.encode("a".repeat(100)), 0), 1, "a budget of 0 takes one byte");
  r.keys.flush();
  r.events.length = 0;
  r.stop = "deleteOrLeave";
  assert.equal(r.keys.decode(enc.encode("x\x04rest")), 2, "nothing is read after a stop");
  r.keys.flush();
  assert.deepEqual(r.events, ["text:x", "deleteOrLeave"]);
});

Deno.test("history: Up and Down walk back and forth, keeping the draft; bounded", () => {
  const h = new History();
  assert.equal(h.older("draft"), null, "nothing sent yet");
  for (const line of ["one", "two", "two", "", "three"]) h.add(line);
  assert.equal(h.older("draft"), "three");
  assert.equal(h.older("three"), "two");
  assert.equal(h.older("two"), "one");
  assert.equal(h.older("one"), null, "the oldest");
  assert.equal(h.newer(), "two");
  assert.equal(h.newer(), "three");
  assert.equal(h.newer(), "draft");
  assert.equal(h.newer(), null);
  for (let i = 0; i < HISTORY_LINES + 10; i++) h.add(`line ${i}`);
  let n = 0;
  while (h.older("") !== null) n++;
  assert.equal(n, HISTORY_LINES);
  const big = new History();
  for (let i = 0; i < 10; i++) big.add(String(i).repeat(HISTORY_BYTES / 4));
  n = 0;
  while (big.older("") !== null) n++;
  assert.equal(n, 4, "at most HISTORY_BYTES");
});
