/** The word filter (src/chat/filter.ts): what a filter file means and what it masks. */
import assert from "node:assert/strict";
import {
  type FilterError,
  MAX_PATTERN_LENGTH,
  MAX_PATTERNS,
  parseFilter,
  WordFilter,
} from "../../src/chat/filter.ts";

/** The filter of `text`, which must compile. */
function filter(text: string): WordFilter {
  const f = parseFilter(text);
  if (!(f instanceof WordFilter)) throw new Error(`line ${f.line}: ${f.error}`);
  return f;
}

/** The error of `text`, which must not compile. */
function refused(text: string): FilterError {
  const f = parseFilter(text);
  assert.ok(!(f instanceof WordFilter), `accepted: ${JSON.stringify(text)}`);
  return f;
}

Deno.test("filter: a word is masked as a whole word only, whatever its case", () => {
  const f = filter("ass\n");
  assert.equal(f.patterns, 1);
  assert.equal(f.mask("you ass"), "you ****");
  assert.equal(f.mask("ASS! Ass, aSs."), "****! ****, ****.");
  assert.equal(f.mask("a class act, assess the bass"), "a class act, assess the bass");
  assert.equal(
    f.mask("ass_hat ass1 1ass"),
    "ass_hat ass1 1ass",
    "_ and digits are word characters",
  );
});

Deno.test("filter: words in any script, with Unicode word boundaries", () => {
  const f = filter("жук\nstraße\n");
  assert.equal(f.mask("Жук!"), "****!");
  assert.equal(f.mask("жуки и ЖУК"), "жуки и ****");
  assert.equal(f.mask("Straße, strassen, straßen"), "****, strassen, straßen");
  // A letter next to the word is a letter, not a boundary, in any script (JS's \b would say yes).
  assert.equal(f.mask("éжук жукé"), "éжук жукé");
});

Deno.test("filter: several matches in a line are each four asterisks", () => {
  const f = filter("darn\nheck\ngosh darn it\n");
  assert.equal(f.patterns, 3);
  assert.equal(f.mask("darn, heck and darn again"), "****, **** and **** again");
  assert.equal(f.mask("gosh darn it"), "****", "the longer phrase wins over the word in it");
  assert.equal(f.mask("gosh  darn\tit"), "****", "spaces in a phrase match any spaces");
  assert.equal(f.mask("heckheck heck"), "heckheck ****");
});

Deno.test("filter: a text without matches is returned unchanged", () => {
  const f = filter("spam\n/eg+s/\n");
  const text = "ham and toast, nothing else";
  assert.equal(f.mask(text), text);
  assert.equal(new WordFilter().mask(text), text);
  assert.equal(filter("").patterns, 0);
  assert.equal(filter("").mask(text), text);
});

Deno.test("filter: regular characters in words mean themselves", () => {
  const f = filter("c++\na.b\n(x)\n$5\nand/or\n[y]\n");
  assert.equal(f.patterns, 6);
  assert.equal(f.mask("c++ is not c"), "**** is not c");
  assert.equal(f.mask("a.b axb"), "**** axb");
  assert.equal(f.mask("(x) x"), "**** x");
  assert.equal(f.mask("$5 55"), "**** 55");
  assert.equal(f.mask("and/or andxor"), "**** andxor");
  assert.equal(f.mask("[y] y"), "**** y");
});

Deno.test("filter: /regular expressions/ match anywhere, whatever the case", () => {
  const f = filter("/fo+bar/\n/\\d{3}-\\d{4}/ # phone numbers\n");
  assert.equal(f.patterns, 2);
  assert.equal(f.mask("FOOOBAR and xfoobarx"), "**** and x****x");
  assert.equal(f.mask("call 555-1234 or 555-9876"), "call **** or ****");
  assert.equal(filter("/жук/").mask("ЖУКИ"), "****И", "Unicode case folding");
});

Deno.test("filter: comments and blank lines are skipped; # inside a /regex/ is the regex", () => {
  const f = filter(
    [
      "# the list",
      "",
      "   ",
      "  darn   # mild",
      "\t# indented comment",
      "c#",
      "/a # b/",
      "",
    ].join("\r\n"),
  );
  assert.equal(f.patterns, 3);
  assert.equal(f.mask("darn"), "****");
  assert.equal(f.mask("mild the list"), "mild the list", "comments are not words");
  assert.equal(f.mask("c# c"), "**** c");
  assert.equal(f.mask("xa # by"), "x****y");
});

Deno.test("filter: a bad regular expression is refused with its line number", () => {
  const e = refused("darn\n# comment\n/a(/\nheck\n");
  assert.equal(e.line, 3);
  assert.match(e.error, /bad regular expression \/a\(\/: /);
  assert.equal(refused("\n\n\n/abc\n").line, 4, "no closing slash");
  assert.match(refused("/abc/i\n").error, /after the closing \//, "no flags");
  assert.equal(refused("ok\r\n/[z-a]/\r\n").line, 2);
});

Deno.test("filter: a regular expression that can match an empty text is refused", () => {
  for (const re of ["//", "/a*/", "/x?/", "/\\b/", "/(?=a)/", "/^/", "/$/", "/a|/"]) {
    const e = refused(`word\n${re}\n`);
    assert.equal(e.line, 2, re);
    assert.match(e.error, /empty/, re);
  }
});

Deno.test("filter: too many patterns, or one too long, is refused with its line", () => {
  const many = Array.from({ length: MAX_PATTERNS + 1 }, (_, i) => `w${i}`).join("\n");
  assert.equal(refused(many).line, MAX_PATTERNS + 1);
  assert.equal(filter(many.split("\n").slice(0, MAX_PATTERNS).join("\n")).patterns, MAX_PATTERNS);
  const long = "x".repeat(MAX_PATTERN_LENGTH + 1);
  assert.equal(refused(`ok\n${long}\n`).line, 2);
  assert.equal(refused(`ok\nok2\n/${long}/\n`).line, 3);
  assert.equal(filter("x".repeat(MAX_PATTERN_LENGTH)).patterns, 1);
});

Deno.test("filter: a large word list masks in one pass (a trie, not 10 000 tries)", () => {
  const words = Array.from({ length: 5_000 }, (_, i) => `bad${i.toString(36)}word`);
  const f = filter(words.join("\n"));
  assert.equal(f.mask(`a ${words[4_321]} b ${words[7]}`), "a **** b ****");
  assert.equal(f.mask("badword bad1wordx"), "badword bad1wordx");
});
