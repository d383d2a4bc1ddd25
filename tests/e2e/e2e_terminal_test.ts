/**
 * End to end in a real terminal: the real `telnet` and `nc` programs inside tmux, talking to
 * the real server process, with the screen captured as a person would see it. Without tmux,
 * telnet or nc these tests skip, except under CI=true, where that fails.
 */
import assert from "node:assert/strict";
import { TestClient } from "../support/helpers.ts";
import { hasProgram, startShat } from "../support/proc.ts";
import { Tmux } from "../support/tmux.ts";

const CI = Deno.env.get("CI") === "true";
const missing = ["tmux", "telnet", "nc"].filter((p) => !hasProgram(p));
if (missing.length > 0) {
  const msg = `e2e terminal: ${missing.join(", ")} not installed (apt-get install tmux telnet ` +
    "netcat-openbsd)";
  if (CI) {
    Deno.test("e2e terminal: tmux, telnet and nc are installed", () => {
      throw new Error(msg);
    });
  } else {
    console.warn(`${msg}: skipping`);
  }
}
const ignore = missing.length > 0;

/** The server, a telnet session in tmux at `width` columns named alice, and bob over TCP. */
async function setUp(width: number) {
  const { proc, port } = await startShat(["--host", "127.0.0.1", "--ban-file", ""]);
  const term = await Tmux.start(["telnet", "-b", "127.0.0.2", "127.0.0.1", String(port)], {
    width,
    height: 20,
  });
  await term.waitFor("Type /help");
  // The first line goes out in line mode; its CR LF shows the server a telnet client, which is
  // then offered character mode, and the prompt appears.
  await term.send("/nick alice");
  await term.key("Enter");
  await term.waitFor((rows) => rows.some((r) => r.startsWith("[alice #lobby]")));
  const bob = await TestClient.join(port, "127.0.0.3");
  await bob.send("/nick bob");
  await term.waitFor("is now bob");
  await new Promise((r) => setTimeout(r, 550)); // bob's next line comes after the rate limit
  const stop = async () => {
    await bob.close();
    await term.stop();
    proc.child.kill("SIGTERM");
    await proc.finish();
  };
  return { term, bob, stop };
}

/** The rows of the screen down to the last one that is not blank. */
function trimmed(rows: string[]): string[] {
  let n = rows.length;
  while (n > 0 && rows[n - 1] === "") n--;
  return rows.slice(0, n);
}

async function screen(term: Tmux): Promise<string[]> {
  return trimmed(await term.capture());
}

/** The last row that is not blank: where the prompt is. */
function last(rows: string[]): string | undefined {
  return trimmed(rows).at(-1);
}

Deno.test({
  name: "e2e terminal: telnet keeps your half-typed line when a message arrives",
  ignore,
  async fn() {
    const { term, bob, stop } = await setUp(80);
    try {
      await term.send("hello wor");
      await term.waitFor((rows) => rows.includes("[alice #lobby] hello wor"));
      await bob.send("are you there?");
      await term.waitFor("<bob> are you there?");
      const rows = await screen(term);
      assert.equal(rows.at(-2), "<bob> are you there?", rows.join("\n"));
      assert.equal(
        rows.at(-1),
        "[alice #lobby] hello wor",
        "the half line intact, below the message",
      );
      const cursor = await term.cursor();
      assert.equal(cursor.x, "[alice #lobby] hello wor".length, "the cursor where it was");
      await term.send("ld");
      await term.key("Enter");
      await bob.waitFor("<alice> hello world");
      await term.waitFor((r) => r.includes("<alice> hello world") && last(r) === "[alice #lobby]");
      const after = await screen(term);
      assert.equal(after.filter((r) => r.includes("hello world")).length, 1, "shown once");
    } finally {
      await stop();
    }
  },
});

Deno.test({
  name: "e2e terminal: Backspace, Ctrl-U, Up and Tab work in telnet",
  ignore,
  async fn() {
    const { term, bob, stop } = await setUp(80);
    try {
      await term.send("héllo wörld");
      await term.waitFor((rows) => last(rows) === "[alice #lobby] héllo wörld");
      await term.key("BSpace", "BSpace");
      await term.waitFor((rows) => last(rows) === "[alice #lobby] héllo wör");
      await term.key("C-u");
      await term.waitFor((rows) => last(rows) === "[alice #lobby]");
      await term.send("bo");
      await term.key("Tab");
      await term.waitFor((rows) => last(rows) === "[alice #lobby] bob:");
      await term.send("ça va?");
      await term.key("Enter");
      await bob.waitFor("<alice> bob: ça va?");
      await term.key("Up");
      await term.waitFor((rows) => last(rows) === "[alice #lobby] bob: ça va?");
      await term.key("Left", "Left", "Left", "Left", "Left", "Left");
      await term.send("x");
      await term.waitFor((rows) => last(rows) === "[alice #lobby] bob: xça va?");
      assert.ok(!(await screen(term)).some((r) => r.includes("[A") || r.includes("[D")));
    } finally {
      await stop();
    }
  },
});

Deno.test({
  name: "e2e terminal: at 40 columns a 60-character input is redrawn with no leftover row",
  ignore,
  async fn() {
    const { term, bob, stop } = await setUp(40);
    try {
      const typed = "abcdefghij".repeat(6);
      await term.send(typed);
      const input = ("[alice #lobby] " + typed).match(/.{1,40}/g)!;
      await term.waitFor((rows) => input.every((row) => rows.includes(row)));
      await bob.send("a message while you type");
      await term.waitFor("<bob> a message while you type");
      const rows = await screen(term);
      assert.deepEqual(rows.slice(-input.length), input, rows.join("\n"));
      assert.equal(rows.at(-input.length - 1), "<bob> a message while you type");
      assert.equal(rows.filter((r) => r.startsWith("[alice #lobby]")).length, 1, "no stale prompt");
      assert.equal(rows.filter((r) => r === input[1]).length, 1, "no leftover wrapped row");
    } finally {
      await stop();
    }
  },
});

Deno.test({
  name: "e2e terminal: nc stays a plain line client: no stray bytes on its screen",
  ignore,
  async fn() {
    const { proc, port } = await startShat(["--host", "127.0.0.1", "--ban-file", ""]);
    const term = await Tmux.start(["nc", "-s", "127.0.0.4", "127.0.0.1", String(port)], {
      width: 80,
      height: 20,
    });
    const other = await TestClient.join(port, "127.0.0.5");
    try {
      await term.waitFor("Type /help");
      await term.send("/nick carol");
      await term.key("Enter");
      await term.waitFor("You are now carol.");
      await other.send("hello carol");
      await term.waitFor(`<${other.nick}> hello carol`);
      const rows = await screen(term);
      assert.ok(!rows.some((r) => /[\ufffd]|\[(?:\d+)?[A-KJm]|ÿ/.test(r)), rows.join("\n"));
      assert.equal(rows.at(-1), `<${other.nick}> hello carol`, "a plain line, no prompt");
      assert.ok(rows.includes("/nick carol"), "nc echoes locally, as always");
    } finally {
      await other.close();
      await term.stop();
      proc.child.kill("SIGTERM");
      await proc.finish();
    }
  },
});
