/**
 * The line editor's cost: a key does work in proportion to what it changes (not to the length of
 * the line), the work is reported, and `maxWork` stops a feed that would do more. Work is asserted
 * in the editor's own units, never in time. The randomized test at the end checks that the layout
 * cache behind this never goes stale: after every step the screen must be what a fresh drawing
 * of the same prompt and text gives.
 */
import assert from "node:assert/strict";
import {
  charWidth,
  type Completion,
  LineEditor,
  type LineEditorOptions,
  MAX_LISTED,
  TAB_WORK,
} from "../../src/terminal/editor.ts";
import { Screen } from "../support/vt.ts";

const enc = new TextEncoder();
const PROMPT = "[alice] ";

/** An editor with a model screen, fed whole (or in pieces, see {@link Term.feed}). */
class Term {
  readonly ed: LineEditor;
  vt: Screen;
  lines: string[] = [];
  left = false;

  constructor(opts: Partial<LineEditorOptions> & { height?: number } = {}) {
    this.ed = new LineEditor({ maxLine: 1 << 16, prompt: PROMPT, ...opts });
    this.vt = new Screen(opts.width || 80, opts.height ?? 24);
    this.vt.write(this.ed.draw());
  }

  /** Feeds `data` in one call; returns the work reported. */
  key(data: string | Uint8Array, maxWork?: number): number {
    const bytes = typeof data === "string" ? enc.encode(data) : data;
    const r = this.ed.feed(bytes, maxWork);
    this.lines.push(...r.lines);
    if (r.leave) this.left = true;
    this.vt.write(r.echo);
    if (maxWork === undefined) assert.equal(r.consumed, bytes.length);
    return r.work;
  }

  /** Feeds all of `data` with a budget of `maxWork` a call; returns how many calls it took. */
  feed(data: Uint8Array, maxWork: number): number {
    let calls = 0;
    let at = 0;
    while (at < data.length && !this.left) {
      const r = this.ed.feed(data.subarray(at), maxWork);
      assert.ok(r.consumed >= 1 || r.leave, "every call takes something");
      at += r.consumed;
      this.lines.push(...r.lines);
      if (r.leave) this.left = true;
      this.vt.write(r.echo);
      calls++;
    }
    return calls;
  }

  /** What is on screen, and what the editor holds: two feeds of the same keys must agree here. */
  state() {
    return {
      rows: this.vt.lines(),
      cursor: [this.vt.x, this.vt.y],
      line: this.ed.line,
      at: this.ed.cursor,
      lines: this.lines,
      left: this.left,
    };
  }
}

const K = {
  left: "\x1b[D",
  right: "\x1b[C",
  home: "\x1b[H",
  end: "\x1b[F",
  ctrlE: "\x05",
  ctrlA: "\x01",
};

// ---- Work per key -----------------------------------------------------------------------------

const LONG_LINES: [string, string][] = [
  ["2000 × ж", "ж".repeat(2000)],
  ["4 KiB of ASCII", "abcdefgh".repeat(512)],
  ["1365 CJK wide characters", "中文字".repeat(455)],
  ["CJK beyond the BMP", "𠀀".repeat(1000)],
  ["emoji", "😀".repeat(1000)],
  ["combining accents", "e\u0301".repeat(2000)],
  ["flags and skin tones", "🇫🇷👍🏽".repeat(400)],
];

/** Average work allowed per cursor key: a handful of cells moved over and written. */
const PER_KEY = 100;

for (const [name, line] of LONG_LINES) {
  Deno.test(`work: cursor keys on a line of ${name} cost O(1) each, not O(line)`, () => {
    for (const width of [80, 7]) {
      const t = new Term({ width, height: 2000 });
      t.key(line);
      assert.equal(t.ed.line, line);
      const runs: [string, string][] = [
        ["Ctrl-E", K.ctrlE.repeat(1000)],
        ["Home", K.home.repeat(1000)],
        ["Home/End", (K.ctrlA + K.end).repeat(500)],
        ["End/Home", (K.ctrlE + K.home).repeat(500)],
        ["Left", K.left.repeat(1000)],
        ["Right", K.right.repeat(1000)],
        ["Left/Right", (K.left + K.right).repeat(500)],
      ];
      for (const [keys, input] of runs) {
        const work = t.key(input);
        assert.ok(
          work <= 1000 * PER_KEY,
          `${keys} at width ${width}: ${work} units for 1000 keys (${line.length} units in line)`,
        );
      }
      // And the cursor is where a fresh drawing puts it (the cache was right).
      t.key(K.ctrlE);
      const fresh = new Screen(width, 2000).write(PROMPT + line);
      assert.deepEqual(t.vt.lines(), fresh.lines());
      assert.deepEqual([t.vt.x, t.vt.y], fresh.pending ? [0, fresh.y + 1] : [fresh.x, fresh.y]);
    }
  });
}

