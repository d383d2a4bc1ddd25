/** The line editor, byte for byte and as a person sees it on a model terminal (tests/vt.ts). */
import assert from "node:assert/strict";
import {
  charWidth,
  columns,
  type Completer,
  type Completion,
  HISTORY_BYTES,
  HISTORY_LINES,
  LineEditor,
  type LineEditorOptions,
  MAX_LISTED,
} from "../../src/terminal/editor.ts";
import { Screen } from "../support/vt.ts";

const enc = new TextEncoder();
const PROMPT = "[alice] ";
/** The prompt row as the screen shows it (trailing blanks are not kept). */
const BARE = "[alice]";

type Input = string | number[] | Uint8Array;

function toBytes(input: Input): Uint8Array {
  if (typeof input === "string") return enc.encode(input);
  return input instanceof Uint8Array ? input : new Uint8Array(input);
}

/** An editor wired to a model screen, as a connection would wire it to a socket. */
class Term {
  readonly ed: LineEditor;
  readonly vt: Screen;
  lines: string[] = [];
  left = false;

  constructor(opts: Partial<LineEditorOptions> & { height?: number } = {}) {
    const width = opts.width ?? 80;
    this.ed = new LineEditor({ maxLine: 512, prompt: PROMPT, ...opts });
    this.vt = new Screen(width || 80, opts.height ?? 24);
    this.vt.write(this.ed.draw());
  }

  /** Feeds input; returns the echo (also written to the screen). */
  key(...inputs: Input[]): string {
    let echo = "";
    for (const input of inputs) {
      const r = this.ed.feed(toBytes(input));
      this.lines.push(...r.lines);
      if (r.leave) this.left = true;
      this.vt.write(r.echo);
      echo += r.echo;
    }
    return echo;
  }

  print(text: string): string {
    const out = this.ed.print(text);
    this.vt.write(out);
    return out;
  }

  get rows(): string[] {
    return this.vt.lines();
  }

  get cursor(): [number, number] {
    return [this.vt.x, this.vt.y];
  }
}

/** The answer a completer gives when `found` match: as a caller with a sorted index would. */
function answer(found: string[]): Completion {
  let common = found[0] ?? "";
  for (const w of found) {
    let i = 0;
    while (i < common.length && i < w.length && common[i] === w[i]) i++;
    common = common.slice(0, i);
  }
  return { shown: found.slice(0, MAX_LISTED), total: found.length, common };
}

// Keys as clients send them.
const K = {
  left: "\x1b[D",
  right: "\x1b[C",
  up: "\x1b[A",
  down: "\x1b[B",
  home: "\x1b[1~",
  end: "\x1b[4~",
  del: "\x1b[3~",
  bs: "\x7f",
};

// ---- Width ------------------------------------------------------------------------------------

Deno.test("columns: ASCII, accents, CJK, emoji, combining and zero-width characters", () => {
  assert.equal(columns("hello"), 5);
  assert.equal(columns("é"), 1);
  assert.equal(columns("e\u0301"), 1, "a combining accent takes no column");
  assert.equal(columns("中文"), 4);
  assert.equal(columns("한국"), 4, "Hangul syllables");
  assert.equal(columns("ｆｕｌｌ"), 8, "fullwidth forms");
  assert.equal(columns("😀"), 2);
  assert.equal(columns("⌚"), 2, "emoji presentation in the BMP");
  assert.equal(columns("a\u200bb"), 2, "zero width space");
  assert.equal(columns("\u200d\ufe0f"), 0, "ZWJ and a variation selector");
  assert.equal(columns("🇫🇷"), 2, "a flag: two regional indicators of one column");
  assert.equal(columns("\x07\x1b"), 0, "controls");
  assert.equal(columns("か\u3099"), 2, "kana voicing mark inside a wide range is still 0");
  assert.equal(charWidth(0x20000), 2, "CJK extension B");
  assert.equal(charWidth(0x41), 1);
  assert.equal(charWidth(0x0301), 0);
  assert.equal(charWidth(0x00ad), 1, "soft hyphen shows as one column, as in wcwidth");
  assert.equal(charWidth(0xfffd), 1);
});

// ---- Typing and echo --------------------------------------------------------------------------

