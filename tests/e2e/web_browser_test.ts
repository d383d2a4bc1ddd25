/**
 * The chat page in a real browser: Debian's Chromium, headless, driven over the DevTools
 * protocol (tests/browser.ts). The page talks with a telnet-side client both ways, shows markup
 * sent by someone else as text, fits a 390-pixel-wide phone, recalls sent lines, and reconnects
 * by itself when the server comes back. A screenshot is saved as a test artifact
 * (tests/artifacts/web-390.png). Without Chromium this test skips, except under CI=true.
 */
import assert from "node:assert/strict";
import { launchBrowser } from "../support/browser.ts";
import { hasChromium } from "../support/browser.ts";
import { startServer, TestClient } from "../support/helpers.ts";

const CI = Deno.env.get("CI") === "true";
const ignore = !hasChromium();
if (ignore) {
  if (CI) {
    Deno.test("web browser: chromium is installed", () => {
      throw new Error("chromium not installed (apt-get install chromium)");
    });
  } else console.warn("web browser: chromium not installed: skipping");
}

const ARTIFACTS = new URL("../artifacts/", import.meta.url);

Deno.test({
  name: "web browser: the page chats with telnet both ways, safely, on a phone, and reconnects",
  ignore,
  async fn() {
    const s = startServer({ webPort: 0, rateLimit: 100, name: "Hackerspace" });
    const webPort = s.server.webAddr!.port;
    let s2: ReturnType<typeof startServer> | undefined;
    const browser = await launchBrowser();
    const tcp = await TestClient.join(s.port, "127.0.0.3");
    try {
      await tcp.send("/nick bob");
      const page = await browser.newPage({ width: 390, height: 800, mobile: true });
      await page.goto(`http://127.0.0.1:${webPort}/`);
      const logText = "document.getElementById('log').innerText";
      await page.waitFor(`${logText}.includes("Type /help")`);
      await page.type("/nick alice");
      await page.press("Enter");
      await page.waitFor(`${logText}.includes("You are now alice.")`);
      await new Promise((r) => setTimeout(r, 150));

      // Both ways.
      await page.type("hello from the browser, bob");
      await page.press("Enter");
      await tcp.waitFor("<alice> hello from the browser, bob");
      await tcp.send("hello alice, from telnet");
      await page.waitFor(`${logText}.includes("<bob> hello alice, from telnet")`);
      const mention = await page.evaluate<boolean>(
        "[...document.querySelectorAll('.line')].some(d => d.classList.contains('mention') && d.textContent.includes('hello alice'))",
      );
      assert.ok(mention, "a line that names you is highlighted");
      const bobColor = await page.evaluate<string>(
        "[...document.querySelectorAll('.line span')].find(s => s.textContent === 'bob').style.color",
      );
      assert.ok(bobColor !== "", "nicks are coloured");

      // Markup from someone else is text, and creates no element.
      await new Promise((r) => setTimeout(r, 150));
      await tcp.send(`<img src=x onerror="document.title='pwned'"><b>bold</b>`);
      await page.waitFor(`${logText}.includes("<img src=x onerror=")`);
      assert.equal(await page.evaluate<number>("document.querySelectorAll('img, b').length"), 0);
      assert.equal(await page.evaluate<string>("document.title"), "Hackerspace");

      // Up recalls the last line sent.
      await page.press("ArrowUp");
      assert.equal(
        await page.evaluate<string>("document.getElementById('input').value"),
        "hello from the browser, bob",
      );
      await page.press("ArrowDown");

      // A phone-sized screen: nothing wider than it, the input in view.
      const layout = await page.evaluate<
        { scroll: number; width: number; bottom: number; h: number }
      >(
        "({ scroll: document.documentElement.scrollWidth, width: innerWidth, " +
          "bottom: document.getElementById('input').getBoundingClientRect().bottom, h: innerHeight })",
      );
      assert.ok(layout.scroll <= 390, `no sideways scrolling (${layout.scroll}px)`);
      assert.ok(layout.bottom <= layout.h, "the input is on screen");
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      const png = await page.screenshot(new URL("web-390.png", ARTIFACTS).pathname);
      assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], "a PNG");

      // The server goes away and comes back on the same port: the page says so and reconnects,
      // and asks for the nick it had.
      await tcp.close();
      await s.stop();
      await page.waitFor("document.getElementById('status').textContent.includes('reconnecting')");
      s2 = startServer({ webPort }, {});
      await page.waitFor(
        "document.getElementById('status').textContent === 'connected' && " +
          `${logText}.includes("You are now alice.\\n") && ` +
          `${logText}.split("Welcome to").length === 3`,
        15_000,
      );
      assert.deepEqual(page.errors, [], "no script errors");
    } finally {
      await tcp.close();
      await browser.close();
      await s.stop();
      await s2?.stop();
    }
  },
});

