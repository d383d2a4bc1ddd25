/**
 * The write pacer alone, with counting clients: who is written to at once, who waits for the
 * rest of a burst, and that everyone waiting is written to once.
 */
import assert from "node:assert/strict";
import { BURST_MIN, type Paced, WritePacer } from "../../src/shell/pacing.ts";
import { until } from "../support/helpers.ts";

/** A client whose writer counts its starts. */
function paced(): Paced & { kicks: number } {
  return {
    kicks: 0,
    kick() {
      this.kicks++;
    },
    lastKick: -Infinity,
    waiting: false,
    dueAt: 0,
  };
}

Deno.test("pacing: a few quiet clients are written to at once", () => {
  const pacer = new WritePacer(() => false);
  const few = Array.from({ length: BURST_MIN - 1 }, paced);
  pacer.start(few);
  assert(few.every((c) => c.kicks === 1 && !c.waiting));
  pacer.stop();
});

Deno.test("pacing: a big room's first write waits for the rest of the burst, then all go once", async () => {
  const pacer = new WritePacer(() => false);
  const room = Array.from({ length: 1000 }, paced);
  pacer.start(room);
  assert(room.every((c) => c.kicks === 0 && c.waiting), "nobody is written to a line at a time");
  // More lines for the same people while they wait: still one write each.
  pacer.start(room);
  await until(() => room.every((c) => c.kicks > 0), "the writes of the burst");
  assert.deepEqual(new Set(room.map((c) => c.kicks)), new Set([1]));
  assert(room.every((c) => !c.waiting));
  pacer.stop();
});

Deno.test("pacing: someone woken alone while a burst waits is not held behind it", async () => {
  const pacer = new WritePacer(() => false);
  const room = Array.from({ length: BURST_MIN }, paced);
  pacer.start(room);
  const alone = paced();
  pacer.start([alone]);
  assert.deepEqual(alone.kicks, 1);
  await until(() => room.every((c) => c.kicks === 1), "the burst's writes");
  pacer.stop();
});
