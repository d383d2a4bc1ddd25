/** Configuration: defaults, environment, precedence, and every refusal. */
import assert from "node:assert/strict";
import {
  type Config,
  ConfigError,
  DEFAULTS,
  ENV_NAMES,
  parseConfig,
} from "../../src/ops/config.ts";
import { formatDuration, formatSize, parseDuration, parseSize } from "../../src/lib/units.ts";

function run(args: string[], env: Record<string, string> = {}): Config {
  const r = parseConfig(args, env);
  if (r.action !== "run") throw new Error(`expected a run, got ${r.action}`);
  return r.config;
}

function refusal(args: string[], env: Record<string, string> = {}): string {
  try {
    parseConfig(args, env);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `not a ConfigError: ${e}`);
    assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
    return e.message;
  }
  throw new Error(`accepted: ${args.join(" ")}`);
}

Deno.test("config: defaults are the documented ones", () => {
  const c = run([]);
  assert.equal(c.host, "0.0.0.0");
  assert.equal(c.port, 4567);
  assert.equal(c.name, "Shat");
  assert.equal(c.history, 20);
  assert.equal(c.maxLine, 4096);
  assert.equal(c.maxOutbox, 1024 * 1024);
  assert.equal(c.rateLimit, 500);
  assert.equal(c.maxStrikes, 5);
  assert.equal(c.banDuration, 600_000);
  assert.equal(c.banFile, "shat-bans.json");
  assert.equal(c.authTimeout, 10_000);
  assert.equal(c.maxClients, 10_000);
  assert.equal(c.maxPerIp, 32);
  assert.equal(c.lineTimeout, 30_000);
  assert.equal(c.idleTimeout, 0);
  assert.equal(c.logLevel, "info");
  assert.equal(c.safeMode, false);
  assert.equal(c.historyBytes, 16 * 1024);
  assert.equal(c.maxInputRate, 32 * 1024);
  assert.deepEqual(c.connectRate, { burst: 32, per: 60_000 });
  assert.deepEqual(c, { ...DEFAULTS });
});

Deno.test("config: --connect-rate takes N/DURATION or 0", () => {
  assert.deepEqual(run(["--connect-rate", "10/30s"]).connectRate, { burst: 10, per: 30_000 });
  assert.deepEqual(run([], { SHAT_CONNECT_RATE: "0" }).connectRate, { burst: 0, per: 0 });
  for (const bad of ["10", "x/1m", "10/0", "10/banana", "0/1m"]) {
    assert.match(refusal(["--connect-rate", bad]), /--connect-rate .*N\/DURATION like 32\/1m/);
  }
});

Deno.test("config: limits that contradict each other are refused with one clear line", () => {
  assert.match(
    refusal(["--max-outbox", "32KiB"]),
    /--max-outbox 32KiB is too small for --history-bytes 16KiB: .*raise --max-outbox to at least 66KiB/,
  );
  assert.match(
    refusal(["--history-bytes", "1MiB"]),
    /--max-outbox 1MiB is too small for --history-bytes 1MiB/,
  );
  assert.match(
    refusal(["--max-line", "512KiB"]),
    /--max-outbox 1MiB is too small for --max-line 512KiB: it must hold at least 4 full lines/,
  );
  assert.equal(run(["--max-outbox", "66KiB"]).maxOutbox, 66 * 1024, "just enough is fine");
  assert.equal(run(["--max-input-rate", "0"]).maxInputRate, 0, "0 = no limit");
});

Deno.test("config: --ban-duration is capped at a year", () => {
  assert.equal(run(["--ban-duration", "365d"]).banDuration, 365 * 86_400_000);
  assert.match(refusal(["--ban-duration", "366d"]), /--ban-duration "366d": must be at most 365d/);
  assert.match(refusal(["--ban-duration", "100000000d"]), /at most 365d/);
});

Deno.test("config: no message ever repeats a token; tokens given as flags are reported", () => {
  for (const args of [["--admin-token", "-s3cret"], ["--token", "-s3cret"]]) {
    const msg = refusal(args);
    assert.ok(!msg.includes("s3cret"), msg);
    assert.match(msg, /write --(admin-)?token=VALUE/);
  }
  const typo = refusal(["--token", "hunter2", "stray"]);
  assert.ok(!typo.includes("hunter2"), typo);
  const r = parseConfig(["--admin-token", "op-secret", "--token", "room-secret"]);
  assert.ok(r.action === "run");
  assert.deepEqual(r.secretFlags, ["--admin-token", "--token"]);
  const env = parseConfig([], { SHAT_ADMIN_TOKEN: "op-secret" });
  assert.ok(env.action === "run");
  assert.deepEqual(env.secretFlags, [], "from the environment: nothing to warn about");
});

Deno.test("config: flags are read, with units", () => {
  const c = run([
    "--port=5000",
    "--rate-limit",
    "250ms",
    "--ban-duration",
    "1h30m",
    "--max-line",
    "64KiB",
    "--log-level",
    "debug",
    "--safe-mode",
    "--ban-file",
    "",
    "--rate-limit",
    "0",
  ]);
  assert.equal(c.port, 5000);
  assert.equal(c.banDuration, 90 * 60_000);
  assert.equal(c.maxLine, 65536);
  assert.equal(c.logLevel, "debug");
  assert.equal(c.safeMode, true);
  assert.equal(c.banFile, "");
  assert.equal(c.rateLimit, 0, "the last flag wins; 0 turns limiting off");
});