Deno.test("editor: draws the prompt, echoes typing, Enter hands the line over", () => {
  const ed = new LineEditor({ maxLine: 100, prompt: PROMPT });
  assert.equal(ed.draw(), PROMPT);
  // The result also says how much work was done and how much was read (tests further down).
  const { echo, lines, leave } = ed.feed(enc.encode("hi"));
  assert.deepEqual({ echo, lines, leave }, { echo: "hi", lines: [], leave: false });
  const e = ed.feed(enc.encode("\r\0"));
  assert.deepEqual(
    { echo: e.echo, lines: e.lines, leave: e.leave },
    { echo: "\r\n" + PROMPT, lines: ["hi"], leave: false },
  );
  assert.equal(ed.line, "");
});

Deno.test("editor: the first feed draws the prompt if nobody did", () => {
  const ed = new LineEditor({ maxLine: 100, prompt: "> " });
  assert.equal(ed.feed(enc.encode("x")).echo, "> x");
});

Deno.test("editor: every Enter form submits, and one NUL or LF after CR is swallowed", () => {
  const t = new Term();
  t.key("a\r\0b\r\nc\rd\ne\r\r\nf");
  assert.deepEqual(t.lines, ["a", "b", "c", "d", "e", ""]);
  assert.equal(t.ed.line, "f", "what follows the last line end stays typed");
  const u = new Term();
  u.key("x\r", "\0y\r", "\n", "\nz");
  assert.deepEqual(u.lines, ["x", "y", ""], "CR at the end of a read, NUL/LF in the next");
  assert.equal(u.ed.line, "z");
  assert.deepEqual(u.rows, [PROMPT + "x", PROMPT + "y", BARE, PROMPT + "z"]);
});

Deno.test("editor: a paste of several lines yields them in order, echoed line by line", () => {
  const t = new Term();
  t.key("one\r\0two\r\0three\r\0four");
  assert.deepEqual(t.lines, ["one", "two", "three"]);
  assert.deepEqual(t.rows, [
    PROMPT + "one",
    PROMPT + "two",
    PROMPT + "three",
    PROMPT + "four",
  ]);
});

Deno.test("editor: UTF-8 split across reads, 2-byte and 4-byte", () => {
  const t = new Term();
  assert.equal(t.key([0xc3]), "");
  assert.equal(t.key([0xa9]), "é");
  const smile = [...enc.encode("😀")];
  assert.equal(t.key(smile.slice(0, 1)), "");
  assert.equal(t.key(smile.slice(1)), "😀");
  assert.equal(t.key(smile.slice(0, 2)), "");
  assert.equal(t.key(smile.slice(2)), "😀");
  assert.equal(t.ed.line, "é😀😀");
  assert.deepEqual(t.rows, [PROMPT + "é😀😀"]);
});

Deno.test("editor: invalid UTF-8 becomes U+FFFD and the bytes after it still count", () => {
  const t = new Term();
  t.key([0x61, 0xff, 0x62, 0xe2, 0x82, 0x41, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0xf0, 0x9f]);
  t.key([0x43]);
  assert.equal(t.ed.line, "a\ufffdb\ufffdA\ufffd\ufffd\ufffd\ufffd\ufffd\ufffdC");
});

Deno.test("editor: control characters that are no key are ignored", () => {
  const t = new Term();
  t.key("a\x00\x07\x0f\x11\x12\x13\x14\x16\x18\x19\x1a\x1c\x1d\x1e\x1fb");
  assert.equal(t.ed.line, "ab");
  t.key("\u202eevil\u202c");
  assert.equal(t.ed.line, "abevil", "bidi overrides are dropped");
});

// ---- Escape sequences -------------------------------------------------------------------------

Deno.test("editor: escape sequences are consumed whole, never typed", () => {
  const t = new Term();
  const junk = [
    "\x1b[A", // Up with no history
    "\x1b[200~", // bracketed paste marker
    "\x1b[?1049h", // private CSI
    "\x1b[1;5A",
    "\x1bOP", // F1
    "\x1b[15~", // F5
    "\x1b]0;title\x07", // OSC with BEL
    "\x1b]2;t\x1b\\", // OSC with ST
    "\x1bP1$r\x1b\\", // DCS
    "\x1b(B", // charset
    "\x1bc", // Alt-c / RIS
    "\u009b2J", // C1 CSI as UTF-8
    "\u009d0;x\u009c", // C1 OSC .. ST
    "\x1b[Z", // Shift-Tab
  ];
  for (const j of junk) {
    t.key("x", j);
    assert.equal(t.ed.line.replaceAll("x", ""), "", JSON.stringify(j));
  }
  assert.equal(t.ed.line, "x".repeat(junk.length));
  assert.deepEqual(t.rows, [PROMPT + "x".repeat(junk.length)]);
});

