/** The server over real TCP on an ephemeral port: chat, concurrency, bans, slow readers, shutdown. */
import assert from "node:assert/strict";
import { assertRoomWorks, startServer, TestClient, until } from "../support/helpers.ts";

Deno.test("server: several clients chat; lines reach the others with CRLF, never the author", async () => {
  const s = startServer();
  // Joined one after another, so b is in the room when c arrives and sees it.
  const a = await TestClient.join(s.port);
  const b = await TestClient.join(s.port);
  const c = await TestClient.join(s.port);
  try {
    await b.waitFor(`*** ${c.nick} joined`);
    await a.send("hello from a");
    await b.waitFor(`<${a.nick}> hello from a`);
    await c.waitFor(`<${a.nick}> hello from a`);
    await c.send("/nick carol");
    await a.waitFor(`*** ${c.nick} is now carol`);
    await new Promise((r) => setTimeout(r, 600));
    await c.send("hi all");
    await a.waitFor("<carol> hi all");
    await b.waitFor("<carol> hi all");
    assert.ok(!a.lines.some((l) => l.includes("> hello from a")), "no echo to the author");
    assert.ok(b.raw.includes(`<${a.nick}> hello from a\r\n`), "lines end with CRLF");
    await a.send("/quit bye");
    await a.waitFor("Goodbye!");
    await a.waitClosed();
    await b.waitFor(`*** ${a.nick} left (quit: bye)`);
  } finally {
    await Promise.all([a, b, c].map((x) => x.close()));
    await s.stop();
  }
  assert.match(s.log.text(), /INFO connect client=1 addr=127\.0\.0\.1:\d+/);
  assert.match(s.log.text(), /INFO disconnect client=1 nick=guest-\d+ reason="quit: bye"/);
});

Deno.test("server: 12 concurrent senders: every line arrives whole, exactly once, everywhere", async () => {
  const s = startServer({ rateLimit: 0, logLevel: "warn" });
  const SENDERS = 12;
  const LINES = 60;
  const clients = await Promise.all(
    Array.from({ length: SENDERS + 2 }, () => TestClient.join(s.port)),
  );
  try {
    const nicks = clients.map((c) => c.nick);
    const marker = (i: number, k: number) => `m${i}.${k}.` + "abcdefghij".repeat(1 + (k % 40));
    // each sender writes its lines in small pieces, as fast as it can
    await Promise.all(
      clients.slice(0, SENDERS).map(async (c, i) => {
        for (let k = 0; k < LINES; k++) {
          const line = marker(i, k) + "\r\n";
          await c.write(line.slice(0, 7));
          await c.write(line.slice(7));
        }
      }),
    );
    const expected = (self: number) => (SENDERS - (self < SENDERS ? 1 : 0)) * LINES;
    await until(
      () =>
        clients.every((c, self) =>
          c.lines.filter((l) => / m\d+\.\d+\./.test(l)).length >= expected(self)
        ),
      "every line everywhere",
      20_000,
    );
    clients.forEach((c, self) => {
      const got = c.lines.filter((l) => / m\d+\.\d+\./.test(l));
      assert.equal(got.length, expected(self), `client ${self}: no line twice`);
      const seen = new Set<string>();
      for (const l of got) {
        const m = /^<(guest-\d+)> (m(\d+)\.(\d+)\..*)$/.exec(l);
        assert.ok(m, `whole line: ${l.slice(0, 80)}`);
        const i = Number(m[3]);
        const k = Number(m[4]);
        assert.equal(m[1], nicks[i], "sent by the right person");
        assert.equal(m[2], marker(i, k), "not garbled");
        assert.notEqual(i, self, "never echoed");
        seen.add(`${i}.${k}`);
      }
      assert.equal(seen.size, expected(self));
    });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await s.stop();
  }
});

