/** Helpers for tests that run Shat (main.ts) and real clients as subprocesses. */
import { fileURLToPath as fromFileUrl } from "node:url";

/** The project root and main.ts. */
export const ROOT = fromFileUrl(new URL("../..", import.meta.url));
export const MAIN = fromFileUrl(new URL("../../main.ts", import.meta.url));

/**
 * The runtime flags of `deno task start` (permissions, V8 heap sizing), read from deno.json so
 * the tests run the server the same way.
 */
export function startPermissions(): string[] {
  const deno = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`));
  const task: string = deno.tasks.start;
  return task.split(/\s+/).map((w) => w.replace(/^'|'$/g, "")).filter((w) =>
    w.startsWith("--allow-") || w.startsWith("--v8-flags") || w.startsWith("--unstable")
  );
}

/** A running child process whose output is collected as it arrives. */
export class Proc {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  readonly #writer: WritableStreamDefaultWriter<Uint8Array> | null;
  readonly #pumps: Promise<void>[];
  #status: Promise<Deno.CommandStatus> | null = null;

  constructor(
    cmd: string,
    args: string[],
    opts: { cwd?: string; env?: Record<string, string>; stdin?: boolean } = {},
  ) {
    this.child = new Deno.Command(cmd, {
      args,
      cwd: opts.cwd,
      env: opts.env,
      stdin: opts.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#writer = opts.stdin ? this.child.stdin.getWriter() : null;
    this.#pumps = [
      this.#pump(this.child.stdout, (t) => (this.stdout += t)),
      this.#pump(this.child.stderr, (t) => (this.stderr += t)),
    ];
  }

  async #pump(stream: ReadableStream<Uint8Array>, add: (t: string) => void): Promise<void> {
    const dec = new TextDecoder();
    for await (const chunk of stream) add(dec.decode(chunk, { stream: true }));
  }

  /** Writes a line to the process's stdin (LF; telnet and nc turn it into the line end). */
  async send(line: string): Promise<void> {
    await this.#writer!.write(new TextEncoder().encode(line + "\n"));
  }

  /**
   * stdout as a person reads it: escape sequences (colours, cursor moves) removed, and CR LF as
   * LF. A character-mode telnet session's output is full of them.
   */
  get plain(): string {
    // deno-lint-ignore no-control-regex -- removing escape sequences is the point
    return this.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r\n/g, "\n");
  }

  /**
   * Waits until `pattern` shows up in stdout (or stderr, or the plain text of stdout, with
   * `from`); returns the match.
   */
  async waitFor(
    pattern: string | RegExp,
    from: "stdout" | "stderr" | "plain" = "stdout",
    ms = 10_000,
  ): Promise<RegExpMatchArray> {
    const re = typeof pattern === "string"
      ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      : pattern;
    const end = Date.now() + ms;
    while (true) {
      const m = this[from].match(re);
      if (m) return m;
      if (Date.now() > end) {
        throw new Error(
          `timed out waiting for ${re} in ${from}:\n${this[from]}\n---\n${this.stderr}`,
        );
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Closes stdin and waits for the exit (killing it after `ms`). */
  async finish(ms = 5_000): Promise<Deno.CommandStatus> {
    try {
      await this.#writer?.close();
    } catch {
      // already closed
    }
    this.#status ??= this.child.status;
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // gone already
      }
    }, ms);
    const status = await this.#status;
    clearTimeout(timer);
    await Promise.all(this.#pumps);
    return status;
  }
}

/**
 * The environment a test's Shat runs with: `opts.env`, and no store unless the test names one
 * (`--store` or SHAT_STORE): a test must never leave a database in the working directory.
 */
function testEnv(args: string[], env: Record<string, string> = {}): Record<string, string> {
  return args.includes("--store") || "SHAT_STORE" in env ? env : { SHAT_STORE: "off", ...env };
}

/** Starts main.ts with the start task's permissions in `cwd`; resolves once it listens. */
export async function startShat(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ proc: Proc; port: number }> {
  const proc = new Proc(Deno.execPath(), [
    "run",
    ...startPermissions(),
    MAIN,
    "--port",
    "0",
    ...args,
  ], { ...opts, env: testEnv(args, opts.env) });
  // The plain port's "listening" line, as text or as JSON (--log-format json).
  const m = await proc.waitFor(
    /INFO listening (?:host=\S+ )?port=(\d+)|"msg":"listening",[^\n]*?"port":(\d+)/,
    "stderr",
  );
  return { proc, port: Number(m[1] ?? m[2]) };
}

/** Runs main.ts to completion (for flags that exit at once). */
export async function runShat(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...startPermissions(), MAIN, ...args],
    cwd: opts.cwd,
    env: testEnv(args, opts.env),
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** True when `name` is an installed program. */
export function hasProgram(name: string): boolean {
  try {
    const r = new Deno.Command("sh", {
      args: ["-c", `command -v ${name}`],
      stdout: "null",
      stderr: "null",
    })
      .outputSync();
    return r.success;
  } catch {
    return false;
  }
}