Deno.test("work: typing at the end of a long line is O(1) a key; a paste costs its length", () => {
  for (const [name, line] of LONG_LINES) {
    const t = new Term({ width: 80, height: 2000 });
    const paste = t.key(line);
    assert.ok(paste <= line.length + 100, `${name}: a paste of ${line.length} cost ${paste}`);
    for (const ch of ["x", "ж", "中", "😀", " "]) {
      const work = t.key(ch);
      assert.ok(work <= 10, `${name}: typing ${ch} at the end cost ${work}`);
    }
    const bs = t.key("\x7f");
    assert.ok(bs <= 60, `${name}: Backspace at the end cost ${bs}`);
  }
});

Deno.test("work: a long line put together from many small reads costs its length in all", () => {
  const t = new Term({ width: 80, height: 200 });
  let total = 0;
  for (let i = 0; i < 2000; i++) total += t.key("ж");
  assert.ok(total <= 2000 * 4, `2000 keys cost ${total}`);
});

Deno.test("work: a grapheme longer than the segmenter's window costs O(window) a key", () => {
  // One letter with 300 combining marks: the segmenter only ever sees a window of it, so Left
  // and Backspace take it in pieces, at a bounded cost each, and the screen stays right.
  const line = "x" + "a" + "\u0301".repeat(300) + "y";
  const t = new Term({ width: 20, height: 50 });
  t.key(line);
  for (let i = 0; i < 5; i++) assert.ok(t.key(K.left) <= PER_KEY);
  assert.ok(t.ed.cursor > 2 && t.ed.cursor < line.length - 1, "inside the long grapheme");
  for (let i = 0; i < 20; i++) assert.ok(t.key(K.left) <= PER_KEY);
  assert.equal(t.ed.cursor, 0, "and out of it at last");
  t.key(K.end);
  for (let i = 0; i < 30; i++) assert.ok(t.key("\x7f") <= 2 * PER_KEY + 40);
  const fresh = new Screen(20, 50).write(PROMPT + t.ed.line);
  assert.deepEqual(t.vt.lines(), fresh.lines());
});

Deno.test("work: a redraw, a repaint and a Tab count what they write and examine", () => {
  const t = new Term({
    width: 80,
    complete: () => ({ shown: ["alice", "albert"], total: 2, common: "al" }),
  });
  const line = "ж".repeat(1000);
  t.key(line);
  assert.ok(t.key("\x0c") >= line.length, "Ctrl-L writes the whole line again");
  t.key(K.home);
  assert.ok(t.key("a") >= line.length, "an insert at the start repaints the rest");
  const tab = t.key(K.end + " a\t");
  assert.ok(tab >= TAB_WORK + "alice  albert".length + line.length, `a Tab cost ${tab}`);
});

// ---- maxWork ----------------------------------------------------------------------------------

/** Keys of every kind, with UTF-8, escape sequences and line ends for a split to fall inside. */
const SCRIPT = "héllo wörld ж中😀e\u0301 " + K.left + K.left + "\x1bOH" + K.ctrlE +
  "\x7f\x1b[3~\x17ab\r\0next " + "\x1b[1;5D" + "\u0301🇫🇷" + "\x1b]0;title\x07" +
  "x\r\n" + "ж".repeat(60) + K.home + "中".repeat(20) + "\x1b[1~\x0b" + "\x1b[A" +
  "👨‍👩‍👧 e\u0301\u0308" + "\x1bb\x1bf\x1b\x7f" + "\x0c" + "tail";