Deno.test("server: a room of 240 under a steady stream: paced writes lose nothing and keep order", async () => {
  // 240 readers make the server pace its writes (a client written to moments ago waits a few
  // ms and then gets everything since in one write): each must still get every line, in order.
  const s = startServer({
    rateLimit: 0,
    maxPerIp: 0,
    connectRate: { burst: 0, per: 60_000 },
    announceMax: 1,
    logLevel: "warn",
  });
  const clients: TestClient[] = [];
  try {
    for (let i = 0; i < 240; i += 40) {
      clients.push(...await Promise.all(Array.from({ length: 40 }, () => TestClient.join(s.port))));
    }
    const SENDERS = 4;
    const LINES = 100;
    await Promise.all(
      clients.slice(0, SENDERS).map(async (c, i) => {
        for (let k = 0; k < LINES; k++) {
          await c.send(`p${i}.${k}`);
          await new Promise((r) => setTimeout(r, 2));
        }
      }),
    );
    const ours = (c: TestClient) => c.lines.filter((l) => / p\d+\.\d+$/.test(l));
    const expected = (self: number) => (SENDERS - (self < SENDERS ? 1 : 0)) * LINES;
    await until(
      () => clients.every((c, self) => ours(c).length >= expected(self)),
      "every line to everyone",
      30_000,
    );
    clients.forEach((c, self) => {
      const got = ours(c);
      assert.equal(got.length, expected(self), `client ${self}: each line once`);
      const next = new Array(SENDERS).fill(0);
      for (const l of got) {
        const m = /^<(guest-\d+)> p(\d+)\.(\d+)$/.exec(l)!;
        const i = Number(m[2]);
        assert.equal(m[1], clients[i].nick);
        assert.equal(Number(m[3]), next[i]++, `client ${self}: sender ${i}'s lines in order`);
      }
    });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await s.stop();
  }
});

Deno.test("server: a flooder is banned, refused while banned, welcome after; others unaffected", async () => {
  const s = startServer({ rateLimit: 200, maxStrikes: 3, banDuration: 2_000 });
  const bystander = await TestClient.join(s.port, "127.0.0.3");
  const spammer = await TestClient.join(s.port, "127.0.0.2");
  try {
    for (let i = 0; i < 6; i++) await spammer.send(`spam ${i}`);
    await spammer.waitFor("Slow down: that line was not sent. (strike 1 of 3)");
    await spammer.waitFor("You have been banned for spamming.");
    await spammer.waitFor("The ban ends in 2s.");
    await spammer.waitClosed();
    await bystander.waitFor(`*** ${spammer.nick} left (banned for spamming)`);
    assert.equal(bystander.lines.filter((l) => l.includes("> spam")).length, 1);

    const again = await TestClient.connect(s.port, "127.0.0.2");
    await again.waitFor((l) =>
      /^You are still temporarily banned\. Try again in \d+(ms|s)\.$/.test(l)
    );
    await again.waitClosed();
    await again.close();
    await assertRoomWorks(s.port, "127.0.0.3");

    await new Promise((r) => setTimeout(r, 2_100));
    const back = await TestClient.join(s.port, "127.0.0.2");
    await back.close();
  } finally {
    await spammer.close();
    await bystander.close();
    await s.stop();
  }
  const log = s.log.text();
  assert.match(log, /INFO strike client=2 nick=guest-\d+ strikes=1\/3 reason="too fast"/);
  assert.match(log, /WARN address banned addr=127\.0\.0\.2 for=2s reason=spamming by=server/);
  assert.match(log, /INFO refused banned address addr=127\.0\.0\.2:\d+/);
});

