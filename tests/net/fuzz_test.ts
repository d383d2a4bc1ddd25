/**
 * Fuzz-style: random byte streams through telnet filtering, framing, hygiene and the hub. No
 * exception, buffers within their limits, and nothing unsafe in any output.
 */
import assert from "node:assert/strict";
import { LineFramer } from "../../src/net/framing.ts";
import { cleanLine } from "../../src/lib/sanitize.ts";
import { TelnetSession } from "../../src/net/telnet.ts";
import { HubHarness, seededRandom } from "../support/helpers.ts";

// deno-lint-ignore no-control-regex -- finding control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const SPICE = [
  0,
  7,
  8,
  9,
  10,
  13,
  27,
  0x5b,
  0x5d,
  0x7f,
  0x9b,
  0xc0,
  0xe2,
  0xed,
  0xf0,
  0xff,
  250,
  240,
  251,
  253,
  0x2f,
];

/** Random bytes biased toward the ones that matter to the parsers. */
function randomBytes(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = rand();
    out[i] = r < 0.4
      ? SPICE[Math.floor(rand() * SPICE.length)]
      : r < 0.7
      ? 0x20 + Math.floor(rand() * 95)
      : Math.floor(rand() * 256);
  }
  return out;
}

Deno.test("fuzz: telnet filter + framing + hygiene on random streams", () => {
  const rand = seededRandom(7);
  let lines = 0;
  for (let round = 0; round < 300; round++) {
    const max = 16 + Math.floor(rand() * 300);
    const telnet = new TelnetSession();
    const framer = new LineFramer(max);
    const stream = randomBytes(rand, 1 + Math.floor(rand() * 5_000));
    for (let off = 0; off < stream.length;) {
      const len = 1 + Math.floor(rand() * 200);
      const chunk = stream.slice(off, off + len);
      off += len;
      const data = telnet.feed(chunk);
      framer.push(data, (line) => {
        assert.ok(line.length <= max, "no line above the limit is delivered");
        const text = cleanLine(line);
        assert.ok(!UNSAFE.test(text), JSON.stringify(text));
        assert.equal(text, text.trimEnd());
        lines++;
      });
      assert.ok(framer.buffered <= max, `buffer ${framer.buffered} > ${max}`);
    }
  }
  assert.ok(lines > 1_000, `the streams produced lines (${lines})`);
});

Deno.test("fuzz: the hub takes random lines from random clients without breaking", () => {
  const rand = seededRandom(11);
  const h = new HubHarness({ maxOutbox: 64 * 1024, maxStrikes: 4, adminToken: "t0k" });
  const decoder = new TextDecoder();
  let next = 1;
  const open = new Set<number>();
  for (let step = 0; step < 20_000; step++) {
    h.now += Math.floor(rand() * 400);
    const r = rand();
    if (r < 0.05 || open.size === 0) {
      const id = next++;
      h.open(id, `10.0.${Math.floor(rand() * 4)}.${Math.floor(rand() * 8)}`);
      if (!h.closed.has(id)) open.add(id);
    } else if (r < 0.08) {
      const id = [...open][Math.floor(rand() * open.size)];
      h.hangUp(id, "connection reset");
    } else if (r < 0.1) {
      h.advance(Math.floor(rand() * 60_000));
    } else {
      const id = [...open][Math.floor(rand() * open.size)];
      const verbs = [
        "/nick ",
        "/msg ",
        "/me ",
        "/who",
        "/ban ",
        "/kick ",
        "/op t0k",
        "//",
        "/reply ",
        "",
      ];
      const verb = verbs[Math.floor(rand() * verbs.length)];
      const text = cleanLine(randomBytes(rand, Math.floor(rand() * 40)));
      h.input(id, [verb + text], rand() < 0.1, rand() < 0.02 ? 1 : 0);
    }
    for (const id of [...open]) {
      if (h.closed.has(id)) open.delete(id);
      const ob = h.outboxes.get(id)!;
      assert.ok(ob.bytes <= 64 * 1024 + 512, `outbox ${ob.bytes} bytes`);
      if (rand() < 0.5) {
        for (let b = ob.take(); b; b = ob.take()) {
          const text = decoder.decode(b);
          assert.ok(!UNSAFE.test(text.replaceAll("\r\n", "")), JSON.stringify(text));
        }
        ob.armed = false;
      }
    }
  }
  assert.ok(next > 100, "the run opened many clients");
  assert.ok(h.hub.connections <= open.size);
});
