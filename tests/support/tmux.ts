/**
 * A real terminal for end-to-end tests: runs a program (telnet, nc) in a detached tmux session
 * on a private server socket, types into it and reads the screen back.
 *
 * Each session gets its own tmux server (`-S` in a fresh temporary directory, `-f /dev/null`), so
 * tests never touch a person's tmux and can run in parallel.
 */

/** Control keys: `C-a` … `C-z`. */
export type TmuxCtrlKey = `C-${
  | "a"
  | "b"
  | "c"
  | "d"
  | "e"
  | "f"
  | "g"
  | "h"
  | "i"
  | "j"
  | "k"
  | "l"
  | "m"
  | "n"
  | "o"
  | "p"
  | "q"
  | "r"
  | "s"
  | "t"
  | "u"
  | "v"
  | "w"
  | "x"
  | "y"
  | "z"}`;

/** Key names tmux's `send-keys` understands (DC is Delete, BSpace is Backspace). */
export type TmuxKey =
  | "Enter"
  | "BSpace"
  | "Tab"
  | "BTab"
  | "Escape"
  | "Up"
  | "Down"
  | "Left"
  | "Right"
  | "Home"
  | "End"
  | "DC"
  | "IC"
  | "PPage"
  | "NPage"
  | TmuxCtrlKey;

/** Options for {@linkcode Tmux.start}. */
export interface TmuxOptions {
  /** Columns of the terminal (default 80). */
  width?: number;
  /** Rows of the terminal (default 24). */
  height?: number;
  /** Extra environment variables for the program. */
  env?: Record<string, string>;
  /** Working directory of the program. */
  cwd?: string;
}

/** Options for {@linkcode Tmux.capture}. */
export interface CaptureOptions {
  /** Include the scrollback above the visible rows. */
  scrollback?: boolean;
}

/** What {@linkcode Tmux.waitFor} waits for: text on screen, a pattern, or a test of the rows. */
export type ScreenMatch = string | RegExp | ((rows: string[]) => boolean);

