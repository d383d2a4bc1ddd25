/**
 * The line editor over real TCP: a scripted telnet client negotiates character mode the way
 * inetutils telnet does, types, and its screen is modelled by tests/vt.ts, while an nc-like
 * client talks in the same room. What a person would see is asserted, not the bytes.
 */
import assert from "node:assert/strict";
import { startServer, TestClient, type TestServer, until } from "../support/helpers.ts";
import { Screen } from "../support/vt.ts";

const IAC = 255;
const DO = 253;
const WILL = 251;
const SB = 250;
const SE = 240;

/** A telnet client: first line in CR LF, then it accepts the server's offer at `width` columns. */
async function telnetUser(s: TestServer, width: number, from: string): Promise<TestClient> {
  const c = await TestClient.join(s.port, from);
  await c.write("/nick alice\r\n");
  await until(() => c.telnetBytes > 0, "the server's offer of character mode");
  await c.write(
    new Uint8Array([
      ...[IAC, DO, 1, IAC, DO, 3, IAC, WILL, 31],
      ...[IAC, SB, 31, 0, width, 0, 12, IAC, SE],
    ]),
  );
  await until(() => c.raw.includes("[alice #lobby] "), "the prompt");
  return c;
}

function screenOf(c: TestClient, width: number): Screen {
  return new Screen(width, 12).write(c.raw);
}

/** Waits until the bottom row of an 80-column screen reads `want`; says what it read if not. */
async function inputRow(c: TestClient, want: string, what: string): Promise<void> {
  const row = () => screenOf(c, 80).lines().at(-1);
  await until(() => row() === want, what).catch((e) => {
    throw new Error(`${e.message}: the input row reads ${JSON.stringify(row())}`);
  });
}

Deno.test("terminal: an incoming line never lands in the middle of what you type", async () => {
  const s = startServer({ rateLimit: 0 });
  const bob = await TestClient.join(s.port, "127.0.0.3");
  const alice = await telnetUser(s, 80, "127.0.0.2");
  try {
    await alice.write("hello wor");
    await until(
      () => screenOf(alice, 80).lines().at(-1) === "[alice #lobby] hello wor",
      "the echo",
    );
    await bob.send("are you there?");
    await until(
      () => screenOf(alice, 80).lines().includes(`<${bob.nick}> are you there?`),
      "bob's line on alice's screen",
    );
    const screen = screenOf(alice, 80);
    const rows = screen.lines();
    assert.equal(rows.at(-2), `<${bob.nick}> are you there?`, "the message has its own row");
    assert.equal(rows.at(-1), "[alice #lobby] hello wor", "the half line is intact below it");
    assert.equal(screen.x, "[alice #lobby] hello wor".length, "the cursor where it was");
    await alice.write("ld\r\0");
    await bob.waitFor("<alice> hello world");
    await until(() => screenOf(alice, 80).lines().includes("<alice> hello world"), "own line");
    const after = screenOf(alice, 80).lines();
    assert.equal(after.at(-1), "[alice #lobby]", "a fresh prompt");
    assert.equal(after.filter((l) => l.includes("hello world")).length, 1, "shown once");
    assert.equal(bob.ffBytes, 0, "the nc user never got an IAC byte");
    assert.ok(!bob.raw.includes("\x1b") && !bob.raw.includes("\x07"), "nor an escape or a bell");
  } finally {
    await alice.close();
    await bob.close();
    await s.stop();
  }
});

