/**
 * The IRC wire format: parsing and formatting messages, splitting text to 512-byte lines,
 * CTCP, mIRC formatting codes and the Shat <-> IRC nick mapping.
 */
import assert from "node:assert/strict";
import {
  ctcp,
  formatMessage,
  fromIrcNick,
  ircLower,
  MAX_LINE,
  parseCtcp,
  parseMessage,
  splitText,
  stripFormatting,
  toIrcNick,
  validIrcNick,
} from "../../../src/chat/irc/wire.ts";
import { NICK_PATTERN } from "../../../src/chat/nicks.ts";

const bytes = (s: string) => new TextEncoder().encode(s).length;

// ---- parseMessage ----

Deno.test("irc parse: a plain command with middle params and a trailing", () => {
  assert.deepEqual(parseMessage("PRIVMSG #room :hello there  world"), {
    tags: {},
    source: "",
    command: "PRIVMSG",
    params: ["#room", "hello there  world"],
  });
});

Deno.test("irc parse: the command is upper-cased, numerics are kept", () => {
  assert.equal(parseMessage("privmsg #a b")?.command, "PRIVMSG");
  assert.equal(parseMessage("nIcK bob")?.command, "NICK");
  const welcome = parseMessage(":irc.example 001 bob :Welcome");
  assert.equal(welcome?.command, "001");
  assert.deepEqual(welcome?.params, ["bob", "Welcome"]);
});

Deno.test("irc parse: source prefix", () => {
  assert.deepEqual(parseMessage(":nick!user@host.example PRIVMSG #room :hi"), {
    tags: {},
    source: "nick!user@host.example",
    command: "PRIVMSG",
    params: ["#room", "hi"],
  });
  assert.equal(parseMessage(":irc.example PING")?.source, "irc.example");
});

Deno.test("irc parse: tags with and without values, escapes unescaped", () => {
  const m = parseMessage(
    "@time=2024-01-01T00:00:00Z;flag;msgid=a\\sb\\:c\\\\d\\re\\nf;empty=;+draft/x=y :n!u@h PRIVMSG #a :hi",
  );
  assert.deepEqual(m, {
    tags: {
      time: "2024-01-01T00:00:00Z",
      flag: "",
      msgid: "a b;c\\d\re\nf",
      empty: "",
      "+draft/x": "y",
    },
    source: "n!u@h",
    command: "PRIVMSG",
    params: ["#a", "hi"],
  });
});

Deno.test("irc parse: odd tag escapes: unknown escape keeps the char, lone trailing \\ dropped", () => {
  assert.deepEqual(parseMessage("@a=\\b\\;c=x\\ PING")?.tags, { a: "b", c: "x" });
  assert.deepEqual(parseMessage("@a=1;a=2 PING")?.tags, { a: "2" }, "the last value wins");
  assert.deepEqual(parseMessage("@;;=v;k PING")?.tags, { k: "" }, "empty keys are skipped");
});

Deno.test("irc parse: a __proto__ tag is plain data", () => {
  const m = parseMessage("@__proto__=x;a=b PING");
  assert.ok(m);
  assert.equal(Object.getPrototypeOf(m.tags), Object.prototype);
  assert.equal(Object.hasOwn(m.tags, "__proto__"), true);
  assert.equal(m.tags["a"], "b");
});

Deno.test("irc parse: tags without a source", () => {
  assert.deepEqual(parseMessage("@label=1 PING :x"), {
    tags: { label: "1" },
    source: "",
    command: "PING",
    params: ["x"],
  });
});

Deno.test("irc parse: empty trailing is a param, no trailing is none", () => {
  assert.deepEqual(parseMessage("PRIVMSG #a :")?.params, ["#a", ""]);
  assert.deepEqual(parseMessage("PRIVMSG #a")?.params, ["#a"]);
  assert.deepEqual(parseMessage("QUIT")?.params, []);
  assert.deepEqual(parseMessage("QUIT :")?.params, [""]);
});

Deno.test("irc parse: the trailing keeps spaces and colons whole", () => {
  assert.deepEqual(parseMessage("PRIVMSG #a ::-) a : b  ")?.params, ["#a", ":-) a : b  "]);
  assert.deepEqual(parseMessage("PRIVMSG #a :  lead")?.params, ["#a", "  lead"]);
});

Deno.test("irc parse: a colon inside a middle param does not start the trailing", () => {
  assert.deepEqual(parseMessage("USER a:b 0 * :Real Name")?.params, ["a:b", "0", "*", "Real Name"]);
});

