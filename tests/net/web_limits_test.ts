/**
 * The web port as a hostile visitor finds it, over real sockets: it obeys the per-address cap,
 * the connect rate, the total cap and bans like the plain port; idle and half-sent HTTP
 * connections are closed after their timeouts; a fragmented WebSocket message is refused at the
 * frame that crosses the limit; a foreign Host is refused when the names are configured; and
 * repeated refusals are summarised in the log instead of flooding it.
 */
import assert from "node:assert/strict";
import net from "node:net";
import type { Config } from "../../src/ops/config.ts";
import { Logger, MemoryLog } from "../../src/ops/log.ts";
import { Server } from "../../src/shell/server.ts";
import { seededRandom, TestClient, testConfig, until } from "../support/helpers.ts";

interface WebServer {
  server: Server;
  port: number;
  web: number;
  log: MemoryLog;
  stop(): Promise<void>;
}

function webServer(over: Partial<Config> = {}, timeouts = { header: 400, idle: 300 }): WebServer {
  const config = testConfig({ logLevel: "debug", webPort: 0, ...over });
  const log = new MemoryLog();
  const server = new Server({
    config,
    log: new Logger(config.logLevel, config.safeMode, log.sink),
    random: seededRandom(),
    httpTimeouts: timeouts,
  });
  const addr = server.listen();
  return {
    server,
    port: addr.port,
    web: server.webAddr!.port,
    log,
    stop: () => server.shutdown(),
  };
}

/** A raw TCP client of the web port: what it is sent, and whether the server closed. */
class Raw {
  readonly socket: net.Socket;
  text = "";
  bytes: number[] = [];
  ended = false;
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (b: Uint8Array) => {
      this.text += new TextDecoder("latin1").decode(b);
      for (const x of b) this.bytes.push(x);
    });
    socket.on("error", () => {});
    this.closed = new Promise((resolve) =>
      socket.on("close", () => {
        this.ended = true;
        resolve();
      })
    );
  }

  static connect(port: number, from = "127.0.0.1"): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port, localAddress: from });
      s.once("connect", () => resolve(new Raw(s)));
      s.once("error", reject);
    });
  }

  write(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.write(data, () => resolve());
    });
  }

  async waitClosed(ms = 5_000): Promise<void> {
    await until(() => this.ended, "the server to close the connection", ms);
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }
}

