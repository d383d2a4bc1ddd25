/** Input hygiene against real attack strings: nothing one client sends may take over a terminal. */
import assert from "node:assert/strict";
import { cleanLine, cleanText } from "../../src/lib/sanitize.ts";
import { MAX_SUBNEG, TelnetSession } from "../../src/net/telnet.ts";
import { seededRandom } from "../support/helpers.ts";

const enc = new TextEncoder();

/** No control character (C0, DEL, C1) and no bidi override may survive. */
function assertSafe(s: string): void {
  // deno-lint-ignore no-control-regex -- finding control characters is the point
  assert.ok(!/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(s), JSON.stringify(s));
}

Deno.test("sanitize: clear-screen, cursor moves and colours are removed", () => {
  const cases: [string, string][] = [
    ["\x1b[2J\x1b[Hgotcha", "gotcha"],
    ["\x1bc reset", " reset"],
    ["up\x1b[10Aup", "upup"],
    ["\x1b[31mred\x1b[0m text", "red text"],
    ["\x1b[?1049h alt screen", " alt screen"],
    ["save\x1b7\x1b8restore", "saverestore"],
    ["\x1b(0line drawing", "line drawing"],
    ["\x9b2Jc1 csi", "c1 csi"],
  ];
  for (const [input, want] of cases) {
    const out = cleanText(input);
    assert.equal(out, want, JSON.stringify(input));
    assertSafe(out);
  }
});