Deno.test("editor: sequences split across reads, and ESC ESC", () => {
  const t = new Term();
  t.key("ab");
  t.key("\x1b", "[", "D"); // Left in three reads
  t.key("\x1b\x1b[D"); // a lone ESC then Left
  t.key("X");
  assert.equal(t.ed.line, "Xab");
  t.key("\x1bO", "F", "!"); // End as SS3, split
  assert.equal(t.ed.line, "Xab!");
  t.key("\x1b[", "1;", "5D", "<"); // Ctrl-Left: one word back
  assert.equal(t.ed.line, "<Xab!");
  t.key("\x1b[12", "\r"); // a sequence cut by Enter: Enter still works
  assert.deepEqual(t.lines, ["<Xab!"]);
});

Deno.test("editor: Left/Right/Home/End in every form, and Ctrl-A/E/B/F", () => {
  const forms: [string, string][] = [
    [K.left, K.right],
    ["\x1bOD", "\x1bOC"],
    ["\x02", "\x06"],
  ];
  for (const [left, right] of forms) {
    const t = new Term();
    t.key("abc", left, left, "X", right, "Y");
    assert.equal(t.ed.line, "aXbYc", JSON.stringify(left));
    assert.deepEqual(t.rows, [PROMPT + "aXbYc"]);
    assert.deepEqual(t.cursor, [PROMPT.length + 4, 0]);
  }
  const homes = ["\x1b[1~", "\x1b[H", "\x1bOH", "\x1b[7~", "\x01"];
  const ends = ["\x1b[4~", "\x1b[F", "\x1bOF", "\x1b[8~", "\x05"];
  for (let i = 0; i < homes.length; i++) {
    const t = new Term();
    t.key("mid", homes[i], "<", ends[i], ">");
    assert.equal(t.ed.line, "<mid>", JSON.stringify(homes[i]));
    assert.deepEqual(t.cursor, [PROMPT.length + 5, 0]);
  }
});

Deno.test("editor: Left is one byte-exact move; Right at the end and Left at the start do nothing", () => {
  const t = new Term();
  t.key("ab");
  assert.equal(t.key(K.left), "\x1b[D");
  assert.equal(t.key(K.right), "\x1b[C");
  assert.equal(t.key(K.right), "");
  assert.equal(t.key(K.home), "\x1b[2D");
  assert.equal(t.key(K.left), "");
});

Deno.test("editor: Alt-b / Alt-f move by words; Alt-Backspace kills one", () => {
  const t = new Term();
  t.key("one two three", "\x1bb", "\x1bb", "[", "\x1bf", "]");
  assert.equal(t.ed.line, "one [two] three");
  t.key("\x1b\x7f");
  assert.equal(t.ed.line, "one  three");
});

// ---- Deleting ---------------------------------------------------------------------------------

Deno.test("editor: Backspace (DEL and ^H) deletes one character with \\b \\b", () => {
  const t = new Term();
  t.key("abc");
  assert.equal(t.key("\x7f"), "\b \b");
  assert.equal(t.key("\x08"), "\b \b");
  assert.equal(t.ed.line, "a");
  t.key("\x7f", "\x7f");
  assert.equal(t.ed.line, "");
  assert.deepEqual(t.rows, [BARE]);
});

Deno.test("editor: Backspace over a CJK character and an emoji erases two columns", () => {
  const t = new Term();
  t.key("a中😀");
  assert.equal(t.key(K.bs), "\b\b  \b\b");
  assert.equal(t.ed.line, "a中");
  assert.equal(t.key(K.bs), "\b\b  \b\b");
  assert.equal(t.ed.line, "a");
  assert.deepEqual(t.rows, [PROMPT + "a"]);
  assert.deepEqual(t.cursor, [PROMPT.length + 1, 0]);
});

Deno.test("editor: Backspace takes a whole grapheme: accent + letter, flag, ZWJ family", () => {
  const t = new Term();
  t.key("xe\u0301");
  t.key(K.bs);
  assert.equal(t.ed.line, "x");
  t.key("🇫🇷");
  t.key(K.bs);
  assert.equal(t.ed.line, "x");
  t.key("👨‍👩‍👧");
  t.key(K.bs);
  assert.equal(t.ed.line, "x");
  t.key("😀", K.left, K.left);
  assert.equal(t.ed.cursor, 0, "Left also steps over a surrogate pair whole");
  assert.deepEqual(t.rows, [PROMPT + "x😀"]);
});

