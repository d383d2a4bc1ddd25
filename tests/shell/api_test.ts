/**
 * The HTTP API over real sockets (POST /api/rooms/NAME/messages on the web port, with fetch()):
 * the token (401 before the body is read), the request's form (404 off, 405, 400, 413),
 * the hub's answers (201 and a telnet-side client sees the line, 404, 409, 429 with
 * Retry-After), keep-alive, and the token kept out of the log and warned about as a flag.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { parseConfig } from "../../src/ops/config.ts";
import { Logger, MemoryLog } from "../../src/ops/log.ts";
import { Server } from "../../src/shell/server.ts";
import { startServer, TestClient, testConfig, type TestServer, until } from "../support/helpers.ts";

const TOKEN = "s3cret-api-token-0123456789";

function apiServer(over: Parameters<typeof startServer>[0] = {}): TestServer & { web: number } {
  const s = startServer({ webPort: 0, apiToken: TOKEN, rateLimit: 100, ...over });
  return Object.assign(s, { web: s.server.webAddr!.port });
}

interface Reply {
  status: number;
  headers: Headers;
  body: { ok?: boolean; message?: string; error?: string };
}

/** POSTs `body` to `path` on the web port; the body of the answer is read and parsed. */
async function post(
  port: number,
  path: string,
  body: string | Uint8Array<ArrayBuffer>,
  headers: Record<string, string> = {},
  method = "POST",
): Promise<Reply> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}`, ...headers },
    ...(method === "GET" || method === "HEAD" ? {} : { body }),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : {} };
}

const line = (nick: string, text: string) => JSON.stringify({ nick, text });

Deno.test("api tcp: 201 with the right token, and a telnet client in the room sees <ci> build passed", async () => {
  const s = apiServer({ metricsPort: 0 });
  const c = await TestClient.join(s.port);
  try {
    const r = await post(s.web, "/api/rooms/lobby/messages", line("ci", "build passed"));
    assert.equal(r.status, 201);
    assert.equal(r.body.ok, true);
    assert.match(r.headers.get("content-type")!, /^application\/json/);
    await c.waitFor("<ci> build passed");
    const logged = s.log.text();
    assert.match(logged, /api post .*room=#lobby .*nick=ci/);
    assert.ok(!logged.includes(TOKEN), "the token is never logged");
    const page = await fetch(`http://127.0.0.1:${s.server.metricsAddr!.port}/metrics`);
    assert.match(await page.text(), /^shat_api_posts_total\{outcome="posted"\} 1$/m);
  } finally {
    await c.close();
    await s.stop();
  }
});

Deno.test("api tcp: 401 without a token or with a wrong one, nothing said", async () => {
  const s = apiServer();
  const c = await TestClient.join(s.port);
  try {
    const path = "/api/rooms/lobby/messages";
    const none = await post(s.web, path, line("ci", "no"), { authorization: "" });
    assert.equal(none.status, 401);
    assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer/);
    assert.ok(none.body.error);
    for (
      const auth of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, TOKEN]
    ) {
      const r = await post(s.web, path, line("ci", "no"), { authorization: auth });
      assert.equal(r.status, 401, auth);
    }
    // The token is checked before the body is read: a huge body gets 401, not 413.
    const big = await post(s.web, path, "x".repeat(20_000), { authorization: "Bearer nope" });
    assert.equal(big.status, 401);
    assert.ok(!s.log.text().includes(TOKEN));
    const ok = await post(s.web, path, line("ci", "yes"));
    assert.equal(ok.status, 201);
    await c.waitFor("<ci> yes");
    assert.ok(!c.lines.some((l) => l.includes("<ci> no")));
  } finally {
    await c.close();
    await s.stop();
  }
});

Deno.test("api tcp: without --api-token the API answers 404", async () => {
  const s = apiServer({ apiToken: "" });
  try {
    const r = await post(s.web, "/api/rooms/lobby/messages", line("ci", "hi"));
    assert.equal(r.status, 404);
    assert.match(r.body.error!, /off/);
    const page = await fetch(`http://127.0.0.1:${s.web}/`);
    assert.equal(page.status, 200, "the page is still served");
    await page.body?.cancel();
  } finally {
    await s.stop();
  }
});

Deno.test("api tcp: the request's form: 405 GET, 404 other paths, 400 type and JSON, 413 size", async () => {
  const s = apiServer({ maxLine: 100 });
  try {
    const path = "/api/rooms/lobby/messages";
    const get = await post(s.web, path, "", {}, "GET");
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
    assert.equal((await post(s.web, path, "", {}, "HEAD")).status, 405);
    assert.equal((await post(s.web, "/api/rooms/lobby", line("ci", "x"))).status, 404);
    assert.equal((await post(s.web, "/api/nothing", line("ci", "x"))).status, 404);
    const plain = await post(s.web, path, line("ci", "x"), { "content-type": "text/plain" });
    assert.equal(plain.status, 400);
    for (const bad of ["not json", "[1]", '{"nick": "ci"}', '{"nick": 1, "text": "x"}', "null"]) {
      const r = await post(s.web, path, bad);
      assert.equal(r.status, 400, bad);
      assert.ok(r.body.error, bad);
    }
    const bad = await post(s.web, path, new Uint8Array([0x7b, 0xff, 0x7d]));
    assert.equal(bad.status, 400, "not UTF-8");
    const big = await post(s.web, path, line("ci", "x".repeat(17_000)));
    assert.equal(big.status, 413, "a body over 16 KiB");
    const long = await post(s.web, path, line("ci", "x".repeat(101)));
    assert.equal(long.status, 413, "text over --max-line");
    const charset = await post(s.web, path, line("ci", "typed"), {
      "content-type": "Application/JSON; charset=utf-8",
    });
    assert.equal(charset.status, 201, "a charset parameter is fine");
  } finally {
    await s.stop();
  }
});

