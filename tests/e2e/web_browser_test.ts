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

/** The log's text, for waitFor. */
const LOG = "document.getElementById('log').innerText";

/** Opens the page, waits for the welcome and takes `nick`; returns the page and a way to type. */
async function openAs(
  browser: Awaited<ReturnType<typeof launchBrowser>>,
  webPort: number,
  nick: string,
  opts: { viewport?: { width: number; height: number }; init?: string } = {},
) {
  const page = await browser.newPage(opts.viewport ?? { width: 800, height: 600 });
  if (opts.init) await page.addInitScript(opts.init);
  await page.goto(`http://127.0.0.1:${webPort}/`);
  await page.waitFor(`${LOG}.includes("Type /help")`);
  const send = async (line: string) => {
    await page.type(line);
    await page.press("Enter");
  };
  await send(`/nick ${nick}`);
  try {
    await page.waitFor(`${LOG}.includes("You are now ${nick}.")`);
  } catch (e) {
    // Say what the page showed instead.
    throw new Error(`${e instanceof Error ? e.message : e}\n${await page.evaluate(LOG)}`);
  }
  return { page, send };
}

/** A `Notification` that records what the page asks of it, installed before the page runs. */
const NOTIFICATION_STUB = `(() => {
  window.__asked = 0;
  window.__notes = [];
  class Notification {
    constructor(title, opts) { window.__notes.push({ title, body: opts && opts.body }); }
    close() {}
  }
  Notification.permission = "default";
  Notification.requestPermission = () => {
    window.__asked++;
    Notification.permission = "granted";
    return Promise.resolve("granted");
  };
  Object.defineProperty(window, "Notification", { value: Notification, configurable: true });
})();`;

Deno.test({
  name: "web browser: notifications are asked for only from the bell, and come for a mention " +
    "or a private message while the page is hidden",
  ignore,
  async fn() {
    const s = startServer({ webPort: 0, rateLimit: 0, name: "Hackerspace" });
    const webPort = s.server.webAddr!.port;
    const browser = await launchBrowser();
    const tcp = await TestClient.join(s.port, "127.0.0.3");
    try {
      await tcp.send("/nick bob");
      await tcp.waitFor("You are now bob.");
      const { page } = await openAs(browser, webPort, "alice", { init: NOTIFICATION_STUB });
      const pressed = "document.getElementById('notify').getAttribute('aria-pressed')";
      const notes = "window.__notes.length";
      assert.equal(await page.evaluate<number>("window.__asked"), 0, "never asked on load");
      assert.equal(await page.evaluate<string>(pressed), "false");

      // Off: a mention while hidden notifies nobody.
      await page.setHidden(true);
      await tcp.send("alice, are you there?");
      await page.waitFor(`${LOG}.includes("<bob> alice, are you there?")`);
      assert.equal(await page.evaluate<number>(notes), 0, "off until the bell is pressed");
      assert.equal(await page.evaluate<number>("window.__asked"), 0);

      // The bell asks for permission, once, and is pressed.
      await page.setHidden(false);
      await page.click("#notify");
      await page.waitFor(`${pressed} === "true"`);
      assert.equal(await page.evaluate<number>("window.__asked"), 1, "asked on the click");
      assert.equal(await page.evaluate<string>("localStorage.getItem('shat.notify')"), "1");

      // Shown: no notification. Hidden: a line for someone else neither; a mention and a
      // private message do, with the room or the sender as the title and the text as the body.
      await tcp.send("alice: while you look");
      await page.waitFor(`${LOG}.includes("<bob> alice: while you look")`);
      await page.setHidden(true);
      await tcp.send("just chatting, nobody named");
      await tcp.send("hey alice, look at <b>this</b>");
      await tcp.send("/msg alice psst <i>secret</i>");
      await page.waitFor(`${LOG}.includes("psst <i>secret</i>")`);
      await page.waitFor(`${notes} === 2`);
      assert.deepEqual(await page.evaluate("window.__notes"), [
        { title: "#lobby", body: "bob: hey alice, look at <b>this</b>" },
        { title: "private message from bob", body: "psst <i>secret</i>" },
      ]);

      // Reloaded: the choice is kept, but permission is never asked for on load (this stub
      // forgets it was granted, so the bell shows off).
      await page.goto(`http://127.0.0.1:${webPort}/`);
      await page.waitFor(`${LOG}.includes("Type /help")`);
      assert.equal(await page.evaluate<number>("window.__asked"), 0, "not asked on load");
      assert.equal(await page.evaluate<string>(pressed), "false");
      assert.equal(await page.evaluate<string>("localStorage.getItem('shat.notify')"), "1");
      // Granted already: the bell turns on without asking; pressed again, it turns off.
      await page.evaluate("Notification.permission = 'granted'");
      await page.click("#notify");
      await page.waitFor(`${pressed} === "true"`);
      assert.equal(await page.evaluate<number>("window.__asked"), 0);
      await page.click("#notify");
      await page.waitFor(`${pressed} === "false"`);
      assert.equal(await page.evaluate<string>("localStorage.getItem('shat.notify')"), "0");
      assert.deepEqual(page.errors, [], "no script errors");
    } finally {
      await tcp.close();
      await browser.close();
      await s.stop();
    }
  },
});