Deno.test("editor: Delete and Ctrl-D delete under the cursor; Ctrl-D on an empty line leaves", () => {
  const t = new Term();
  t.key("abcd", K.home, K.del, "\x04");
  assert.equal(t.ed.line, "cd");
  assert.deepEqual(t.rows, [PROMPT + "cd"]);
  assert.deepEqual(t.cursor, [PROMPT.length, 0]);
  t.key(K.end, "\x04");
  assert.equal(t.ed.line, "cd", "Ctrl-D at the end of a line does nothing");
  assert.equal(t.left, false);
  t.key("\x15");
  const r = t.ed.feed(enc.encode("\x04ignored"));
  assert.equal(r.leave, true);
  assert.equal(t.ed.line, "", "input after the leave is not read");
});

Deno.test("editor: Ctrl-U kills from the start of the line to the cursor; Ctrl-K to the end", () => {
  const t = new Term();
  t.key("hello world", K.left, K.left, "\x15");
  assert.equal(t.ed.line, "ld");
  assert.deepEqual(t.rows, [PROMPT + "ld"]);
  assert.deepEqual(t.cursor, [PROMPT.length, 0]);
  t.key("ab", "\x0b");
  assert.equal(t.ed.line, "ab");
  assert.deepEqual(t.rows, [PROMPT + "ab"]);
  t.key("\x15");
  assert.equal(t.ed.line, "", "at the end of the line, Ctrl-U kills it all");
});

Deno.test("editor: Ctrl-W kills the word before the cursor and the spaces after it", () => {
  const t = new Term();
  t.key("say hello  ", "\x17");
  assert.equal(t.ed.line, "say ");
  t.key("big world", K.left, K.left, K.left, "\x17");
  assert.equal(t.ed.line, "say big rld");
  assert.deepEqual(t.rows, [PROMPT + "say big rld"]);
  assert.deepEqual(t.cursor, [PROMPT.length + 8, 0]);
});

Deno.test("editor: Ctrl-C clears the line; Ctrl-L clears the screen and redraws", () => {
  const t = new Term();
  t.key("oops", K.left, "\x03");
  assert.equal(t.ed.line, "");
  assert.deepEqual(t.rows, [BARE]);
  t.print("old message\r\n");
  t.key("again", K.left);
  const out = t.key("\x0c");
  assert.equal(out, "\x1b[H\x1b[2J" + PROMPT + "again\x1b[D");
  assert.deepEqual(t.rows, [PROMPT + "again"]);
  assert.deepEqual(t.cursor, [PROMPT.length + 4, 0]);
});

// ---- History ----------------------------------------------------------------------------------

Deno.test("editor: Up/Down walk the lines sent, keeping the line being typed", () => {
  const t = new Term();
  t.key("first\r\n", "second\r\n", "draft");
  t.key(K.up);
  assert.equal(t.ed.line, "second");
  t.key("\x10"); // Ctrl-P
  assert.equal(t.ed.line, "first");
  t.key(K.up);
  assert.equal(t.ed.line, "first", "the oldest line stays");
  t.key(K.down);
  assert.equal(t.ed.line, "second");
  t.key("\x0e"); // Ctrl-N
  assert.equal(t.ed.line, "draft");
  t.key(K.down);
  assert.equal(t.ed.line, "draft");
  assert.deepEqual(t.rows.at(-1), PROMPT + "draft");
  t.key(K.up, "!\r");
  assert.deepEqual(t.lines, ["first", "second", "second!"]);
  t.key("\x1bOA");
  assert.equal(t.ed.line, "second!", "SS3 Up too");
});

Deno.test("editor: lines the remember option refuses are sent but never recalled", () => {
  const ed = new LineEditor({ maxLine: 512, remember: (line) => !line.startsWith("/op ") });
  const sent = ed.feed(enc.encode("hello\r/op s3cret\r")).lines;
  assert.deepEqual(sent, ["hello", "/op s3cret"], "both are handed over");
  ed.feed(enc.encode("\x1b[A"));
  assert.equal(ed.line, "hello", "Up skips the refused line");
  ed.feed(enc.encode("\x1b[A"));
  assert.equal(ed.line, "hello", "and there is nothing before it");
});

Deno.test("editor: history keeps at most 50 lines and 16 KiB", () => {
  const t = new Term({ maxLine: 4096 });
  for (let i = 0; i < 60; i++) t.key(`line ${i}\r`);
  let n = 0;
  for (let i = 0; i < 100; i++) {
    const before = t.ed.line;
    t.key(K.up);
    if (t.ed.line !== before) n++;
  }
  assert.equal(n, HISTORY_LINES);
  assert.equal(t.ed.line, "line 10");
  const u = new Term({ maxLine: 4096 });
  for (let i = 0; i < 10; i++) u.key(`${i}`.repeat(3000) + "\r");
  let m = 0;
  for (let i = 0; i < 20; i++) {
    const before = u.ed.line;
    u.key(K.up);
    if (u.ed.line !== before) m++;
  }
  assert.equal(m, Math.floor(HISTORY_BYTES / 3000));
});

