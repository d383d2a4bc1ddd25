/**
 * Drivers for end-to-end tests with real IRC clients: Shat with its IRC port on, irssi in a tmux
 * terminal, weechat-headless steered through its FIFO and read through its log files, and the
 * people on the other side, the real `telnet` (in tmux) and the real `nc` (a piped subprocess).
 *
 * Every person keeps its typed lines {@linkcode PACE_MS} apart: Shat's default rate limit is one
 * line per 500 ms, and a faster line is struck, not sent.
 */
import { Proc, startShat } from "./proc.ts";
import { type ScreenMatch, Tmux } from "./tmux.ts";

/** The gap kept between two lines one person types (the rate limit is 500 ms). */
export const PACE_MS = 600;
/** How long a test waits for what a person should see. */
export const WAIT_MS = 10_000;

/** The name the server goes by on IRC in these tests (the source of its numerics). */
export const IRC_NAME = "irc.test";

/** Keeps one person's lines at least {@linkcode PACE_MS} apart. */
export class Pace {
  #last = 0;

  /** Resolves when the next line may go. */
  async next(): Promise<void> {
    const wait = this.#last + PACE_MS - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    this.#last = Date.now();
  }
}

/** Shat as a subprocess with its plain port and its IRC port on loopback. */
export interface IrcShat {
  proc: Proc;
  /** The telnet/nc port. */
  port: number;
  /** The IRC port. */
  ircPort: number;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

/** Starts main.ts (no store, no ban file) with `--irc-port 0` and `args`; `env` adds variables. */
export async function startIrcShat(
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<IrcShat> {
  const { proc, port } = await startShat([
    "--host",
    "127.0.0.1",
    "--ban-file",
    "",
    "--irc-port",
    "0",
    "--irc-name",
    IRC_NAME,
    ...args,
  ], { env });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      proc.child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await proc.finish();
  };
  try {
    const m = await proc.waitFor(
      /INFO listening for IRC (?:host=\S+ )?port=(\d+)/,
      "stderr",
    );
    return { proc, port, ircPort: Number(m[1]), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The text a `match` is tested on: rows joined by "\n". */
function test(match: ScreenMatch, rows: string[]): boolean {
  if (typeof match === "function") return match(rows);
  const text = rows.join("\n");
  return typeof match === "string" ? text.includes(match) : match.test(text);
}

/** Polls `read` until `match` holds on its rows; on timeout throws with the last rows. */
async function pollRows(
  what: string,
  read: () => Promise<string[]>,
  match: ScreenMatch,
  ms: number,
): Promise<string[]> {
  const end = Date.now() + ms;
  while (true) {
    const rows = await read();
    if (test(match, rows)) return rows;
    if (Date.now() > end) {
      throw new Error(
        `${what}: timed out after ${ms}ms waiting for ${String(match)}; it shows:\n` +
          rows.map((r) => `|${r}`).join("\n"),
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A person on the real `telnet` program in a tmux terminal, in character mode, named `nick`. */
export class TelnetPerson {
  readonly term: Tmux;
  readonly nick: string;
  readonly #pace = new Pace();

  private constructor(term: Tmux, nick: string) {
    this.term = term;
    this.nick = nick;
  }

  /** Connects from `from` (a 127.x address) and takes the name `nick`. */
  static async start(port: number, from: string, nick: string): Promise<TelnetPerson> {
    const term = await Tmux.start(["telnet", "-b", from, "127.0.0.1", String(port)], {
      width: 100,
      height: 30,
    });
    const p = new TelnetPerson(term, nick);
    try {
      await p.waitFor("Type /help");
      await p.say(`/nick ${nick}`);
      await p.waitFor((rows) => rows.some((r) => r.startsWith(`[${nick} #lobby]`)));
      return p;
    } catch (e) {
      await term.stop();
      throw e;
    }
  }

  /** Types `line` and presses Enter (after the pace). */
  async say(line: string): Promise<void> {
    await this.#pace.next();
    await this.term.send(line);
    await this.term.key("Enter");
  }

  /** Every row the terminal has shown (scrollback and screen). */
  rows(): Promise<string[]> {
    return this.term.capture({ scrollback: true });
  }

  /** Waits until the terminal shows `match` (scrollback included). */
  waitFor(match: ScreenMatch, ms = WAIT_MS): Promise<string[]> {
    return pollRows(`telnet ${this.nick}`, () => this.rows(), match, ms);
  }

  /** Ends telnet and its terminal. */
  stop(): Promise<void> {
    return this.term.stop();
  }
}

/** A person on the real `nc` program (stdin and stdout piped), named `nick`. */
export class NcPerson {
  readonly proc: Proc;
  readonly nick: string;
  readonly #pace = new Pace();

  private constructor(proc: Proc, nick: string) {
    this.proc = proc;
    this.nick = nick;
  }

  /** Connects from `from` (a 127.x address) and takes the name `nick`. */
  static async start(port: number, from: string, nick: string): Promise<NcPerson> {
    const proc = new Proc("nc", ["-s", from, "127.0.0.1", String(port)], { stdin: true });
    const p = new NcPerson(proc, nick);
    try {
      await p.waitFor("Type /help");
      await p.say(`/nick ${nick}`);
      await p.waitFor(`You are now ${nick}.`);
      return p;
    } catch (e) {
      await p.stop();
      throw e;
    }
  }

  /** Sends `line` (LF ended, as nc does) after the pace. */
  async say(line: string): Promise<void> {
    await this.#pace.next();
    await this.proc.send(line);
  }

  /** What nc printed, as lines (escape sequences removed). */
  lines(): string[] {
    return this.proc.plain.split("\n");
  }

  /** Waits until nc has printed `match`. */
  waitFor(match: ScreenMatch, ms = WAIT_MS): Promise<string[]> {
    return pollRows(`nc ${this.nick}`, () => Promise.resolve(this.lines()), match, ms);
  }

  /** Ends nc. */
  async stop(): Promise<void> {
    try {
      this.proc.child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await this.proc.finish();
  }
}

/**
 * irssi in a tmux terminal with a throwaway home: no timestamps, every channel in one window
 * (so lines of every channel reach the screen), connected to the IRC port from `from`.
 */
export class Irssi {
  readonly term: Tmux;
  readonly nick: string;
  readonly #home: string;
  readonly #pace = new Pace();
  #marks = 0;

  private constructor(term: Tmux, nick: string, home: string) {
    this.term = term;
    this.nick = nick;
    this.#home = home;
  }

  /** Starts irssi as `nick`, connecting to `ircPort` from `from`; resolves once welcomed. */
  static async start(ircPort: number, from: string, nick: string): Promise<Irssi> {
    const home = await Deno.makeTempDir({ prefix: "shat-irssi-" });
    await Deno.writeTextFile(`${home}/config`, irssiConfig(nick, from));
    let term: Tmux;
    try {
      term = await Tmux.start(
        ["irssi", `--home=${home}`, "-c", "127.0.0.1", "-p", String(ircPort), "-n", nick],
        { width: 120, height: 50, env: { LANG: "C.UTF-8" } },
      );
    } catch (e) {
      await Deno.remove(home, { recursive: true }).catch(() => {});
      throw e;
    }
    const irssi = new Irssi(term, nick, home);
    try {
      await irssi.waitFor(`Welcome to Shat, ${nick}!`);
      return irssi;
    } catch (e) {
      await irssi.stop();
      throw e;
    }
  }

  /** Types `line` (a command or a line for the active channel) and presses Enter. */
  async type(line: string): Promise<void> {
    await this.#pace.next();
    await this.term.send(line);
    await this.term.key("Enter");
  }

  /** The screen's rows. */
  rows(): Promise<string[]> {
    return this.term.capture();
  }

  /** Waits until the screen shows `match`. */
  waitFor(match: ScreenMatch, ms = WAIT_MS): Promise<string[]> {
    return pollRows(`irssi ${this.nick}`, () => this.rows(), match, ms);
  }

  /**
   * Prints a marker line with irssi's own /echo and waits for it; returns a reader of the rows
   * below it, so an answer can be told from an earlier one that looks the same.
   */
  async mark(): Promise<{ waitFor(match: ScreenMatch, ms?: number): Promise<string[]> }> {
    const label = `==mark ${++this.#marks}==`;
    await this.term.send(`/echo ${label}`);
    await this.term.key("Enter");
    await this.waitFor((rows) => rows.some((r) => r.includes(label)));
    const below = async () => {
      const rows = await this.rows();
      const at = rows.findLastIndex((r) => r.includes(label));
      return at < 0 ? [] : rows.slice(at + 1);
    };
    return {
      waitFor: (match, ms = WAIT_MS) => pollRows(`irssi ${this.nick}`, below, match, ms),
    };
  }

  /** Ends irssi and its terminal; removes its home. */
  async stop(): Promise<void> {
    await this.term.stop();
    await Deno.remove(this.#home, { recursive: true }).catch(() => {});
  }
}

/** irssi's config: quiet, one window, and the source address `from`. */
function irssiConfig(nick: string, from: string): string {
  return `settings = {
  core = {
    real_name = "${nick} on irssi";
    user_name = "${nick}";
    nick = "${nick}";
    hostname = "${from}";
    settings_autosave = "no";
    awaylog_file = "";
  };
  "irc/core" = {
    skip_motd = "yes";
    cmd_queue_speed = "0";
    cmds_max_at_once = "100";
    alternate_nick = "${nick}_";
  };
  "fe-common/core" = {
    timestamps = "no";
    autocreate_windows = "no";
    autocreate_own_query = "no";
    autocreate_query_level = "NONE";
    beep_msg_level = "NONE";
    use_status_window = "no";
    autolog = "no";
  };
};
`;
}

/**
 * weechat-headless with a throwaway `--dir`, connected to the IRC port from `from` and joined to
 * `channels` (autojoin syntax: keyed channels first, "#a,#b keyOfA"). It is steered through its FIFO (lines
 * `BUFFER *TEXT`) and read through its logger's files, flushed at once.
 */
export class Weechat {
  readonly proc: Proc;
  readonly nick: string;
  readonly dir: string;
  readonly #pace = new Pace();
  #fifo = "";

  private constructor(proc: Proc, nick: string, dir: string) {
    this.proc = proc;
    this.nick = nick;
    this.dir = dir;
  }

  /** Starts weechat-headless as `nick`; resolves once the FIFO is there. */
  static async start(
    ircPort: number,
    from: string,
    nick: string,
    channels: string,
  ): Promise<Weechat> {
    const dir = await Deno.makeTempDir({ prefix: "shat-weechat-" });
    const server = `irc.server.shat`;
    const startup = [
      "/set logger.file.flush_delay 0",
      "/set logger.file.auto_log on",
      `/server add shat 127.0.0.1/${ircPort} -notls`,
      `/set ${server}.nicks "${nick}"`,
      `/set ${server}.username "${nick}"`,
      `/set ${server}.realname "${nick} on weechat"`,
      `/set ${server}.local_hostname "${from}"`,
      `/set ${server}.autojoin "${channels}"`,
      // weechat's own flood control would space what it sends 2 s apart (3.x; 4.x: anti_flood).
      `/set ${server}.anti_flood_prio_high 0`,
      `/set ${server}.anti_flood_prio_low 0`,
      "/connect shat",
    ].join(";");
    const proc = new Proc("weechat-headless", ["--dir", dir, "-r", startup], {
      env: { LANG: "C.UTF-8" },
    });
    const w = new Weechat(proc, nick, dir);
    try {
      const end = Date.now() + WAIT_MS;
      while (w.#fifo === "") {
        for await (const e of Deno.readDir(dir)) {
          if (e.name.startsWith("weechat_fifo")) w.#fifo = `${dir}/${e.name}`;
        }
        if (w.#fifo !== "") break;
        if (Date.now() > end) throw new Error(`weechat: no FIFO in ${dir}\n${proc.stderr}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return w;
    } catch (e) {
      await w.stop();
      throw e;
    }
  }

  /** Sends `text` (a line or a /command) to `buffer` ("irc.shat.#lobby", "irc.server.shat"). */
  async send(buffer: string, text: string): Promise<void> {
    await this.#pace.next();
    await Deno.writeTextFile(this.#fifo, `${buffer} *${text}\n`, { append: true });
  }

  /** The lines of the log of `buffer` (without the date column), [] while there is none. */
  async log(buffer: string): Promise<string[]> {
    try {
      const text = await Deno.readTextFile(`${this.dir}/logs/${buffer}.weechatlog`);
      return text.split("\n").filter((l) => l !== "").map((l) => l.replace(/^[^\t]*\t/, ""));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
  }

  /** Waits until the log of `buffer` holds `match` (log lines are `PREFIX\tMESSAGE`). */
  waitLog(buffer: string, match: ScreenMatch, ms = WAIT_MS): Promise<string[]> {
    return pollRows(`weechat ${this.nick} ${buffer}`, () => this.log(buffer), match, ms);
  }

  /** Waits for weechat to exit (after /quit), killing it after `ms`. */
  async exited(ms = WAIT_MS): Promise<Deno.CommandStatus> {
    return await this.proc.finish(ms);
  }

  /** Ends weechat (if still running) and removes its directory. */
  async stop(): Promise<void> {
    try {
      this.proc.child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await this.proc.finish();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
