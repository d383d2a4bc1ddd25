import assert from "node:assert/strict";
import { ByteQueue } from "../../src/lib/byte_queue.ts";

Deno.test("byte queue: bytes come out in order, across chunk boundaries, whatever the buffer", () => {
  const q = new ByteQueue();
  q.push(new Uint8Array([1, 2, 3]));
  q.push(new Uint8Array([4]));
  q.push(new Uint8Array([5, 6, 7, 8]));
  assert.equal(q.size, 8);
  const out: number[] = [];
  for (const len of [2, 3, 1, 10]) {
    const p = new Uint8Array(len);
    const n = q.take(p);
    out.push(...p.subarray(0, n));
  }
  assert.deepEqual(out, [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(q.size, 0);
  assert.equal(q.take(new Uint8Array(4)), 0);
});