// ---- Limits -----------------------------------------------------------------------------------

Deno.test("editor: the line never holds more than maxLine bytes; one bell per read", () => {
  const t = new Term({ maxLine: 10 });
  const out = t.key("0123456789abc");
  assert.equal(t.ed.line, "0123456789");
  assert.equal(out, "0123456789\x07");
  t.key(K.bs);
  t.key("éé");
  assert.equal(t.ed.line, "012345678", "a 2-byte character does not fit in 1 byte");
  assert.equal(t.vt.bells, 2);
  t.key(K.bs, "é");
  assert.equal(t.ed.line, "01234567é");
});

// ---- Completion -------------------------------------------------------------------------------

Deno.test("editor: Tab completes a nick (`: ` at line start), a /command, a nick mid-line", () => {
  const asked: [string, boolean][] = [];
  const complete: Completer = (word, atStart) => {
    asked.push([word, atStart]);
    if (atStart && word.startsWith("/")) {
      return answer(["/nick", "/names"].filter((c) => c.startsWith(word)));
    }
    return answer(["alice", "albert", "bob"].filter((n) => n.startsWith(word)));
  };
  const t = new Term({ complete });
  t.key("bo\t");
  assert.equal(t.ed.line, "bob: ");
  t.key("\x15", "/ni\t");
  assert.equal(t.ed.line, "/nick ");
  t.key("\x15", "hi bo\t");
  assert.equal(t.ed.line, "hi bob ");
  t.key("\x15", "bo rest", K.home, K.right, K.right, "\t");
  assert.equal(t.ed.line, "bob: rest", "no doubled space before existing text");
  assert.deepEqual(asked, [["bo", true], ["/ni", true], ["bo", false], ["bo", true]]);
  assert.deepEqual(t.rows, [PROMPT + "bob: rest"]);
  assert.deepEqual(t.cursor, [PROMPT.length + 4, 0]);
});

Deno.test("editor: Tab with several matches lists them above the prompt and fills the prefix", () => {
  const complete: Completer = (w) =>
    answer(["alice", "albert", "bob"].filter((n) => n.startsWith(w)));
  const t = new Term({ complete });
  t.key("hey a\t");
  assert.equal(t.ed.line, "hey al");
  assert.deepEqual(t.rows, ["alice  albert", PROMPT + "hey al"]);
  assert.deepEqual(t.cursor, [PROMPT.length + 6, 1]);
  const out = t.key("\t");
  assert.equal(out, "\r\x1b[Jalice  albert\r\n" + PROMPT + "hey al");
});

Deno.test("editor: Tab with no match rings the bell; without a completer it does nothing", () => {
  const t = new Term({ complete: () => answer([]) });
  assert.equal(t.key("zz\t"), "zz\x07");
  const u = new Term();
  assert.equal(u.key("zz\t"), "zz");
  assert.equal(u.ed.line, "zz");
});

Deno.test("editor: a completion that would pass maxLine is refused", () => {
  const t = new Term({ maxLine: 8, complete: () => answer(["abcdefghij"]) });
  assert.equal(t.key("ab\t"), "ab\x07");
  assert.equal(t.ed.line, "ab");
});

// ---- Redraw around incoming messages ----------------------------------------------------------

Deno.test("editor: a message arrives while typing: it goes above, the input stays intact", () => {
  const t = new Term();
  t.key("hello wor");
  const out = t.print("<bob> are you there?\r\n");
  assert.equal(out, "\r\x1b[J<bob> are you there?\r\n" + PROMPT + "hello wor");
  assert.deepEqual(t.rows, ["<bob> are you there?", PROMPT + "hello wor"]);
  assert.deepEqual(t.cursor, [PROMPT.length + 9, 1]);
  t.key("ld\r\n");
  assert.deepEqual(t.lines, ["hello world"]);
});

Deno.test("editor: the cursor goes back where it was (mid-line after Left)", () => {
  const t = new Term();
  t.key("hello wor", K.left, K.left);
  const out = t.print("<bob> hi\r\n<carol> yo\r\n");
  assert.equal(out, "\r\x1b[J<bob> hi\r\n<carol> yo\r\n" + PROMPT + "hello wor\x1b[2D");
  assert.deepEqual(t.rows, ["<bob> hi", "<carol> yo", PROMPT + "hello wor"]);
  assert.deepEqual(t.cursor, [PROMPT.length + 7, 2]);
  t.key("X");
  assert.equal(t.ed.line, "hello wXor");
});

