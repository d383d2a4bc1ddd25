/** Framing: bytes to whole lines, with a hard limit on what is buffered. */
import assert from "node:assert/strict";
import { LineFramer } from "../../src/net/framing.ts";
import { TelnetSession } from "../../src/net/telnet.ts";
import { seededRandom } from "../support/helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function frame(chunks: (string | Uint8Array)[], max = 4096) {
  const f = new LineFramer(max);
  const lines: string[] = [];
  for (const c of chunks) {
    f.push(typeof c === "string" ? enc.encode(c) : c, (l) => lines.push(dec.decode(l)));
  }
  return { lines, framer: f };
}

Deno.test("framing: LF, CRLF, lone CR and telnet CR NUL all end a line", () => {
  assert.deepEqual(frame(["a\nb\r\nc\rd\r\0e\n"]).lines, ["a", "b", "c", "d", "e"]);
});

Deno.test("framing: a line split across reads is joined, even mid-CRLF", () => {
  assert.deepEqual(frame(["hel", "lo wo", "rld\r", "\nnext\n"]).lines, ["hello world", "next"]);
  const bytes = enc.encode("héllo\n");
  assert.deepEqual(frame([bytes.subarray(0, 2), bytes.subarray(2)]).lines, ["héllo"]);
});

Deno.test("framing: an unfinished line is held and reported as partial", () => {
  const { lines, framer } = frame(["abc"]);
  assert.deepEqual(lines, []);
  assert.equal(framer.partial, true);
  assert.equal(framer.buffered, 3);
});

Deno.test("framing: empty lines come through as empty lines", () => {
  assert.deepEqual(frame(["\n\r\n\n"]).lines, ["", "", ""]);
});

Deno.test("framing: an over-long line is refused whole and the next line is fine", () => {
  const { lines, framer } = frame(["x".repeat(50) + "\nok\n"], 20);
  assert.deepEqual(lines, ["ok"]);
  assert.equal(framer.overlong, 1);
  const split = frame(["x".repeat(15), "x".repeat(15), "x".repeat(15), "\nnext\n"], 20);
  assert.deepEqual(split.lines, ["next"]);
  assert.equal(split.framer.overlong, 2, "one breach, plus one for every further 20 bytes");
});

Deno.test("framing: a line of exactly the limit is accepted", () => {
  assert.deepEqual(frame(["y".repeat(20) + "\n"], 20).lines, ["y".repeat(20)]);
});

Deno.test("framing: 10 MB without a newline never grows the buffer past the limit", () => {
  const f = new LineFramer(4096);
  const chunk = new Uint8Array(65536).fill(0x61);
  let lines = 0;
  for (let i = 0; i < 160; i++) {
    f.push(chunk, () => lines++);
    assert.ok(f.buffered <= 4096);
  }
  assert.equal(lines, 0);
  assert.ok(f.overlong >= 2500, `${f.overlong} breaches counted for 10 MB`);
  f.push(enc.encode("\nhi\n"), () => lines++);
  assert.equal(lines, 1);
});

Deno.test("framing: telnet commands (keepalive NOP, NAWS) never start a line", () => {
  const f = new LineFramer(100);
  const t = new TelnetSession();
  const nop = new Uint8Array([255, 241]);
  const naws = new Uint8Array([255, 250, 31, 0, 80, 0, 24, 255, 240]);
  for (let i = 0; i < 1_000; i++) {
    f.push(t.feed(nop.slice()), () => {});
    f.push(t.feed(naws.slice()), () => {});
  }
  assert.equal(f.partial, false, "an idle PuTTY user has not started a line");
  assert.equal(f.overlong, 0, "nor written a long one");
  let got = "";
  f.push(t.feed(enc.encode("hi\r\n")), (l) => (got = new TextDecoder().decode(l)));
  assert.equal(got, "hi");
});

/** Lines of `bytes` read whole: what any split of the same bytes into reads must give. */
function reference(bytes: Uint8Array): string[] {
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b !== 10 && b !== 13) continue;
    lines.push(dec.decode(bytes.subarray(start, i)));
    // CR LF and CR NUL are one line end.
    if (b === 13 && (bytes[i + 1] === 10 || bytes[i + 1] === 0)) i++;
    start = i + 1;
  }
  return lines;
}

Deno.test("framing: any mix of line ends, split into reads anywhere, gives the lines read whole", () => {
  const random = seededRandom(11);
  const rand = (n: number) => Math.floor(random() * n);
  const alphabet = [10, 13, 0, 0x20, 0x61, 0x62, 0xc3, 0xa9];
  for (let round = 0; round < 2000; round++) {
    const bytes = new Uint8Array(rand(60));
    for (let i = 0; i < bytes.length; i++) bytes[i] = alphabet[rand(alphabet.length)];
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < bytes.length;) {
      const n = 1 + rand(8);
      chunks.push(bytes.subarray(at, at + n));
      at += n;
    }
    const seen = JSON.stringify([...bytes]);
    assert.deepEqual(frame(chunks).lines, reference(bytes), seen);
  }
});