Deno.test("api tcp: the hub's refusals: 404 no such room, 409 a person's nick, 400 a bad nick", async () => {
  // No pace here: ann's /nick and the posts share one address's allowance of lines.
  const s = apiServer({ rateLimit: 0 });
  const c = await TestClient.join(s.port);
  try {
    await c.send("/nick ann");
    await c.waitFor("You are now ann");
    assert.equal((await post(s.web, "/api/rooms/nowhere/messages", line("ci", "x"))).status, 404);
    const mine = await post(s.web, "/api/rooms/lobby/messages", line("Ann", "x"));
    assert.equal(mine.status, 409);
    assert.match(mine.body.error!, /online/);
    const bad = await post(s.web, "/api/rooms/lobby/messages", line("no spaces", "x"));
    assert.equal(bad.status, 400);
    const encoded = await post(s.web, "/api/rooms/%23lobby/messages", line("ci", "hash"));
    assert.equal(encoded.status, 201, "the name is URL-decoded, # optional");
    await c.waitFor("<ci> hash");
  } finally {
    await c.close();
    await s.stop();
  }
});

Deno.test("api tcp: 429 with Retry-After for a post sooner than --rate-limit", async () => {
  const s = apiServer({ rateLimit: 3_000 });
  try {
    const path = "/api/rooms/lobby/messages";
    assert.equal((await post(s.web, path, line("ci", "one"))).status, 201);
    const r = await post(s.web, path, line("ci", "two"));
    assert.equal(r.status, 429);
    const wait = Number(r.headers.get("retry-after"));
    assert.ok(wait >= 1 && wait <= 3, `Retry-After ${wait}`);
    assert.match(r.body.error!, /too fast/);
  } finally {
    await s.stop();
  }
});

/** Sends raw HTTP on one connection and collects what comes back until the server closes. */
function raw(port: number, request: string, waitMs = 3_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port });
    let got = "";
    const timer = setTimeout(() => s.destroy(), waitMs);
    s.on("data", (d: Uint8Array) => (got += new TextDecoder().decode(d)));
    s.on("error", reject);
    s.on("close", () => {
      clearTimeout(timer);
      resolve(got);
    });
    s.write(request);
  });
}

Deno.test("api tcp: two posts on one kept-alive connection; a wrong token closes it", async () => {
  const s = apiServer({ rateLimit: 0 });
  try {
    const body = line("ci", "kept");
    const req = (auth: string, close = false) =>
      `POST /api/rooms/lobby/messages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${auth}\r\n` +
      `content-type: application/json\r\ncontent-length: ${body.length}\r\n` +
      (close ? "connection: close\r\n" : "") + `\r\n${body}`;
    const two = await raw(s.web, req(TOKEN) + req(TOKEN, true));
    assert.equal(two.match(/HTTP\/1\.1 201/g)?.length, 2, two);
    const wrong = await raw(s.web, req("wrong") + req(TOKEN, true));
    assert.equal(wrong.match(/HTTP\/1\.1 /g)?.length, 1, "closed after the 401: " + wrong);
    assert.match(wrong, /^HTTP\/1\.1 401/);
    // Expect: 100-continue is answered once the head has passed, before the body is sent.
    const head = req(TOKEN, true).replace("\r\n\r\n", "\r\nexpect: 100-continue\r\n\r\n")
      .slice(0, -body.length);
    const sock = net.connect({ host: "127.0.0.1", port: s.web });
    let got = "";
    sock.on("data", (d: Uint8Array) => (got += new TextDecoder().decode(d)));
    const closed = new Promise((resolve) => sock.on("close", resolve));
    sock.write(head);
    await until(() => got.includes("100 Continue"), "100 Continue");
    assert.equal(got, "HTTP/1.1 100 Continue\r\n\r\n");
    sock.write(body);
    await closed;
    assert.match(got, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201/);
  } finally {
    await s.stop();
  }
});

Deno.test("api tcp: a body that never comes is answered 408 within the header timeout", async () => {
  const config = testConfig({ webPort: 0, apiToken: TOKEN });
  const server = new Server({
    config,
    log: new Logger("debug", false, new MemoryLog().sink),
    httpTimeouts: { header: 300, idle: 300 },
  });
  server.listen();
  try {
    const got = await raw(
      server.webAddr!.port,
      `POST /api/rooms/lobby/messages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\n` +
        'content-type: application/json\r\ncontent-length: 50\r\n\r\n{"nick":',
    );
    assert.match(got, /^HTTP\/1\.1 408/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("api tcp: --api-token is a secret: warned about as a flag, not from the environment", () => {
  const flag = parseConfig(["--api-token", TOKEN]);
  assert.ok(flag.action === "run");
  assert.deepEqual(flag.secretFlags, ["--api-token"]);
  assert.equal(flag.config.apiToken, TOKEN);
  const env = parseConfig([], { SHAT_API_TOKEN: TOKEN });
  assert.ok(env.action === "run");
  assert.deepEqual(env.secretFlags, []);
  assert.equal(env.config.apiToken, TOKEN);
});
