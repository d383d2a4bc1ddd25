/**
 * Load generator for `deno task bench`, run as a child process by bench/run.ts (several may run
 * side by side). It opens its share of client connections, reports when they are all in, waits
 * for "go" on stdin, lets its senders send stamped lines, and checks every line each client
 * receives: whole, from the right sender, in order, exactly once. It prints JSON lines on stdout.
 *
 * Lines look like `B|sender|seq|sendTimeMs|xxxx…|E`; the server delivers them as
 * `<nick> B|…|E`. A line that does not parse, or whose padding has the wrong length, is garbled.
 * IRC clients (--irc-share) send `PRIVMSG #lobby :B|…|E` and get `:nick!u@h PRIVMSG #lobby
 * :B|…|E`, checked the same way.
 */
import process from "node:process";
import { TelnetSession } from "../src/net/telnet.ts";

/** What one generator process is asked to do (argv[0], as JSON). */
export interface LoadJob {
  port: number;
  /** Several servers sharing the rooms (--cluster): client k connects to ports[k mod n]. */
  ports?: number[];
  /** Connections this process opens. */
  clients: number;
  /** How many of them (the first ones) send; their global ids start at `senderBase`. */
  senders: number;
  senderBase: number;
  /** Senders across all generator processes (each receiver expects lines from all of them). */
  totalSenders: number;
  /** Lines each sender sends. */
  lines: number;
  /** Lines per second per sender; 0 = as fast as possible. */
  rate: number;
  /** Padding bytes in each line. */
  pad: number;
  /** Extra connections opened after the others are in (past the server's limits). */
  overflow: number;
  /** Give up waiting for lines after this long. */
  timeoutMs: number;
  /** Connections opened at once while connecting. */
  concurrency: number;
  /**
   * Clients act as telnet clients in character mode (the server edits their line, wraps what
   * it sends in erase and redraw, colours nicks, and shows senders their own lines).
   */
  telnet?: boolean;
  /**
   * Spread the clients over this many rooms (client k of all generators joins room k mod
   * rooms, named r0, r1, …); every client then sends, and receives only its room's lines.
   */
  rooms?: number;
  /**
   * A reconnect storm: every client connects at once (no concurrency limit), and what is
   * measured is the time from starting to connect to the welcome; one not welcomed within
   * `timeoutMs` is lost (the server never saw it, or never answered).
   */
  storm?: boolean;
  /**
   * IRC ports (--irc-share), one per server: an IRC client k connects to ircPorts[k mod n],
   * registers as `bench<clientBase + k>`, joins #lobby (it is ready at the 366 that ends the
   * JOIN), answers PING, and sends and reads PRIVMSG #lobby lines. Only in the lobby.
   */
  ircPorts?: number[];
  /** The global index of this process's first client (IRC nicks are unique across processes). */
  clientBase?: number;
  /** How many of the senders (the last ones) are IRC clients. */
  ircSenders?: number;
  /** How many of the clients that do not send (the last ones) are IRC clients. */
  ircOthers?: number;
}

/** Whether client `k` of a job (a measured one, not an overflow one) is an IRC client. */
export function isIrcClient(job: LoadJob, k: number): boolean {
  if (!job.ircPorts || job.ircPorts.length === 0 || k >= job.clients) return false;
  if (k < job.senders) return k >= job.senders - (job.ircSenders ?? 0);
  return k >= job.clients - (job.ircOthers ?? 0);
}

const IAC = 255;
/** IAC WILL NAWS: what PuTTY sends at once, which shows the server a telnet client. */
const HELLO = new Uint8Array([IAC, 251, 31]);
/** The answer to the server's offer: DO ECHO, DO SGA, and a 120×40 window. */
const ACCEPT = new Uint8Array([IAC, 253, 1, IAC, 253, 3, IAC, 250, 31, 0, 120, 0, 40, IAC, 240]);
const ESC = 0x1b;

const LF = 10;
const CR = 13;
/** `PRIVMSG ` after an IRC line's prefix. */
const PRIVMSG = new TextEncoder().encode("PRIVMSG ");
/** What an IRC sender puts before its line. */
const IRC_SAY = "PRIVMSG #lobby :";
const BUCKET_MS = 0.1;
const BUCKETS = 200_000; // 20 s at 0.1 ms
const enc = new TextEncoder();

function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** CPU time this process has used (user + system), in ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1_000;
}

function emit(obj: unknown): void {
  Deno.stdout.writeSync(enc.encode(JSON.stringify(obj) + "\n"));
}