Deno.test({
  name: "web browser: the room token is typed unseen, and no secret is recalled by Up",
  ignore,
  async fn() {
    const s = startServer({ webPort: 0, rateLimit: 0, token: "s3cret" });
    const webPort = s.server.webAddr!.port;
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ width: 800, height: 600 });
      await page.goto(`http://127.0.0.1:${webPort}/`);
      const logText = "document.getElementById('log').innerText";
      const inputType = "document.getElementById('input').type";
      await page.waitFor(`${logText}.includes("this room is private")`);
      await page.waitFor(`${inputType} === "password"`);
      await page.type("s3cret");
      await page.press("Enter");
      await page.waitFor(`${logText}.includes("Type /help")`);
      assert.equal(await page.evaluate<string>(inputType), "text", "shown again once in");
      await page.type("/op not-the-token");
      await page.press("Enter");
      await page.waitFor(`${logText}.includes("Operator commands are off")`);
      await page.type("/join hideout k3y");
      await page.press("Enter");
      await page.waitFor(`${logText}.includes("#hideout")`);
      await page.type("hello");
      await page.press("Enter");
      await page.waitFor(`${logText}.includes("<") && ${logText}.includes("> hello")`);
      const value = "document.getElementById('input').value";
      await page.press("ArrowUp");
      assert.equal(await page.evaluate<string>(value), "hello");
      await page.press("ArrowUp");
      assert.equal(await page.evaluate<string>(value), "hello", "nothing before it is kept");
      assert.deepEqual(page.errors, [], "no script errors");
    } finally {
      await browser.close();
      await s.stop();
    }
  },
});

Deno.test({
  name: "web browser: a password is typed in a password field, and Up never recalls it",
  ignore,
  async fn() {
    const s = startServer({ webPort: 0, rateLimit: 0 });
    const webPort = s.server.webAddr!.port;
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ width: 800, height: 600 });
      await page.goto(`http://127.0.0.1:${webPort}/`);
      const logText = "document.getElementById('log').innerText";
      const logLines = "document.getElementById('log').children.length";
      const inputType = "document.getElementById('input').type";
      const value = "document.getElementById('input').value";
      const focused = "document.activeElement === document.getElementById('input')";
      await page.waitFor(`${logText}.includes("Type /help")`);
      await page.type("hello");
      await page.press("Enter");
      await page.waitFor(`${logText}.includes("> hello")`);

      await page.type("/identify");
      assert.equal(await page.evaluate<string>(inputType), "text", "shown until a secret begins");
      await page.type(" alice");
      assert.equal(await page.evaluate<string>(inputType), "password", "hidden from the nick on");
      await page.type(" s3cretpw");
      assert.equal(await page.evaluate<string>(inputType), "password", "while typing");
      assert.equal(await page.evaluate<string>(value), "/identify alice s3cretpw");
      assert.equal(await page.evaluate<boolean>(focused), true, "the input keeps the focus");
      const before = await page.evaluate<number>(logLines);
      await page.press("Enter");
      await page.waitFor(`${logLines} > ${before}`); // the server answered
      assert.equal(await page.evaluate<string>(value), "");
      assert.equal(await page.evaluate<string>(inputType), "text", "text again after sending");
      assert.ok(!(await page.evaluate<string>(logText)).includes("s3cretpw"), "never shown");

      await page.press("ArrowUp");
      assert.equal(await page.evaluate<string>(value), "hello", "Up skips the password line");
      assert.equal(await page.evaluate<string>(inputType), "text");
      await page.press("ArrowUp");
      assert.equal(await page.evaluate<string>(value), "hello", "nothing else was kept");
      await page.press("ArrowDown");
      assert.equal(await page.evaluate<string>(value), "");

      // The field follows the line: typed, and edited back out of a secret command.
      await page.type("/PASSWORD ");
      assert.equal(await page.evaluate<string>(inputType), "password", "any case");
      await page.press("Backspace");
      assert.equal(await page.evaluate<string>(value), "/PASSWORD");
      assert.equal(await page.evaluate<string>(inputType), "text", "back to text");
      assert.deepEqual(page.errors, [], "no script errors");
    } finally {
      await browser.close();
      await s.stop();
    }
  },
});

