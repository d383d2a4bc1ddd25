/**
 * The option table (src/ops/options.ts): the types it gives the Config, the defaults it shows,
 * and README.md's options table, which must say what `--help` says.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { ConnectRate } from "../../src/chat/moderation.ts";
import type { LogFormat, LogLevel } from "../../src/ops/log.ts";
import {
  type Config,
  DEFAULTS,
  ENV_NAMES,
  envName,
  OPTION_ROWS,
  type OptionRow,
  shownDefault,
} from "../../src/ops/options.ts";
import { helpText, parseConfig } from "../../src/ops/config.ts";

/** One option as a listing shows it: `--port N`, `SHAT_PORT`, `4567`. */
interface Listed {
  usage: string;
  env: string;
  default: string;
}

/** The options `--help` lists, keyed by flag (`--help` and `--version` have no variable). */
function fromHelp(text: string): Map<string, Listed> {
  const out = new Map<string, Listed>();
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    const option = /^ {2}(--[a-z0-9-]+(?: [A-Z][A-Z/]*)?) +\S/.exec(line);
    if (!option) return;
    const env = /^ +(?:better: )?env (SHAT_[A-Z0-9_]+)(?: \([^)]*\))?, default (.*)$/
      .exec(lines[i + 1] ?? "");
    const usage = option[1];
    out.set(usage.split(" ")[0], { usage, env: env?.[1] ?? "", default: env?.[2] ?? "" });
  });
  return out;
}

/** The rows of the Flag | Env var | Default | Meaning table under README's "## Options". */
function fromReadme(markdown: string): Map<string, Listed> {
  const section = markdown.split(/^## /m).find((s) => s.startsWith("Options\n"));
  assert.ok(section, 'README.md has no "## Options" section');
  const lines = section.split("\n");
  const start = lines.findIndex((l) => l.startsWith("|"));
  const end = lines.findIndex((l, i) => i > start && !l.startsWith("|"));
  const cells = (l: string) => l.split("|").slice(1, -1).map((c) => c.trim().replaceAll("`", ""));
  const table = lines.slice(start, end === -1 ? undefined : end).map(cells);
  assert.deepEqual(table[0], ["Flag", "Env var", "Default", "Meaning"], "the table's header");
  const out = new Map<string, Listed>();
  for (const [usage, env, dflt] of table.slice(2)) {
    assert.ok(!out.has(usage.split(" ")[0]), `README lists ${usage} twice`);
    out.set(usage.split(" ")[0], { usage, env, default: dflt });
  }
  return out;
}

/** Differences between what README says of an option and what --help says, one a line. */
function disagreements(readme: Map<string, Listed>, help: Map<string, Listed>): string[] {
  const out: string[] = [];
  for (const flag of help.keys()) if (!readme.has(flag)) out.push(`${flag}: not in README`);
  for (const [flag, r] of readme) {
    const h = help.get(flag);
    if (!h) {
      out.push(`${flag}: in README but not an option`);
      continue;
    }
    if (r.usage !== h.usage) out.push(`${flag}: README writes ${r.usage}, --help ${h.usage}`);
    // A switch's variable may be written with the value that turns it on.
    const switchOn = !h.usage.includes(" ") && h.env !== "" && r.env === `${h.env}=1`;
    if (r.env !== h.env && !switchOn) out.push(`${flag}: README env ${r.env}, --help ${h.env}`);
    // --help may add a note after a comma ("none, open room"); README may leave it off.
    if (r.default !== h.default && !h.default.startsWith(`${r.default}, `)) {
      out.push(`${flag}: README default ${r.default}, --help ${h.default}`);
    }
  }
  return out;
}

Deno.test("options: README's options table has every flag, env var and default --help shows", () => {
  const help = fromHelp(helpText());
  assert.equal(help.size, ENV_NAMES.length + 2, "--help lists every option, --help, --version");
  const readme = fromReadme(readFileSync(new URL("../../README.md", import.meta.url), "utf8"));
  assert.deepEqual(disagreements(readme, help), []);
});

Deno.test("options: the README check notices a wrong flag, env var, default or a missing row", () => {
  const help = new Map<string, Listed>([
    ["--port", { usage: "--port N", env: "SHAT_PORT", default: "4567" }],
    ["--token", { usage: "--token TOKEN", env: "SHAT_TOKEN", default: "none, open room" }],
    ["--safe-mode", { usage: "--safe-mode", env: "SHAT_SAFE_MODE", default: "off" }],
  ]);
  const readme = new Map([...help].map(([k, v]) => [k, { ...v }]));
  readme.get("--token")!.default = "none";
  readme.get("--safe-mode")!.env = "SHAT_SAFE_MODE=1";
  assert.deepEqual(disagreements(readme, help), [], "a note left off, a switch's =1");
  readme.get("--port")!.default = "4568";
  readme.get("--token")!.env = "SHAT_TOKENS";
  readme.delete("--safe-mode");
  readme.set("--prot", { usage: "--prot N", env: "SHAT_PROT", default: "1" });
  assert.deepEqual(disagreements(readme, help), [
    "--safe-mode: not in README",
    "--port: README default 4568, --help 4567",
    "--token: README env SHAT_TOKENS, --help SHAT_TOKEN",
    "--prot: in README but not an option",
  ]);
});

Deno.test("options: each default --help shows reads back as that default", () => {
  for (const row of OPTION_ROWS) {
    const shown = shownDefault(row);
    // Some defaults are shown as words, not values: "none, open room", an empty list's "none",
    // or what 0 means ("off").
    const zeroMeans = "zeroMeans" in row.kind ? row.kind.zeroMeans : undefined;
    if (row.defaultText !== undefined || shown === "none" || shown === zeroMeans) continue;
    const r = parseConfig([], { [envName(row.flag)]: shown });
    assert.ok(r.action === "run");
    assert.deepEqual(r.config, { ...DEFAULTS }, `--${row.flag}: default ${shown}`);
  }
});

/** True when A and B are the same type (not merely assignable one way). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;

Deno.test("options: a field's type follows from its row's kind; a wrong default does not compile", () => {
  const types: true[] = [
    true satisfies Same<Config["name"], string>,
    true satisfies Same<Config["lobby"], string>,
    true satisfies Same<Config["port"], number>,
    true satisfies Same<Config["rateLimit"], number>,
    true satisfies Same<Config["maxLine"], number>,
    true satisfies Same<Config["safeMode"], boolean>,
    true satisfies Same<Config["connectRate"], ConnectRate>,
    true satisfies Same<Config["trustProxy"], string[]>,
    true satisfies Same<Config["logLevel"], LogLevel>,
    true satisfies Same<Config["logFormat"], LogFormat>,
  ];
  assert.equal(types.length, 10);
  const rows: OptionRow[] = [
    // @ts-expect-error: a duration's default is milliseconds, not text
    { flag: "a", kind: { type: "duration", min: 0 }, default: "10s", help: "" },
    // @ts-expect-error: a level is one of LOG_LEVELS
    { flag: "b", kind: { type: "level" }, default: "loud", help: "" },
    // @ts-expect-error: an int's bounds are part of its kind
    { flag: "c", kind: { type: "int" }, default: 1, help: "" },
    // @ts-expect-error: a string row says what its value is (FILE, ADDR, ...)
    { flag: "d", kind: { type: "string" }, default: "", help: "" },
  ];
  assert.equal(rows.length, 4);
});