Deno.test("irc parse: runs of spaces are one separator; leading and trailing spaces ignored", () => {
  assert.deepEqual(parseMessage("   :src    PRIVMSG    #a     b    :c  d"), {
    tags: {},
    source: "src",
    command: "PRIVMSG",
    params: ["#a", "b", "c  d"],
  });
  assert.deepEqual(parseMessage("MODE #a +o   bob   ")?.params, ["#a", "+o", "bob"]);
  assert.deepEqual(parseMessage("@a=b    PING   x")?.params, ["x"]);
});

Deno.test("irc parse: a trailing CR or CR LF is tolerated", () => {
  assert.deepEqual(parseMessage("PING :x\r\n")?.params, ["x"]);
  assert.deepEqual(parseMessage("PING x\r")?.params, ["x"]);
});

Deno.test("irc parse: at most 15 params; after 14 middles the rest is the 15th whole", () => {
  const middles = Array.from({ length: 14 }, (_, i) => `p${i + 1}`);
  const m = parseMessage(`CMD ${middles.join(" ")} rest of the line`);
  assert.deepEqual(m?.params, [...middles, "rest of the line"]);
  assert.equal(m?.params.length, 15);
  const colon = parseMessage(`CMD ${middles.join(" ")} :rest :x`);
  assert.deepEqual(colon?.params, [...middles, "rest :x"], "the optional ':' is dropped");
  const twenty = Array.from({ length: 20 }, (_, i) => `x${i}`);
  const capped = parseMessage(`CMD ${twenty.join("  ")}`);
  assert.equal(capped?.params.length, 15);
  assert.equal(capped?.params[14], twenty.slice(14).join("  "));
  const exactly = parseMessage(`CMD ${middles.join(" ")}`);
  assert.deepEqual(exactly?.params, middles, "14 middles and nothing more stay 14");
});

Deno.test("irc parse: null for blank lines and lines without a command", () => {
  for (const line of ["", " ", "     ", "\r\n", ":src", ":src   ", "@a=b", "@a=b :src", "@a=b  "]) {
    assert.equal(parseMessage(line), null, JSON.stringify(line));
  }
});

// ---- formatMessage ----

Deno.test("irc format: source, command, middles and a trailing only when needed", () => {
  assert.equal(
    formatMessage("n!u@h", "PRIVMSG", "#a", "hello world"),
    ":n!u@h PRIVMSG #a :hello world",
  );
  assert.equal(formatMessage("n!u@h", "PRIVMSG", "#a", "hello"), ":n!u@h PRIVMSG #a hello");
  assert.equal(formatMessage("srv", "PRIVMSG", "#a", ""), ":srv PRIVMSG #a :");
  assert.equal(formatMessage("srv", "PRIVMSG", "#a", ":-)"), ":srv PRIVMSG #a ::-)");
  assert.equal(formatMessage("srv", "001", "bob", "Welcome"), ":srv 001 bob Welcome");
  assert.equal(formatMessage("srv", "PING"), ":srv PING");
  assert.equal(formatMessage("", "PING", "x y"), "PING :x y", "no source, no prefix");
});

Deno.test("irc format: CR, LF and NUL never reach the wire", () => {
  const line = formatMessage("srv", "PRIVMSG", "#a\r\n", "hi\r\nQUIT :bye\0");
  assert.equal(line, ":srv PRIVMSG #a :hiQUIT :bye");
  assert.ok(!/[\r\n\0]/.test(formatMessage("s\r\n", "N\nOTICE", "x\r")));
});

Deno.test("irc format: parse(format(...)) gives back the same message", () => {
  const cases: [string, string, string[]][] = [
    ["n!u@h", "PRIVMSG", ["#room", "hello there"]],
    ["n!u@h", "PRIVMSG", ["#room", ""]],
    ["n!u@h", "PRIVMSG", ["#room", ":starts with colon"]],
    ["n!u@h", "PRIVMSG", ["#room", ":"]],
    ["n!u@h", "PRIVMSG", ["#room", "  spaced   out  "]],
    ["irc.example", "353", ["bob", "=", "#room", "@alice bob |dot `1abc"]],
    ["irc.example", "001", ["bob", "Welcome"]],
    ["irc.example", "PING", []],
    ["irc.example", "MODE", ["#room", "+o", "bob"]],
    ["n!u@h", "PRIVMSG", ["#room", "\x01ACTION waves\x01"]],
    ["n!u@h", "PRIVMSG", ["#room", "é中😀 text"]],
    ["irc.example", "CMD", Array.from({ length: 14 }, (_, i) => `m${i}`).concat("last one")],
  ];
  for (const [source, command, params] of cases) {
    const line = formatMessage(source, command, ...params);
    assert.deepEqual(parseMessage(line), { tags: {}, source, command, params }, line);
  }
});