Deno.test("terminal: a long input that wraps at 40 columns is redrawn with no leftover row", async () => {
  const s = startServer({ rateLimit: 0 });
  const bob = await TestClient.join(s.port, "127.0.0.3");
  const alice = await telnetUser(s, 40, "127.0.0.2");
  try {
    const typed = "0123456789".repeat(6); // 60 characters: with the prompt, three rows
    await alice.write(typed);
    await until(() => screenOf(alice, 40).lines().join("").includes(typed), "the echo");
    await bob.send("one");
    await bob.send("two");
    await until(() => screenOf(alice, 40).lines().some((l) => l.endsWith("> two")), "lines");
    const rows = screenOf(alice, 40).lines();
    const input = ("[alice #lobby] " + typed).match(/.{1,40}/g)!;
    assert.deepEqual(rows.slice(-input.length), input, "the input, whole, at the bottom");
    const above = rows.slice(0, -input.length);
    assert.equal(above.at(-1), `<${bob.nick}> two`);
    assert.equal(above.at(-2), `<${bob.nick}> one`);
    assert.equal(
      rows.filter((r) => r.startsWith("[alice #lobby]")).length,
      1,
      "no stale prompt row",
    );
    assert.ok(!above.some((r) => /^\d+$/.test(r)), "no leftover piece of the input");
  } finally {
    await alice.close();
    await bob.close();
    await s.stop();
  }
});

Deno.test("terminal: Tab completes a nick; Up recalls a sent line; Ctrl-D leaves", async () => {
  const s = startServer({ rateLimit: 0 });
  const bob = await TestClient.join(s.port, "127.0.0.3");
  await bob.send("/nick bobby");
  const alice = await telnetUser(s, 80, "127.0.0.2");
  try {
    await alice.write("bo\t");
    await until(() => screenOf(alice, 80).lines().at(-1) === "[alice #lobby] bobby:", "completed");
    await alice.write("hi\r");
    await bob.waitFor("<alice> bobby: hi");
    await alice.write("\x1b[A");
    await until(
      () => screenOf(alice, 80).lines().at(-1) === "[alice #lobby] bobby: hi",
      "recalled",
    );
    // An operator token is never recalled: Up skips /op to the line before it.
    await alice.write("\x15/op not-the-token\r");
    await alice.waitFor("Operator commands are off");
    await alice.write("\x1b[A");
    await until(
      () => screenOf(alice, 80).lines().at(-1) === "[alice #lobby] bobby: hi",
      "recalled past /op",
    );
    await alice.write("\x15\x04"); // Ctrl-U clears the line, Ctrl-D on an empty line leaves
    await alice.waitFor("Goodbye!");
    await alice.waitClosed();
    await bob.waitFor("*** alice left (quit)");
  } finally {
    await alice.close();
    await bob.close();
    await s.stop();
  }
});

Deno.test("terminal: a room token typed in character mode is not recalled by Up", async () => {
  const s = startServer({ token: "s3cret", rateLimit: 0 });
  // Like PuTTY: it negotiates at once, so even the token is typed in character mode.
  const c = await TestClient.connect(s.port, "127.0.0.2");
  try {
    await c.waitFor("this room is private");
    await c.write(new Uint8Array([IAC, WILL, 31, IAC, SB, 31, 0, 80, 0, 12, IAC, SE]));
    await until(() => c.telnetBytes > 0, "the server's offer of character mode");
    await c.write(new Uint8Array([IAC, DO, 1, IAC, DO, 3]));
    await new Promise((r) => setTimeout(r, 100));
    await c.write("s3cret\r");
    await c.waitFor("Type /help");
    const prompt = `[${c.nick} #lobby]`; // the screen model drops trailing blanks
    await until(() => screenOf(c, 80).lines().at(-1) === prompt, "the prompt");
    await c.write("\x1b[A");
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(
      screenOf(c, 80).lines().at(-1),
      prompt,
      "Up recalls nothing: the token is not kept",
    );
    await c.write("hello\r");
    await c.write("\x1b[A");
    await until(() => screenOf(c, 80).lines().at(-1) === prompt + " hello", "a chat line is");
  } finally {
    await c.close();
    await s.stop();
  }
});

Deno.test("terminal: a half-typed line at a prompt is not an unfinished line", async () => {
  const s = startServer({ lineTimeout: 300 });
  const alice = await telnetUser(s, 80, "127.0.0.2");
  try {
    await alice.write("thinking about what to say");
    await new Promise((r) => setTimeout(r, 900));
    assert.ok(!alice.ended, "still connected after three line timeouts");
    assert.ok(!alice.raw.includes("not finished"));
  } finally {
    await alice.close();
    await s.stop();
  }
});

