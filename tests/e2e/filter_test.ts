/**
 * The word filter end to end: the real program with --filter-file, people on `nc`; the file is
 * edited and SIGHUP makes the server take the new words; a bad file stops the start with one
 * line naming the line of the file. Without nc these tests skip, except under CI=true.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { hasProgram, Proc, runShat, startShat } from "../support/proc.ts";

const CI = Deno.env.get("CI") === "true";
const ignore = !hasProgram("nc");
if (ignore) {
  const msg = "filter e2e: nc not installed (apt-get install netcat-openbsd)";
  if (CI) {
    Deno.test("filter e2e: nc is installed", () => {
      throw new Error(msg);
    });
  } else console.warn(`${msg}: skipping`);
}

function nc(port: number, from: string): Proc {
  return new Proc("nc", ["-s", from, "127.0.0.1", String(port)], { stdin: true });
}

Deno.test({
  name: "filter e2e: words in --filter-file are masked; SIGHUP takes an edited file",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir();
    const file = join(dir, "words.txt");
    await Deno.writeTextFile(file, "# words nobody sees\nturnip\n");
    const { proc: server, port } = await startShat([
      "--host",
      "127.0.0.1",
      "--ban-file",
      "",
      "--rate-limit",
      "0",
      "--filter-file",
      file,
    ]);
    let alice: Proc | undefined;
    let bob: Proc | undefined;
    try {
      assert.match(server.stderr, /INFO word filter loaded .*patterns=1/);
      alice = nc(port, "127.0.0.2");
      await alice.waitFor("Welcome to");
      bob = nc(port, "127.0.0.3");
      await bob.waitFor("Welcome to");
      await alice.send("/nick alice");
      await alice.waitFor("You are now alice.");
      await alice.send("a Turnip and a parsnip");
      await bob.waitFor("<alice> a **** and a parsnip\r\n");
      assert.ok(!bob.stdout.includes("Turnip"), "the word never reaches the others");

      // The list is edited; SIGHUP: the new word is masked, the dropped one no longer is.
      await Deno.writeTextFile(file, "parsnip\n/rad+ish/\n");
      server.child.kill("SIGHUP");
      await server.waitFor(/INFO word filter reloaded .*patterns=2/, "stderr");
      await alice.send("turnip, parsnip, raddish");
      await bob.waitFor("<alice> turnip, ****, ****\r\n");

      // A bad edit is refused with its line; the filter in use stays.
      await Deno.writeTextFile(file, "kale\n\n/(/\n");
      server.child.kill("SIGHUP");
      await server.waitFor(
        /ERROR word filter not reloaded; the old one stays problem=.*line 3/,
        "stderr",
      );
      await alice.send("kale and parsnip");
      await bob.waitFor("<alice> kale and ****\r\n");

      server.child.kill("SIGTERM");
      assert.equal((await server.finish()).code, 0);
    } finally {
      try {
        server.child.kill("SIGKILL");
      } catch {
        // exited already
      }
      await server.finish();
      for (const p of [alice, bob]) await p?.finish(3_000);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("filter e2e: a bad or missing --filter-file stops the start with one line, exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "words.txt");
    await Deno.writeTextFile(file, "turnip\n# fine so far\n/a(b/\nkale\n");
    const bad = await runShat(["--ban-file", "", "--filter-file", file]);
    assert.equal(bad.code, 2);
    const problems = bad.stderr.trim().split("\n").filter((l) => !l.startsWith("INFO"));
    assert.equal(problems.length, 1, bad.stderr);
    assert.match(problems[0], /^shat: --filter-file \S+words\.txt line 3: bad regular expression/);
    assert.ok(!/\bat (file|ext):/.test(bad.stderr), "no stack trace");

    const missing = await runShat(["--ban-file", "", "--filter-file", join(dir, "nope.txt")]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /shat: cannot read --filter-file \S+nope\.txt: no such file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
