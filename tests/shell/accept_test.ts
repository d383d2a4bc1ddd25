/**
 * The accept loop over a listener that always has someone waiting (a connect storm): it takes
 * a burst at a time and lets the rest of the server run in between, so the welcomes of the
 * first arrivals go out before the next ones are taken.
 */
import assert from "node:assert/strict";
import { ACCEPT_BURST, Acceptor } from "../../src/shell/accept.ts";
import { Logger } from "../../src/ops/log.ts";
import { until } from "../support/helpers.ts";

/** A listener with `waiting` clients queued: each accept resolves at once. */
function storm(waiting: number) {
  let taken = 0;
  const listener = {
    accept(): Promise<Deno.TcpConn> {
      if (taken >= waiting) return new Promise(() => {}); // nobody else comes
      taken++;
      return Promise.resolve({ setNoDelay() {}, close() {} } as unknown as Deno.TcpConn);
    },
  };
  return listener as unknown as Deno.TcpListener;
}

Deno.test("accept: a storm is taken a burst at a time, other work running in between", async () => {
  const acceptor = new Acceptor(new Logger("error"), Date.now, () => 0);
  const waiting = 3 * ACCEPT_BURST + 5;
  let adopted = 0;
  // What the rest of the server does (the hub's turn, the writers): it gets to run after each
  // burst, not only once every waiting client is in.
  const seenAt: number[] = [];
  let ticking = true;
  const tick = () => {
    seenAt.push(adopted);
    if (ticking) setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  void acceptor.loop(storm(waiting), new Uint8Array(0), () => adopted++);
  await until(() => adopted === waiting, "every waiting client accepted");
  ticking = false;
  acceptor.stop();
  assert.equal(adopted, waiting);
  // Between the first arrival and the last, the other work ran more than once, and never saw
  // more than one burst taken since it last ran.
  const during = seenAt.filter((n) => n > 0 && n < waiting);
  assert(during.length >= 2, `other work ran ${during.length} times during the storm`);
  let last = 0;
  for (const n of seenAt) {
    assert(n - last <= ACCEPT_BURST, `${n - last} accepted in a row (at most ${ACCEPT_BURST})`);
    last = n;
  }
});
