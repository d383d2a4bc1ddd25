/** The metrics: counters kept by the hub (fake clock), the Prometheus page and /healthz over HTTP. */
import assert from "node:assert/strict";
import { renderMetrics } from "../../src/ops/metrics.ts";
import { HubHarness, startServer, TestClient } from "../support/helpers.ts";

const SEC = 1_000;

/** The value of one sample on a metrics page. */
function sample(page: string, name: string, labels = ""): number {
  const line = page.split("\n").find((l) => l.startsWith(`${name}${labels} `));
  if (!line) throw new Error(`no ${name}${labels} in:\n${page}`);
  return Number(line.split(" ")[1]);
}

Deno.test("metrics: the hub counts lines, deliveries, strikes, bans, refusals and slow readers", () => {
  const h = new HubHarness({ maxPerIp: 2, maxStrikes: 2, maxOutbox: 2_000, rateLimit: 500 });
  h.crowd(3, () => "10.0.0.1");
  h.open(4, "10.0.0.1"); // over --max-per-ip
  h.advance(SEC);
  h.send(1, "hello"); // to 2 and 3 (4 was refused... and 3 too: the cap is 2)
  const snap = h.hub.snapshot();
  assert.equal(snap.stats.lines, 1);
  assert.equal(snap.stats.refusedPerAddress, 2);
  assert.equal(snap.members, 2);
  assert.equal(snap.connections.tcp, 2);
  h.send(1, "too soon", "again"); // two strikes: banned
  const after = h.hub.snapshot();
  assert.equal(after.stats.strikes, 2);
  assert.equal(after.stats.bans, 1);
  assert.equal(after.bansActive, 1);
  assert.equal(after.members, 0, "both connections from the banned address are gone");
  h.open(5, "10.0.0.1");
  assert.equal(h.hub.snapshot().stats.refusedBanned, 1);
  assert.ok(after.stats.deliveries >= 1);
  const k = new HubHarness({ rateLimit: 0, maxOutbox: 2_000 });
  k.crowd(2);
  for (let i = 0; i < 100; i++) k.send(1, "x".repeat(100));
  assert.equal(k.hub.snapshot().stats.slowReaders, 1);
});