Deno.test("sanitize: OSC window titles, hyperlinks and DCS are removed", () => {
  assert.equal(cleanText("\x1b]0;pwned\x07hi"), "hi");
  assert.equal(cleanText("\x1b]2;title\x1b\\hi"), "hi");
  assert.equal(cleanText("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\"), "link");
  assert.equal(cleanText("\x1bPq#0;2;0;0;0\x1b\\after"), "after");
  assert.equal(cleanText("\x9d0;title\x9cafter"), "after");
  assert.equal(cleanText("unterminated \x1b]0;title forever"), "unterminated");
});

Deno.test("sanitize: bells and other controls are dropped; tab becomes a space", () => {
  assert.equal(cleanText("ding\x07\x07\x07\x07 dong"), "ding dong");
  assert.equal(cleanText("a\tb"), "a b");
  assert.equal(cleanText("nul\x00byte\x01\x02"), "nulbyte");
  assert.equal(cleanText("bidi \u202eevil\u202c"), "bidi evil");
  assertSafe(cleanText("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x1f\x7f\x80\x85\x9f"));
});

Deno.test("sanitize: backspace and DEL edit the line", () => {
  assert.equal(cleanText("helo\bl\blo"), "hello");
  assert.equal(cleanText("abc\x7f\x7fd"), "ad");
  assert.equal(cleanText("\b\b\bstart"), "start");
  assert.equal(cleanText("smile 😀\b!"), "smile !", "a surrogate pair is erased whole");
});

Deno.test("sanitize: invalid and overlong UTF-8 is replaced and the rest still arrives", () => {
  const bad = new Uint8Array([
    0x68,
    0x69,
    0xc0,
    0xaf,
    0x20,
    0xff,
    0xfe,
    0x6f,
    0x6b,
    0xed,
    0xa0,
    0x80,
  ]);
  const out = cleanLine(bad);
  assert.ok(out.startsWith("hi"));
  assert.ok(out.includes("ok"));
  assert.ok(out.includes("\ufffd"));
  assert.ok(!out.includes("/"), "an overlong '/' is not decoded as '/'");
  // the output encodes to valid UTF-8 and decodes back unchanged
  const round = new TextDecoder("utf-8", { fatal: true }).decode(enc.encode(out));
  assert.equal(round, out);
  assert.equal(cleanLine(enc.encode("héllo wörld ✓")), "héllo wörld ✓");
});

Deno.test("sanitize: telnet negotiation, including subnegotiation, is removed", () => {
  const f = new TelnetSession();
  const input = new Uint8Array([
    255,
    251,
    1,
    104,
    255,
    253,
    3,
    105,
    255,
    250,
    24,
    0,
    10,
    13,
    120,
    255,
    240,
    33,
  ]);
  const out = new TextDecoder().decode(f.feed(input));
  assert.equal(out, "hi!", "the LF/CR inside SB never reach framing");
  assert.equal(f.removed, 15);
});

Deno.test("sanitize: telnet state carries across reads, and an IAC storm costs nothing", () => {
  const f = new TelnetSession();
  const a = f.feed(new Uint8Array([97, 255]));
  const b = f.feed(new Uint8Array([251, 31, 98]));
  assert.deepEqual([...a, ...b], [97, 98]);
  const storm = new Uint8Array(300_000);
  for (let i = 0; i < storm.length; i += 3) storm.set([255, 253, i % 256], i);
  assert.equal(f.feed(storm).length, 0);
  assert.equal(f.removed, storm.length, "every command byte is counted, for the telnet budget");
});

Deno.test("sanitize: plain text passes unchanged (trailing spaces trimmed)", () => {
  assert.equal(cleanText("just a normal line, 100% fine!"), "just a normal line, 100% fine!");
  assert.equal(cleanText("trailing   "), "trailing");
});

Deno.test("sanitize: invisible and line-breaking characters are removed", () => {
  const cases: [string, string][] = [
    ["a\u200bb\u200cc\u200dd\u200ee\u200ff", "abcdef"],
    ["word\u2060joiner\u2063\u206f", "wordjoiner"],
    ["\ufeffbom", "bom"],
    ["arabic\u061cmark", "arabicmark"],
    ["line\u2028sep\u2029para\u0085nel", "linesepparanel"],
    ["anno\ufff9tat\ufffaion\ufffb", "annotation"],
    ["tags\u{E0001}\u{E0041}\u{E007F}", "tags"],
    ["soft\u00adhyphen", "softhyphen"],
    ["hangul\u3164\u115f\u1160\uffa0filler", "hangulfiller"],
  ];
  for (const [input, want] of cases) assert.equal(cleanText(input), want, JSON.stringify(input));
  assert.equal(cleanText("flag \u{1F3F4}\u{E0067}\u{E0062}\u{E007F}"), "flag \u{1F3F4}");
  assert.equal(cleanText("variation \u{E0100}ok"), "variation \u{E0100}ok", "not a tag: kept");
});

Deno.test("sanitize: padding cannot push words onto a line of their own", () => {
  const fake = "ok" + " ".repeat(69) + "<alice> I am the new operator";
  assert.equal(cleanText(fake), "ok    <alice> I am the new operator");
  assert.equal(cleanText("nb\u00a0\u00a0\u00a0\u00a0\u00a0\u00a0\u00a0sp"), "nb    sp");
  assert.equal(cleanText("wide\u3000\u2003\u2002gap"), "wide   gap");
  assert.equal(cleanText("tab\t\t\t\t\t\tpad"), "tab    pad");
  assert.equal(cleanText("    four kept"), "    four kept", "indentation of up to 4 stays");
});

Deno.test("sanitize: a stack of combining marks is cut; accents stay", () => {
  const zalgo = "Z" + "\u0301\u0316\u0317\u0318\u0319\u031a\u031b".repeat(5) + "!";
  const out = cleanText(zalgo);
  assert.equal([...out].length, 1 + 4 + 1);
  assert.equal(cleanText("café naïve Tiếng Việt"), "café naïve Tiếng Việt");
});

Deno.test("sanitize: junk bytes collapse into one replacement character per run", () => {
  const junk = new Uint8Array(4096).fill(0xff);
  assert.equal(cleanLine(junk), "\ufffd");
  assert.equal(cleanLine(new Uint8Array([0x61, 0xff, 0xfe, 0x62, 0xc3])), "a\ufffdb\ufffd");
});

Deno.test("sanitize: a lone 0xFF is invalid data and keeps the byte after it", () => {
  const f = new TelnetSession();
  const out = f.feed(new Uint8Array([0x63, 0x61, 0x66, 0xff, 0x65, 0x21]));
  assert.equal(cleanLine(out), "caf\ufffde!");
  // Split across reads, and IAC IAC (a literal 0xFF).
  const g = new TelnetSession();
  const a = g.feed(new Uint8Array([0x63, 0xff]));
  const b = g.feed(new Uint8Array([0x65, 0xff, 0xff, 0x21]));
  assert.equal(cleanLine(new Uint8Array([...a, ...b])), "c\ufffde\ufffd!");
});

Deno.test("sanitize: a subnegotiation that never ends gives up and input resumes", () => {
  const f = new TelnetSession();
  const sb = new Uint8Array([255, 250, 24, ...new Uint8Array(10_000).fill(0x41)]);
  const first = f.feed(sb);
  assert.ok(first.length > 9_000, "most of it is data again");
  const after = f.feed(new TextEncoder().encode("hello\r\n"));
  assert.equal(new TextDecoder().decode(after), "hello\r\n");
  assert.equal(MAX_SUBNEG, 64);
});

Deno.test("sanitize: printable ASCII takes the short way and comes out as the long way makes it", () => {
  const random = seededRandom(5);
  // Printable ASCII and spaces (the short way), with now and then a byte that is not.
  const pick = () => {
    const r = random();
    if (r < 0.3) return 0x20;
    if (r < 0.97) return 0x21 + Math.floor(random() * 94);
    return [0x09, 0x1b, 0x7f, 0xc3, 0xa9, 0xff][Math.floor(random() * 6)];
  };
  for (let round = 0; round < 3000; round++) {
    const bytes = Uint8Array.from({ length: Math.floor(random() * 300) }, pick);
    const text = new TextDecoder().decode(bytes);
    // A BEL in front is dropped, and takes the text the long way (character by character).
    const long = cleanText("\x07" + text);
    assert.equal(cleanText(text), long, JSON.stringify(text));
    assert.equal(cleanLine(bytes), long, JSON.stringify(text));
  }
});
