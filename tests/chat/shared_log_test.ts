/** The shared log and its readers, as pure data: order, skips, private lines, blocks, limits. */
import assert from "node:assert/strict";
import { BLOCK, MAX_BLOCK, Outbox, SharedLog } from "../../src/chat/shared_log.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function line(text: string): Uint8Array {
  return enc.encode(text + "\r\n");
}

/** Everything `ob` has due, as text. */
function drain(ob: Outbox, max = Infinity): string {
  let out = "";
  for (let b = ob.take(max); b; b = ob.take(max)) out += dec.decode(b);
  return out;
}

Deno.test("shared log: a line is stored once and every reader gets it, in order", () => {
  const log = new SharedLog();
  const readers = Array.from({ length: 100 }, () => new Outbox());
  for (const r of readers) r.read(log);
  log.append(line("<a> one"));
  log.append(line("<b> two"));
  assert.equal(log.head, line("<a> one").length + line("<b> two").length, "stored once");
  assert.equal(readers[0].bytes, log.head, "what is due, with nothing of its own queued");
  for (const r of readers) assert.equal(drain(r), "<a> one\r\n<b> two\r\n");
  assert.equal(readers[0].bytes, 0);
});

Deno.test("shared log: a reader gets views into the block, not copies", () => {
  const log = new SharedLog();
  const a = new Outbox();
  const b = new Outbox();
  a.read(log);
  b.read(log);
  log.append(line("shared"));
  const [x] = a.takeSlices();
  const [y] = b.takeSlices();
  assert.equal(x.buffer, y.buffer, "both views of one block");
  assert.equal(dec.decode(x), "shared\r\n");
});

Deno.test("shared log: private lines and skips keep their place among shared lines", () => {
  const log = new SharedLog();
  const author = new Outbox();
  const other = new Outbox();
  author.read(log);
  other.read(log);
  log.append(line("<b> before"));
  author.push(line("[private] <c> psst"));
  const at = log.append(line("<author> my own line"));
  author.skip(at, log.head); // a sender never gets its own line
  const at2 = log.append(line("<b> hi author"));
  author.skip(at2, log.head, line("<b> hi AUTHOR (highlighted)")); // a mention, drawn for one
  log.append(line("<b> after"));
  assert.equal(
    drain(author),
    "<b> before\r\n[private] <c> psst\r\n<b> hi AUTHOR (highlighted)\r\n<b> after\r\n",
  );
  assert.equal(
    drain(other),
    "<b> before\r\n<author> my own line\r\n<b> hi author\r\n<b> after\r\n",
    "the others get the shared copies",
  );
});

Deno.test("shared log: an ignorer skips the ignored author's ranges only", () => {
  const log = new SharedLog();
  const r = new Outbox();
  r.read(log);
  for (let i = 0; i < 10; i++) {
    const at = log.append(line(`<${i % 3 === 0 ? "spammer" : "friend"}> ${i}`));
    if (i % 3 === 0) r.skip(at, log.head);
  }
  assert.equal(
    drain(r),
    ["1", "2", "4", "5", "7", "8"].map((i) => `<friend> ${i}\r\n`).join(""),
  );
});

Deno.test("shared log: switching logs (a room or a view) delivers the rest of the old one first", () => {
  const lobby = new SharedLog();
  const team = new SharedLog();
  const r = new Outbox();
  r.read(lobby);
  lobby.append(line("lobby 1"));
  r.read(team); // joins the team: what the lobby said so far is still due
  lobby.append(line("lobby 2 (after leaving)"));
  r.push(line("You are now in #team."));
  team.append(line("team 1"));
  assert.equal(drain(r), "lobby 1\r\nYou are now in #team.\r\nteam 1\r\n");
  assert.ok(!lobby.readers.has(r), "no longer a reader of the lobby");
  assert.ok(team.readers.has(r));
});

Deno.test("shared log: stop() ends the logs; last words still go out", () => {
  const log = new SharedLog();
  const r = new Outbox();
  r.read(log);
  log.append(line("seen"));
  r.stop();
  r.push(line("Goodbye!"));
  log.append(line("said after leaving"));
  assert.equal(drain(r), "seen\r\nGoodbye!\r\n");
  assert.ok(!log.readers.has(r));
});

Deno.test("shared log: blocks are dropped once every reader has passed them, not before", () => {
  const log = new SharedLog();
  const fast = new Outbox();
  const slow = new Outbox();
  fast.read(log);
  slow.read(log);
  const big = new Uint8Array(BLOCK / 4 - 2).fill(0x61);
  const chunk = new Uint8Array([...big, 13, 10]);
  const count = (3 * MAX_BLOCK) / chunk.length;
  for (let i = 0; i < count; i++) {
    log.append(chunk);
    fast.take(); // keeps up
  }
  assert.ok(log.held >= 3 * MAX_BLOCK, `the slow reader holds what it has not read (${log.held})`);
  const got = slow.take()!;
  assert.equal(got.length, count * chunk.length, "nothing it needed was dropped");
  log.append(chunk);
  fast.take();
  slow.take();
  log.append(new Uint8Array(BLOCK)); // a new block: the old ones go
  assert.equal(log.blocks, 1, "only the block in use is left");
  assert.equal(log.held, BLOCK, "and it is a small one again: every reader had caught up");
});

