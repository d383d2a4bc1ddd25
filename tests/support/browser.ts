/**
 * A headless Chromium for end-to-end tests, driven over the DevTools protocol (CDP) without any
 * package: the browser is started with `--remote-debugging-pipe` and spoken to as NUL-terminated
 * JSON on its file descriptors 3 (commands in) and 4 (replies and events out).
 *
 * Why the pipe rather than a port: no TCP port is opened that other local processes could drive,
 * there is no stderr line to parse, and the browser exits by itself when the pipe closes, so a
 * test process that dies does not leave a browser running. `Deno.Command` passes only stdin,
 * stdout and stderr, so the child is spawned with `node:child_process`, whose `stdio` array
 * gives it the extra pipes.
 *
 * The browser runs in its own process group (`detached`), with HOME, TMPDIR and XDG directories
 * pointing into one temporary directory; `close()` kills the whole group and removes that
 * directory, so nothing is left behind.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";

/** The flags every launch uses (the background-networking ones keep it off the network). */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--no-default-browser-check",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-extensions",
  "--disable-dev-shm-usage",
  "--remote-debugging-pipe",
];

/** Where the real browser binaries live; Debian's /usr/bin/chromium is a shell wrapper. */
const BINARIES = [
  "/usr/lib/chromium/chromium",
  "/usr/lib/chromium-browser/chromium-browser",
  "/opt/google/chrome/chrome",
];
const PROGRAMS = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * The Chromium binary to run: $SHAT_CHROMIUM if set, else a known real binary, else the first
 * chromium/chrome program on PATH; null when there is none.
 */