/** Statistics shared by all receivers of this process. */
class Stats {
  deliveries = 0;
  lost = 0;
  garbled = 0;
  joins = 0;
  maxLatency = 0;
  lastReceive = 0;
  readonly hist = new Int32Array(BUCKETS + 1);

  record(sentAt: number, at: number): void {
    const lat = at - sentAt;
    if (lat > this.maxLatency) this.maxLatency = lat;
    const b = Math.max(0, Math.floor(lat / BUCKET_MS));
    this.hist[b < BUCKETS ? b : BUCKETS]++;
    this.deliveries++;
    this.lastReceive = at;
  }
}

/** One client connection: reads, frames and checks lines. */
class Client {
  readonly conn: Deno.TcpConn;
  readonly next: Int32Array;
  /** The room this client is in (-1: the lobby, where everyone is). */
  readonly room: number;
  #joined = false;
  ready = false;
  refused = false;
  /** An IRC client (see LoadJob.ircPorts); its nick, once it asked for one. */
  readonly irc: boolean;
  #ircNick = "";
  closed = false;
  got = 0;
  /** Telnet mode: strips the server's telnet commands; null for line-mode clients. */
  readonly #telnet: TelnetSession | null;
  #accepted = false;
  #scratch = new Uint8Array(0);
  #welcomed = false;
  #charMode = false;
  #carry = new Uint8Array(1024);
  #carryLen = 0;
  #onReady: (() => void) | null = null;
  readonly done: Promise<void>;

  constructor(
    conn: Deno.TcpConn,
    readonly self: number,
    readonly job: LoadJob,
    readonly stats: Stats,
    bufSize: number,
    irc = false,
  ) {
    this.conn = conn;
    this.irc = irc;
    // With rooms, a client hears only its room: one slot per sender of that room.
    const rooms = job.rooms ?? 0;
    this.room = rooms > 0 ? (job.senderBase + self) % rooms : -1;
    this.next = new Int32Array(rooms > 0 ? Math.ceil(job.totalSenders / rooms) : job.totalSenders);
    this.#telnet = job.telnet ? new TelnetSession({ binary: false }) : null;
    if (this.#telnet) conn.write(HELLO).catch(() => {});
    if (irc) {
      this.#ircNick = `bench${(job.clientBase ?? 0) + self}`;
      this.#say(`NICK ${this.#ircNick}\r\nUSER b 0 * :b\r\n`);
    }
    this.done = this.#read(bufSize);
  }

  whenReady(): Promise<void> {
    if (this.ready || this.closed) return Promise.resolve();
    return new Promise((resolve) => (this.#onReady = resolve));
  }

  async #read(bufSize: number): Promise<void> {
    const buf = new Uint8Array(bufSize);
    try {
      while (true) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        if (this.#telnet) {
          const data = this.#telnet.feed(buf.subarray(0, n));
          if (this.#telnet.removed > 0 && !this.#accepted) {
            this.#accepted = true;
            this.conn.write(ACCEPT).catch(() => {});
          }
          this.#chunk(data, data.length);
          if (!this.#charMode) this.#charMode = hasPrompt(data);
          if (!this.ready && this.#welcomed && this.#charMode) this.#readyNow();
        } else {
          this.#chunk(buf, n);
        }
      }
    } catch {
      // reset by the server or closed by us
    }
    this.closed = true;
    this.#onReady?.();
  }

  #chunk(buf: Uint8Array, n: number): void {
    const at = nowMs();
    let start = 0;
    for (let i = buf.indexOf(LF, 0); i >= 0 && i < n; i = buf.indexOf(LF, i + 1)) {
      if (this.#carryLen > 0) {
        this.#keep(buf.subarray(start, i));
        const len = this.#carryLen;
        this.#carryLen = 0;
        this.#line(this.#carry, 0, len, at);
      } else {
        this.#line(buf, start, i, at);
      }
      start = i + 1;
    }
    if (start < n) this.#keep(buf.subarray(start, n));
  }

  /** Appends the start (or middle) of a line split across reads to the carry buffer. */
  #keep(part: Uint8Array): void {
    const need = this.#carryLen + part.length;
    if (need > this.#carry.length) {
      const bigger = new Uint8Array(need * 2);
      bigger.set(this.#carry.subarray(0, this.#carryLen));
      this.#carry = bigger;
    }
    this.#carry.set(part, this.#carryLen);
    this.#carryLen = need;
  }

  /**
   * A character-mode client's line as a person would read it: what precedes the last erase
   * (`ESC [ J`: an old prompt, echo) is gone, and so are colours.
   */
  #plain(b: Uint8Array, s: number, e: number): Uint8Array {
    let from = s;
    let esc = false;
    for (let i = b.indexOf(ESC, s); i >= 0 && i < e; i = b.indexOf(ESC, i + 1)) {
      esc = true;
      if (b[i + 1] === 0x5b && b[i + 2] === 0x4a) from = i + 3;
    }
    if (!esc) return b.subarray(s, e);
    if (this.#scratch.length < e - from) this.#scratch = new Uint8Array((e - from) * 2);
    const out = this.#scratch;
    let w = 0;
    for (let i = from; i < e; i++) {
      if (b[i] === ESC && b[i + 1] === 0x5b) {
        i += 2;
        while (i < e && (b[i] < 0x40 || b[i] > 0x7e)) i++;
        continue;
      }
      out[w++] = b[i];
    }
    return out.subarray(0, w);
  }

  #say(text: string): void {
    this.conn.write(enc.encode(text)).catch(() => {});
  }

  #readyNow(): void {
    this.ready = true;
    this.#onReady?.();
    this.#onReady = null;
  }