Deno.test("metrics: the page follows the Prometheus text format and shows no address", () => {
  const h = new HubHarness();
  h.open(1, "203.0.113.77");
  const page = renderMetrics(h.hub.snapshot(), {
    accepted: { tcp: 1 },
    tlsHandshakeFailures: 0,
    bytesIn: 10,
    loopLag: 0.002,
    rss: 1024,
    store: { ok: true, error: "", pending: 0, lost: 0, linesWritten: 0, pruned: 0 },
    passwordsWaiting: 0,
  });
  for (const line of page.trimEnd().split("\n")) {
    assert.match(
      line,
      /^(# HELP \w+ .+|# TYPE \w+ (counter|gauge)|[a-z_]+(\{[a-z_]+="[a-z_]+"\})? [0-9.e+-]+)$/,
      line,
    );
  }
  for (const name of ["shat_lines_total", "shat_members", "process_resident_memory_bytes"]) {
    assert.ok(page.includes(`# TYPE ${name} `), name);
  }
  assert.ok(
    page.split("\n").filter((l) => l.startsWith("# TYPE")).every((l) => {
      const [, , name, type] = l.split(" ");
      return type === "counter" ? name.endsWith("_total") : !name.endsWith("_total");
    }),
    "counters end in _total, gauges do not",
  );
  assert.equal(sample(page, "shat_connections", '{transport="tcp"}'), 1);
  assert.equal(sample(page, "shat_connections", '{transport="tls"}'), 0);
  assert.ok(!page.includes("203.0.113.77"));
});

Deno.test("metrics: /metrics over HTTP moves with traffic; /healthz is 200, then 503 while stopping", async () => {
  const s = startServer({ metricsPort: 0, rateLimit: 0 });
  const base = `http://127.0.0.1:${s.server.metricsAddr!.port}`;
  const scrape = async () => {
    const r = await fetch(`${base}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
    return await r.text();
  };
  const a = await TestClient.join(s.port, "127.0.0.2");
  const b = await TestClient.join(s.port, "127.0.0.3");
  const stuck = await TestClient.join(s.port, "127.0.0.4");
  stuck.socket.pause();
  let stopping: Promise<void> | undefined;
  try {
    const before = await scrape();
    assert.equal(sample(before, "shat_members"), 3);
    assert.equal(sample(before, "shat_connections", '{transport="tcp"}'), 3);
    assert.equal(sample(before, "shat_lines_total"), 0);
    assert.equal(sample(before, "shat_rooms"), 1);
    for (let i = 0; i < 5; i++) await a.send(`line ${i}`);
    await b.waitFor(`<${a.nick}> line 4`);
    await b.send("/join side");
    await b.waitFor("You are now in #side");
    const after = await scrape();
    assert.equal(sample(after, "shat_lines_total"), 5);
    assert.ok(sample(after, "shat_deliveries_total") >= 10, "5 lines to 2 others");
    assert.equal(sample(after, "shat_rooms"), 2);
    assert.ok(sample(after, "shat_input_bytes_total") > sample(before, "shat_input_bytes_total"));
    assert.ok(sample(after, "process_resident_memory_bytes") > 1e6);
    assert.ok(!after.includes("127.0.0."), "no client address on the page");
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), "ok\n");
    const missing = await fetch(`${base}/nope`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    // A client that never reads keeps the shutdown waiting for its grace period; meanwhile the
    // health check says the server is going away.
    stopping = s.stop();
    const down = await fetch(`${base}/healthz`);
    assert.equal(down.status, 503);
    assert.equal(await down.text(), "shutting down\n");
  } finally {
    await Promise.all([a.close(), b.close(), stuck.close()]);
    await (stopping ?? s.stop());
  }
});

Deno.test("metrics: with --redis the page shows the link and the members elsewhere; alone it does not", () => {
  const shell = {
    accepted: { tcp: 0 },
    tlsHandshakeFailures: 0,
    bytesIn: 0,
    loopLag: 0,
    rss: 1,
    store: { ok: true, error: "", pending: 0, lost: 0, linesWritten: 0, pruned: 0 },
    passwordsWaiting: 0,
  };
  const alone = renderMetrics(new HubHarness().hub.snapshot(), shell);
  assert.ok(!alone.includes("shat_redis_"), "nothing about Redis without --redis");
  const h = new HubHarness({}, { node: "A" });
  h.handle({
    type: "cluster",
    msg: {
      kind: "snapshot",
      reset: false,
      snap: { members: [], rooms: [], bans: [], history: [] },
    },
  });
  h.handle({
    type: "cluster",
    msg: {
      kind: "bus",
      bus: {
        kind: "room",
        node: "B",
        room: "lobby",
        seq: 1,
        ev: {
          t: "enter",
          m: { id: 4, nick: "bob", ip: "10.1.1.1", room: "lobby", away: "", op: false, active: 0 },
          name: "lobby",
          notice: "",
        },
      },
    },
  });
  const page = renderMetrics(h.hub.snapshot(), {
    ...shell,
    cluster: { connected: true, published: 7, received: 9, gaps: 2, missed: 1, reaped: 1 },
  });
  assert.equal(sample(page, "shat_redis_connected", ""), 1);
  assert.equal(sample(page, "shat_redis_published_total", ""), 7);
  assert.equal(sample(page, "shat_redis_received_total", ""), 9);
  assert.equal(sample(page, "shat_redis_sequence_gaps_total", ""), 2);
  assert.equal(sample(page, "shat_redis_events_missed_total", ""), 1);
  assert.equal(sample(page, "shat_remote_members", ""), 1);
  assert.ok(!page.includes("10.1.1.1"));
});