export function chromiumPath(): string | null {
  const override = Deno.env.get("SHAT_CHROMIUM");
  if (override) return override;
  const found = BINARIES.find(isFile);
  if (found) return found;
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  for (const name of PROGRAMS) {
    for (const dir of dirs) if (isFile(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}

/** True when a Chromium binary was found (see {@linkcode chromiumPath}). */
export function hasChromium(): boolean {
  const path = chromiumPath();
  return path !== null && isFile(path);
}

/** A CDP message: a command's reply (`id`) or an event (`method`), maybe for a session. */
interface CdpMessage {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: string };
  sessionId?: string;
}

/** A CDP event listener: gets the event's params and its session (undefined for the browser). */
export type CdpListener = (params: Record<string, unknown>, sessionId?: string) => void;

interface Pending {
  method: string;
  resolve: (result: Record<string, unknown>) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** A small CDP client over any message transport: request ids, awaited results, events. */
export class Cdp {
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Map<string, Set<CdpListener>>();
  readonly #write: (text: string) => void;
  #closed: Error | null = null;

  /** `write` sends one serialized message; feed each incoming one to {@linkcode Cdp.receive}. */
  constructor(write: (text: string) => void) {
    this.#write = write;
  }

  /** Sends a command (to a page session when `sessionId` is given) and resolves with its result. */
  send<T = Record<string, unknown>>(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
    timeoutMs = 15_000,
  ): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    const msg: CdpMessage = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`CDP ${method}: no reply in ${timeoutMs}ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        method,
        resolve: (r) => resolve(r as T),
        reject,
        timer,
      });
      try {
        this.#write(JSON.stringify(msg));
      } catch (e) {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  /** Calls `listener` for every `method` event; returns a function that removes it. */
  on(method: string, listener: CdpListener): () => void {
    let set = this.#listeners.get(method);
    if (!set) this.#listeners.set(method, set = new Set());
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * Resolves with the params of the next `method` event of `sessionId` that passes `test`.
   * Call it before the command that causes the event.
   */
  waitForEvent(
    method: string,
    sessionId: string | undefined,
    timeoutMs: number,
    test: (params: Record<string, unknown>) => boolean = () => true,
  ): { promise: Promise<Record<string, unknown>>; cancel: () => void } {
    let off = () => {};
    let timer: ReturnType<typeof setTimeout> | undefined;
    let fail: (e: Error) => void = () => {};
    const promise = new Promise<Record<string, unknown>>((resolve, reject) => {
      fail = reject;
      timer = setTimeout(() => {
        off();
        reject(new Error(`CDP: no ${method} event in ${timeoutMs}ms`));
      }, timeoutMs);
      off = this.on(method, (params, sid) => {
        if (sid !== sessionId || !test(params)) return;
        off();
        clearTimeout(timer);
        resolve(params);
      });
    });
    const cancel = () => {
      off();
      clearTimeout(timer);
      fail(new Error(`CDP: stopped waiting for ${method}`));
    };
    promise.catch(() => {});
    return { promise, cancel };
  }

  /** Handles one incoming message (a reply or an event). */
  receive(text: string): void {
    let msg: CdpMessage;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.id !== undefined) {
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.error) {
        const data = msg.error.data ? ` (${msg.error.data})` : "";
        p.reject(new Error(`CDP ${p.method}: ${msg.error.message}${data}`));
      } else p.resolve(msg.result ?? {});
    } else if (msg.method) {
      for (const l of this.#listeners.get(msg.method) ?? []) l(msg.params ?? {}, msg.sessionId);
    }
  }

  /** Fails every command still waiting and refuses new ones. */
  close(reason: Error): void {
    if (this.#closed) return;
    this.#closed = reason;
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(reason);
    }
    this.#pending.clear();
    this.#listeners.clear();
  }
}

/** Options for {@linkcode launchBrowser}. */
export interface LaunchOptions {
  /** The binary (default: {@linkcode chromiumPath}). */
  executable?: string;
  /** Extra command-line flags. */
  args?: string[];
  /** How long the browser may take to answer its first command (default 20 s). */
  timeoutMs?: number;
}

/** Starts a headless Chromium; `close()` it when done. */
export async function launchBrowser(opts: LaunchOptions = {}): Promise<Browser> {
  const exe = opts.executable ?? chromiumPath();
  if (!exe) throw new Error("no Chromium found (install chromium or set SHAT_CHROMIUM)");
  if (!isFile(exe)) throw new Error(`no Chromium at ${exe}`);
  const dir = await Deno.makeTempDir({ prefix: "shat-chromium-" });
  for (const sub of ["profile", "home", "tmp"]) await Deno.mkdir(`${dir}/${sub}`);
  const child = spawn(exe, [
    ...CHROMIUM_FLAGS,
    `--user-data-dir=${dir}/profile`,
    ...(opts.args ?? []),
    "about:blank",
  ], {
    stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"],
    detached: true,
    env: {
      ...Deno.env.toObject(),
      HOME: `${dir}/home`,
      TMPDIR: `${dir}/tmp`,
      XDG_CONFIG_HOME: `${dir}/home/.config`,
      XDG_CACHE_HOME: `${dir}/home/.cache`,
    },
  });
  if (child.pid === undefined) {
    // Not started (not executable, …): node reports that as an "error" event a moment later.
    const e = await new Promise<Error>((resolve) => child.once("error", resolve));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new Error(`cannot start Chromium (${exe}): ${e.message}`);
  }
  const browser = new Browser(child, dir);
  try {
    await browser.cdp.send("Browser.getVersion", {}, undefined, opts.timeoutMs ?? 20_000);
  } catch (e) {
    await browser.close();
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`Chromium did not start (${exe}): ${why}\n${browser.stderr}`);
  }
  return browser;
}

/** A running Chromium. */
export class Browser {
  /** The protocol client, for commands the page API does not cover. */
  readonly cdp: Cdp;
  readonly #child: ChildProcess;
  readonly #dir: string;
  readonly #closedEvent: Promise<void>;
  readonly #pages = new Set<Page>();
  #stderr = "";
  #exited = false;
  #closing: Promise<void> | null = null;

  /** Use {@linkcode launchBrowser}. */
  constructor(child: ChildProcess, dir: string) {
    this.#child = child;
    this.#dir = dir;
    const input = child.stdio[3] as Writable;
    const output = child.stdio[4] as Readable;
    const err = child.stdio[2] as Readable;
    this.cdp = new Cdp((text) => input.write(text + "\0"));
    input.on("error", () => {});
    const decoder = new TextDecoder();
    let buf = "";
    output.on("data", (chunk: Uint8Array) => {
      // NUL never occurs inside a UTF-8 sequence, so splitting decoded text is safe.
      buf += decoder.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf("\0")) >= 0) {
        const msg = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.cdp.receive(msg);
      }
    });
    output.on("error", () => {});
    const errDecoder = new TextDecoder();
    err.on("data", (chunk: Uint8Array) => {
      // Keep only the tail: it is for error messages, and Chromium is chatty about D-Bus.
      this.#stderr = (this.#stderr + errDecoder.decode(chunk, { stream: true })).slice(-8_000);
    });
    err.on("error", () => {});
    child.on("exit", (code, signal) => {
      this.#exited = true;
      this.cdp.close(new Error(`Chromium exited (code ${code}, signal ${signal})`));
    });
    this.#closedEvent = new Promise((resolve) => child.on("close", () => resolve()));
    child.on("error", (e) => {
      this.#exited = true;
      this.cdp.close(e);
    });
  }

  /** The last few kilobytes Chromium wrote to stderr. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Opens a new tab with the given viewport. */
  async newPage(viewport: Viewport = { width: 800, height: 600 }): Promise<Page> {
    const { targetId } = await this.cdp.send<{ targetId: string }>("Target.createTarget", {
      url: "about:blank",
    });
    const { sessionId } = await this.cdp.send<{ sessionId: string }>("Target.attachToTarget", {
      targetId,
      flatten: true,
    });
    const page = new Page(this.cdp, targetId, sessionId, () => this.#pages.delete(page));
    this.#pages.add(page);
    await page.init(viewport);
    return page;
  }

  /** Kills the browser and everything it started, and removes its files; safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    for (const p of this.#pages) p.detach();
    this.cdp.close(new Error("the browser was closed"));
    const pid = this.#child.pid;
    // Kill the whole process group (renderers, zygotes, GPU process) while the browser is not
    // yet reaped, so its pid (the group id) cannot belong to anybody else.
    if (!this.#exited && pid !== undefined) {
      try {
        Deno.kill(-pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = await Promise.race([
      this.#closedEvent.then(() => true),
      new Promise<false>((r) => timer = setTimeout(() => r(false), 5_000)),
    ]);
    clearTimeout(timer);
    if (!closed) {
      for (const s of this.#child.stdio) s?.destroy();
      await this.#closedEvent;
    }
    // A killed Chromium child may still be finishing a write into the profile: retry a little.
    for (let i = 0;; i++) {
      try {
        await Deno.remove(this.#dir, { recursive: true });
        break;
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) break;
        if (i >= 20) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** `await using b = await launchBrowser()` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** A page's viewport. */
export interface Viewport {
  width: number;
  height: number;
  /** Emulate a phone: meta viewport, overlay scrollbars, touch events (default false). */
  mobile?: boolean;
  /** Device pixels per CSS pixel (default 1). */
  deviceScaleFactor?: number;
}

/** A console call or browser log entry seen on a page. */
export interface ConsoleMessage {
  /** "console" for console.* calls, else the browser log's source ("network", "javascript", …). */
  source: string;
  /** The console method ("log", "error", "warning", …) or the log entry's level. */
  type: string;
  text: string;
}

/** Keys {@linkcode Page.press} knows. */
export type KeyName =
  | "Enter"
  | "Backspace"
  | "Delete"
  | "Tab"
  | "Escape"
  | "ArrowUp"
  | "ArrowDown"
  | "ArrowLeft"
  | "ArrowRight"
  | "Home"
  | "End"
  | "PageUp"
  | "PageDown";

const KEYS: Record<KeyName, { code: number; text?: string }> = {
  Enter: { code: 13, text: "\r" },
  Backspace: { code: 8 },
  Delete: { code: 46 },
  Tab: { code: 9 },
  Escape: { code: 27 },
  ArrowUp: { code: 38 },
  ArrowDown: { code: 40 },
  ArrowLeft: { code: 37 },
  ArrowRight: { code: 39 },
  Home: { code: 36 },
  End: { code: 35 },
  PageUp: { code: 33 },
  PageDown: { code: 34 },
};

/** Modifier keys held during {@linkcode Page.press}. */
export interface Modifiers {
  alt?: boolean;
  ctrl?: boolean;
  meta?: boolean;
  shift?: boolean;
}

interface RemoteObject {
  type: string;
  subtype?: string;
  value?: unknown;
  description?: string;
  unserializableValue?: string;
}

interface ExceptionDetails {
  text: string;
  exception?: RemoteObject;
}

function exceptionText(d: ExceptionDetails): string {
  return d.exception?.description ??
    (d.exception?.value !== undefined ? `${d.text} ${String(d.exception.value)}` : d.text);
}

/** One browser tab, attached over a flat CDP session. */
export class Page {
  /** Console calls and browser log entries, in order. */
  readonly consoleMessages: ConsoleMessage[] = [];
  /** Uncaught exceptions and unhandled rejections, as their messages. */
  readonly errors: string[] = [];
  readonly #cdp: Cdp;
  readonly #targetId: string;
  readonly #sessionId: string;
  readonly #offs: (() => void)[] = [];
  readonly #forget: () => void;

  /** Use {@linkcode Browser.newPage}. */
  constructor(cdp: Cdp, targetId: string, sessionId: string, forget: () => void) {
    this.#cdp = cdp;
    this.#targetId = targetId;
    this.#sessionId = sessionId;
    this.#forget = forget;
    const mine = (f: (p: Record<string, unknown>) => void): CdpListener => (p, sid) => {
      if (sid === sessionId) f(p);
    };
    this.#offs.push(
      cdp.on(
        "Runtime.consoleAPICalled",
        mine((p) => {
          const args = (p.args as RemoteObject[] | undefined) ?? [];
          const text = args.map((a) =>
            a.value !== undefined
              ? String(a.value)
              : a.unserializableValue ?? a.description ?? a.type
          ).join(" ");
          this.consoleMessages.push({ source: "console", type: String(p.type), text });
        }),
      ),
      cdp.on(
        "Log.entryAdded",
        mine((p) => {
          const e = p.entry as { source: string; level: string; text: string };
          this.consoleMessages.push({ source: e.source, type: e.level, text: e.text });
        }),
      ),
      cdp.on(
        "Runtime.exceptionThrown",
        mine((p) => this.errors.push(exceptionText(p.exceptionDetails as ExceptionDetails))),
      ),
    );
  }

  /** Enables the domains the page API uses and sets the viewport. */
  async init(viewport: Viewport): Promise<void> {
    await Promise.all([
      this.#send("Page.enable"),
      this.#send("Runtime.enable"),
      this.#send("Log.enable"),
      this.setViewport(viewport.width, viewport.height, viewport),
    ]);
  }

  /** Sends a CDP command to this page's session. */
  send<T = Record<string, unknown>>(
    method: string,
    params: Record<string, unknown> = {},
  ): Promise<T> {
    return this.#cdp.send<T>(method, params, this.#sessionId);
  }

  #send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.#cdp.send(method, params, this.#sessionId);
  }

  /** Navigates to `url` and waits for its load event. */
  async goto(url: string, timeoutMs = 10_000): Promise<void> {
    const load = this.#cdp.waitForEvent("Page.loadEventFired", this.#sessionId, timeoutMs);
    try {
      const r = await this.#send("Page.navigate", { url }) as { errorText?: string };
      if (r.errorText) throw new Error(`goto ${url}: ${r.errorText}`);
      await load.promise;
    } finally {
      load.cancel();
    }
  }

  /**
   * Evaluates a JavaScript expression in the page (awaiting a promise it returns) and returns its
   * value, copied as JSON. A thrown exception becomes a thrown Error with the page's message.
   */
  async evaluate<T = unknown>(expression: string): Promise<T> {
    const r = await this.#send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
      userGesture: true,
    }) as { result: RemoteObject; exceptionDetails?: ExceptionDetails };
    if (r.exceptionDetails) throw new Error(`evaluate: ${exceptionText(r.exceptionDetails)}`);
    return r.result.value as T;
  }

  /** Polls `expression` until it is truthy and returns its value; throws after `timeoutMs`. */
  async waitFor<T = unknown>(expression: string, timeoutMs = 5_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    let last = "";
    while (true) {
      try {
        const v = await this.evaluate<T>(expression);
        if (v) return v;
        last = `last value: ${JSON.stringify(v)}`;
      } catch (e) {
        // Between documents there is no context to evaluate in: keep polling.
        last = e instanceof Error ? e.message : String(e);
      }
      if (Date.now() > end) {
        throw new Error(`waitFor(${expression}): not true after ${timeoutMs}ms (${last})`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Types text into the focused element, as an IME would (input events, no key events). */
  async type(text: string): Promise<void> {
    await this.#send("Input.insertText", { text });
  }

  /** Presses and releases a key, so keydown handlers see `e.key === key`. */
  async press(key: KeyName, modifiers: Modifiers = {}): Promise<void> {
    const k = KEYS[key];
    const mods = (modifiers.alt ? 1 : 0) | (modifiers.ctrl ? 2 : 0) | (modifiers.meta ? 4 : 0) |
      (modifiers.shift ? 8 : 0);
    const base = {
      key,
      code: key,
      windowsVirtualKeyCode: k.code,
      nativeVirtualKeyCode: k.code,
      modifiers: mods,
    };
    await this.#send("Input.dispatchKeyEvent", {
      ...base,
      type: k.text ? "keyDown" : "rawKeyDown",
      text: k.text,
      unmodifiedText: k.text,
    });
    await this.#send("Input.dispatchKeyEvent", { ...base, type: "keyUp" });
  }

  /** Clicks (left button, pressed and released) the middle of the first match of `selector`. */
  async click(selector: string): Promise<void> {
    const at = await this.evaluate<{ x: number; y: number } | null>(
      `(() => { const e = document.querySelector(${
        JSON.stringify(selector)
      }); if (!e) return null; ` +
        "e.scrollIntoView({ block: 'center' }); const r = e.getBoundingClientRect(); " +
        "return { x: r.left + r.width / 2, y: r.top + r.height / 2 }; })()",
    );
    if (!at) throw new Error(`click: nothing matches ${selector}`);
    const base = { x: at.x, y: at.y, button: "left", buttons: 1, clickCount: 1 };
    await this.#send("Input.dispatchMouseEvent", { ...base, type: "mouseMoved", buttons: 0 });
    await this.#send("Input.dispatchMouseEvent", { ...base, type: "mousePressed" });
    await this.#send("Input.dispatchMouseEvent", { ...base, type: "mouseReleased", buttons: 0 });
  }

  /**
   * Runs `source` in every document this tab loads from now on, before the page's own scripts
   * (and outside its Content-Security-Policy): for stubs such as a recording `Notification`.
   */
  async addInitScript(source: string): Promise<void> {
    await this.#send("Page.addScriptToEvaluateOnNewDocument", { source });
  }

  /**
   * Makes the page see itself hidden or shown, as when its tab goes to the background and back:
   * `document.hidden` and `document.visibilityState` say so and `visibilitychange` fires. Headless
   * Chromium has no background tab to switch to, so the document's properties are overridden
   * (for the current document only).
   */
  async setHidden(hidden: boolean): Promise<void> {
    await this.evaluate(
      `(() => { const hidden = ${hidden}; ` +
        "Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden }); " +
        "Object.defineProperty(document, 'visibilityState', { configurable: true, " +
        "get: () => hidden ? 'hidden' : 'visible' }); " +
        "document.dispatchEvent(new Event('visibilitychange')); })()",
    );
  }

  /** Sets the viewport size (and whether to emulate a phone). */
  async setViewport(
    width: number,
    height: number,
    opts: { mobile?: boolean; deviceScaleFactor?: number } = {},
  ): Promise<void> {
    const mobile = opts.mobile ?? false;
    await Promise.all([
      this.#send("Emulation.setDeviceMetricsOverride", {
        width,
        height,
        deviceScaleFactor: opts.deviceScaleFactor ?? 1,
        mobile,
      }),
      this.#send("Emulation.setTouchEmulationEnabled", { enabled: mobile }),
    ]);
  }

  /** Saves a PNG of the viewport to `path` and returns its bytes. */
  async screenshot(path: string): Promise<Uint8Array> {
    const { data } = await this.#send("Page.captureScreenshot", { format: "png" }) as {
      data: string;
    };
    const bin = atob(data);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    await Deno.writeFile(path, bytes);
    return bytes;
  }

  /** Closes the tab. */
  async close(): Promise<void> {
    this.detach();
    await this.#cdp.send("Target.closeTarget", { targetId: this.#targetId }).catch(() => {});
  }

  /** Stops collecting events (the browser is going away). */
  detach(): void {
    for (const off of this.#offs.splice(0)) off();
    this.#forget();
  }
}