  #line(b: Uint8Array, s: number, e: number, at: number): void {
    if (this.#telnet) {
      b = this.#plain(b, s, e);
      s = 0;
      e = b.length;
    }
    if (e > s && b[e - 1] === CR) e--;
    if (this.irc) return this.#ircLine(b, s, e, at);
    if (b[s] !== 0x3c) { // not "<nick> …": banner, notices, refusals
      if (!this.ready && b[s] === 0x54 && b[s + 1] === 0x79 && b[s + 5] === 0x2f) { // "Type /"
        // A telnet client is ready once the server edits its line (its prompt is drawn); one
        // that goes to a room, once it is in.
        if (this.#telnet) this.#welcomed = true;
        else if (this.room >= 0) {
          this.conn.write(enc.encode(`/join r${this.room}\n`)).catch(() => {});
        } else this.#readyNow();
      } else if (!this.ready && this.room >= 0 && b[s] === 0x59 && b[s + 8] === 0x6e) {
        this.#readyNow(); // "You are now in #r…"
      } else if (b[s] === 0x2a && e - s > 7 && b[e - 1] === 0x64 && b[e - 6] === 0x6a) {
        this.stats.joins++; // "*** nick joined"
      } else if (!this.ready && (b[s] === 0x53 || b[s] === 0x59)) {
        this.refused = true; // "Server is full", "You are …"
      }
      return;
    }
    const i = b.indexOf(0x3e, s); // '>'
    if (i < 0 || i >= e || b[i + 1] !== 0x20) {
      this.stats.garbled++;
      return;
    }
    this.#bench(b, i + 2, e, at);
  }

  /**
   * One line to an IRC client: `:nick!u@h PRIVMSG #lobby :B|…|E` is a bench line; until it is
   * ready, 001 (registered) makes it JOIN #lobby, 433 makes it try another nick, and the 366
   * that ends the JOIN's names makes it ready; PING is answered.
   */
  #ircLine(b: Uint8Array, s: number, e: number, at: number): void {
    if (b[s] !== 0x3a) { // no prefix: PING, ERROR
      const word = new TextDecoder().decode(b.subarray(s, e));
      if (word.startsWith("PING")) this.#say(`PONG${word.slice(4)}\r\n`);
      else if (!this.ready && word.startsWith("ERROR")) this.refused = true;
      return;
    }
    const sp = b.indexOf(0x20, s);
    if (sp < 0 || sp >= e) return;
    let privmsg = e - sp > PRIVMSG.length;
    for (let k = 0; privmsg && k < PRIVMSG.length; k++) privmsg = b[sp + 1 + k] === PRIVMSG[k];
    if (privmsg) {
      const colon = b.indexOf(0x3a, sp + 1 + PRIVMSG.length); // the text's ':'
      if (colon < 0 || colon >= e || b[colon - 1] !== 0x20) {
        this.stats.garbled++;
        return;
      }
      return this.#bench(b, colon + 1, e, at);
    }
    if (this.ready) return;
    const command = new TextDecoder().decode(b.subarray(sp + 1, Math.min(e, sp + 5)));
    if (command === "001 ") this.#say("JOIN #lobby\r\n");
    else if (command === "366 ") this.#readyNow();
    else if (command === "433 ") {
      this.#ircNick += "_";
      this.#say(`NICK ${this.#ircNick}\r\n`);
    } else if (command === "ERRO") this.refused = true;
  }

  /** A bench line's text, `B|sender|seq|sendTimeMs|xxxx…|E`, from b[i] to b[e]. */
  #bench(b: Uint8Array, i: number, e: number, at: number): void {
    if (b[i] !== 0x42 || b[i + 1] !== 0x7c) {
      this.stats.garbled++;
      return;
    }
    i += 2;
    let sender = 0;
    while (i < e && b[i] !== 0x7c) sender = sender * 10 + (b[i++] - 48);
    i++;
    let seq = 0;
    while (i < e && b[i] !== 0x7c) seq = seq * 10 + (b[i++] - 48);
    i++;
    let ts = 0;
    while (i < e && b[i] !== 0x2e && b[i] !== 0x7c) ts = ts * 10 + (b[i++] - 48);
    if (b[i] === 0x2e) {
      i++;
      let scale = 0.1;
      while (i < e && b[i] !== 0x7c) {
        ts += (b[i++] - 48) * scale;
        scale /= 10;
      }
    }
    i++;
    const padEnd = e - 2;
    if (
      padEnd - i !== this.job.pad || b[padEnd] !== 0x7c || b[padEnd + 1] !== 0x45 ||
      sender >= this.job.totalSenders || !(ts > 0)
    ) {
      this.stats.garbled++;
      return;
    }
    let slot = sender;
    if (this.room >= 0) {
      if (sender % this.job.rooms! !== this.room) {
        this.stats.garbled++; // a line from another room: rooms must not leak
        return;
      }
      slot = Math.floor(sender / this.job.rooms!);
    }
    const expected = this.next[slot];
    if (seq === expected) {
      this.next[slot] = seq + 1;
    } else if (seq > expected) {
      this.stats.lost += seq - expected;
      this.next[slot] = seq + 1;
    } else {
      this.stats.garbled++; // a duplicate or out of order
      return;
    }
    this.got++;
    this.stats.record(ts, at);
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