Deno.test("editor: erase() and draw() apart, around a shared buffer", () => {
  const t = new Term();
  t.key("typing");
  const shared = "<bob> one\r\n";
  t.vt.write(t.ed.erase() + shared + t.ed.draw());
  assert.deepEqual(t.rows, ["<bob> one", PROMPT + "typing"]);
  assert.equal(t.ed.erase(), "\r\x1b[J");
  assert.equal(t.ed.erase(), "", "nothing left to erase");
});

for (const width of [10, 20]) {
  Deno.test(`editor: a 35-character input wraps at width ${width} and is erased completely`, () => {
    const t = new Term({ width });
    const input = "abcdefghijklmnopqrstuvwxyz012345678";
    t.key(input);
    const all = PROMPT + input;
    const rows: string[] = [];
    for (let i = 0; i < all.length; i += width) rows.push(all.slice(i, i + width));
    assert.deepEqual(t.rows, rows);
    const up = Math.floor((all.length - 1) / width);
    const out = t.print("<bob> hi\r\n");
    assert.ok(out.startsWith(`\r\x1b[${up}A\x1b[J<bob> hi\r\n`), JSON.stringify(out));
    assert.deepEqual(t.rows, ["<bob> hi", ...rows], "no leftover row");
    assert.deepEqual(t.cursor, [all.length % width, rows.length]);
    t.print("<bob> yo\r\n");
    assert.deepEqual(t.rows, ["<bob> hi", "<bob> yo", ...rows]);
  });
}

Deno.test("editor: input ending exactly at the right margin puts the cursor on the next row", () => {
  const t = new Term({ width: 20 });
  const out = t.key("abcdefghijkl"); // 8 + 12 = 20 columns
  assert.equal(out, "abcdefghijkl\r\n", "\\r\\n instead of leaving the terminal in pending wrap");
  assert.deepEqual(t.rows, [PROMPT + "abcdefghijkl"]);
  assert.deepEqual(t.cursor, [0, 1]);
  assert.equal(t.vt.pending, false);
  assert.equal(t.print("<bob> hi\r\n").slice(0, 8), "\r\x1b[1A\x1b[J");
  assert.deepEqual(t.rows, ["<bob> hi", PROMPT + "abcdefghijkl"]);
  assert.deepEqual(t.cursor, [0, 2]);
  assert.equal(t.key(K.bs), "\x1b[A\x1b[19C\x1b[J", "back up a row to delete the last column");
  assert.deepEqual(t.rows, ["<bob> hi", PROMPT + "abcdefghijk"]);
  assert.deepEqual(t.cursor, [19, 1]);
  t.key("l");
  assert.deepEqual(t.cursor, [0, 2]);
  t.key("m");
  assert.deepEqual(t.rows, ["<bob> hi", PROMPT + "abcdefghijkl", "m"]);
  t.key(K.bs, "\r");
  assert.deepEqual(t.lines, ["abcdefghijkl"]);
  assert.deepEqual(t.rows, ["<bob> hi", PROMPT + "abcdefghijkl", BARE], "no blank row");
});

Deno.test("editor: a prompt that fills the row exactly", () => {
  const t = new Term({ width: 8 });
  assert.deepEqual(t.cursor, [0, 1]);
  t.key("abc");
  assert.deepEqual(t.rows, [BARE, "abc"]);
  t.print("msg\r\n");
  assert.deepEqual(t.rows, ["msg", BARE, "abc"]);
});

Deno.test("editor: Left and Right across a row boundary move up and down, not past the margin", () => {
  const t = new Term({ width: 10 });
  t.key("abcdef"); // "[alice] ab" / "cdef"
  assert.equal(t.key(K.left, K.left, K.left), "\x1b[D\x1b[D\x1b[D");
  assert.deepEqual(t.cursor, [1, 1]);
  assert.equal(t.key(K.left), "\r");
  assert.equal(t.key(K.left), "\x1b[A\x1b[9C");
  assert.deepEqual(t.cursor, [9, 0]);
  assert.equal(t.key(K.right), "\x1b[B\r");
  assert.deepEqual(t.cursor, [0, 1]);
  t.key("XY");
  assert.equal(t.ed.line, "abXYcdef");
  assert.deepEqual(t.rows, ["[alice] ab", "XYcdef"]);
  assert.deepEqual(t.cursor, [2, 1]);
});

