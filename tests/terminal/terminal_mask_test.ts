/**
 * The line editor's mask: the secret part of a command line (a password, a token, a room key) is
 * drawn as one `*` per code point wherever the line is drawn (typing, edits, repaints, redraws,
 * Tab listings, messages arriving, resizes), the line handed over on Enter is the real one, and
 * nothing of the secret ever reaches the screen. Checked on the model terminal (tests/vt.ts),
 * against a fresh drawing of the masked line after every step.
 */
import assert from "node:assert/strict";
import { secretStart } from "../../src/chat/commands/secrets.ts";
import {
  type Completion,
  LineEditor,
  type LineEditorOptions,
  MASK_SCAN,
} from "../../src/terminal/editor.ts";
import { Screen } from "../support/vt.ts";

const enc = new TextEncoder();
const PROMPT = "> ";

const K = {
  left: "\x1b[D",
  right: "\x1b[C",
  home: "\x1b[H",
  end: "\x1b[F",
  del: "\x1b[3~",
  bs: "\x7f",
  enter: "\r",
};

/** What the editor should draw for `line` under `mask`: stars from the mask on. */
function masked(line: string, mask: (line: string) => number = secretStart): string {
  const m = mask(line.slice(0, MASK_SCAN));
  if (m < 0) return line;
  return line.slice(0, m) + "*".repeat([...line.slice(m)].length);
}

/** An editor wired to a model screen, keeping every byte it wrote. */
class Term {
  readonly ed: LineEditor;
  readonly vt: Screen;
  lines: string[] = [];
  /** Everything written to the terminal. */
  out = "";

  constructor(opts: Partial<LineEditorOptions> & { height?: number } = {}) {
    this.ed = new LineEditor({ maxLine: 512, prompt: PROMPT, mask: secretStart, ...opts });
    this.vt = new Screen(opts.width || 80, opts.height ?? 24);
    this.write(this.ed.draw());
  }

  write(s: string): void {
    this.out += s;
    this.vt.write(s);
  }

  /** Feeds each input in its own read; returns the work reported. */
  key(...inputs: string[]): number {
    let work = 0;
    for (const input of inputs) {
      const r = this.ed.feed(enc.encode(input));
      this.lines.push(...r.lines);
      this.write(r.echo);
      work += r.work;
    }
    return work;
  }

  /** Types `text` one character (code point) a read, as a person does. */
  typeSlowly(text: string): void {
    for (const ch of text) this.key(ch);
  }

  get rows(): string[] {
    return this.vt.lines();
  }

  /** The screen and cursor are what a fresh drawing of the masked line gives. */
  assertFresh(where: string, mask: (line: string) => number = secretStart): void {
    const width = this.vt.width;
    const line = this.ed.line;
    const full = new Screen(width, 400).write(PROMPT + masked(line, mask));
    const shown = masked(line, mask);
    // The cursor's place in the masked line: the masked form of the text before it.
    const before = masked(line, mask).slice(0, maskedOffset(line, this.ed.cursor, mask));
    const head = new Screen(width, 400).write(PROMPT + before);
    const rows = this.rows.slice(-full.lines().length);
    assert.deepEqual(rows, full.lines(), `${where}: ${JSON.stringify(shown)}`);
    const cursorRow = this.vt.y - (this.rows.length - full.lines().length);
    const want = head.pending ? [0, head.y + 1] : [head.x, head.y];
    assert.deepEqual([this.vt.x, cursorRow], want, `${where}: the cursor`);
    assert.equal(this.vt.pending, false, where);
  }
}

/** Where offset `pos` of `line` falls in its masked form. */
function maskedOffset(line: string, pos: number, mask: (line: string) => number): number {
  const m = mask(line.slice(0, MASK_SCAN));
  if (m < 0 || pos <= m) return pos;
  return m + [...line.slice(m, pos)].length;
}