Deno.test("maxWork: a small budget stops early; feeding the rest gives what one feed gives", () => {
  const data = enc.encode(SCRIPT);
  const whole = new Term({ width: 20, height: 100 });
  whole.key(data);
  for (const budget of [0, 1, 3, 10, 37, 100, 1000]) {
    const t = new Term({ width: 20, height: 100 });
    const calls = t.feed(data, budget);
    assert.deepEqual(t.state(), whole.state(), `budget ${budget}`);
    if (budget <= 100) assert.ok(calls > 1, `budget ${budget} stopped early (${calls} calls)`);
  }
});

Deno.test("maxWork: a feed stops soon after passing the budget, and says how much it read", () => {
  const t = new Term({ width: 80 });
  const r = t.ed.feed(enc.encode("ж".repeat(1000)), 50);
  assert.ok(r.consumed > 0 && r.consumed < 2000, `consumed ${r.consumed}`);
  assert.ok(r.work > 50 && r.work <= 60, `work ${r.work}`);
  assert.equal(t.ed.line, "ж".repeat(Math.floor(r.consumed / 2)));
  const ascii = t.ed.feed(enc.encode("a".repeat(1000)), 50);
  assert.ok(ascii.consumed <= 60, "a run of ASCII is cut to the budget too");
  const none = t.ed.feed(enc.encode(K.ctrlE.repeat(10)), 0);
  assert.equal(none.consumed, 1, "a budget of 0 still takes one byte");
  const bye = new LineEditor({ maxLine: 100 }).feed(enc.encode("ab\x15\x04rest"));
  assert.equal(bye.leave, true);
  assert.equal(bye.consumed, 4, "leaving reads nothing after Ctrl-D");
});

Deno.test("maxWork: splitting the input at every point gives the same screen and lines", () => {
  const data = enc.encode(SCRIPT);
  const whole = new Term({ width: 20, height: 100 });
  whole.key(data);
  for (let k = 0; k <= data.length; k++) {
    const t = new Term({ width: 20, height: 100 });
    t.key(data.subarray(0, k));
    t.key(data.subarray(k));
    assert.deepEqual(t.state(), whole.state(), `split at ${k}`);
  }
});

// ---- Completion -------------------------------------------------------------------------------

Deno.test("completion: (+N) counts from total, the prefix filled in is common", () => {
  // The caller's index knows 500 matches; it lists 2 and says what all of them share.
  const asked: string[] = [];
  const t = new Term({
    complete: (word): Completion => {
      asked.push(word);
      return { shown: ["alice", "alicia"], total: 500, common: "al" };
    },
  });
  t.key("a\t");
  assert.deepEqual(asked, ["a"]);
  assert.equal(t.ed.line, "al", "common, not the longer prefix of the two shown");
  assert.deepEqual(t.vt.lines(), ["alice  alicia  (+498)", PROMPT + "al"]);
});

Deno.test("completion: at most MAX_LISTED are listed; one match replaces the word", () => {
  const many = Array.from({ length: 100 }, (_, i) => `n${i}`);
  const t = new Term({
    width: 1000,
    complete: (word) =>
      word === "n"
        ? { shown: many, total: 100, common: "n" }
        : { shown: ["nobody"], total: 1, common: "nobody" },
  });
  t.key("n\t");
  const listing = many.slice(0, MAX_LISTED).join("  ") + `  (+${100 - MAX_LISTED})`;
  assert.deepEqual(t.vt.lines(), [listing, PROMPT + "n"]);
  t.key("o\t");
  assert.equal(t.ed.line, "nobody: ");
});

Deno.test("completion: what no key can type never enters the line", () => {
  const t = new Term({
    complete: () => ({ shown: ["bo\x1b[2Jb\u202e"], total: 1, common: "bo\x1b[2Jb\u202e" }),
  });
  const echo = t.ed.feed(enc.encode("b\t")).echo;
  assert.equal(t.ed.line, "bo[2Jb: ");
  assert.ok(!echo.includes("\x1b[2J"), "no escape sequence reaches the terminal");
});

// ---- Widths and graphemes ---------------------------------------------------------------------

Deno.test("widths: the shortcut for U+0300..U+052F agrees with the Unicode properties", () => {
  const zero = /[\p{Mn}\p{Me}\p{Cf}]/u;
  for (let cp = 0x300; cp < 0x530; cp++) {
    assert.equal(charWidth(cp), zero.test(String.fromCodePoint(cp)) ? 0 : 1, cp.toString(16));
  }
});