// ---- splitText ----

/** Checks the pieces fit, are non-empty (unless the text is) and give back the text. */
function checkSplit(prefix: string, text: string, pieces: string[]): void {
  assert.ok(pieces.length >= 1);
  let pos = 0;
  for (let k = 0; k < pieces.length; k++) {
    const piece = pieces[k];
    assert.ok(bytes(prefix + piece + "\r\n") <= MAX_LINE, `piece ${k} fits`);
    if (text !== "") assert.notEqual(piece, "", `piece ${k} is not empty`);
    assert.equal(text.slice(pos, pos + piece.length), piece, `piece ${k} is the text in order`);
    pos += piece.length;
    assert.ok(
      !/^[\ud800-\udbff][\udc00-\udfff]$/.test(text.slice(pos - 1, pos + 1)),
      "no half pair",
    );
    if (k < pieces.length - 1 && text[pos] === " ") pos++; // the space broken at
  }
  assert.ok(pos === text.length || text.slice(pos) === " ", "nothing is lost but break spaces");
}

const PREFIX = ":somebody!user@some.host.example PRIVMSG #room :";

Deno.test("irc split: short text and empty text are one piece", () => {
  assert.deepEqual(splitText(PREFIX, ""), [""]);
  assert.deepEqual(splitText(PREFIX, "hello"), ["hello"]);
  const room = MAX_LINE - 2 - bytes(PREFIX);
  const exact = "x".repeat(room);
  assert.deepEqual(splitText(PREFIX, exact), [exact], "exactly the room is one piece");
  const over = "x".repeat(room + 1);
  assert.deepEqual(splitText(PREFIX, over), ["x".repeat(room), "x"]);
});

Deno.test("irc split: ASCII words break at the last space before the limit", () => {
  const text = Array.from({ length: 300 }, (_, i) => `word${i}`).join(" ");
  const pieces = splitText(PREFIX, text);
  assert.ok(pieces.length > 1);
  checkSplit(PREFIX, text, pieces);
  assert.equal(pieces.join(" "), text, "every break is at a space");
  const room = MAX_LINE - 2 - bytes(PREFIX);
  for (const piece of pieces.slice(0, -1)) {
    assert.ok(!piece.startsWith(" ") && !piece.endsWith(" "));
    assert.ok(bytes(piece) > room - 10, "a piece is filled up to its last word");
  }
});

Deno.test("irc split: a space just past the limit is a clean break", () => {
  const room = MAX_LINE - 2 - bytes(PREFIX);
  const text = "a".repeat(room) + " " + "b".repeat(10);
  assert.deepEqual(splitText(PREFIX, text), ["a".repeat(room), "b".repeat(10)]);
});

Deno.test("irc split: a space only early in the piece is not used; the word is cut", () => {
  const room = MAX_LINE - 2 - bytes(PREFIX);
  const text = "ab " + "c".repeat(1000);
  const pieces = splitText(PREFIX, text);
  assert.equal(pieces[0].length, room, "the first piece is full");
  assert.equal(pieces.join(""), text);
  checkSplit(PREFIX, text, pieces);
  // A space in the last third is used.
  const late = "c".repeat(room - 50) + " " + "d".repeat(200);
  assert.deepEqual(splitText(PREFIX, late), ["c".repeat(room - 50), "d".repeat(200)]);
});

Deno.test("irc split: a trailing space left alone is not sent as its own line", () => {
  const room = MAX_LINE - 2 - bytes(PREFIX);
  assert.deepEqual(splitText(PREFIX, "a".repeat(room) + " "), ["a".repeat(room)]);
});

Deno.test("irc split: emoji and CJK are never cut inside a character", () => {
  for (const unit of ["😀", "中", "é", "a😀", "中 ", "👍🏽", "x中😀é "]) {
    const text = unit.repeat(700);
    const pieces = splitText(PREFIX, text);
    assert.ok(pieces.length > 1, unit);
    checkSplit(PREFIX, text, pieces);
    for (const piece of pieces) {
      assert.equal(new TextDecoder().decode(new TextEncoder().encode(piece)), piece, "whole chars");
    }
  }
  const emoji = "😀".repeat(300);
  const pieces = splitText(PREFIX, emoji);
  const room = MAX_LINE - 2 - bytes(PREFIX);
  assert.equal(bytes(pieces[0]), room - (room % 4), "as many whole emoji as fit");
  assert.equal(pieces.join(""), emoji);
});

