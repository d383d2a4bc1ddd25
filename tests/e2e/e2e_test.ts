/**
 * End to end: the real server process, and people using the real `telnet` and `nc` programs.
 * Without one of the programs these tests skip, except under CI=true, where that fails.
 */
import assert from "node:assert/strict";
import { hasProgram, Proc, startShat } from "../support/proc.ts";

const CI = Deno.env.get("CI") === "true";
const missing = ["telnet", "nc"].filter((p) => !hasProgram(p));
if (missing.length > 0) {
  const msg = `e2e: ${missing.join(" and ")} not installed (apt-get install telnet netcat-openbsd)`;
  if (CI) {
    Deno.test("e2e: real clients are installed", () => {
      throw new Error(msg);
    });
  } else {
    console.warn(`${msg}: skipping the end-to-end tests`);
  }
}
const ignore = missing.length > 0;

function telnet(port: number, from = "127.0.0.1"): Proc {
  return new Proc("telnet", ["-b", from, "127.0.0.1", String(port)], { stdin: true });
}

function nc(port: number, from = "127.0.0.1"): Proc {
  return new Proc("nc", ["-s", from, "127.0.0.1", String(port)], { stdin: true });
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name: "e2e: people chat through telnet and nc: nicks, /me, /msg, /who, history, shutdown",
  ignore,
  async fn() {
    const { proc: server, port } = await startShat([
      "--host",
      "127.0.0.1",
      "--ban-file",
      "",
      "--rate-limit",
      "100ms",
      "--name",
      "Lab",
    ]);
    // One at a time: each client is in before the next one starts, so the head counts in the
    // banners do not depend on which process wins the race to connect.
    const alice = telnet(port, "127.0.0.2");
    let bob: Proc | undefined;
    let carol: Proc | undefined;
    try {
      await alice.waitFor(
        /Welcome to Lab! You are guest-\d+ in #lobby; you are the only one here\./,
      );
      bob = nc(port, "127.0.0.3");
      await bob.waitFor(/Welcome to Lab! You are guest-\d+ in #lobby; 2 people are online\./);
      // alice's telnet ends her first line in CR LF: the server offers character mode, telnet
      // accepts, and from then on the server edits her line and draws her screen (colours,
      // a prompt). bob's nc ends lines in LF and stays a plain line client.
      await alice.send("/nick alice");
      await alice.waitFor("You are now alice.");
      await alice.waitFor("[alice #lobby] ", "plain");
      await bob.send("/nick bob");
      await alice.waitFor(/\*\*\* guest-\d+ is now bob/, "plain");
      await pause(150);
      await alice.send("hello over telnet");
      await bob.waitFor("<alice> hello over telnet\r\n");
      await alice.waitFor("<alice> hello over telnet\n", "plain");
      await bob.send("/me waves from nc");
      await alice.waitFor("* bob waves from nc", "plain");
      await pause(150);
      await alice.send("/msg bob just between us");
      await bob.waitFor("[private] <alice> just between us");
      await alice.waitFor("[private to bob] just between us", "plain");
      await pause(150);
      await bob.send("/reply agreed");
      await alice.waitFor("[private] <bob> agreed", "plain");
      await pause(150);
      await bob.send("/who");
      await bob.waitFor(
        /2 in #lobby \(2 online\):\r\n\s+alice\s+idle \d+s\r\n\s+bob \(you\)\s+idle \d+s/,
      );

      carol = nc(port, "127.0.0.4");
      await carol.waitFor("-- end of history --");
      assert.match(carol.stdout, /-- history: the last 2 messages --/);
      assert.match(carol.stdout, /\[\d\d:\d\d\] <alice> hello over telnet/);
      assert.match(carol.stdout, /\[\d\d:\d\d\] \* bob waves from nc/);
      assert.ok(!carol.stdout.includes("between us"), "private messages are not history");
      await alice.waitFor(/\*\*\* guest-\d+ joined/, "plain");
      assert.ok(!bob.stdout.includes("hello over telnet\r\n<alice>"), "no echo for nc");
      assert.equal(
        alice.plain.split("<alice> hello over telnet\n").length,
        2,
        "alice sees her own line back exactly once",
      );
      // deno-lint-ignore no-control-regex -- looking for control bytes is the point
      const unplain = /[\ufffd\x1b\x07]/;
      assert.ok(!unplain.test(bob.stdout), "nc gets plain text: no IAC, escapes or bells");

      server.child.kill("SIGTERM");
      for (const p of [alice, bob, carol]) await p.waitFor("Server is shutting down.");
      assert.equal((await server.finish()).code, 0);
      assert.match(server.stderr, /INFO stopped/);
    } finally {
      try {
        server.child.kill("SIGKILL");
      } catch {
        // exited already
      }
      await server.finish();
      for (const p of [alice, bob, carol]) await p?.finish(3_000);
    }
  },
});

Deno.test({
  name: "e2e: escape sequences typed in telnet never reach an nc user; /quit closes nc",
  ignore,
  async fn() {
    const { proc: server, port } = await startShat(["--host", "127.0.0.1", "--ban-file", ""]);
    const watcher = nc(port);
    const talker = telnet(port);
    try {
      await watcher.waitFor("Welcome to Shat!");
      await talker.waitFor("Welcome to Shat!");
      await talker.send("\x1b[2Jclear screen attempt\x07");
      await watcher.waitFor(/<guest-\d+> clear screen attempt\r\n/);
      assert.ok(!watcher.stdout.includes("\x1b") && !watcher.stdout.includes("\x07"));
      assert.ok(!watcher.stdout.includes("\xff") && !watcher.stdout.includes("\ufffd"));
      await pause(600);
      await watcher.send("/quit done here");
      await watcher.waitFor("Goodbye!");
      await talker.waitFor(/\*\*\* guest-\d+ left \(quit: done here\)/);
      const status = await watcher.finish();
      assert.ok(status.code === 0 || status.signal !== null);
    } finally {
      server.child.kill("SIGTERM");
      await server.finish();
      await watcher.finish(3_000);
      await talker.finish(3_000);
    }
  },
});