/** True when tmux is installed. */
export function hasTmux(): boolean {
  try {
    return new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const decoder = new TextDecoder();
const SESSION = "shat";

/**
 * One program in one tmux window of a fixed size.
 *
 * The pane stays after the program exits (`remain-on-exit`), so its last screen can still be read
 * and {@linkcode Tmux.exitCode} reports how it ended. Note that tmux 3.3 then scrolls the screen up
 * one row and writes "Pane is dead (status N, …)" on the last row; `capture({ scrollback: true })`
 * still has every row.
 */
export class Tmux {
  readonly #dir: string;
  readonly #socket: string;
  #width: number;
  #height: number;
  #stopped = false;

  private constructor(dir: string, width: number, height: number) {
    this.#dir = dir;
    this.#socket = `${dir}/tmux.sock`;
    this.#width = width;
    this.#height = height;
  }

  /** Starts `command` (program and arguments, no shell) in a new terminal of the given size. */
  static async start(command: string[], opts: TmuxOptions = {}): Promise<Tmux> {
    if (command.length === 0) throw new Error("tmux: no command to run");
    const width = opts.width ?? 80;
    const height = opts.height ?? 24;
    const dir = await Deno.makeTempDir({ prefix: "shat-tmux-" });
    const t = new Tmux(dir, width, height);
    try {
      const env = Object.entries(opts.env ?? {}).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
      const cwd = opts.cwd ? ["-c", opts.cwd] : [];
      // Options are set in the same client command as new-session, before the program runs, so a
      // program that exits at once still leaves its pane. `window-size manual` is not set here:
      // tmux 3.3a crashes creating a detached session with it; a detached session keeps the
      // -x/-y size anyway, and resize-window switches the window to manual.
      await t.#tmux(
        "start-server",
        ";",
        "set-option",
        "-g",
        "remain-on-exit",
        "on",
        ";",
        "set-option",
        "-g",
        "status",
        "off",
        ";",
        "set-option",
        "-g",
        "history-limit",
        "10000",
        ";",
        "new-session",
        "-d",
        "-s",
        SESSION,
        "-x",
        String(width),
        "-y",
        String(height),
        ...env,
        ...cwd,
        "--",
        ...command,
      );
      await t.#checkSize(width, height);
      return t;
    } catch (e) {
      await t.stop();
      throw e;
    }
  }

  /** The terminal's size in columns and rows. */
  get size(): { width: number; height: number } {
    return { width: this.#width, height: this.#height };
  }

  /** Types `text` literally (no key names; a "\n" in it is a bare LF, use `key("Enter")`). */
  async send(text: string): Promise<void> {
    // tmux reads an argument ending in ";" as a command separator, so trailing semicolons go as
    // hex bytes (send-keys -H), in the same tmux call.
    const body = text.replace(/;+$/, "");
    const semis = text.length - body.length;
    const args: string[] = [];
    if (body !== "") args.push("send-keys", "-t", SESSION, "-l", "--", body);
    if (semis > 0) {
      if (args.length > 0) args.push(";");
      args.push("send-keys", "-t", SESSION, "-H", ...Array(semis).fill("3b"));
    }
    if (args.length > 0) await this.#tmux(...args);
  }

  /** Presses keys by name, in order: `key("C-u")`, `key("Up", "Enter")`. */
  async key(...names: TmuxKey[]): Promise<void> {
    if (names.length === 0) return;
    await this.#tmux("send-keys", "-t", SESSION, "--", ...names);
  }

  /** The visible rows (or scrollback and visible rows), trailing spaces trimmed. */
  async capture(opts: CaptureOptions = {}): Promise<string[]> {
    const out = await this.#tmux(
      "capture-pane",
      "-p",
      "-t",
      SESSION,
      ...(opts.scrollback ? ["-S", "-"] : []),
    );
    const rows = out.split("\n");
    if (rows.at(-1) === "") rows.pop();
    return rows.map((r) => r.trimEnd());
  }

  /** The screen as one string, rows joined by "\n". */
  async text(opts: CaptureOptions = {}): Promise<string> {
    return (await this.capture(opts)).join("\n");
  }

  /** The cursor position, 0-based column `x` and row `y`. */
  async cursor(): Promise<{ x: number; y: number }> {
    const [x, y] = (await this.#display("#{cursor_x} #{cursor_y}")).split(" ").map(Number);
    return { x, y };
  }

  /**
   * The program's exit status once it has ended (a signal counts as 128 + its number), else null.
   */
  async exitCode(): Promise<number | null> {
    const query = "#{pane_dead} #{pane_dead_status} #{pane_dead_signal} #{pid}";
    for (let attempt = 0; attempt < 2; attempt++) {
      const [dead, status, signal, pid] = (await this.#display(query)).split(" ");
      if (dead !== "1") return null;
      if (status) return Number(status);
      if (signal) return 128 + Number(signal);
      // Dead but not reaped: tmux built with libutempter can lose the SIGCHLD of a program that
      // exits while utempter's own handler is installed (tmux/tmux#311), leaving a zombie and no
      // status. Another SIGCHLD makes the server reap it.
      if (attempt === 0) Deno.kill(Number(pid), "SIGCHLD");
    }
    return null;
  }

  /** Waits until the program has exited and returns its status (see {@linkcode exitCode}). */
  async waitExit(timeoutMs = 5_000): Promise<number> {
    const end = Date.now() + timeoutMs;
    while (true) {
      const code = await this.exitCode();
      if (code !== null) return code;
      if (Date.now() > end) {
        throw new Error(
          `tmux: the program still runs after ${timeoutMs}ms; the screen:\n` +
            (await this.capture()).map((r) => `|${r}`).join("\n"),
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Polls the screen until `match` holds: a substring of some row's text (the rows joined by
   * "\n", so it may span rows), a pattern tested on that text, or a test of the rows. Returns the
   * rows that matched; on timeout throws with the last screen.
   */
  async waitFor(
    match: ScreenMatch,
    timeoutMs = 5_000,
    opts: CaptureOptions = {},
  ): Promise<string[]> {
    const test = typeof match === "function"
      ? match
      : typeof match === "string"
      ? (rows: string[]) => rows.join("\n").includes(match)
      : (rows: string[]) => match.test(rows.join("\n"));
    const end = Date.now() + timeoutMs;
    while (true) {
      const rows = await this.capture(opts);
      if (test(rows)) return rows;
      if (Date.now() > end) {
        throw new Error(
          `tmux: timed out after ${timeoutMs}ms waiting for ${String(match)}; the screen:\n` +
            rows.map((r) => `|${r}`).join("\n"),
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Resizes the terminal; the program gets SIGWINCH. */
  async resize(width: number, height: number): Promise<void> {
    await this.#tmux(
      "resize-window",
      "-t",
      SESSION,
      "-x",
      String(width),
      "-y",
      String(height),
    );
    await this.#checkSize(width, height);
    this.#width = width;
    this.#height = height;
  }

  /** Kills the tmux server (and the program) and removes the socket; safe to call twice. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      await this.#tmux("kill-server");
    } catch {
      // the server was already gone
    }
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  /** `await using t = await Tmux.start(…)` stops it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #checkSize(width: number, height: number): Promise<void> {
    const got = await this.#display("#{window_width}x#{window_height}");
    if (got !== `${width}x${height}`) {
      throw new Error(`tmux: asked for a ${width}x${height} window, got ${got}`);
    }
  }

  async #display(format: string): Promise<string> {
    return (await this.#tmux("display-message", "-p", "-t", SESSION, format)).trimEnd();
  }

  async #tmux(...args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-S", this.#socket, "-f", "/dev/null", ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`tmux ${args[0]} failed: ${decoder.decode(out.stderr).trim()}`);
    }
    return decoder.decode(out.stdout);
  }
}
