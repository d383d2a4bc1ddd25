/**
 * End to end in a real terminal: the real `telnet` and `nc` programs inside tmux, talking to
 * the real server process, with the screen captured as a person would see it. Without tmux,
 * telnet or nc these tests skip, except under CI=true, where that fails.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
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

/** Bytes of `file` after the first `marker` in it ("" until the marker is there). */
async function bytesAfter(file: string, marker: string): Promise<Uint8Array> {
  const all = await Deno.readFile(file);
  const text = new TextDecoder("latin1").decode(all);
  const at = text.indexOf(marker);
  return at < 0 ? new Uint8Array(0) : all.subarray(at);
}

Deno.test({
  name: "e2e terminal: /screenreader on in telnet: line mode, whole plain lines, no escape bytes",
  ignore,
  async fn() {
    const { proc, port } = await startShat(["--host", "127.0.0.1", "--ban-file", ""]);
    const dir = await Deno.makeTempDir({ prefix: "shat-reader-" });
    const rawFile = `${dir}/telnet.out`;
    // Everything telnet writes to the terminal is also kept, byte for byte, by tee.
    const term = await Tmux.start(
      ["sh", "-c", `telnet -b 127.0.0.6 127.0.0.1 ${port} | tee ${rawFile}`],
      { width: 80, height: 20 },
    );
    let bob: TestClient | null = null;
    try {
      await term.waitFor("Type /help");
      assert.ok(
        (await screen(term)).includes("Using a screen reader? Type /screenreader on."),
        "the welcome says how, in one line",
      );
      await term.send("/nick alice");
      await term.key("Enter");
      await term.waitFor((rows) => rows.some((r) => r.startsWith("[alice #lobby]")));
      bob = await TestClient.join(port, "127.0.0.7");
      await bob.send("/nick bob");
      await term.waitFor("is now bob");
      await new Promise((r) => setTimeout(r, 550)); // alice's next line: after the rate limit
      await term.send("/screenreader on");
      await term.key("Enter");
      const confirm = "Screen reader mode on";
      await term.waitFor(confirm);
      assert.ok(
        !(await screen(term)).some((r) => r.startsWith("[alice #lobby]")),
        "the prompt is gone from the screen",
      );
      await new Promise((r) => setTimeout(r, 550)); // bob's next line comes after the rate limit
      await bob.send("alice: are you there?");
      await term.waitFor("<bob> alice: are you there?");
      await new Promise((r) => setTimeout(r, 550));
      await bob.send("/me waves");
      await term.waitFor("* bob waves");
      // Line mode again: telnet echoes what is typed and sends it on Enter, once.
      await term.send("yes, reading");
      await term.waitFor((rows) => last(rows) === "yes, reading");
      await term.key("Enter");
      await bob.waitFor("<alice> yes, reading");
      await new Promise((r) => setTimeout(r, 550));
      await bob.send("good");
      await term.waitFor("<bob> good");
      const rows = await screen(term);
      assert.equal(rows.filter((r) => r.includes("yes, reading")).length, 1, rows.join("\n"));
      assert.ok(!rows.some((r) => r.includes("<alice>")), "own lines are not repeated");
      assert.ok(!rows.some((r) => r.startsWith("[alice #lobby]")), "no prompt");
      const after = await bytesAfter(rawFile, confirm);
      const text = new TextDecoder().decode(after);
      assert.ok(text.includes("<bob> good"), text);
      assert.equal(
        after.indexOf(0x1b),
        -1,
        `an ESC byte after the switch: ${JSON.stringify(text)}`,
      );
      assert.equal(after.indexOf(0x07), -1, `a bell after the switch: ${JSON.stringify(text)}`);
      for (const line of ["<bob> alice: are you there?", "* bob waves", "<bob> good"]) {
        assert.ok(text.includes(`\r\n${line}\r\n`), `${line} arrives whole, on its own line`);
      }
    } finally {
      await bob?.close();
      await term.stop();
      proc.child.kill("SIGTERM");
      await proc.finish();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** A scripted telnet client over TCP: what it was sent, byte for byte. */
class ScriptedTelnet {
  readonly got: number[] = [];
  readonly #socket: net.Socket;
  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on("data", (b: Uint8Array) => this.got.push(...b));
  }
  static connect(port: number, from: string): Promise<ScriptedTelnet> {
    return new Promise((resolve, reject) => {
      const s = net.connect(
        { port, host: "127.0.0.1", localAddress: from },
        () => resolve(new ScriptedTelnet(s)),
      );
      s.once("error", reject);
    });
  }
  text(from = 0): string {
    return new TextDecoder("latin1").decode(new Uint8Array(this.got.slice(from)));
  }
  /** Where `seq` occurs in what was sent (counting from `from`), or -1. */
  find(seq: number[] | string, from = 0): number {
    const s = typeof seq === "string" ? seq : String.fromCharCode(...seq);
    const at = this.text(from).indexOf(s);
    return at < 0 ? -1 : at + from;
  }
  async waitFor(seq: number[] | string, from = 0): Promise<number> {
    for (let i = 0; i < 500; i++) {
      const at = this.find(seq, from);
      if (at >= 0) return at;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`never got ${JSON.stringify(seq)}: ${JSON.stringify(this.text(from))}`);
  }
  write(...parts: (string | number[])[]): void {
    for (const p of parts) this.#socket.write(typeof p === "string" ? p : new Uint8Array(p));
  }
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#socket.once("close", () => resolve());
      this.#socket.destroy();
    });
  }
}