Deno.test("terminal: Up never recalls /OP TOKEN or /JOIN ROOM KEY typed in upper or mixed case", async () => {
  const s = startServer({ rateLimit: 0 });
  const bob = await TestClient.join(s.port, "127.0.0.3");
  const alice = await telnetUser(s, 80, "127.0.0.2");
  const said = (text: string) => alice.lines.filter((l) => l.includes(text)).length;
  try {
    await alice.write("before the secrets\r");
    await bob.waitFor("<alice> before the secrets");
    await alice.write("/OP not-the-token\r");
    await until(() => said("Operator commands are off") === 1, "the answer to /OP");
    await alice.write("/Op another-guess\r");
    await until(() => said("Operator commands are off") === 2, "the answer to /Op");
    await alice.write("/JOIN hideout K3Y\r");
    await alice.waitFor("You are now in #hideout");
    await alice.write("/jOiN lair S3CRET\r");
    await alice.waitFor("You are now in #lair");
    await inputRow(alice, "[alice #lair]", "the prompt in #lair");
    await alice.write("\x1b[A");
    await inputRow(alice, "[alice #lair] before the secrets", "Up past every secret");
    // Up again finds nothing older; the key typed after it shows the line Up left in place.
    await alice.write("\x1b[A!");
    await inputRow(alice, "[alice #lair] before the secrets!", "nothing older recalled");
  } finally {
    await alice.close();
    await bob.close();
    await s.stop();
  }
});

Deno.test("terminal: keys that make the editor redraw a long line cost their sender, not the room", async () => {
  const s = startServer({ rateLimit: 0 });
  const bob = await TestClient.join(s.port, "127.0.0.3");
  const alice = await telnetUser(s, 80, "127.0.0.2");
  try {
    // A long line of non-Latin text, then Home and a letter, again and again: each letter is
    // inserted at the start, so the editor redraws the whole line for a 4-byte key.
    await alice.write("ж".repeat(1_500));
    await until(() => s.server.bytesIn > 3_000, "the line");
    const before = s.server.bytesIn;
    const keys = "\x1b[Hx".repeat(64 * 1024);
    void alice.write(keys);
    await new Promise((r) => setTimeout(r, 1_500));
    const read = s.server.bytesIn - before;
    // Read as bytes alone, 64 KiB of burst and 32 KiB/s would let more than 96 KiB in by now;
    // charged for the redraws, the reader stops after a fraction of the burst and TCP holds
    // the rest.
    assert.ok(read < 48 * 1024, `read ${read} bytes of expensive keys`);
    // Meanwhile the room goes on, for alice too.
    await bob.send("still here");
    await until(() => alice.raw.includes("still here"), "bob's line at alice's");
  } finally {
    await alice.close();
    await bob.close();
    await s.stop();
  }
});

Deno.test("terminal: a paste whose echo passes 64 KiB at once is no reason to drop anyone", async () => {
  const s = startServer({ rateLimit: 0, maxInputRate: 0 });
  const bob = await TestClient.join(s.port, "127.0.0.3");
  const alice = await telnetUser(s, 80, "127.0.0.2");
  try {
    // One write: 40 lines of 1000 wide characters (3 KB each in UTF-8, echoed as typed), then a
    // long unfinished line and Home, End, Home: well over 64 KiB of echo for what one read holds.
    const paste = ("中".repeat(1_000) + "\r").repeat(40) + "ж".repeat(1_000) + "\x1b[H\x1b[F\x1b[H";
    await alice.write(paste);
    await until(() => bob.lines.filter((l) => l.includes("中中中")).length === 40, "40 lines");
    assert.ok(!alice.ended, "alice is still connected");
    await alice.write("\x05 done\r");
    await bob.waitFor((l) => l.endsWith("ж done"));
  } finally {
    await alice.close();
    await bob.close();
    await s.stop();
  }
  assert.doesNotMatch(s.log.text(), /too slow/);
});