Deno.test({
  name: "web browser: while hidden the title counts unread lines, marks a mention, and clears " +
    "when shown",
  ignore,
  async fn() {
    const s = startServer({ webPort: 0, rateLimit: 0, name: "Hackerspace" });
    const webPort = s.server.webAddr!.port;
    const browser = await launchBrowser();
    const tcp = await TestClient.join(s.port, "127.0.0.3");
    try {
      await tcp.send("/nick bob");
      await tcp.waitFor("You are now bob.");
      const { page, send } = await openAs(browser, webPort, "alice");
      const title = "document.title";
      assert.equal(await page.evaluate<string>(title), "Hackerspace");
      await tcp.send("seen as it comes");
      await page.waitFor(`${LOG}.includes("<bob> seen as it comes")`);
      assert.equal(await page.evaluate<string>(title), "Hackerspace", "nothing while shown");

      await page.setHidden(true);
      await tcp.send("one");
      await tcp.send("/me says two");
      await page.waitFor(`${title} === "(2) Hackerspace"`);
      // Notices and the page's own lines are not news.
      await tcp.send("/nick bobby");
      await page.waitFor(`${LOG}.includes("*** bob is now bobby")`);
      await send("my own line");
      await page.waitFor(`${LOG}.includes("<alice> my own line")`);
      assert.equal(await page.evaluate<string>(title), "(2) Hackerspace");
      await tcp.send("three, alice");
      await page.waitFor(`${title} === "(3!) Hackerspace"`);
      await tcp.send("four");
      await page.waitFor(`${title} === "(4!) Hackerspace"`);

      await page.setHidden(false);
      await page.waitFor(`${title} === "Hackerspace"`);
      // Hidden again: the count starts over, and a private message is marked too.
      await page.setHidden(true);
      await tcp.send("/msg alice psst");
      await page.waitFor(`${title} === "(1!) Hackerspace"`);
      await page.setHidden(false);
      await page.waitFor(`${title} === "Hackerspace"`);
      assert.deepEqual(page.errors, [], "no script errors");
    } finally {
      await tcp.close();
      await browser.close();
      await s.stop();
    }
  },
});