Deno.test("shared log: while a reader is behind, the last block grows: what it has left is one piece", () => {
  const log = new SharedLog();
  const r = new Outbox();
  r.read(log);
  const sent: string[] = [];
  let i = 0;
  // Lines of 128 bytes: blocks hold a whole number of them.
  const next = () => {
    const text = `line ${i++} `.padEnd(126, "x");
    sent.push(text + "\r\n");
    return line(text);
  };
  for (let n = 0; n < (2 * BLOCK) / 128; n++) log.append(next());
  assert.equal(log.blocks, 1, "grown, not a second block");
  const pieces = r.takeSlices();
  assert.equal(pieces.length, 1, "one view, so one write");
  assert.equal(dec.decode(pieces[0]), sent.join(""));
  // A reader that keeps up has nothing left at the block's end: a new, small block is started
  // and the grown one dropped.
  assert.equal(log.held, 2 * BLOCK);
  const from = sent.length;
  let got = "";
  for (let n = 0; n < (2 * BLOCK) / 128 + 1; n++) {
    log.append(next());
    got += drain(r);
  }
  assert.equal(log.blocks, 1, "the passed block was dropped");
  assert.equal(log.held, BLOCK, "a small block again");
  assert.equal(got, sent.slice(from).join(""), "nothing lost across the change");
  // Behind by more than a grown block holds: a new block, the old one kept until read.
  for (let n = 0; n < (MAX_BLOCK + BLOCK) / 128; n++) log.append(next());
  assert.ok(log.blocks >= 2, `${log.blocks} blocks`);
  const all = r.takeSlices();
  assert.equal(all.length, log.blocks, "one view per block");
  assert.ok(all.every((p) => p.length <= MAX_BLOCK));
  const expected = sent.slice(sent.length - (MAX_BLOCK + BLOCK) / 128).join("");
  assert.equal(all.map((p) => dec.decode(p)).join(""), expected);
});

Deno.test("shared log: views taken before a block grew still hold their bytes", () => {
  const log = new SharedLog();
  const early = new Outbox();
  const late = new Outbox();
  early.read(log);
  late.read(log);
  const text = "y".repeat(1022); // 1 KiB with its line end
  for (let n = 0; n < BLOCK / 1024; n++) log.append(line(text));
  const before = early.takeSlices(); // a writer has these views in flight
  for (let n = 0; n < BLOCK / 1024; n++) log.append(line(text)); // past the first block's end
  assert.equal(log.blocks, 1, "late was behind: the block grew");
  const want = (text + "\r\n").repeat(BLOCK / 1024);
  assert.equal(before.map((p) => dec.decode(p)).join(""), want, "the views in flight are intact");
  assert.equal(drain(early), want, "early gets the rest");
  assert.equal(drain(late), want + want, "late gets all of it");
});

Deno.test("shared log: a line longer than a block gets a block of its own", () => {
  const log = new SharedLog();
  const r = new Outbox();
  r.read(log);
  const long = new Uint8Array(BLOCK * 2 + 5).fill(0x62);
  log.append(line("x"));
  log.append(long);
  log.append(line("y"));
  const all = r.take()!;
  assert.equal(all.length, 3 + long.length + 3);
  assert.equal(dec.decode(all.subarray(0, 3)), "x\r\n");
  assert.equal(dec.decode(all.subarray(all.length - 3)), "y\r\n");
});

Deno.test("shared log: bytes counts what is due; take(max) takes in pieces without losing any", () => {
  const log = new SharedLog();
  const r = new Outbox();
  r.read(log);
  const lines = Array.from({ length: 50 }, (_, i) => `line ${i}`);
  for (const l of lines) log.append(line(l));
  r.push(line("private"));
  const total = lines.reduce((n, l) => n + l.length + 2, 0) + "private\r\n".length;
  assert.equal(r.bytes, total);
  assert.equal(drain(r, 37), lines.map((l) => l + "\r\n").join("") + "private\r\n");
  assert.equal(r.bytes, 0);
});

Deno.test("shared log: before any log, pushed lines go out; clear() forgets everything", () => {
  const r = new Outbox();
  r.push(line("Server is full."));
  assert.equal(drain(r), "Server is full.\r\n");
  const log = new SharedLog();
  r.read(log);
  log.append(line("a"));
  r.clear();
  assert.equal(r.take(), null);
  assert.ok(!log.readers.has(r));
});