/** The characters of the secret that are in neither the command nor the prompt. */
const TELLTALE = /[alcs3rpw]/;
/** Escape sequences, to look at the characters written. */
// deno-lint-ignore no-control-regex -- removing escape sequences is the point
const ESCAPES = /\x1b\[[0-9;]*[A-Za-z]/g;

Deno.test("mask: typing `/identify alice s3cretpw` shows stars after the command", () => {
  const t = new Term();
  t.typeSlowly("/identify");
  assert.equal(t.rows.at(-1), "> /identify", "the command is shown as typed");
  t.key(" ");
  t.typeSlowly("alice s3cretpw");
  assert.equal(t.rows.at(-1), "> /identify **************", "one star a character, spaces too");
  assert.equal(t.ed.line, "/identify alice s3cretpw", "the editor holds the real line");
  t.assertFresh("typed");
  assert.ok(!TELLTALE.test(t.out.replace(ESCAPES, "")), JSON.stringify(t.out));
  t.key(K.enter);
  assert.deepEqual(t.lines, ["/identify alice s3cretpw"], "Enter hands over the real line");
  assert.deepEqual(t.rows.slice(-2), ["> /identify **************", ">"], "it stays masked");
  assert.ok(!TELLTALE.test(t.out.replace(ESCAPES, "")), "nothing of it ever went out");
});

Deno.test("mask: every secret command, in any case; other lines are shown as typed", () => {
  const cases: [string, string][] = [
    ["/op t0ken", "/op *****"],
    ["/OP t0ken", "/OP *****"],
    ["/join hideout k3y", "/join hideout ***"],
    ["/join #hideout  k3y", "/join #hideout ****"],
    ["/register pw", "/register **"],
    ["/Identify pw", "/Identify **"],
    ["/identify bob pw", "/identify ******"],
    ["/password old new", "/password *******"],
    ["/unregister pw", "/unregister **"],
    ["/join hideout", "/join hideout"],
    ["/nick op", "/nick op"],
    ["/me /op x", "/me /op x"],
    ["//op x", "//op x"],
    ["/opx y", "/opx y"],
    ["hello /op x", "hello /op x"],
  ];
  for (const [typed, shown] of cases) {
    const t = new Term();
    t.typeSlowly(typed);
    assert.equal(t.rows.at(-1), PROMPT + shown, typed);
    const pasted = new Term();
    pasted.key(typed);
    assert.equal(pasted.rows.at(-1), PROMPT + shown, `${typed}, pasted`);
  }
  const t = new Term();
  t.key("/op 😀中e\u0301🇫🇷");
  assert.equal(t.rows.at(-1), "> /op ******", "one star a code point, whatever its width");
  t.assertFresh("wide and combining");
});

Deno.test("mask: Backspace, Left, Home, Delete and inserts inside the masked part keep the screen right", () => {
  const t = new Term();
  t.key("/identify alice s3cretpw");
  const steps: [string, string][] = [
    [K.bs, "Backspace at the end"],
    [K.left, "Left"],
    [K.left, "Left"],
    [K.bs, "Backspace inside"],
    ["X", "an insert inside"],
    [K.del, "Delete inside"],
    [K.home, "Home"],
    [K.right, "Right"],
    [K.end, "End"],
    ["\x1b[1;5D", "a word left"],
    ["\x17", "Ctrl-W"],
    ["9", "typing again"],
    [K.home, "Home again"],
    ["\x0b", "Ctrl-K"],
  ];
  for (const [key, what] of steps) {
    t.key(key);
    t.assertFresh(what);
    assert.ok(!TELLTALE.test(t.out.replace(ESCAPES, "")), `${what}: ${JSON.stringify(t.out)}`);
  }
  assert.equal(t.ed.line, "");
  t.key("/op abc", K.left, K.left, K.left);
  t.assertFresh("at the mask's start");
  t.key(K.bs); // the space: the line is no longer a command with a secret
  assert.equal(t.rows.at(-1), "> /opabc", "a line that carries no secret is shown as it is");
  t.assertFresh("unmasked");
  t.key(" ");
  assert.equal(t.rows.at(-1), "> /op ***", "and masked again when it does");
  t.assertFresh("masked again");
});

Deno.test("mask: Backspace at the end rubs out one star a code point", () => {
  const t = new Term();
  t.key("/op ab中😀e\u0301");
  const before = t.out.length;
  t.key(K.bs); // e + combining accent: one grapheme, two stars
  assert.equal(t.out.slice(before), "\b\b  \b\b");
  assert.equal(t.rows.at(-1), "> /op ****");
  t.key(K.bs, K.bs); // 😀, then 中: one star each, not two columns
  assert.equal(t.rows.at(-1), "> /op **");
  t.assertFresh("after rubbing out");
});

Deno.test("mask: messages, Ctrl-L, a prompt change and a resize redraw the masked form", () => {
  const t = new Term({ width: 20, height: 12 });
  t.key("/identify alice s3cretpw and more", K.left);
  t.write(t.ed.print("<bob> hey\r\n"));
  t.assertFresh("a message");
  t.key("\x0c");
  t.assertFresh("Ctrl-L");
  t.write(t.ed.refresh());
  t.assertFresh("a refresh");
  const out = t.ed.resize(13);
  const narrow = new Screen(13, 12).write(out);
  const want = new Screen(13, 12).write("\r\n" + PROMPT + masked(t.ed.line));
  assert.deepEqual(narrow.lines(), want.lines(), "a resize draws the masked form");
  t.out += out;
  assert.ok(!TELLTALE.test(t.out.replace(ESCAPES, "")), JSON.stringify(t.out));
});

Deno.test("mask: Tab never completes inside the secret; a listing redraws the line masked", () => {
  let asked = 0;
  const complete = (word: string): Completion => {
    asked++;
    const found = ["room", "rome", "alice"].filter((w) => w.startsWith(word));
    return { shown: found, total: found.length, common: found.length ? word : "" };
  };
  const t = new Term({ complete });
  t.key("/identify al");
  const out = t.out.length;
  t.key("\t");
  assert.equal(t.out.slice(out), "\x07", "a bell, and nothing listed");
  assert.equal(asked, 0, "the secret is not even looked up");
  assert.equal(t.rows.at(-1), "> /identify **");
  t.key("\x03", "/join ro k3y", K.left, K.left, K.left, K.left, "\t");
  assert.equal(asked, 1, "a word before the secret is completed");
  assert.deepEqual(t.rows.slice(-2), ["room  rome", "> /join ro ***"]);
  t.assertFresh("after a listing");
  assert.ok(!t.out.includes("k3y"));
});

Deno.test("mask: without the option, or with an empty line, nothing is masked", () => {
  const plain = new Term({ mask: undefined });
  plain.key("/identify alice s3cretpw");
  assert.equal(plain.rows.at(-1), "> /identify alice s3cretpw");
  // A mask that hides everything: a password prompt.
  const all = new Term({ mask: () => 0 });
  all.key("s3cret\u0301", K.left, K.bs);
  assert.equal(all.rows.at(-1), "> ******", "a combining mark is a star too");
  all.assertFresh("all masked", () => 0);
  all.key(K.enter, "x");
  assert.deepEqual(all.lines, ["s3crt\u0301"]);
  assert.equal(all.rows.at(-1), "> *", "the next line is masked from its start too");
});

Deno.test("mask: typing costs what it did; the mask sees the line's start only", () => {
  let seen = 0;
  const t = new Term({
    width: 80,
    height: 100,
    maxLine: 1 << 16,
    mask: (line) => {
      seen = Math.max(seen, line.length);
      return secretStart(line);
    },
  });
  t.key("/op ");
  for (let i = 0; i < 2000; i++) {
    const work = t.key("x");
    assert.ok(work <= MASK_SCAN + 10, `key ${i} cost ${work}`);
    if (i > MASK_SCAN) assert.ok(work <= 10, `key ${i} (past the scan) cost ${work}`);
  }
  assert.equal(seen, MASK_SCAN, "never shown more than the line's start");
  assert.equal(t.ed.line.length, 2004);
  assert.ok(t.key(K.bs) <= 60, "Backspace at the end");
  const w = t.key(K.home, "\x1b[C".repeat(3), K.del);
  assert.ok(w >= 2000, `an edit that unmasks the line repaints it, and that is counted: ${w}`);
  t.assertFresh("unmasked long line");
  // A secret that starts past the scan is not masked (the documented limit).
  const far = new Term({ width: 200 });
  far.key("/join " + " ".repeat(MASK_SCAN) + "room key");
  assert.ok(far.rows.at(-1)!.endsWith("room key"));
});

// ---- Random editing -----------------------------------------------------------------------

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

Deno.test("mask: random editing at many widths, under three masks, matches a fresh masked drawing", () => {
  const masks: [string, (line: string) => number][] = [
    ["secret commands", secretStart],
    ["everything", () => 0],
    ["from a # anywhere", (line) => line.indexOf("#")],
  ];
  const pieces = [
    "/op ",
    "/identify ",
    "/join room ",
    "/",
    "#",
    "a",
    " ",
    "ж",
    "中",
    "😀",
    "e\u0301",
    "\u0301",
    "🇫🇷",
    "xyz",
  ];
  const keys = [
    K.left,
    K.right,
    K.home,
    K.end,
    K.bs,
    K.bs,
    K.del,
    "\x17",
    "\x15",
    "\x0b",
    "\x03",
    "\x1b[A",
    "\x1b[B",
    "\x1b[1;5D",
    "\x1b[1;5C",
    "\x0c",
    "\t",
  ];
  const complete = (word: string): Completion => {
    const found = ["room", "rome", "alice"].filter((w) => w.startsWith(word));
    return { shown: found, total: found.length, common: found.length === 1 ? found[0] : word };
  };
  for (const [name, mask] of masks) {
    const rand = random(name.length * 7919);
    const pick = <T>(list: T[]) => list[Math.floor(rand() * list.length)];
    for (let round = 0; round < 25; round++) {
      const width = round < 4 ? [2, 3, 10, 80][round] : 2 + Math.floor(rand() * 30);
      const t = new Term({ width, height: 300, mask, complete, maxLine: 200 });
      t.key("older line\r");
      t.write(t.ed.refresh());
      for (let step = 0; step < 80; step++) {
        const input = rand() < 0.5 ? pick(pieces) : pick(keys);
        t.key(input);
        const where = `${name}, width ${width}, step ${step} after ${JSON.stringify(input)}, ` +
          `line ${JSON.stringify(t.ed.line)} at ${t.ed.cursor}`;
        t.assertFresh(where, mask);
      }
    }
  }
});