Deno.test("config: every flag reads SHAT_<NAME>, and a flag beats its env var", () => {
  assert.ok(ENV_NAMES.includes("SHAT_PORT") && ENV_NAMES.includes("SHAT_RATE_LIMIT"));
  assert.ok(ENV_NAMES.includes("SHAT_SAFE_MODE") && ENV_NAMES.includes("SHAT_ADMIN_TOKEN"));
  const env = {
    SHAT_PORT: "6000",
    SHAT_RATE_LIMIT: "2s",
    SHAT_SAFE_MODE: "1",
    SHAT_NAME: "Lab",
    SHAT_MAX_PER_IP: "0",
  };
  const c = run([], env);
  assert.equal(c.port, 6000);
  assert.equal(c.rateLimit, 2_000);
  assert.equal(c.safeMode, true);
  assert.equal(c.name, "Lab");
  assert.equal(c.maxPerIp, 0);
  const d = run(["--port", "7000", "--name", "Den"], env);
  assert.equal(d.port, 7000);
  assert.equal(d.name, "Den");
  assert.equal(d.rateLimit, 2_000, "env still applies where no flag is given");
  assert.equal(run([], { SHAT_SAFE_MODE: "0" }).safeMode, false);
});

Deno.test("config: bad values are refused with one line naming the flag and the value", () => {
  const cases: [string[], RegExp][] = [
    [["--port", "70000"], /--port "70000".*0-65535/],
    [["--port", "http"], /--port "http"/],
    [["--rate-limit", "banana"], /--rate-limit "banana".*500ms/],
    [["--rate-limit", "500"], /--rate-limit "500".*duration/],
    [["--frobnicate"], /unknown option --frobnicate/],
    [["--max-strikes", "-1"], /--max-strikes.*negative/],
    [["--max-strikes", "0"], /--max-strikes "0"/],
    [["--history", "2.5"], /--history "2.5".*whole number/],
    [["--log-level", "loud"], /--log-level "loud".*debug, info, warn, error/],
    [["--max-line", "huge"], /--max-line "huge"/],
    [["--ban-duration", "0"], /--ban-duration "0".*longer than 0/],
    [["--safe-mode=maybe"], /--safe-mode|safe-mode/],
    [["--port"], /--port needs a value/],
    [["stray"], /unexpected argument 'stray'/],
  ];
  for (const [args, pattern] of cases) assert.match(refusal(args), pattern, args.join(" "));
});

Deno.test("config: bad env values name the variable", () => {
  assert.match(refusal([], { SHAT_PORT: "99999" }), /SHAT_PORT "99999"/);
  assert.match(refusal([], { SHAT_RATE_LIMIT: "fast" }), /SHAT_RATE_LIMIT "fast"/);
  assert.match(refusal([], { SHAT_SAFE_MODE: "perhaps" }), /SHAT_SAFE_MODE/);
});

Deno.test("config: a bad token is refused without echoing it", () => {
  const msg = refusal(["--admin-token", "bad\u0007secret"]);
  assert.match(msg, /--admin-token/);
  assert.ok(!msg.includes("secret"), msg);
});

Deno.test("config: --help lists every option with env var and default; --version", () => {
  const help = parseConfig(["--help"]);
  assert.equal(help.action, "help");
  const text = help.action === "help" ? help.text : "";
  for (const env of ENV_NAMES) {
    const flag = "--" + env.slice(5).toLowerCase().replaceAll("_", "-");
    assert.ok(text.includes(flag), flag);
    assert.match(text, new RegExp(`env ${env}( \\([^)]*\\))?, default `), env);
  }
  for (const env of ["SHAT_ADMIN_TOKEN", "SHAT_TOKEN"]) {
    assert.match(text, new RegExp(`better: env ${env} \\(a flag shows in the process list\\)`));
  }
  assert.match(text, /env SHAT_RATE_LIMIT, default 500ms/);
  assert.match(text, /env SHAT_BAN_DURATION, default 10m/);
  const v = parseConfig(["--version"]);
  assert.equal(v.action, "version");
  assert.match(v.action === "version" ? v.text : "", /^shat \d+\.\d+\.\d+$/);
});

Deno.test("units: durations need a unit and round-trip through the display form", () => {
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("2s"), 2_000);
  assert.equal(parseDuration("10m"), 600_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("0"), 0);
  assert.equal(parseDuration("500"), undefined);
  assert.equal(parseDuration("-5s"), undefined);
  assert.equal(parseDuration("banana"), undefined);
  assert.equal(formatDuration(552_000), "9m 12s");
  assert.equal(formatDuration(3_600_000), "1h");
  assert.equal(formatDuration(250), "250ms");
  assert.equal(parseSize("1MiB"), 1024 * 1024);
  assert.equal(parseSize("4096"), 4096);
  assert.equal(parseSize("lots"), undefined);
  assert.equal(formatSize(1024 * 1024), "1MiB");
});
