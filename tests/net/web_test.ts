/**
 * The web port over real sockets: the page and its headers, and the WebSocket adapter with
 * Deno's own WebSocket client: chatting with a telnet-side client both ways, the room token,
 * origin checks, trusted proxies, and the bounds on what a browser may send.
 */
import assert from "node:assert/strict";
import { clientAddress, originAllowed } from "../../src/net/web.ts";
import { startServer, TestClient, type TestServer, until } from "../support/helpers.ts";

/** A browser-like WebSocket client that collects the lines it is sent. */
class WsClient {
  readonly lines: string[] = [];
  readonly frames: string[] = [];
  closed: { code: number; reason: string } | null = null;
  readonly ws: WebSocket;

  constructor(port: number, headers: Record<string, string> = {}) {
    // Deno's WebSocket takes extra headers (Origin, X-Forwarded-For) as a second argument.
    const Ctor = WebSocket as unknown as new (
      url: string,
      opts: { headers: Record<string, string> },
    ) => WebSocket;
    this.ws = new Ctor(`ws://127.0.0.1:${port}/ws`, { headers });
    this.ws.onmessage = (e) => {
      const text = String(e.data);
      this.frames.push(text);
      for (const l of text.split("\r\n")) if (l !== "") this.lines.push(l);
    };
    this.ws.onclose = (e) => (this.closed = { code: e.code, reason: e.reason });
  }

  static async open(port: number, headers: Record<string, string> = {}): Promise<WsClient> {
    const c = new WsClient(port, headers);
    await until(() => c.ws.readyState !== WebSocket.CONNECTING, "the WebSocket to open");
    return c;
  }

  waitFor(text: string): Promise<void> {
    return until(() => this.lines.some((l) => l.includes(text)), `"${text}" on the WebSocket`);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close();
    await until(() => this.closed !== null || this.ws.readyState === WebSocket.CLOSED, "close");
  }
}