/**
 * The scripts the editor steps through without the segmenter (besides Latin), as [first, end)
 * ranges; a test checks the editor against Intl.Segmenter on every code point in them.
 */
const SIMPLE: [number, number][] = [
  [0x20, 0x7f],
  [0xa0, 0x300],
  [0x370, 0x483],
  [0x48a, 0x530],
  [0x3041, 0x3097],
  [0x30a1, 0x30fb],
  [0x4e00, 0xa000],
  [0xac00, 0xd7a4],
  [0x1f000, 0x1f1e6],
  [0x1f200, 0x1f3fb],
  [0x1f400, 0x1fb00],
  [0x20000, 0x3fffe],
];

Deno.test("graphemes: Left and Right stop where Intl.Segmenter breaks, across the fast scripts", () => {
  const seg = new Intl.Segmenter(undefined, { granularity: "grapheme" });
  // Each code point next to a letter on both sides (a mark or a prefix would join), next to
  // itself (a regional indicator or a jamo would), and next to a pictograph and Hangul
  // syllables of both kinds (a joiner or a jamo would).
  const around = (x: string) => `a${x}a${x}${x}가${x}각${x}😀`;
  const chunks: string[] = [];
  for (const [lo, hi] of SIMPLE) {
    const step = hi - lo > 0x10000 ? 97 : 1;
    let chunk = "";
    for (let cp = lo; cp < hi; cp += step) {
      if (/\p{Cs}/u.test(String.fromCodePoint(cp))) continue;
      chunk += around(String.fromCodePoint(cp));
      if (chunk.length > 4000) {
        chunks.push(chunk);
        chunk = "";
      }
    }
    if (chunk) chunks.push(chunk);
  }
  for (const text of chunks) {
    const want = [...seg.segment(text)].map((s) => s.index).concat(text.length);
    const ed = new LineEditor({ maxLine: 1 << 20 });
    ed.feed(enc.encode(text + K.home));
    const right = [ed.cursor];
    for (let i = 1; i < want.length; i++) {
      ed.feed(enc.encode(K.right));
      right.push(ed.cursor);
    }
    assert.deepEqual(right, want, text.slice(0, 40));
    const left = [ed.cursor];
    for (let i = 1; i < want.length; i++) {
      ed.feed(enc.encode(K.left));
      left.push(ed.cursor);
    }
    assert.deepEqual(left.reverse(), want, text.slice(0, 40));
  }
});

// ---- The layout cache under random editing ----------------------------------------------------

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}

const HEIGHT = 300;

/** What a fresh terminal shows after `log`, then `prompt` and `text`, and where the cursor goes. */
function fresh(log: string, prompt: string, text: string, pos: number, width: number) {
  const full = new Screen(width, HEIGHT).write(log + prompt + text);
  const head = new Screen(width, HEIGHT).write(log + prompt + text.slice(0, pos));
  const cursor = head.pending ? [0, head.y + 1] : [head.x, head.y];
  return { rows: full.lines(), cursor };
}