Deno.test({
  name: "e2e terminal: a client announcing a screen reader (MTTS 64) gets plain line mode",
  async fn() {
    const IAC = 255;
    const [SB, SE, WILL, WONT, DO] = [250, 240, 251, 252, 253];
    const SEND = [IAC, SB, 24, 1, IAC, SE];
    const is = (name: string) => [IAC, SB, 24, 0, ...new TextEncoder().encode(name), IAC, SE];
    const { proc, port } = await startShat(["--host", "127.0.0.1", "--ban-file", ""]);
    const mud = await ScriptedTelnet.connect(port, "127.0.0.8");
    let other: TestClient | null = null;
    try {
      await mud.waitFor("Type /help");
      mud.write("/nick mudder\r\n"); // CR LF: a telnet client, offered character mode and TTYPE
      await mud.waitFor([IAC, DO, 24]);
      mud.write([IAC, DO, 1, IAC, DO, 3, IAC, WILL, 24]);
      let at = await mud.waitFor(SEND);
      mud.write(is("MUDLET"));
      at = await mud.waitFor(SEND, at + 1);
      mud.write(is("XTERM-256COLOR"));
      at = await mud.waitFor(SEND, at + 1);
      mud.write(is("MTTS 2377")); // … 64: a screen reader
      const told = await mud.waitFor("Your client announced a screen reader");
      assert.ok(mud.find([IAC, WONT, 1]) >= 0 && mud.find([IAC, WONT, 3]) >= 0, "line mode");
      mud.write([IAC, 254, 1, IAC, 254, 3]); // DONT ECHO, DONT SGA: agreed
      other = await TestClient.join(port, "127.0.0.9");
      await other.send("hello mudder");
      await mud.waitFor(`<${other.nick}> hello mudder\r\n`, told);
      await new Promise((r) => setTimeout(r, 550)); // mudder's next line: after the rate limit
      mud.write("hi all\r\n");
      await other.waitFor("<mudder> hi all");
      await new Promise((r) => setTimeout(r, 550));
      await other.send("/me nods");
      await mud.waitFor(`* ${other.nick} nods\r\n`, told);
      const after = mud.text(told);
      assert.ok(!after.includes("\x1b") && !after.includes("\x07"), JSON.stringify(after));
      assert.ok(!after.includes("<mudder> hi all"), "own lines are not repeated");
      assert.ok(!after.includes("[mudder #lobby]"), "no prompt");
    } finally {
      await other?.close();
      await mud.close();
      proc.child.kill("SIGTERM");
      await proc.finish();
    }
  },
});