Deno.test({
  name: "web browser: http and https addresses become links showing exactly their address, " +
    "and nothing else does",
  ignore,
  async fn() {
    const s = startServer({ webPort: 0, rateLimit: 0 });
    const webPort = s.server.webAddr!.port;
    const browser = await launchBrowser();
    const tcp = await TestClient.join(s.port, "127.0.0.3");
    try {
      await tcp.send("/nick bob");
      await tcp.waitFor("You are now bob.");
      const { page } = await openAs(browser, webPort, "alice");
      type Link = { href: string | null; text: string; rel: string | null; target: string | null };
      /** Bob says `line`; the links of the line the page shows, and its text. */
      const linksOf = async (line: string, shown = `<bob> ${line}`) => {
        const before = await page.evaluate<number>(
          "document.getElementById('log').children.length",
        );
        await tcp.send(line);
        await page.waitFor(`document.getElementById('log').children.length > ${before}`);
        return await page.evaluate<{ text: string; links: Link[]; tags: string[] }>(
          "(() => { const d = document.getElementById('log').lastElementChild; return { " +
            "text: d.textContent, tags: [...d.querySelectorAll('*')].map((e) => e.tagName), " +
            "links: [...d.querySelectorAll('a')].map((a) => ({ href: a.getAttribute('href'), " +
            "text: a.textContent, rel: a.getAttribute('rel'), target: a.getAttribute('target') " +
            "})) }; })()",
        ).then((r) => {
          assert.equal(r.text, shown, "the line reads as it was said");
          return r;
        });
      };
      const link = (url: string): Link => ({
        href: url,
        text: url,
        rel: "noopener noreferrer",
        target: "_blank",
      });

      const one = await linksOf("read https://example.org/a?b=1.");
      assert.deepEqual(one.links, [link("https://example.org/a?b=1")]);
      assert.deepEqual(one.tags, ["SPAN", "A"], "the nick and the link, nothing more");

      const none = await linksOf(
        "javascript:alert(1) data:text/html,hi hxxp://x.example http:/x.example " +
          "javascript:alert(1)//http://x.example ftp://x.example http:// https://",
      );
      assert.deepEqual(none.links, [], "no other scheme, no look-alike, no empty host");

      const marked = await linksOf(
        `<a href="javascript:alert(1)">https://evil.example</a> x<http://y.example>`,
      );
      assert.deepEqual(marked.links, [link("http://y.example")], "markup stays text");

      const many = await linksOf(
        "(see https://en.wikipedia.org/wiki/Foo_(bar)), 'http://a.example/x'; " +
          `"https://b.example/?q=1&r=2"! https://c.example:8080/p#frag?`,
      );
      assert.deepEqual(many.links, [
        link("https://en.wikipedia.org/wiki/Foo_(bar)"),
        link("http://a.example/x"),
        link("https://b.example/?q=1&r=2"),
        link("https://c.example:8080/p#frag"),
      ]);

      const action = await linksOf(
        "/me shares http://d.example/x,",
        "* bob shares http://d.example/x,",
      );
      assert.deepEqual(action.links, [link("http://d.example/x")]);
      const priv = await linksOf(
        "/msg alice https://e.example/private",
        "[private] <bob> https://e.example/private",
      );
      assert.deepEqual(priv.links, [link("https://e.example/private")]);

      // Every link on the page: its text is its address, an http(s) one.
      const all = await page.evaluate<Link[]>(
        "[...document.querySelectorAll('#log a')].map((a) => ({ href: a.getAttribute('href'), " +
          "text: a.textContent, rel: a.getAttribute('rel'), target: a.getAttribute('target') }))",
      );
      assert.equal(all.length, 8);
      for (const a of all) {
        assert.equal(a.href, a.text);
        assert.match(a.href!, /^https?:\/\/[a-z]/);
      }
      assert.deepEqual(page.errors, [], "no script errors");
    } finally {
      await tcp.close();
      await browser.close();
      await s.stop();
    }
  },
});

