/**
 * Self-tests of the end-to-end test drivers: a terminal in tmux (tests/tmux.ts) and a headless
 * Chromium over CDP (tests/browser.ts). Without tmux or Chromium these tests skip, except under
 * CI=true, where that fails.
 */
import assert from "node:assert/strict";
import { type Browser, hasChromium, launchBrowser } from "./browser.ts";
import { hasTmux, Tmux } from "./tmux.ts";

const CI = Deno.env.get("CI") === "true";

/** Same policy as e2e_test.ts: skip with a warning, or fail under CI. */
function requireProgram(what: string, present: boolean, install: string): boolean {
  if (present) return true;
  const msg = `drivers: ${what} not installed (${install})`;
  if (CI) {
    Deno.test(`drivers: ${what} is installed`, () => {
      throw new Error(msg);
    });
  } else {
    console.warn(`${msg}: skipping its tests`);
  }
  return false;
}

const noTmux = !requireProgram("tmux", hasTmux(), "apt-get install tmux");
const noChromium = !requireProgram(
  "Chromium",
  hasChromium(),
  Deno.env.get("SHAT_CHROMIUM")
    ? `SHAT_CHROMIUM=${Deno.env.get("SHAT_CHROMIUM")} is not a file`
    : "apt-get install chromium, or set SHAT_CHROMIUM to its binary",
);

Deno.test({
  name: "tmux: typing into cat in a 40x10 terminal: screen, cursor, line editing, exit",
  ignore: noTmux,
  async fn() {
    const t = await Tmux.start(["cat"], { width: 40, height: 10 });
    try {
      assert.deepEqual(t.size, { width: 40, height: 10 });
      const empty = await t.capture();
      assert.equal(empty.length, 10);
      assert.ok(empty.every((r) => r === ""));

      await t.send("hello world");
      await t.waitFor("hello world");
      assert.deepEqual(await t.cursor(), { x: 11, y: 0 });
      await t.key("Enter");
      // The terminal echoes the line, then cat writes it back.
      const rows = await t.waitFor((r) => r[1] === "hello world");
      assert.deepEqual(rows.slice(0, 3), ["hello world", "hello world", ""]);
      assert.deepEqual(await t.cursor(), { x: 0, y: 2 });

      // Text that tmux could mistake for options, key names or a command separator.
      await t.send("-l Enter; x;;");
      await t.key("BSpace", "BSpace", "Enter");
      await t.waitFor((r) => r[2] === "-l Enter; x" && r[3] === "-l Enter; x");

      // Kernel line editing: C-u drops the line, so only "kept" reaches cat.
      await t.send("dropped");
      await t.key("C-u");
      await t.send("kept");
      await t.key("Enter");
      await t.waitFor((r) => r[5] === "kept");
      assert.ok(!(await t.text()).includes("dropped"));

      const long = "x".repeat(50);
      await t.send(long);
      await t.waitFor((r) => r[6] === "x".repeat(40) && r[7] === "x".repeat(10));
      assert.deepEqual(await t.cursor(), { x: 10, y: 7 });
      await t.key("C-u");

      assert.equal(await t.exitCode(), null);
      await t.key("C-d");
      assert.equal(await t.waitExit(), 0);
      assert.equal(await t.exitCode(), 0);
      // The dead pane keeps its screen (scrolled up one row for tmux's notice).
      await t.waitFor("Pane is dead");
      assert.ok((await t.text({ scrollback: true })).includes("hello world\nhello world"));
    } finally {
      await t.stop();
    }
    await t.stop(); // twice is fine
  },
});

Deno.test({
  name: "tmux: a shell reads a line; env reaches the program; exit status is reported",
  ignore: noTmux,
  async fn() {
    await using t = await Tmux.start(
      // It waits for a second Enter before exiting: output a program writes just before it
      // dies can be lost when tmux has not read it yet (seen once under load).
      ["sh", "-c", 'read x; echo "got:$x $SHAT_DRIVER"; read y; exit 3'],
      { width: 40, height: 10, env: { SHAT_DRIVER: "yes" } },
    );
    await t.send("a b");
    await t.key("Enter");
    await t.waitFor(/got:a b yes/);
    assert.equal(await t.exitCode(), null, "still running");
    await t.key("Enter");
    assert.equal(await t.waitExit(), 3);
  },
});