Deno.test({
  name: "web browser: topics and nick changes are shown as text and create no element",
  ignore,
  async fn() {
    const s = startServer({ webPort: 0, rateLimit: 0, name: "Hackerspace" });
    const webPort = s.server.webAddr!.port;
    const browser = await launchBrowser();
    const tcp = await TestClient.join(s.port, "127.0.0.3");
    try {
      await tcp.send("/nick bob");
      await tcp.waitFor("You are now bob.");
      const page = await browser.newPage({ width: 800, height: 600 });
      await page.goto(`http://127.0.0.1:${webPort}/`);
      const logText = "document.getElementById('log').innerText";
      await page.waitFor(`${logText}.includes("Type /help")`);
      const send = async (line: string) => {
        await page.type(line);
        await page.press("Enter");
      };
      await send("/nick alice");
      await page.waitFor(`${logText}.includes("You are now alice.")`);

      const state = "(() => { const log = document.getElementById('log'); " +
        "const last = log.lastElementChild; return { lines: log.children.length, " +
        "elements: log.querySelectorAll('*').length, last: last && last.textContent, " +
        "inLast: last ? last.querySelectorAll('*').length : -1 }; })()";
      type State = { lines: number; elements: number; last: string; inLast: number };
      /** `act` shows the page exactly `line`: one more element in the log, and none inside it. */
      const onePlainLine = async (act: () => Promise<void>, line: string) => {
        const before = await page.evaluate<State>(state);
        await act();
        await page.waitFor(`document.getElementById('log').children.length > ${before.lines}`);
        const after = await page.evaluate<State>(state);
        assert.equal(after.last, line, "shown as the text it is");
        assert.equal(after.inLast, 0, `no element inside: ${line}`);
        assert.equal(after.elements, before.elements + 1, `one element more: ${line}`);
      };

      // Someone else's topic, and the page's own (told back to it, then asked for).
      const theirs = `<img src=x onerror="document.title='pwned'"><b>bold</b> & <i>more</i>`;
      await onePlainLine(() => tcp.send(`/topic ${theirs}`), `*** bob set the topic: ${theirs}`);
      const mine = `<b>mine</b><img src=y onerror="document.title='pwned'"><script>1</script>`;
      await onePlainLine(() => send(`/topic ${mine}`), `The topic of #lobby is now: ${mine}`);
      await onePlainLine(() => send("/topic"), `The topic of #lobby: ${mine} (set by alice)`);

      // Nicks cannot hold markup (letters, digits, _ - .); these are as close as they get.
      await onePlainLine(() => tcp.send("/nick img.onerror-b"), "*** bob is now img.onerror-b");
      await onePlainLine(() => send("/nick script.b_i-1"), "You are now script.b_i-1.");
      // A line from the new nick: its nick is one coloured span of text, nothing more.
      const { lines } = await page.evaluate<State>(state);
      await tcp.send("hi <u>there</u>");
      await page.waitFor(`document.getElementById('log').children.length > ${lines}`);
      const line = await page.evaluate<{ text: string; tags: string[]; nick: string | null }>(
        "(() => { const d = document.getElementById('log').lastElementChild; return { " +
          "text: d.textContent, tags: [...d.querySelectorAll('*')].map((e) => e.tagName), " +
          "nick: d.querySelector('span') && d.querySelector('span').textContent }; })()",
      );
      assert.deepEqual(line, {
        text: "<img.onerror-b> hi <u>there</u>",
        tags: ["SPAN"],
        nick: "img.onerror-b",
      });

      assert.equal(
        await page.evaluate<number>(
          "document.getElementById('log').querySelectorAll('img, b, i, u, script').length",
        ),
        0,
      );
      assert.equal(await page.evaluate<string>("document.title"), "Hackerspace");
      assert.deepEqual(page.errors, [], "no script errors");
    } finally {
      await tcp.close();
      await browser.close();
      await s.stop();
    }
  },
});

Deno.test({
  name: "web browser: Up never recalls /OP TOKEN or /JOIN ROOM KEY typed in upper or mixed case",
  ignore,
  async fn() {
    const s = startServer({ webPort: 0, rateLimit: 0 });
    const webPort = s.server.webAddr!.port;
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ width: 800, height: 600 });
      await page.goto(`http://127.0.0.1:${webPort}/`);
      const logText = "document.getElementById('log').innerText";
      await page.waitFor(`${logText}.includes("Type /help")`);
      const send = async (line: string) => {
        await page.type(line);
        await page.press("Enter");
      };
      await send("before the secrets");
      await page.waitFor(`${logText}.includes("> before the secrets")`);
      await send("/OP not-the-token");
      await page.waitFor(`${logText}.split("Operator commands are off").length === 2`);
      await send("/Op another-guess");
      await page.waitFor(`${logText}.split("Operator commands are off").length === 3`);
      await send("/JOIN hideout K3Y");
      await page.waitFor(`${logText}.includes("You are now in #hideout")`);
      await send("/jOiN lair S3CRET");
      await page.waitFor(`${logText}.includes("You are now in #lair")`);
      const value = "document.getElementById('input').value";
      await page.press("ArrowUp");
      assert.equal(await page.evaluate<string>(value), "before the secrets", "Up skips secrets");
      await page.press("ArrowUp");
      assert.equal(await page.evaluate<string>(value), "before the secrets", "nothing older");
      assert.deepEqual(page.errors, [], "no script errors");
    } finally {
      await browser.close();
      await s.stop();
    }
  },
});