const GET = (host = "x") => `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
const UPGRADE = (origin?: string) =>
  "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
  (origin ? `Origin: ${origin}\r\n` : "") + "\r\n";

Deno.test("web limits: idle HTTP connections count against --max-per-ip, on every port", async () => {
  const s = webServer({ maxPerIp: 4 }, { header: 60_000, idle: 60_000 });
  const held: Raw[] = [];
  try {
    for (let i = 0; i < 4; i++) held.push(await Raw.connect(s.web, "127.0.0.9"));
    await until(() => s.server.sockets === 4, "four connections held");
    const fifth = await Raw.connect(s.web, "127.0.0.9");
    await fifth.waitClosed();
    assert.match(fifth.text, /^HTTP\/1\.1 503 /);
    assert.match(fifth.text, /Too many connections from your address \(limit 4\)\./);
    // The same count holds on the plain port: the address is full everywhere.
    const plain = await TestClient.connect(s.port, "127.0.0.9");
    await plain.waitFor("Too many connections from your address (limit 4).");
    await plain.close();
    // Another address is served.
    const other = await Raw.connect(s.web, "127.0.0.10");
    await other.write(GET());
    await until(() => other.text.includes("</html>"), "the page");
    assert.match(other.text, /^HTTP\/1\.1 200 /);
    await other.close();
  } finally {
    for (const r of held) await r.close();
    await s.stop();
  }
  assert.match(s.log.text(), /WARN too many connections from one address addr=127\.0\.0\.9/);
});

Deno.test("web limits: --connect-rate, --max-clients and bans apply to the web port", async () => {
  const s = webServer({ connectRate: { burst: 3, per: 60_000 }, maxClients: 5 });
  try {
    for (let i = 0; i < 3; i++) {
      const r = await Raw.connect(s.web, "127.0.0.11");
      await r.write(GET());
      await until(() => r.text.includes("</html>"), "the page");
      await r.close();
    }
    const fourth = await Raw.connect(s.web, "127.0.0.11");
    await fourth.waitClosed();
    assert.match(fourth.text, /503[\s\S]*Too many new connections from your address/);
    const held: Raw[] = [];
    for (let i = 0; i < 5; i++) held.push(await Raw.connect(s.web, `127.0.1.${i + 1}`));
    await until(() => s.server.sockets >= 5, "five held");
    const full = await Raw.connect(s.web, "127.0.2.1");
    await full.waitClosed();
    assert.match(full.text, /503[\s\S]*Server is full\./);
    for (const r of held) await r.close();
  } finally {
    await s.stop();
  }
});

Deno.test("web limits: half-sent and idle HTTP connections are closed after their timeouts", async () => {
  const s = webServer({}, { header: 300, idle: 200 });
  try {
    const silent = await Raw.connect(s.web);
    await silent.waitClosed(3_000);
    const half = await Raw.connect(s.web);
    await half.write("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    await half.waitClosed(3_000);
    assert.match(half.text, /^HTTP\/1\.1 408 /);
    const kept = await Raw.connect(s.web);
    await kept.write(GET());
    await until(() => kept.text.includes("</html>"), "the page");
    assert.match(kept.text, /^HTTP\/1\.1 200 /);
    await kept.waitClosed(3_000); // kept alive only for the idle timeout
    await until(() => s.server.sockets === 0, "nothing held");
  } finally {
    await s.stop();
  }
});

Deno.test("web limits: a fragmented WebSocket message is refused at the frame past 4 × --max-line", async () => {
  const s = webServer({ maxLine: 1024 });
  const r = await Raw.connect(s.web);
  try {
    await r.write(UPGRADE());
    await until(() => r.text.includes("\r\n\r\n"), "the upgrade");
    assert.match(r.text, /^HTTP\/1\.1 101 /);
    await until(() => r.text.includes("Type /help"), "the welcome");
    const frame = (op: number, fin: boolean, len: number, body: Uint8Array) => {
      const head = len < 126
        ? [(fin ? 0x80 : 0) | op, 0x80 | len]
        : len < 65_536
        ? [(fin ? 0x80 : 0) | op, 0x80 | 126, len >> 8, len & 255]
        : [
          (fin ? 0x80 : 0) | op,
          0x80 | 127,
          0,
          0,
          0,
          0,
          len >>> 24,
          (len >> 16) & 255,
          (len >> 8) & 255,
          len & 255,
        ];
      const out = new Uint8Array(head.length + 4 + body.length);
      out.set(head);
      out.set([0, 0, 0, 0], head.length); // a zero mask
      out.set(body, head.length + 4);
      return out;
    };
    // 3 KiB without FIN, then 0.5 KiB continuations: within the 4 KiB limit so far.
    await r.write(frame(1, false, 3072, new Uint8Array(3072).fill(0x61)));
    await r.write(frame(0, false, 512, new Uint8Array(512).fill(0x62)));
    // A continuation that declares 256 MiB: refused from its header.
    await r.write(frame(0, false, 256 * 1024 * 1024, new Uint8Array(1024).fill(0x63)));
    await r.waitClosed();
    const close = r.bytes.lastIndexOf(0x88);
    assert.ok(close >= 0, "a close frame came");
    assert.equal((r.bytes[close + 2] << 8) | r.bytes[close + 3], 1009);
    await until(() => s.server.online === 0, "the client gone");
  } finally {
    await r.close();
    await s.stop();
  }
  assert.match(s.log.text(), /disconnect client=1 .*reason="message too big"/);
});

Deno.test("web limits: with --web-hosts a foreign Host is refused (DNS rebinding)", async () => {
  const s = webServer({ webHosts: ["chat.example.org"] });
  const ask = async (host: string) => {
    const r = await Raw.connect(s.web);
    await r.write(GET(host));
    await until(() => /\r\n\r\n/.test(r.text), "an answer");
    await r.close();
    return Number(r.text.slice(9, 12));
  };
  try {
    assert.equal(await ask("evil.example"), 421);
    assert.equal(await ask("chat.example.org.evil.example:8080"), 421);
    assert.equal(await ask("chat.example.org"), 200);
    assert.equal(await ask("CHAT.example.org:8080"), 200);
    assert.equal(await ask(`127.0.0.1:${s.web}`), 200);
    assert.equal(await ask(`localhost:${s.web}`), 200);
    const up = await Raw.connect(s.web);
    await up.write(UPGRADE().replace("Host: 127.0.0.1", "Host: evil.example"));
    await up.waitClosed();
    assert.match(up.text, /^HTTP\/1\.1 421 /);
  } finally {
    await s.stop();
  }
});

Deno.test("web limits: repeated refusals from one address are logged once, then counted", async () => {
  const s = webServer({ connectRate: { burst: 0, per: 0 }, maxPerIp: 0 });
  const origin = "http://evil.example/" + "x".repeat(5_000);
  try {
    for (let i = 0; i < 40; i++) {
      const r = await Raw.connect(s.web, "127.0.0.12");
      await r.write(UPGRADE(origin));
      await r.waitClosed();
      assert.match(r.text, /^HTTP\/1\.1 403 /);
    }
  } finally {
    await s.stop();
  }
  const lines = s.log.lines.filter((l) => l.includes("foreign origin"));
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.ok(lines[0].length < 300, "the attacker's header is cut short in the log");
});