Deno.test("editor: inserting and deleting mid-line re-flows the wrapped rows", () => {
  const t = new Term({ width: 10 });
  t.key("abcdefghijklmn"); // 22 columns: 3 rows
  t.key(K.home, "12345");
  assert.deepEqual(t.rows, ["[alice] 12", "345abcdefg", "hijklmn"]);
  assert.deepEqual(t.cursor, [3, 1]);
  t.key("\x15");
  assert.deepEqual(
    t.rows,
    ["[alice] ab", "cdefghijkl", "mn"],
    "the third row's leftovers are gone",
  );
  t.key("\x0b");
  assert.deepEqual(t.rows, [BARE]);
  assert.deepEqual(t.cursor, [8, 0]);
});

Deno.test("editor: a wide character that does not fit the last column goes to the next row", () => {
  const t = new Term({ width: 10 });
  t.key("a中"); // a at column 8, 中 would need 9 and 10
  assert.deepEqual(t.rows, ["[alice] a", "中"]);
  assert.deepEqual(t.cursor, [2, 1]);
  t.key(K.home, "x"); // now x a: 中 fills the row
  assert.deepEqual(t.rows, ["[alice] xa", "中"]);
  t.key(K.bs); // and back: the stale cell at column 9 must not stay
  assert.deepEqual(t.rows, ["[alice] a", "中"]);
  t.key(K.end, K.bs);
  assert.deepEqual(t.rows, ["[alice] a"]);
  assert.deepEqual(t.cursor, [9, 0]);
  t.print("m\r\n");
  assert.deepEqual(t.rows, ["m", "[alice] a"]);
});

Deno.test("editor: a combining mark typed after a character at the margin joins it", () => {
  const t = new Term({ width: 10 });
  t.key("ab"); // fills the row; the cursor moved to the next row
  t.key("\u0301");
  assert.deepEqual(t.rows, ["[alice] ab\u0301"]);
  assert.deepEqual(t.cursor, [0, 1]);
  t.key(K.bs);
  assert.deepEqual(t.rows, ["[alice] a"]);
});

Deno.test("editor: a resize takes effect at the next redraw", () => {
  const t = new Term({ width: 20, height: 10 });
  t.key("abcdefghijklmnopqrstuv"); // 30 columns: 2 rows at 20
  t.ed.setWidth(40);
  assert.equal(t.ed.width, 40);
  const out = t.ed.print("<bob> hi\r\n");
  assert.ok(out.startsWith("\r\x1b[1A\x1b[J"), "the erase uses the old geometry");
  const wide = new Screen(40, 10);
  wide.write(out);
  assert.deepEqual(wide.lines(), ["<bob> hi", PROMPT + "abcdefghijklmnopqrstuv"]);
  assert.equal(t.ed.print("").startsWith("\r\x1b[J"), true, "one row at width 40");
  t.ed.setWidth(0);
  assert.equal(t.ed.width, 80, "0 means unknown: 80");
});

Deno.test("editor: a prompt change shows at the next redraw; colours take no room", () => {
  const t = new Term({ width: 20 });
  t.key("hello");
  t.ed.prompt = "\x1b[1m[bob]\x1b[0m ";
  const out = t.ed.refresh();
  assert.equal(out, "\r\x1b[J\x1b[1m[bob]\x1b[0m hello");
  t.ed.prompt = "[bob] ";
  t.vt.write(t.ed.refresh());
  t.key("0123456789");
  assert.deepEqual(t.rows, ["[bob] hello012345678", "9"]);
});

Deno.test("editor: at the bottom of the screen the prompt scrolls up with the messages", () => {
  const t = new Term({ width: 10, height: 4 });
  t.vt.write("\r\x1b[J"); // start at the bottom row, as after a screenful of chat
  t.vt.write("1\r\n2\r\n3\r\n" + t.ed.draw());
  t.key("abcdefg"); // wraps, scrolling
  assert.deepEqual(t.rows, ["2", "3", "[alice] ab", "cdefg"]);
  t.print("<bob> x\r\n");
  assert.deepEqual(t.rows, ["3", "<bob> x", "[alice] ab", "cdefg"]);
  assert.deepEqual(t.cursor, [5, 3]);
});

// ---- The whole screen, under random editing ---------------------------------------------------

/**
 * What a fresh terminal shows after `log` (everything printed so far) and prompt + text, and
 * where the cursor belongs: written in one go, without any editing.
 */