Deno.test("server: a client that never reads is cut off; the others get everything", async () => {
  // The default 1 MiB outbox; enough traffic to fill the kernel's buffers for the stuck client
  // several times over.
  // No input limit: the sender pushes 20 MB through as fast as it can.
  const s = startServer({ rateLimit: 0, maxInputRate: 0, logLevel: "info" });
  const sender = await TestClient.join(s.port);
  const reader = await TestClient.join(s.port);
  const stuck = await TestClient.join(s.port);
  stuck.socket.pause(); // stops reading: the kernel buffers fill, then its outbox does
  try {
    const LINES = 5_000;
    const body = "z".repeat(4_000);
    for (let k = 0; k < LINES; k++) await sender.write(`${k} ${body}\r\n`);
    await until(
      () => reader.lines.filter((l) => l.endsWith(body)).length === LINES,
      "the reader to get every line",
      20_000,
    );
    await reader.waitFor(`*** ${stuck.nick} left (too slow: stopped reading)`);
    const got = reader.lines.filter((l) => l.endsWith(body)).map((l) => Number(l.split(" ")[1]));
    assert.deepEqual(got, Array.from({ length: LINES }, (_, k) => k), "all, in order");
    await assertRoomWorks(s.port);
  } finally {
    await Promise.all([sender.close(), reader.close(), stuck.close()]);
    await s.stop();
  }
  assert.match(s.log.text(), /WARN slow reader disconnected client=3 nick=guest-\d+ queued=\d+/);
});

Deno.test("server: an over-long line gets a notice and a strike; the next line works", async () => {
  const s = startServer({ maxLine: 1024 });
  const a = await TestClient.join(s.port);
  const b = await TestClient.join(s.port);
  try {
    await a.send("x".repeat(5_000));
    await a.waitFor("That line was too long (over 1024 bytes) and was not sent. (strike 1 of 5)");
    await new Promise((r) => setTimeout(r, 600));
    await a.send("short one");
    await b.waitFor(`<${a.nick}> short one`);
    assert.ok(!b.lines.some((l) => l.includes("xxxx")));
  } finally {
    await a.close();
    await b.close();
    await s.stop();
  }
});

Deno.test("server: graceful shutdown tells every client and closes them", async () => {
  const s = startServer();
  const clients = await Promise.all([1, 2, 3].map(() => TestClient.join(s.port)));
  try {
    await s.stop();
    for (const c of clients) {
      await c.waitFor("Server is shutting down.");
      await c.waitClosed();
    }
    await assert.rejects(TestClient.connect(s.port), "no longer accepting");
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  assert.match(s.log.text(), /INFO shutting down clients=3/);
  assert.match(s.log.text(), /INFO stopped/);
});

Deno.test("server: safe mode keeps every client address and port out of the logs", async () => {
  const s = startServer({ safeMode: true, rateLimit: 300, maxStrikes: 2, logLevel: "debug" });
  const a = await TestClient.join(s.port, "127.0.0.5");
  const b = await TestClient.join(s.port, "127.0.0.6");
  const ports = [a.socket.localPort, b.socket.localPort].map(String);
  try {
    await a.send("hello");
    await b.waitFor("hello");
    for (let i = 0; i < 4; i++) await b.send(`flood ${i}`);
    await b.waitFor("You have been banned for spamming.");
    const again = await TestClient.connect(s.port, "127.0.0.6");
    await again.waitClosed();
    await again.close();
  } finally {
    await a.close();
    await b.close();
    await s.stop();
  }
  const log = s.log.text();
  assert.match(log, /connect client=1 addr=hidden/);
  assert.match(log, /address banned addr=hidden/);
  for (const secret of ["127.0.0.5", "127.0.0.6", ...ports]) {
    assert.ok(!log.includes(secret), `${secret} leaked into the log:\n${log}`);
  }
});

Deno.test("server: a client that resets mid-write disturbs nobody", async () => {
  const s = startServer({ rateLimit: 0, maxInputRate: 0 });
  const a = await TestClient.join(s.port);
  const b = await TestClient.join(s.port);
  const rude = await TestClient.join(s.port);
  try {
    for (let k = 0; k < 200; k++) await a.write(`${k} ${"r".repeat(2_000)}\r\n`);
    await rude.write("half a line without an end");
    rude.socket.resetAndDestroy();
    await b.waitFor((l) => l.startsWith(`<${a.nick}> 199 `), 10_000);
    await b.waitFor(`*** ${rude.nick} left`);
    await assertRoomWorks(s.port);
  } finally {
    await Promise.all([a.close(), b.close(), rude.close()]);
    await s.stop();
  }
});