/** True when `data` holds an erase followed by a prompt (`ESC [ J [`): character mode is on. */
function hasPrompt(data: Uint8Array): boolean {
  for (let i = data.indexOf(ESC); i >= 0 && i + 3 < data.length; i = data.indexOf(ESC, i + 1)) {
    if (data[i + 1] === 0x5b && data[i + 2] === 0x4a && data[i + 3] === 0x5b) return true;
  }
  return false;
}

async function connectAll(
  job: LoadJob,
  count: number,
  stats: Stats,
  offset: number,
): Promise<{ clients: Client[]; failed: number }> {
  const clients: Client[] = [];
  let failed = 0;
  let nextIndex = 0;
  const bufSize = job.clients > 2_000 ? 2_048 : 32_768;
  const worker = async () => {
    while (nextIndex < count) {
      const i = nextIndex++;
      try {
        const irc = isIrcClient(job, offset + i);
        const ports = irc ? job.ircPorts : job.ports;
        const port = ports && ports.length > 0 ? ports[(offset + i) % ports.length] : job.port;
        const started = nowMs();
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        conn.setNoDelay(true);
        const c = new Client(conn, offset + i, job, stats, bufSize, irc);
        clients.push(c);
        if (!job.storm) {
          await c.whenReady();
          continue;
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          c.whenReady(),
          new Promise((r) => (timer = setTimeout(r, job.timeoutMs))),
        ]);
        clearTimeout(timer);
        if (c.ready && !c.closed) stats.record(started, nowMs());
      } catch {
        failed++;
      }
    }
  };
  const workers = job.storm ? count : Math.min(job.concurrency, count);
  await Promise.all(Array.from({ length: workers }, worker));
  return { clients, failed };
}

async function readStdinLine(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  const { value } = await reader.read();
  return value ? new TextDecoder().decode(value).trim() : "";
}