Deno.test({
  name: "web browser: the header shows the room and its topic, and the nick list follows who " +
    "comes, goes and is renamed, at the server's default rate limit",
  ignore,
  async fn() {
    // The default --rate-limit (500 ms): the page's own /who must never get a line struck.
    const s = startServer({ webPort: 0, name: "Hackerspace" });
    const webPort = s.server.webAddr!.port;
    const browser = await launchBrowser();
    const bob = await TestClient.join(s.port, "127.0.0.3");
    let carol: TestClient | undefined;
    try {
      await bob.send("/nick bob");
      await bob.waitFor("You are now bob.");
      // The person types at once: the page's /who must not make that line too soon.
      const { page, send } = await openAs(browser, webPort, "alice");
      const nicks = "[...document.querySelectorAll('#nicks li')].map((li) => li.textContent)" +
        ".join(',')";
      const header = "document.getElementById('room').textContent + ' ' + " +
        "document.getElementById('topic').textContent";
      // Each client's own lines keep the rate limit (after whatever came before them).
      const pause = () => new Promise((r) => setTimeout(r, 800));
      const next = async (line: string) => {
        await pause();
        await send(line);
      };
      const paced = async (c: TestClient, line: string) => {
        await pause();
        await c.send(line);
      };
      await page.waitFor(`${nicks} === "alice,bob"`);
      assert.equal(await page.evaluate<string>(header), "#lobby ");
      assert.equal(
        await page.evaluate<string>("document.querySelector('aside#people ul').ariaLabel"),
        "People in #lobby",
      );

      await next("/join team");
      await page.waitFor(`${header} === "#team "`);
      await paced(bob, "/join team");
      await page.waitFor(`${nicks} === "alice (owner),bob"`);
      await next("/topic Planning https://example.org/plan");
      await page.waitFor(`${header} === "#team Planning https://example.org/plan"`);
      assert.equal(
        await page.evaluate<string>("document.querySelector('#topic a').getAttribute('href')"),
        "https://example.org/plan",
      );
      await paced(bob, "/topic Coffee at 10");
      await page.waitFor(`${header} === "#team Coffee at 10"`);
      await paced(bob, "/nick robert");
      await page.waitFor(`${nicks} === "alice (owner),robert"`);

      carol = await TestClient.join(s.port, "127.0.0.4");
      await paced(carol, "/nick carol");
      await carol.waitFor("You are now carol.");
      await paced(carol, "/join team");
      await page.waitFor(`${nicks} === "alice (owner),carol,robert"`);
      await carol.close();
      await page.waitFor(`${nicks} === "alice (owner),robert"`);
      await paced(bob, "/part");
      await page.waitFor(`${LOG}.includes("*** robert left for #lobby")`);
      await page.waitFor(`${nicks} === "alice (owner)"`);
      await paced(bob, "/join team");
      await page.waitFor(`${nicks} === "alice (owner),robert"`);
      await paced(bob, "/topic -");
      await page.waitFor(`${header} === "#team "`);

      // The answers to the page's own /who were not shown; one the person asks for is.
      assert.ok(!(await page.evaluate<string>(LOG)).includes(" online):"), "none shown");
      await next("/who");
      await page.waitFor(`${LOG}.includes("2 in #team (2 online):")`);
      await page.waitFor(`${LOG}.includes("  robert ")`);

      // Back to the lobby: its header and its people.
      await next("/part");
      await page.waitFor(`${header} === "#lobby "`);
      await page.waitFor(`${nicks} === "alice"`);
      await paced(bob, "/part");
      await page.waitFor(`${nicks} === "alice,robert"`);
      assert.equal((await page.evaluate<string>(LOG)).split(" online):").length, 2);
      assert.ok(!(await page.evaluate<string>(LOG)).includes("Slow down"), "no line refused");
      assert.deepEqual(s.log.lines.filter((l) => /^\S+ strike /.test(l)), [], "no strike");

      // On a phone the list is behind a button.
      const shown = "getComputedStyle(document.getElementById('people')).display !== 'none'";
      const toggle = "document.getElementById('people-toggle')";
      assert.equal(await page.evaluate<boolean>(shown), true, "beside the log on a wide screen");
      await page.setViewport(390, 800, { mobile: true });
      await page.waitFor(`!(${shown})`);
      assert.equal(await page.evaluate<string>(`${toggle}.textContent`), "people 2");
      await page.click("#people-toggle");
      await page.waitFor(shown);
      assert.equal(await page.evaluate<string>(`${toggle}.getAttribute('aria-expanded')`), "true");
      await page.click("#people-toggle");
      await page.waitFor(`!(${shown})`);
      assert.deepEqual(page.errors, [], "no script errors");
    } finally {
      await bob.close();
      await carol?.close();
      await browser.close();
      await s.stop();
    }
  },
});

Deno.test({
  name: "web browser: each line's time shows on hover, or always when chosen, and the choice " +
    "is kept",
  ignore,
  async fn() {
    const s = startServer({ webPort: 0, rateLimit: 0 });
    const webPort = s.server.webAddr!.port;
    const browser = await launchBrowser();
    try {
      const { page, send } = await openAs(browser, webPort, "alice");
      const last = "document.getElementById('log').lastElementChild";
      const before = `getComputedStyle(${last}, '::before').content`;
      await send("what time is it");
      await page.waitFor(`${LOG}.includes("<alice> what time is it")`);
      assert.match(await page.evaluate<string>(`${last}.title`), /^\d\d:\d\d$/);
      assert.equal(await page.evaluate<string>(before), "none", "on hover only");
      await page.click("#stamps");
      await page.waitFor(`${before} !== "none"`);
      assert.match(await page.evaluate<string>(before), /^"\d\d:\d\d "$/);
      assert.ok(
        await page.evaluate<boolean>(
          `${last}.getBoundingClientRect().top >= ` +
            `${last}.previousElementSibling.getBoundingClientRect().bottom - 1`,
        ),
        "the lines are still one under the other",
      );
      assert.equal(
        await page.evaluate<string>(`${last}.textContent`),
        "<alice> what time is it",
        "the time is not part of the line's text",
      );
      assert.equal(await page.evaluate<string>("localStorage.getItem('shat.stamps')"), "1");
      await page.goto(`http://127.0.0.1:${webPort}/`);
      await page.waitFor(`${LOG}.includes("Type /help")`);
      assert.equal(await page.evaluate<boolean>("document.getElementById('stamps').checked"), true);
      assert.match(await page.evaluate<string>(before), /^"\d\d:\d\d "$/, "kept");
      await page.click("#stamps");
      await page.waitFor(`${before} === "none"`);
      assert.deepEqual(page.errors, [], "no script errors");
    } finally {
      await browser.close();
      await s.stop();
    }
  },
});