Deno.test("cache: random edits, moves, resizes, prompt changes and split feeds never leave it stale", () => {
  const pieces = [
    "a",
    " ",
    "ж",
    "жж ж",
    "中",
    "😀",
    "𠀀",
    "e\u0301",
    "\u0301",
    "\u0301\u0308",
    "🇫🇷",
    "🇫",
    "👨‍👩‍👧",
    "👍🏽",
    "가",
    "\u1100\u1161",
    "क्षि",
    "a中b",
    "\u200d",
    "xyz",
    "ﾊﾞ",
  ];
  const keys = [
    K.left,
    K.right,
    K.home,
    K.end,
    K.ctrlA,
    K.ctrlE,
    "\x7f",
    "\x7f",
    "\x1b[3~",
    "\x17",
    "\x15",
    "\x0b",
    "\x03",
    "\x1b[A",
    "\x1b[B",
    "\x1b[1;5D",
    "\x1b[1;5C",
    "\x1bb",
    "\x1bf",
    "\r\0",
    "\x0c",
    "\t",
  ];
  const prompts = [
    PROMPT,
    "> ",
    "",
    "\x1b[1m[bob]\x1b[0m ",
    "[中文] ",
    "[a long prompt, wider than a row] ",
  ];
  const names = ["alice", "albert", "алиса", "алёна", "中文", "中国人", "😀smile", "e\u0301mile"];
  let answered: Completion | null = null;
  const complete = (word: string): Completion => {
    const found = names.filter((n) => n.startsWith(word));
    let common = found[0] ?? "";
    for (const n of found) while (!n.startsWith(common)) common = common.slice(0, -1);
    answered = { shown: found, total: found.length, common };
    return answered;
  };
  const rand = random(4321);
  const pick = <T>(list: T[]) => list[Math.floor(rand() * list.length)];
  for (let round = 0; round < 40; round++) {
    let width = round < 5 ? [2, 3, 7, 20, 80][round] : 2 + Math.floor(rand() * 30);
    const ed = new LineEditor({ maxLine: 160, prompt: PROMPT, width, complete });
    let vt = new Screen(width, HEIGHT).write(ed.draw());
    let log = "";
    let drawn = PROMPT; // the prompt on screen
    let next = PROMPT; // the prompt the next drawing shows
    for (let step = 0; step < 100; step++) {
      const r = rand();
      const before = ed.line;
      let input = "";
      let what: string;
      if (r < 0.04) {
        const msg = `<bob> ${step}${"中".repeat(step % 3)}\r\n`;
        vt.write(ed.print(msg));
        log += msg;
        drawn = next;
        what = "message";
      } else if (r < 0.07) {
        next = ed.prompt = pick(prompts);
        vt.write(ed.refresh());
        drawn = next;
        what = `prompt ${JSON.stringify(next)}, drawn`;
      } else if (r < 0.10) {
        next = ed.prompt = pick(prompts);
        what = `prompt ${JSON.stringify(next)}, not yet drawn`;
      } else if (r < 0.13) {
        width = 2 + Math.floor(rand() * 30);
        vt = new Screen(width, HEIGHT).write(ed.resize(width));
        log = "\r\n";
        drawn = next;
        what = `resize to ${width}`;
      } else {
        input = r < 0.6 ? pick(pieces) : pick(keys);
        what = JSON.stringify(input);
        answered = null;
        const data = enc.encode(input);
        const mode = rand();
        if (mode < 0.4) {
          vt.write(ed.feed(data).echo);
        } else if (mode < 0.7) {
          const k = Math.floor(rand() * (data.length + 1));
          vt.write(ed.feed(data.subarray(0, k)).echo);
          vt.write(ed.feed(data.subarray(k)).echo);
          what += ` split at ${k}`;
        } else {
          const budget = Math.floor(rand() * 20);
          for (let at = 0; at < data.length;) {
            const res = ed.feed(data.subarray(at), budget);
            vt.write(res.echo);
            at += res.consumed;
          }
          what += ` with maxWork ${budget}`;
        }
        if (input === "\r\0") {
          log += drawn + before + "\r\n";
          drawn = next;
        } else if (input === "\x0c") {
          log = "";
          drawn = next;
        } else if (input === "\t" && answered && (answered as Completion).total >= 2) {
          log += (answered as Completion).shown.join("  ") + "\r\n";
          drawn = next;
        }
      }
      const where = `round ${round}, width ${width}, step ${step}: ${what}, line ${
        JSON.stringify(ed.line)
      } at ${ed.cursor}`;
      let want = fresh(log, drawn, ed.line, ed.cursor, width);
      if (next !== drawn && !sameScreen(vt, want)) {
        // A repaint may have drawn everything again, with the new prompt.
        want = fresh(log, next, ed.line, ed.cursor, width);
        if (sameScreen(vt, want)) drawn = next;
      }
      assert.deepEqual(vt.lines(), want.rows, where);
      assert.deepEqual([vt.x, vt.y], want.cursor, where);
      assert.equal(vt.pending, false, where);
    }
  }
});

function sameScreen(vt: Screen, want: { rows: string[]; cursor: number[] }): boolean {
  const rows = vt.lines();
  return rows.length === want.rows.length && rows.every((r, i) => r === want.rows[i]) &&
    vt.x === want.cursor[0] && vt.y === want.cursor[1];
}