Deno.test({
  name: "tmux: resize changes the terminal the program sees",
  ignore: noTmux,
  async fn() {
    await using t = await Tmux.start(
      ["sh", "-c", "stty size; read x; stty size; read x"],
      { width: 40, height: 10 },
    );
    await t.waitFor("10 40");
    await t.resize(60, 20);
    assert.deepEqual(t.size, { width: 60, height: 20 });
    assert.equal((await t.capture()).length, 20);
    await t.key("Enter");
    await t.waitFor("20 60");
    await t.resize(30, 5);
    assert.equal((await t.capture()).length, 5);
    await t.send("y".repeat(35));
    await t.waitFor((r) => r.some((row) => row === "y".repeat(30)));
  },
});

const PAGE = `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>driver test</title>
<style>
  body { margin: 0; font: 16px sans-serif; }
  #log { padding: 4px; }
  input { width: 100%; box-sizing: border-box; font: inherit; }
</style>
</head>
<body>
<div id="log"></div>
<input id="in" autocomplete="off">
<script>
  const input = document.getElementById("in");
  const log = document.getElementById("log");
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      const line = document.createElement("div");
      line.textContent = input.value;
      log.append(line);
      input.value = "";
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      input.value = log.lastElementChild ? log.lastElementChild.textContent : "";
    }
  });
  input.focus();
  console.log("ready", 42);
</script>
</body>
</html>`;

Deno.test({
  name: "browser: a page at 390x800: type + Enter, evaluate, errors, console, screenshot",
  ignore: noChromium,
  async fn() {
    const server = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen: () => {} },
      () => new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } }),
    );
    const shot = await Deno.makeTempFile({ prefix: "shat-shot-", suffix: ".png" });
    let browser: Browser | undefined;
    try {
      browser = await launchBrowser();
      const page = await browser.newPage({ width: 390, height: 800, mobile: true });
      await page.goto(`http://127.0.0.1:${server.addr.port}/`);
      assert.equal(await page.evaluate("document.title"), "driver test");
      assert.equal(await page.evaluate("innerWidth"), 390);

      await page.type("hello <b>world</b> ünï");
      await page.press("Enter");
      const last = "document.querySelector('#log').lastElementChild?.textContent";
      assert.equal(await page.waitFor(last), "hello <b>world</b> ünï");
      assert.equal(await page.evaluate("document.querySelectorAll('#log b').length"), 0);
      assert.equal(await page.evaluate("document.getElementById('in').value"), "");

      await page.press("ArrowUp");
      await page.type("!");
      await page.press("Backspace");
      await page.press("Backspace");
      assert.equal(
        await page.evaluate("document.getElementById('in').value"),
        "hello <b>world</b> ün",
      );

      assert.ok(await page.evaluate<number>("document.documentElement.scrollWidth") <= 390);
      assert.equal(
        await page.evaluate("new Promise((r) => setTimeout(() => r(7), 10))"),
        7,
        "promises are awaited",
      );
      assert.deepEqual(await page.evaluate("({ a: [1, 'b'] })"), { a: [1, "b"] });
      await assert.rejects(page.evaluate("throw new Error('boom')"), /evaluate: Error: boom/);
      await assert.rejects(page.waitFor("false", 100), /not true after 100ms/);

      await page.evaluate("setTimeout(() => { throw new Error('late failure') }); 1");
      await page.waitFor("new Promise((r) => setTimeout(() => r(true), 20))");
      assert.ok(page.errors.some((e) => e.includes("late failure")), page.errors.join("\n"));
      assert.ok(
        page.consoleMessages.some((m) =>
          m.source === "console" && m.type === "log" && m.text === "ready 42"
        ),
        JSON.stringify(page.consoleMessages),
      );

      const png = await page.screenshot(shot);
      const onDisk = await Deno.readFile(shot);
      assert.deepEqual(onDisk, png);
      assert.deepEqual([...onDisk.subarray(0, 8)], [
        0x89,
        0x50,
        0x4e,
        0x47,
        0x0d,
        0x0a,
        0x1a,
        0x0a,
      ]);
      const ihdr = new DataView(onDisk.buffer, onDisk.byteOffset + 16, 8);
      assert.deepEqual([ihdr.getUint32(0), ihdr.getUint32(4)], [390, 800]);

      await page.setViewport(1024, 600);
      assert.equal(await page.evaluate("innerWidth"), 1024);

      const closed = Deno.listen({ port: 0, hostname: "127.0.0.1" });
      const closedPort = (closed.addr as Deno.NetAddr).port;
      closed.close();
      await assert.rejects(page.goto(`http://127.0.0.1:${closedPort}/`), /ERR_CONNECTION_REFUSED/);
      await page.close();
    } finally {
      await browser?.close();
      await server.shutdown();
      await Deno.remove(shot);
    }
    await browser.close(); // twice is fine
  },
});