async function send(c: Client, gid: number, job: LoadJob, start: number): Promise<void> {
  const pad = "x".repeat(job.pad);
  const interval = job.rate > 0 ? 1_000 / job.rate : 0;
  const offset = job.rate > 0 ? (gid / Math.max(1, job.totalSenders)) * interval : 0;
  for (let k = 0; k < job.lines; k++) {
    if (interval > 0) {
      const due = start + offset + k * interval;
      const wait = due - nowMs();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    // LF, as nc sends: line-mode clients, which the server never probes for telnet. A telnet
    // client in character mode types the line and presses Enter (CR NUL). An IRC client says
    // it to the channel, CR LF ended.
    const end = job.telnet ? "\r\0" : c.irc ? "\r\n" : "\n";
    const line = `${c.irc ? IRC_SAY : ""}B|${gid}|${k}|${nowMs().toFixed(3)}|${pad}|E${end}`;
    await c.conn.write(enc.encode(line));
  }
}

async function main(): Promise<void> {
  const job: LoadJob = JSON.parse(Deno.args[0]);
  const stats = new Stats();
  const stdin = Deno.stdin.readable.getReader();

  const t0 = nowMs();
  const { clients, failed } = await connectAll(job, job.clients, stats, 0);
  const connectMs = nowMs() - t0;
  const ready = clients.filter((c) => c.ready && !c.closed);
  let overflowRefused = 0;
  let overflowAccepted = 0;
  let extra: Client[] = [];
  if (job.overflow > 0) {
    // Overflow clients the server still took in are in the room too, but they are not part of
    // the measured set: their deliveries go to their own statistics.
    const more = await connectAll(
      { ...job, concurrency: 50 },
      job.overflow,
      new Stats(),
      job.clients,
    );
    extra = more.clients;
    overflowAccepted = extra.filter((c) => c.ready && !c.closed).length;
    overflowRefused = job.overflow - overflowAccepted;
  }
  emit({
    type: "ready",
    connected: ready.length,
    failed: failed + (clients.length - ready.length),
    connectMs,
    overflowAccepted,
    overflowRefused,
  });

  if ((await readStdinLine(stdin)) !== "go") return;
  if (job.storm) {
    // The storm is over by now: what counts is who was welcomed, and how soon.
    const hist: [number, number][] = [];
    stats.hist.forEach((n, b) => n > 0 && hist.push([b, n]));
    emit({
      type: "done",
      expected: job.clients,
      deliveries: stats.deliveries,
      lost: job.clients - stats.deliveries,
      garbled: 0,
      joins: 0,
      start: t0,
      lastReceive: stats.lastReceive,
      end: nowMs(),
      maxLatency: stats.maxLatency,
      hist,
      closedEarly: 0,
      cpuMs: 0,
    });
    for (const c of clients) c.close();
    await Promise.all(clients.map((c) => c.done));
    return;
  }
  const cpuAtStart = cpuMs();
  const start = nowMs();
  // The first clients by index send (which of them are IRC clients depends on it; clients
  // finish connecting in any order), or the next ones when one of them did not get in.
  const senders = ready.toSorted((a, b) => a.self - b.self).slice(0, job.senders);
  const sends = new Set(senders);
  // In rooms, a sender's id must be the one its room was chosen by; elsewhere, senders are
  // numbered in that order.
  const gid = (c: Client, i: number) => job.senderBase + (c.room >= 0 ? c.self : i);
  const sending = senders.map((c, i) => send(c, gid(c, i), job, start));
  const expectFor = (c: Client) => {
    // A character-mode sender is shown its own lines back; a line-mode one is not.
    // An IRC one is not either (it did not ask for echo-message).
    const own = sends.has(c) && !job.telnet ? 1 : 0;
    if (c.room < 0) return (job.totalSenders - own) * job.lines;
    const rooms = job.rooms!;
    const inRoom = Math.floor((job.totalSenders - 1 - c.room) / rooms) + 1;
    return (inRoom - own) * job.lines;
  };
  const want = ready.reduce((sum, c) => sum + expectFor(c), 0);
  const deadline = start + job.timeoutMs + (job.rate > 0 ? (job.lines / job.rate) * 1_000 : 0);
  await Promise.all(sending).catch(() => {});
  while (stats.deliveries + stats.lost < want && nowMs() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const end = nowMs();
  // Whatever a client should have had and did not get is lost (gaps, garbled lines, the tail).
  let lost = 0;
  for (const c of ready) lost += Math.max(0, expectFor(c) - c.got);
  const hist: [number, number][] = [];
  stats.hist.forEach((n, b) => n > 0 && hist.push([b, n]));
  emit({
    type: "done",
    expected: want,
    deliveries: stats.deliveries,
    lost,
    garbled: stats.garbled,
    joins: stats.joins,
    start,
    lastReceive: stats.lastReceive,
    end,
    maxLatency: stats.maxLatency,
    hist,
    closedEarly: ready.filter((c) => c.closed).length,
    cpuMs: cpuMs() - cpuAtStart,
  });
  // The clients stay until the bench has read the server's CPU and memory (it then closes our
  // stdin): hundreds of departures (notices, IRC QUITs) are not the scenario's work, and they
  // used to land in the measured window, more or less of them from run to run.
  await readStdinLine(stdin);
  for (const c of [...clients, ...extra]) c.close();
  await Promise.all([...clients, ...extra].map((c) => c.done));
}

if (import.meta.main) {
  await main();
  Deno.exit(0);
}