Deno.test("irc split: random text of mixed widths always fits and joins back", () => {
  const alphabet = ["a", "b", " ", " ", "é", "中", "😀", "\ud800", "\udc00", "ß", "\u0301"];
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let round = 0; round < 300; round++) {
    const length = rand(2500);
    let text = "";
    for (let i = 0; i < length; i++) text += alphabet[rand(alphabet.length)];
    const prefix = ":" + "n".repeat(rand(40)) + "!u@h PRIVMSG #r :";
    checkSplit(prefix, text, splitText(prefix, text));
  }
});

Deno.test("irc split: a prefix that leaves no room still ends, one character a piece", () => {
  const prefix = ":" + "p".repeat(600);
  assert.deepEqual(splitText(prefix, "ab😀\ud800c"), ["a", "b", "😀", "\ud800", "c"]);
  assert.deepEqual(splitText(prefix, ""), [""]);
});

// ---- CTCP ----

Deno.test("irc ctcp: ACTION with and without the closing \\x01", () => {
  assert.deepEqual(parseCtcp("\x01ACTION waves\x01"), { command: "ACTION", args: "waves" });
  assert.deepEqual(parseCtcp("\x01ACTION waves"), { command: "ACTION", args: "waves" });
  assert.deepEqual(parseCtcp("\x01action waves  at  you\x01"), {
    command: "ACTION",
    args: "waves  at  you",
  });
  assert.deepEqual(parseCtcp("\x01ACTION\x01"), { command: "ACTION", args: "" });
  assert.deepEqual(parseCtcp("\x01ACTION \x01"), { command: "ACTION", args: "" });
});

Deno.test("irc ctcp: VERSION and other queries", () => {
  assert.deepEqual(parseCtcp("\x01VERSION\x01"), { command: "VERSION", args: "" });
  assert.deepEqual(parseCtcp("\x01version"), { command: "VERSION", args: "" });
  assert.deepEqual(parseCtcp("\x01PING 12345\x01"), { command: "PING", args: "12345" });
  assert.deepEqual(parseCtcp("\x01ACTION a\x01 trailing junk"), { command: "ACTION", args: "a" });
});

Deno.test("irc ctcp: not CTCP", () => {
  for (const text of ["", "hello", " \x01ACTION x\x01", "x\x01VERSION\x01", "\x01", "\x01\x01"]) {
    assert.equal(parseCtcp(text), null, JSON.stringify(text));
  }
  assert.equal(parseCtcp("\x01 ACTION x\x01"), null, "an empty command is not CTCP");
});

Deno.test("irc ctcp: wrapping, and the round trip", () => {
  assert.equal(ctcp("ACTION", "waves"), "\x01ACTION waves\x01");
  assert.equal(ctcp("VERSION", ""), "\x01VERSION\x01");
  assert.equal(ctcp("ACTION", "a\x01b"), "\x01ACTION ab\x01", "\\x01 cannot end it early");
  for (const [command, args] of [["ACTION", "waves at  you"], ["VERSION", ""], ["PING", "1 2"]]) {
    assert.deepEqual(parseCtcp(ctcp(command, args)), { command, args });
  }
});

// ---- formatting codes ----

Deno.test("irc strip: simple toggles", () => {
  assert.equal(stripFormatting("\x02bold\x02 \x1ditalic\x1d \x1funder\x1f"), "bold italic under");
  assert.equal(stripFormatting("\x1estrike\x11mono\x16rev\x0freset"), "strikemonorevreset");
  assert.equal(stripFormatting("plain text"), "plain text");
  assert.equal(stripFormatting(""), "");
});

Deno.test("irc strip: colours with up to two digits and an optional background", () => {
  assert.equal(stripFormatting("\x034red"), "red");
  assert.equal(stripFormatting("\x0304red"), "red");
  assert.equal(stripFormatting("\x03041red"), "1red", "only two digits are the colour");
  assert.equal(stripFormatting("\x034,12text"), "text");
  assert.equal(stripFormatting("\x0304,1text"), "text");
  assert.equal(stripFormatting("\x0304,123"), "3");
  assert.equal(stripFormatting("\x0304,text"), ",text", "a comma without digits stays");
  assert.equal(stripFormatting("\x03,12text"), ",12text", "no foreground, no background");
  assert.equal(stripFormatting("a\x03b"), "ab", "a bare \\x03 resets");
  assert.equal(stripFormatting("end\x03"), "end");
  assert.equal(stripFormatting("\x034,"), ",");
});

