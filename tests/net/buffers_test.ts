/**
 * A write's pieces: short ones joined (one write for many lines), long ones (views into the
 * shared log) written as they are, never copied; the bytes and their order are what was given.
 */
import assert from "node:assert/strict";
import { gather } from "../../src/net/buffers.ts";

const GATHER = 16 * 1024;

function piece(size: number, fill: number): Uint8Array {
  return new Uint8Array(size).fill(fill);
}

function concat(parts: Uint8Array[]): number[] {
  return parts.flatMap((p) => [...p]);
}

Deno.test("buffers: short pieces become one write, long ones go as they are", () => {
  const long = piece(GATHER + 5, 9);
  const parts = [piece(10, 1), piece(20, 2), long, piece(30, 3), piece(0, 4), piece(5, 5)];
  const out = gather(parts);
  assert.equal(out.length, 3);
  assert.equal(out[1], long, "a long piece is not copied");
  assert.deepEqual(concat(out), concat(parts));
});

Deno.test("buffers: random pieces keep their bytes and order, runs stay within a write's size", () => {
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (let round = 0; round < 200; round++) {
    const parts = Array.from(
      { length: rand(12) },
      (_, i) => piece(rand(4) === 0 ? GATHER + rand(100) : rand(GATHER / 2), i),
    );
    const out = gather(parts);
    assert.deepEqual(concat(out), concat(parts));
    for (const p of out) {
      if (p.length > GATHER) assert(parts.includes(p), "only a long piece of its own is over");
    }
    assert(out.length <= parts.length);
  }
  const one = [piece(3, 1)];
  assert.equal(gather(one), one);
});