function expected(log: string, text: string, pos: number, width: number) {
  const full = new Screen(width, 400).write(log + PROMPT + text);
  const head = new Screen(width, 400).write(log + PROMPT + text.slice(0, pos));
  const cursor: [number, number] = head.pending ? [0, head.y + 1] : [head.x, head.y];
  return { rows: full.lines(), cursor };
}

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

Deno.test("editor: random editing at many widths leaves the screen as one fresh drawing would", () => {
  const pieces = [
    "a",
    "b",
    " ",
    "é",
    "中",
    "😀",
    "e\u0301",
    "xyz",
    "한",
    "\u0301",
    "🇫🇷",
    "👨‍👩‍👧",
    "a中b",
  ];
  const keys = [
    K.left,
    K.right,
    K.home,
    K.end,
    K.bs,
    K.bs,
    K.del,
    "\x17", // Ctrl-W
    "\x15", // Ctrl-U
    "\x0b", // Ctrl-K
    "\x03", // Ctrl-C
    K.up,
    K.down,
    "\x1b[1;5D",
    "\x1b[1;5C",
    "\r\0", // Enter
    "\x0c", // Ctrl-L
    "message",
  ];
  const rand = random(1234);
  for (let round = 0; round < 60; round++) {
    const width = round < 5 ? [2, 3, 10, 20, 80][round] : 4 + Math.floor(rand() * 30);
    const t = new Term({ width, height: 400, maxLine: 120 });
    t.key("history one\r", "中文 two\r");
    const vt = new Screen(width, 400);
    vt.write(t.ed.refresh());
    let log = "";
    for (let step = 0; step < 80; step++) {
      const input = rand() < 0.55
        ? pieces[Math.floor(rand() * pieces.length)]
        : keys[Math.floor(rand() * keys.length)];
      const before = t.ed.line;
      if (input === "message") {
        const msg = `<bob> ${step}${"中".repeat(step % 3)}\r\n`;
        vt.write(t.ed.print(msg));
        log += msg;
      } else {
        vt.write(t.ed.feed(enc.encode(input)).echo);
        if (input === "\r\0") log += PROMPT + before + "\r\n";
        if (input === "\x0c") log = "";
      }
      const want = expected(log, t.ed.line, t.ed.cursor, width);
      const where = `width ${width}, after ${JSON.stringify(input)}, line ${
        JSON.stringify(t.ed.line)
      }`;
      assert.deepEqual(vt.lines(), want.rows, where);
      assert.deepEqual([vt.x, vt.y], want.cursor, where);
      assert.equal(vt.pending, false, where);
    }
  }
});

Deno.test("editor: with keepSubmitted off, Enter clears the line for the caller to show it back", () => {
  const t = new Term({ keepSubmitted: false, width: 20 });
  t.key("hello there, this wraps around\r");
  assert.deepEqual(t.lines, ["hello there, this wraps around"]);
  assert.deepEqual(t.rows, [BARE], "no trace of the typed line, a fresh prompt");
  assert.deepEqual(t.cursor, [PROMPT.length, 0]);
  t.print("<alice> hello there, this wraps around\r\n");
  assert.deepEqual(t.rows.slice(0, 2), ["<alice> hello there,", " this wraps around"]);
  assert.equal(t.rows.at(-1), BARE);
});

Deno.test("editor: a resize redraws on a fresh row and never erases a message above", () => {
  const t = new Term({ width: 40 });
  t.print("<bob> a message that must stay\r\n");
  const typed = "the quick brown fox jumps over the lazy dog and more";
  t.key(typed);
  const out = t.ed.resize(30);
  // No cursor movement up and no erase above: a fresh row, cleared below, then the drawing.
  assert.ok(out.startsWith("\r\n\x1b[J"), JSON.stringify(out));
  // deno-lint-ignore no-control-regex -- looking for a cursor move is the point
  const up = /\x1b\[\d*A/;
  assert.ok(!up.test(out), "never moves up into rows the terminal may have re-wrapped");
  t.vt.write(out);
  assert.equal(t.rows[0], "<bob> a message that must stay", "the message is untouched");
  // What the drawing looks like on the 30-column terminal it is meant for:
  const fresh = new Screen(30, 10).write(out);
  const input = (PROMPT + typed).match(/.{1,30}/g)!;
  assert.deepEqual(fresh.lines().slice(1), input, "drawn whole at the new width");
  // Later redraws use the new width.
  const next = new Screen(30, 10).write(out).write(t.ed.print("<bob> later\r\n"));
  assert.deepEqual(next.lines().slice(-input.length - 1), ["<bob> later", ...input]);
  assert.equal(new LineEditor({ maxLine: 10 }).resize(50), "", "nothing drawn: nothing to do");
});