Deno.test("irc strip: hex colours need six hex digits", () => {
  assert.equal(stripFormatting("\x04FF00aaHex"), "Hex");
  assert.equal(stripFormatting("\x04ff0000,00FF00text"), "text");
  assert.equal(stripFormatting("\x04ff0000,00FFtext"), ",00FFtext", "a short background stays");
  assert.equal(stripFormatting("\x04ff00text"), "ff00text", "a short colour is not a colour");
  assert.equal(stripFormatting("\x04"), "");
});

Deno.test("irc strip: everything at once; other controls are not its business", () => {
  const text = "\x02\x0304,01alert\x0f: \x1dsee\x1d \x04abcdefhere\x16!\x07";
  assert.equal(stripFormatting(text), "alert: see here!\x07");
});

// ---- nicks ----

const SHAT_NICKS = [
  "alice",
  "a.b",
  ".lead",
  "trail.",
  "a..b",
  "1abc",
  "-x",
  "-",
  "9",
  "guest-12",
  "_under",
  "x_y-z.w",
  "Mixed.Case-9",
  "1234567890123456",
  "-234567890123456",
  "abcdefghijklmnop",
  "................",
];

Deno.test("irc nick: every Shat nick form maps to a valid IRC nick and back", () => {
  for (const nick of SHAT_NICKS) {
    assert.ok(NICK_PATTERN.test(nick), nick);
    const irc = toIrcNick(nick);
    assert.ok(validIrcNick(irc), `${nick} -> ${irc}`);
    assert.equal(fromIrcNick(irc), nick, irc);
    assert.ok(!irc.includes("."), irc);
    assert.ok(irc.length <= 17, irc);
  }
});

Deno.test("irc nick: the mapping by example", () => {
  assert.equal(toIrcNick("alice"), "alice");
  assert.equal(toIrcNick("a.b"), "a|b");
  assert.equal(toIrcNick("1abc"), "`1abc");
  assert.equal(toIrcNick("-x"), "`-x");
  assert.equal(toIrcNick("guest-12"), "guest-12");
  assert.equal(toIrcNick("1.2"), "`1|2");
  assert.equal(fromIrcNick("a|b"), "a.b");
  assert.equal(fromIrcNick("`1abc"), "1abc");
  assert.equal(fromIrcNick("`-x"), "-x");
  assert.equal(fromIrcNick("`abc"), "`abc", "a '`' that is no mapping prefix stays");
  assert.equal(fromIrcNick("a[b]"), "a[b]", "other characters are the caller's to judge");
});

Deno.test("irc nick: the mapping is one to one over many Shat nicks", () => {
  const chars = "aZ09_.-";
  const seen = new Map<string, string>();
  const grow = (nick: string) => {
    if (nick !== "") {
      const irc = toIrcNick(nick);
      assert.equal(seen.get(irc) ?? nick, nick, `${irc} has one Shat nick`);
      seen.set(irc, nick);
      assert.equal(fromIrcNick(irc), nick);
      assert.ok(validIrcNick(irc), irc);
    }
    if (nick.length < 4) { for (const c of chars) grow(nick + c); }
  };
  grow("");
  assert.equal(seen.size, 7 + 49 + 343 + 2401);
});

Deno.test("irc nick: invalid IRC nicks", () => {
  const invalid = [
    "",
    "1abc", // a digit first: its IRC form is `1abc
    "-x", // likewise
    "a b",
    "a.b", // '.' is not an IRC nick character; it travels as '|'
    "a".repeat(18),
    "`" + "1".repeat(17), // the Shat nick would be 17 long
    "a".repeat(17), // fits IRC, but the Shat nick would be 17 long
    "`abc", // a '`' that is not the mapping prefix
    "a`b",
    "`",
    "``1",
    "a[b]",
    "^_^",
    "{x}",
    "a\\b",
    "é",
    "a,b",
    "a!b",
    "a@b",
    "#room",
    ":x",
    "a*",
  ];
  for (const nick of invalid) assert.equal(validIrcNick(nick), false, JSON.stringify(nick));
});

Deno.test("irc nick: valid IRC nicks", () => {
  for (
    const nick of ["bob", "a|b", "|x", "`1abc", "`-x", "guest-12", "_", "Z9", "`" + "1".repeat(16)]
  ) {
    assert.equal(validIrcNick(nick), true, nick);
  }
  assert.equal(validIrcNick("a".repeat(16)), true);
});

Deno.test("irc lower: ASCII casemapping only", () => {
  assert.equal(ircLower("Alice[]\\^"), "alice[]\\^", "brackets are not rfc1459-folded");
  assert.equal(ircLower("#ROOM"), "#room");
  assert.equal(ircLower("ÉCOLE"), "École", "non-ASCII letters are left alone");
  assert.equal(ircLower("İ"), "İ");
  assert.equal(ircLower(""), "");
});