function webServer(over: Parameters<typeof startServer>[0] = {}): TestServer & { web: number } {
  const s = startServer({ webPort: 0, rateLimit: 100, ...over });
  return Object.assign(s, { web: s.server.webAddr!.port });
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("web: the page, its script and stylesheet, with a strict Content-Security-Policy", async () => {
  const s = webServer({ name: "Lab <b>&</b>" });
  try {
    const page = await fetch(`http://127.0.0.1:${s.web}/`);
    assert.equal(page.status, 200);
    const csp = page.headers.get("content-security-policy")!;
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.ok(!csp.includes("unsafe-inline") && !csp.includes("unsafe-eval"), csp);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    const html = await page.text();
    assert.ok(html.includes("<title>Lab &#60;b&#62;&#38;&#60;/b&#62;</title>"), "the name is text");
    assert.ok(!/<script>/.test(html) && !/ on\w+=/.test(html), "no inline script or handler");
    for (const [path, type] of [["/app.js", "text/javascript"], ["/app.css", "text/css"]]) {
      const r = await fetch(`http://127.0.0.1:${s.web}${path}`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get("content-type")!, new RegExp(type));
      const body = await r.text();
      if (path === "/app.js") {
        assert.ok(!body.includes("innerHTML"), "received text is never markup");
      }
    }
    const missing = await fetch(`http://127.0.0.1:${s.web}/admin`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await s.stop();
  }
});

Deno.test("web: a browser and a telnet-side client talk as equals, in both directions", async () => {
  const s = webServer();
  const web = await WsClient.open(s.web);
  const tcp = await TestClient.join(s.port, "127.0.0.3");
  try {
    await web.waitFor("Type /help");
    web.ws.send("/nick webby");
    await web.waitFor("You are now webby.");
    await tcp.waitFor("*** ");
    await pause(150);
    web.ws.send("hello from a browser");
    await tcp.waitFor("<webby> hello from a browser");
    await web.waitFor("<webby> hello from a browser"); // a browser is shown its own line
    await tcp.send("hello from telnet");
    await web.waitFor(`<${tcp.nick}> hello from telnet`);
    await pause(150);
    web.ws.send("/help");
    await web.waitFor("Up and Down recall the lines you sent");
    assert.ok(web.frames.every((f) => f.endsWith("\r\n")), "every frame carries whole lines");
    assert.ok(!web.frames.some((f) => f.includes("\x1b") || f.includes("\xff")), "plain text");
  } finally {
    await web.close();
    await tcp.close();
    await s.stop();
  }
  assert.match(s.log.text(), /INFO connect client=1 addr=127\.0\.0\.1:\d+/);
});

Deno.test("web: the room token applies to browsers too", async () => {
  const s = webServer({ token: "s3cret" });
  const web = await WsClient.open(s.web);
  try {
    await web.waitFor("this room is private");
    web.ws.send("s3cret");
    await web.waitFor("Type /help");
  } finally {
    await web.close();
    await s.stop();
  }
});

Deno.test("web: a page from another origin may not open the WebSocket, unless listed", async () => {
  const s = webServer({ webOrigins: ["https://chat.example.org"] });
  try {
    const foreign = await WsClient.open(s.web, { origin: "http://evil.example" });
    await until(() => foreign.ws.readyState === WebSocket.CLOSED, "the refusal");
    assert.equal(s.server.online, 0);
    const own = await WsClient.open(s.web, { origin: `http://127.0.0.1:${s.web}` });
    await own.waitFor("Type /help");
    const listed = await WsClient.open(s.web, { origin: "https://chat.example.org" });
    await listed.waitFor("Type /help");
    await own.close();
    await listed.close();
  } finally {
    await s.stop();
  }
  assert.match(
    s.log.text(),
    /INFO websocket refused: foreign origin origin=http:\/\/evil\.example/,
  );
});

Deno.test("web: X-Forwarded-For is believed only from a trusted proxy, and bans apply to it", async () => {
  const s = webServer({ trustProxy: ["127.0.0.1"], rateLimit: 200, maxStrikes: 2 });
  try {
    const behind = await WsClient.open(s.web, { "x-forwarded-for": "198.51.100.7, 203.0.113.5" });
    await behind.waitFor("Type /help");
    for (let i = 0; i < 4; i++) behind.ws.send(`flood ${i}`);
    await behind.waitFor("You have been banned for spamming.");
    const again = await WsClient.open(s.web, { "x-forwarded-for": "203.0.113.5" });
    await again.waitFor("You are still temporarily banned.");
    const other = await WsClient.open(s.web, { "x-forwarded-for": "203.0.113.6" });
    await other.waitFor("Type /help");
    await Promise.all([behind.close(), again.close(), other.close()]);
  } finally {
    await s.stop();
  }
  assert.match(s.log.text(), /WARN address banned addr=203\.0\.113\.5 /);
  const untrusted = webServer();
  try {
    const spoof = await WsClient.open(untrusted.web, { "x-forwarded-for": "203.0.113.9" });
    await spoof.waitFor("Type /help");
    await spoof.close();
  } finally {
    await untrusted.stop();
  }
  assert.match(untrusted.log.text(), /INFO connect client=1 addr=127\.0\.0\.1:/);
});

Deno.test("web: a message far past the line limit closes the WebSocket", async () => {
  const s = webServer({ maxLine: 1024 });
  const web = await WsClient.open(s.web);
  try {
    await web.waitFor("Type /help");
    web.ws.send("x".repeat(100_000));
    await until(() => web.closed !== null, "the close");
    assert.equal(web.closed!.code, 1009);
    await until(() => s.server.online === 0, "the client to be gone");
  } finally {
    await web.close();
    await s.stop();
  }
});

Deno.test("web: clientAddress and originAllowed", () => {
  assert.equal(clientAddress("10.0.0.1", "203.0.113.5", []), "10.0.0.1", "no proxy trusted");
  assert.equal(clientAddress("10.0.0.1", "203.0.113.5", ["10.0.0.1"]), "203.0.113.5");
  assert.equal(
    clientAddress("10.0.0.1", "1.2.3.4, 203.0.113.5, 10.0.0.2", ["10.0.0.1", "10.0.0.2"]),
    "203.0.113.5",
    "the rightmost hop that is no trusted proxy: the client cannot forge what the proxy added",
  );
  assert.equal(clientAddress("10.0.0.1", "junk", ["10.0.0.1"]), "10.0.0.1");
  assert.equal(clientAddress("::ffff:10.0.0.1", "::ffff:203.0.113.5", ["10.0.0.1"]), "203.0.113.5");
  assert.equal(originAllowed(null, "h:1", []), true, "not a browser page");
  assert.equal(originAllowed("http://h:1", "h:1", []), true);
  assert.equal(originAllowed("http://evil", "h:1", []), false);
  assert.equal(originAllowed("https://a.example", "h:1", ["https://a.example"]), true);
});
