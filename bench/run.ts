/**
 * `deno task bench`: starts Shat as a subprocess with its limits off, drives it with load
 * generator processes (bench/load.ts) and prints one table row per scenario.
 *
 *   deno task bench                 quick sizes (S1, S2, S3, join storm)
 *   deno task bench --full          the sizes of the targets, S4 included
 *   deno task bench --only s1,s3 --s1-clients 2000 --generators 2
 *   deno task bench --generator go --server shat,floor-batched
 *                                   the Go loadgen of ../shared/loadgen (bench/loadgen.ts)
 *   deno task bench --only s1,s2 --irc-share 0.2
 *                                   a fifth of the clients in S1/S2 come over IRC
 *
 * Run `deno task bench --help` for every flag.
 */
import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { LoadJob } from "./load.ts";
import {
  buildLoadgen,
  type GoScenario,
  goScenarios,
  goSkipped,
  goUnknown,
  LOADGEN_DEFAULT_DIR,
  LOADGEN_DIR_ENV,
  LoadgenMissing,
  parseReport,
  rowFromReport,
} from "./loadgen.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const FLOOR = fileURLToPath(new URL("./floor.ts", import.meta.url));
const SRC = fileURLToPath(new URL("../src/", import.meta.url));
/** The server under test: Shat, or the bare reference of bench/floor.ts (`--server floor`). */
let serverScript = MAIN;
/** Extra arguments for the floor (`--server floor-batched`). */
let floorArgs: string[] = [];
/** The servers `--server` names. */
const SERVERS = ["shat", "floor", "floor-batched"] as const;
type ServerKind = typeof SERVERS[number];

/** Makes the next scenarios start this server. */
function useServer(kind: ServerKind): void {
  serverScript = kind === "shat" ? MAIN : FLOOR;
  floorArgs = kind === "floor-batched" ? ["--batch-ms", "10"] : [];
}
/** With --cluster N: N Shat processes share the rooms through a redis-server started here. */
let clusterSize = 0;
let redisUrl = "";
let redisPrefix = "bench";
/**
 * With --irc-share P: the servers also listen for IRC, and that fraction of the clients of S1
 * and S2 (S2: of its senders too) are IRC clients in #lobby (see Scenario.irc).
 */
let ircShare = 0;

/** A redis-server for --cluster: loopback, no persistence. */
class RedisProc {
  readonly child: Deno.ChildProcess;
  readonly port = freePort();

  constructor() {
    this.child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  }

  async ready(): Promise<void> {
    const end = Date.now() + 10_000;
    while (Date.now() < end) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port: this.port })).close();
        return;
      } catch {
        await sleep(50);
      }
    }
    throw new Error("redis-server did not start (is it installed?)");
  }

  async stop(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // gone
    }
    await this.child.status;
  }
}
const LOAD = fileURLToPath(new URL("./load.ts", import.meta.url));

/** Every scenario's size; each field is also a flag (`s1Clients` → `--s1-clients`). */
export interface Sizes {
  s1Clients: number;
  s1Senders: number;
  s1Lines: number;
  s2Clients: number;
  s2Senders: number;
  s2Rate: number;
  s2Seconds: number;
  s3Clients: number;
  s3Lines: number;
  s4Clients: number;
  s4Overflow: number;
  stormClients: number;
  /** Clients of the reconnect storm: all connecting at once, as after a restart. */
  reconnectClients: number;
  telnetClients: number;
  telnetSenders: number;
  telnetRate: number;
  telnetSeconds: number;
  roomsClients: number;
  roomsCount: number;
  roomsLines: number;
  /** Lines per second each person sends (a chat pace: well under one). */
  roomsRate: number;
  /** Clients of C connect (--generator go only). */
  connectClients: number;
}

const QUICK: Sizes = {
  s1Clients: 300,
  s1Senders: 10,
  s1Lines: 100,
  s2Clients: 300,
  s2Senders: 30,
  s2Rate: 10,
  s2Seconds: 2,
  s3Clients: 2_000,
  s3Lines: 10,
  s4Clients: 0, // auto: the open-file limit
  s4Overflow: 1_000,
  stormClients: 2_000,
  reconnectClients: 1_500,
  telnetClients: 300,
  telnetSenders: 30,
  telnetRate: 10,
  telnetSeconds: 2,
  roomsClients: 2_000,
  roomsCount: 20,
  roomsLines: 1,
  roomsRate: 0.2,
  connectClients: 1_000,
};

const FULL: Sizes = {
  ...QUICK,
  s1Clients: 1_000,
  s2Clients: 1_000,
  s2Senders: 100,
  s2Seconds: 3,
  s3Clients: 10_000,
  stormClients: 10_000,
  telnetClients: 1_000,
  telnetSenders: 100,
  telnetSeconds: 3,
  roomsClients: 10_000,
  roomsCount: 100,
  roomsRate: 1 / 30, // one line per person every 30 s: a busy chat
};

const TINY: Sizes = {
  ...QUICK,
  s1Clients: 20,
  s1Senders: 4,
  s1Lines: 20,
  s2Clients: 20,
  s2Senders: 4,
  s2Seconds: 1,
  s3Clients: 50,
  s3Lines: 3,
  stormClients: 50,
  reconnectClients: 50,
  telnetClients: 20,
  telnetSenders: 4,
  telnetSeconds: 1,
  roomsClients: 60,
  roomsCount: 3,
  roomsLines: 2,
  connectClients: 20,
};

/** --generator go's default: the counts of the loadgen README (S1, S3, C), S2 as quick. */
const LOADGEN_README: Sizes = { ...QUICK, s1Clients: 1_000, s3Clients: 10_000 };

/** One row of the table. */
export interface Row {
  scenario: string;
  clients: number;
  expected: number;
  deliveries: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
  lost: number;
  garbled: number;
  rssMiB: number;
  perConnKiB: number;
  connectMs: number;
  serverCpu: number;
  /** Server CPU time per line delivered while sending, in ns. */
  cpuPerDeliveryNs: number;
  /** Server CPU time per connection while connecting (accept, welcome, join), in µs. */
  cpuPerConnUs: number;
  /**
   * Shares of the server's CPU time spent in V8's helper threads (compiling, marking) while
   * sending and while connecting.
   */
  v8Sending: number;
  v8Connecting: number;
  generatorCpu: number;
  notes: string;
}

/**
 * Resident memory and CPU time of a process, from /proc. Deno lets a script read /proc only
 * with --allow-all, so the files are read through `cat` (the bench may run programs anyway).
 * CPU time is the sum of each thread's run time in nanoseconds (schedstat): /proc/PID/stat
 * counts in 10 ms ticks, too coarse for a scenario that costs the server 50 ms. Threads that
 * ended are missing from the sum (the runtime keeps its threads). `v8Ms` is the part of it
 * spent in V8's helper threads (compiling hot functions, marking the heap for the GC).
 */
function readProc(pid: number): { rssKiB: number; cpuMs: number; v8Ms: number } {
  try {
    const out = new Deno.Command("sh", {
      args: [
        "-c",
        `cat /proc/${pid}/stat; cat /proc/${pid}/status; ` +
        `for t in /proc/${pid}/task/*; do echo "@$(cat $t/schedstat) $(cat $t/comm)"; done`,
      ],
      stderr: "null",
    }).outputSync();
    const text = new TextDecoder().decode(out.stdout);
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(text)?.[1] ?? NaN);
    const stat = text.slice(0, text.indexOf("\n"));
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    let cpuMs = (Number(f[11]) + Number(f[12])) * 10;
    let ns = 0;
    let v8 = 0;
    for (const m of text.matchAll(/^@(\d+) \d+ \d+ (.*)$/gm)) {
      ns += Number(m[1]);
      if (m[2].startsWith("V8 ")) v8 += Number(m[1]);
    }
    if (ns > 0) cpuMs = ns / 1e6;
    return { rssKiB, cpuMs, v8Ms: v8 / 1e6 };
  } catch {
    return { rssKiB: NaN, cpuMs: NaN, v8Ms: NaN };
  }
}

/** The soft open-file limit the server will inherit. */
function openFileLimit(): number {
  try {
    const out = new Deno.Command("sh", { args: ["-c", "ulimit -n"], stderr: "null" }).outputSync();
    const n = Number(new TextDecoder().decode(out.stdout).trim());
    return Number.isFinite(n) && n > 0 ? n : 1024;
  } catch {
    return 1024;
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The server under test. */
class ServerProc {
  readonly child: Deno.ChildProcess;
  readonly port: number;
  /** The IRC port (with `irc`), or 0. */
  readonly ircPort: number = 0;
  stderr = "";
  readonly #pump: Promise<void>;

  /**
   * `perms`: Deno permissions besides the network and SHAT_* (a store's directory); `irc`: it
   * listens for IRC too, on a port picked here (it only logs the ports it listens on).
   */
  constructor(extra: string[], perms: string[] = [], irc = false) {
    this.port = freePort();
    if (irc) {
      do this.ircPort = freePort(); while (this.ircPort === this.port);
      extra = [...extra, "--irc-port", String(this.ircPort), "--irc-name", "bench"];
    }
    if (clusterSize > 0) extra = [...extra, "--redis", redisUrl, "--redis-prefix", redisPrefix];
    extra = [...extra, ...floorArgs];
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-env=SHAT_*",
        ...perms,
        // As `deno task start` runs it (see deno.json).
        "--v8-flags=--max-semi-space-size=2",
        // For profiling the server, e.g. BENCH_SERVER_FLAGS=--inspect
        ...(Deno.env.get("BENCH_SERVER_FLAGS")?.split(" ").filter(Boolean) ?? []),
        serverScript,
        "--host",
        "127.0.0.1",
        "--port",
        String(this.port),
        "--rate-limit",
        "0",
        "--max-per-ip",
        "0",
        "--connect-rate",
        "0",
        "--max-input-rate",
        "0",
        "--max-rooms",
        "0",
        "--room-rate",
        "0",
        "--max-clients",
        "0",
        "--history",
        "0",
        "--ban-file",
        "",
        "--store",
        "off",
        "--log-level",
        "warn",
        ...extra,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = this.child.stderr;
    this.#pump = (async () => {
      const dec = new TextDecoder();
      for await (const c of stderr) this.stderr += dec.decode(c, { stream: true });
    })();
  }

  async ready(): Promise<void> {
    const end = Date.now() + 15_000;
    for (const port of [this.port, this.ircPort].filter((p) => p > 0)) {
      while (true) {
        try {
          (await Deno.connect({ hostname: "127.0.0.1", port })).close();
          break;
        } catch {
          if (Date.now() >= end) throw new Error(`the server did not start:\n${this.stderr}`);
          await sleep(50);
        }
      }
    }
    await sleep(100);
  }

  get alive(): boolean {
    return Number.isFinite(readProc(this.child.pid).rssKiB);
  }

  async stop(): Promise<number> {
    try {
      this.child.kill("SIGTERM");
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // gone
      }
    }, 10_000);
    const status = await this.child.status;
    clearTimeout(timer);
    await this.#pump;
    return status.code;
  }
}

interface Ready {
  connected: number;
  failed: number;
  connectMs: number;
  overflowAccepted: number;
  overflowRefused: number;
}

interface Done {
  expected: number;
  deliveries: number;
  lost: number;
  garbled: number;
  joins: number;
  start: number;
  lastReceive: number;
  end: number;
  maxLatency: number;
  hist: [number, number][];
  closedEarly: number;
  /** CPU time the generator used from "go" to its report. */
  cpuMs: number;
}

/** One load generator process. */
class Generator {
  readonly child: Deno.ChildProcess;
  readonly #lines: AsyncIterator<string>;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;

  constructor(job: LoadJob) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", LOAD, JSON.stringify(job)],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#stdin = this.child.stdin.getWriter();
    this.#lines = this.child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TransformStream<string, string>({
        transform(chunk, ctl) {
          const self = this as unknown as { buf?: string };
          self.buf = (self.buf ?? "") + chunk;
          let i;
          while ((i = self.buf.indexOf("\n")) >= 0) {
            ctl.enqueue(self.buf.slice(0, i));
            self.buf = self.buf.slice(i + 1);
          }
        },
      }),
    )[Symbol.asyncIterator]();
  }

  async next<T>(type: string): Promise<T> {
    while (true) {
      const r = await this.#lines.next();
      if (r.done) throw new Error(`load generator ended before "${type}"`);
      const msg = JSON.parse(r.value);
      if (msg.type === type) return msg as T;
    }
  }

  async go(): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode("go\n"));
  }

  async finish(): Promise<void> {
    try {
      await this.#stdin.close();
    } catch {
      // closed
    }
    // drain the rest of stdout so the process can exit
    while (!(await this.#lines.next()).done) { /* discard */ }
    await this.child.status;
  }
}

interface Scenario {
  name: string;
  clients: number;
  senders: number;
  lines: number;
  rate: number;
  pad: number;
  generators: number;
  overflow?: number;
  /** The clients are telnet clients in character mode. */
  telnet?: boolean;
  /** The clients are spread over this many rooms, and every one of them sends. */
  rooms?: number;
  /** A reconnect storm (see LoadJob.storm): p50/p99 are the times to a welcome. */
  storm?: boolean;
  /**
   * --irc-share applies: "receivers": that fraction of the clients are IRC clients, all of them
   * among those that do not send; "all": the same fraction of the senders are IRC clients too.
   * Unset: the scenario ignores --irc-share (its notes say so).
   */
  irc?: "receivers" | "all";
  serverArgs?: string[];
  /**
   * The server keeps a SQLite store (the default setup) in a temporary directory; the notes
   * say how many lines it wrote, counted in the file after the server stopped.
   */
  store?: boolean;
  notes?: (r: Ready[], d: Done[], s: ServerProc) => string;
}

/** A temporary store for a scenario: the server's flags and permissions, and the count after. */
class BenchStore {
  readonly dir = Deno.makeTempDirSync({ prefix: "shat-bench-" });

  get args(): string[] {
    return ["--store", `${this.dir}/shat.db`, "--data-dir", this.dir];
  }

  /** The store's directory, and src/ (the store's worker and its imports are loaded by reading them). */
  get perms(): string[] {
    return [`--allow-read=${this.dir},${SRC}`, `--allow-write=${this.dir}`];
  }

  /** Lines in the file (once the server has stopped). */
  lines(): number {
    const db = new DatabaseSync(`${this.dir}/shat.db`, { readOnly: true });
    try {
      return Number((db.prepare("SELECT count(*) AS n FROM lines").get() as { n: number }).n);
    } finally {
      db.close();
    }
  }

  remove(): void {
    Deno.removeSync(this.dir, { recursive: true });
  }
}

function percentile(hist: Map<number, number>, total: number, q: number): number {
  if (total === 0) return NaN;
  const target = Math.ceil(total * q);
  let seen = 0;
  for (const b of [...hist.keys()].sort((a, b) => a - b)) {
    seen += hist.get(b)!;
    if (seen >= target) return (b + 1) * 0.1;
  }
  return NaN;
}

async function runScenario(sc: Scenario, log: (s: string) => void): Promise<Row> {
  log(`${sc.name}: starting the server`);
  const redis = clusterSize > 0 ? new RedisProc() : null;
  if (redis) {
    await redis.ready();
    redisUrl = `redis://127.0.0.1:${redis.port}`;
    redisPrefix = `bench${Date.now()}`;
  }
  const servers: ServerProc[] = [];
  const gens: Generator[] = [];
  const store = sc.store ? new BenchStore() : null;
  const irc = ircSplit(sc);
  try {
    // One after the other: each joins the cluster before the next starts.
    for (let i = 0; i < Math.max(1, clusterSize); i++) {
      const s = new ServerProc(
        [...sc.serverArgs ?? [], ...store?.args ?? []],
        store?.perms,
        irc.clients > 0,
      );
      servers.push(s);
      await s.ready();
    }
    const server = servers[0];
    const pids = servers.map((s) => s.child.pid);
    const base = readProcs(pids);
    const per = Math.ceil(sc.clients / sc.generators);
    let senderBase = 0;
    let othersBase = 0;
    // The IRC clients, spread over the generators in proportion (the parts add up exactly).
    const part = (n: number, of: number, from: number, to: number) =>
      of > 0 ? Math.round((n * to) / of) - Math.round((n * from) / of) : 0;
    for (let g = 0; g < sc.generators; g++) {
      const clients = Math.min(per, sc.clients - g * per);
      const senders = Math.min(
        Math.ceil(sc.senders / sc.generators),
        sc.senders - senderBase,
        clients,
      );
      const others = clients - senders;
      const ircJob = irc.clients > 0
        ? {
          ircPorts: servers.map((s) => s.ircPort),
          clientBase: g * per,
          ircSenders: part(irc.senders, sc.senders, senderBase, senderBase + senders),
          ircOthers: part(irc.others, sc.clients - sc.senders, othersBase, othersBase + others),
        }
        : {};
      othersBase += others;
      gens.push(
        new Generator({
          port: server.port,
          ports: servers.map((s) => s.port),
          clients,
          senders,
          senderBase,
          totalSenders: sc.senders,
          lines: sc.lines,
          rate: sc.rate,
          pad: sc.pad,
          overflow: Math.ceil((sc.overflow ?? 0) / sc.generators),
          timeoutMs: sc.storm ? 10_000 : 30_000,
          concurrency: 64,
          telnet: sc.telnet,
          rooms: sc.rooms,
          storm: sc.storm,
          ...ircJob,
        }),
      );
      senderBase += senders;
    }
    log(`${sc.name}: connecting ${sc.clients} clients`);
    const ready = await Promise.all(gens.map((g) => g.next<Ready>("ready")));
    await sleep(300); // let the server settle before reading its memory
    const connected = ready.reduce((s, r) => s + r.connected, 0);
    const held = readProcs(pids);
    const redisHeld = redis ? readProc(redis.child.pid) : null;
    log(`${sc.name}: ${connected} connected; sending`);
    await Promise.all(gens.map((g) => g.go()));
    const done = await Promise.all(gens.map((g) => g.next<Done>("done")));
    const after = readProcs(pids);
    const redisAfter = redis ? readProc(redis.child.pid) : null;
    const genCpu = done.reduce((s, d) => s + d.cpuMs, 0);
    const alive = servers.every((s) => s.alive);
    await Promise.all(gens.map((g) => g.finish()));
    let written = "";
    if (store) {
      // Stopped first: what the server wrote is counted in the file it leaves.
      await Promise.all(servers.map((s) => s.stop()));
      const n = store.lines();
      const sendingMs = Math.max(...done.map((d) => d.end)) - Math.min(...done.map((d) => d.start));
      written = `store on: ${fmtCount(n)} lines written (${
        fmtCount(n / Math.max(1e-3, sendingMs / 1_000))
      }/s)`;
    }

    const hist = new Map<number, number>();
    for (const d of done) for (const [b, n] of d.hist) hist.set(b, (hist.get(b) ?? 0) + n);
    const deliveries = done.reduce((s, d) => s + d.deliveries, 0);
    const start = Math.min(...done.map((d) => d.start));
    const last = Math.max(...done.map((d) => d.lastReceive));
    const seconds = Math.max(1e-3, (last - start) / 1_000);
    const wall = Math.max(...done.map((d) => d.end)) - start;
    // A storm's work is the connecting: its "delivery" is a welcome, measured from the start.
    const from = sc.storm ? base : held;
    const v8Sending = (after.v8Ms - from.v8Ms) / Math.max(1e-9, after.cpuMs - from.cpuMs);
    const v8Connecting = (held.v8Ms - base.v8Ms) / Math.max(1e-9, held.cpuMs - base.cpuMs);
    const notes = [
      alive ? "" : "SERVER DIED",
      Number.isFinite(v8Sending) && v8Sending > 0
        ? `V8 threads ${Math.round(v8Sending * 100)}% sending, ${
          Math.round(v8Connecting * 100)
        }% connecting`
        : "",
      redisAfter && redisHeld
        ? `${servers.length} processes + Redis; Redis CPU ${
          Math.round(((redisAfter.cpuMs - redisHeld.cpuMs) / Math.max(1, wall)) * 100)
        }%, ${
          Math.round(((redisAfter.cpuMs - redisHeld.cpuMs) * 1e6) / Math.max(1, deliveries))
        } ns/delivery`
        : "",
      ...(sc.notes ? [sc.notes(ready, done, server)] : []),
      irc.note,
      written,
    ].filter(Boolean).join("; ");
    return {
      scenario: sc.name,
      clients: connected,
      expected: done.reduce((s, d) => s + d.expected, 0),
      deliveries,
      perSecond: deliveries / seconds,
      p50: percentile(hist, deliveries, 0.5),
      p99: percentile(hist, deliveries, 0.99),
      max: Math.max(...done.map((d) => d.maxLatency)),
      lost: done.reduce((s, d) => s + d.lost, 0),
      garbled: done.reduce((s, d) => s + d.garbled, 0),
      rssMiB: held.rssKiB / 1024,
      perConnKiB: connected > 0 ? (held.rssKiB - base.rssKiB) / connected : NaN,
      connectMs: Math.max(...ready.map((r) => r.connectMs)),
      serverCpu: (after.cpuMs - from.cpuMs) / Math.max(1, wall),
      cpuPerDeliveryNs: deliveries > 0 ? ((after.cpuMs - from.cpuMs) * 1e6) / deliveries : NaN,
      cpuPerConnUs: connected > 0 ? ((held.cpuMs - base.cpuMs) * 1e3) / connected : NaN,
      v8Sending,
      v8Connecting,
      generatorCpu: genCpu / Math.max(1, wall),
      notes,
    };
  } finally {
    for (const g of gens) {
      try {
        g.child.kill("SIGKILL");
      } catch {
        // exited
      }
    }
    await Promise.all(servers.map((s) => s.stop()));
    await redis?.stop();
    store?.remove();
  }
}

/**
 * One scenario driven by the Go loadgen (--generator go): a fresh server, then one loadgen
 * process whose report becomes the row. loadgen reads the server's memory and CPU itself
 * (-pid), from the same /proc files readProc reads.
 */
async function runGoScenario(
  sc: GoScenario,
  bin: string,
  log: (s: string) => void,
  warmUp = 0,
): Promise<Row> {
  log(`${sc.name}: starting the server`);
  const store = sc.store ? new BenchStore() : null;
  const server = new ServerProc(store?.args ?? [], store?.perms);
  try {
    await server.ready();
    const args = ["-addr", `127.0.0.1:${server.port}`, "-pid", String(server.child.pid)];
    const dec = new TextDecoder();
    /** One run of loadgen against the server (it ends by itself; the guard is for a hang). */
    const loadgen = async (): Promise<string> => {
      log(`${sc.name}: loadgen ${[...args, "-label", sc.key, ...sc.args].join(" ")}`);
      const child = new Deno.Command(bin, {
        args: [...args, "-label", sc.key, ...sc.args],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const guard = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // exited
        }
      }, 300_000);
      const out = await child.output();
      clearTimeout(guard);
      if (!out.success) {
        throw new Error(`loadgen ended with code ${out.code}: ${dec.decode(out.stderr).trim()}`);
      }
      return dec.decode(out.stdout);
    };
    // --warm-up: the same scenario first, unmeasured, on the same server (new clients each time).
    for (let i = 0; i < warmUp; i++) await loadgen();
    // The warm-up's clients are gone, and the runtime's idle helper threads have ended (their
    // pool lets one go after 10 s idle; one ending during the measured run would take its CPU
    // time out of loadgen's sum), before the measured ones come.
    if (warmUp > 0) await sleep(11_000);
    const text = await loadgen();
    const alive = server.alive;
    const report = parseReport(text);
    let written = "";
    if (store) {
      // Stopped first: what the server wrote is counted in the file it leaves.
      await server.stop();
      const n = store.lines();
      written = `store on: ${fmtCount(n)} lines written (${
        fmtCount(n / Math.max(1e-3, report.secs))
      }/s)`;
    }
    return rowFromReport(sc, report, [
      alive ? "" : "SERVER DIED",
      warmUp > 0 ? `after ${warmUp} warm-up run${warmUp > 1 ? "s" : ""}` : "",
      sc.offered !== undefined ? `offered ≤ ${fmtCount(sc.offered)}/s` : "",
      written,
    ]);
  } finally {
    await server.stop();
    store?.remove();
  }
}

/**
 * How many of `sc`'s clients are IRC clients under --irc-share: of its senders, of the others,
 * in all; and what the row's notes say about it.
 */
function ircSplit(
  sc: Scenario,
): { senders: number; others: number; clients: number; note: string } {
  const none = { senders: 0, others: 0, clients: 0 };
  if (ircShare <= 0) return { ...none, note: "" };
  if (!sc.irc) return { ...none, note: "no IRC clients (--irc-share is for S1 and S2)" };
  const senders = sc.irc === "all" ? Math.round(ircShare * sc.senders) : 0;
  const others = Math.max(
    0,
    Math.min(Math.round(ircShare * sc.clients) - senders, sc.clients - sc.senders),
  );
  const pct = Math.round(ircShare * 100);
  return {
    senders,
    others,
    clients: senders + others,
    note:
      `irc ${pct}%: ${senders + others} of ${sc.clients} clients, ${senders} of ${sc.senders} ` +
      "senders",
  };
}

/** Memory and CPU of several processes, added up. */
function readProcs(pids: number[]): { rssKiB: number; cpuMs: number; v8Ms: number } {
  let rssKiB = 0;
  let cpuMs = 0;
  let v8Ms = 0;
  for (const pid of pids) {
    const r = readProc(pid);
    rssKiB += r.rssKiB;
    cpuMs += r.cpuMs;
    v8Ms += r.v8Ms;
  }
  return { rssKiB, cpuMs, v8Ms };
}

function scenarios(
  z: Sizes,
  gens: number,
  only: Set<string>,
  full: boolean,
  storeToo: boolean,
): Scenario[] {
  const list: Scenario[] = [];
  const want = (n: string) => only.size === 0 ? n !== "s4" || full : only.has(n);
  // S1 and S2 run twice: with --store off as always, and with the store a default start keeps.
  const twice = (name: string, sc: Scenario) => {
    if (want(name)) list.push(sc);
    if (storeToo && (want(name) || want(`${name}-store`))) {
      list.push({ ...sc, name: sc.name.replace(/^S(\d)/, "S$1+store"), store: true });
    }
  };
  twice("s1", {
    name: `S1 burst: ${z.s1Senders} send ${z.s1Lines} lines`,
    clients: z.s1Clients,
    senders: z.s1Senders,
    lines: z.s1Lines,
    rate: 0,
    pad: 40,
    generators: gens,
    irc: "receivers",
  });
  twice("s2", {
    name: `S2 steady: ${z.s2Senders} × ${z.s2Rate}/s for ${z.s2Seconds}s`,
    clients: z.s2Clients,
    senders: z.s2Senders,
    lines: z.s2Rate * z.s2Seconds,
    rate: z.s2Rate,
    pad: 40,
    generators: gens,
    irc: "all",
    notes: () => {
      const offered = z.s2Senders * z.s2Rate * (z.s2Clients - 1);
      return `offered ${fmtCount(offered)}/s`;
    },
  });
  if (want("telnet")) {
    list.push({
      name: `T char mode: ${z.telnetSenders} × ${z.telnetRate}/s for ${z.telnetSeconds}s`,
      clients: z.telnetClients,
      senders: z.telnetSenders,
      lines: z.telnetRate * z.telnetSeconds,
      rate: z.telnetRate,
      pad: 40,
      // Reading through erases, redraws and colours costs the generators more than plain lines.
      generators: Math.max(gens, 2),
      telnet: true,
      notes: () => {
        const offered = z.telnetSenders * z.telnetRate * z.telnetClients;
        return `offered ${fmtCount(offered)}/s; telnet clients, server-side line editing`;
      },
    });
  }
  if (want("rooms")) {
    const size = Math.round(z.roomsClients / z.roomsCount);
    list.push({
      name: `R rooms: ${z.roomsCount} rooms of ${size}, everyone 1 line per ${
        Math.round(1 / z.roomsRate)
      }s`,
      clients: z.roomsClients,
      senders: z.roomsClients,
      lines: z.roomsLines,
      rate: z.roomsRate,
      pad: 40,
      rooms: z.roomsCount,
      generators: Math.max(gens, Math.ceil(z.roomsClients / 9_000)),
      notes: () => {
        const offered = z.roomsClients * z.roomsRate * (size - 1);
        return `offered ${fmtCount(offered)}/s; no line may reach another room`;
      },
    });
  }
  if (want("s3")) {
    list.push({
      name: `S3 many: ${z.s3Lines} lines to all`,
      clients: z.s3Clients,
      senders: 1,
      lines: z.s3Lines,
      rate: 0,
      pad: 40,
      generators: Math.max(gens, Math.ceil(z.s3Clients / 9_000)),
    });
  }
  if (want("s4")) {
    const limit = openFileLimit();
    const clients = z.s4Clients > 0 ? z.s4Clients : limit - 500;
    list.push({
      name: `S4 ceiling: 1 line to all, +${z.s4Overflow} past the limit`,
      clients,
      senders: 1,
      lines: 1,
      rate: 0,
      pad: 40,
      overflow: z.s4Overflow,
      generators: Math.max(2, Math.ceil((clients + z.s4Overflow) / 9_000)),
      notes: (ready, _done, server) => {
        const refused = ready.reduce((s, r) => s + r.overflowRefused, 0);
        const fdWarnings = (server.stderr.match(/file descriptors/g) ?? []).length;
        return `fd limit ${limit}; ${refused} of ${z.s4Overflow} extra refused; ` +
          `${fdWarnings} fd log lines`;
      },
    });
  }
  if (want("reconnect")) {
    list.push({
      name: `reconnect storm: ${z.reconnectClients} at once`,
      clients: z.reconnectClients,
      senders: 0,
      lines: 0,
      rate: 0,
      pad: 40,
      generators: gens,
      storm: true,
      serverArgs: ["--announce-max", "200"],
      notes: (_r, done) => {
        const welcomed = done.reduce((s, d) => s + d.deliveries, 0);
        return `${welcomed} of ${z.reconnectClients} welcomed; p50/p99 are times to the welcome`;
      },
    });
  }
  if (want("storm")) {
    list.push({
      name: "join storm (notices on)",
      clients: z.stormClients,
      senders: 1,
      lines: 1,
      rate: 0,
      pad: 40,
      generators: Math.max(gens, Math.ceil(z.stormClients / 9_000)),
      serverArgs: ["--announce-max", "200"],
      notes: (_r, done) => {
        const joins = done.reduce((s, d) => s + d.joins, 0);
        const naive = (z.stormClients * (z.stormClients - 1)) / 2;
        return `${fmtCount(joins)} join notices sent (${fmtCount(naive)} without --announce-max)`;
      },
    });
  }
  return list;
}

function fmtCount(n: number): string {
  if (!Number.isFinite(n)) return "-";
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(Math.round(n));
}

function fmtMs(n: number): string {
  return Number.isFinite(n) ? (n < 10 ? n.toFixed(1) : Math.round(n).toString()) : "-";
}

/** The table as Markdown. */
export function table(rows: Row[]): string {
  const head = [
    "scenario",
    "clients",
    "deliveries",
    "deliveries/s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "lost",
    "garbled",
    "server RSS",
    "per conn",
    "connect",
    "server CPU",
    "CPU/delivery",
    "CPU/conn",
    "gen CPU",
    "notes",
  ];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  for (const r of rows) {
    lines.push(
      `| ${
        [
          r.scenario,
          String(r.clients),
          fmtCount(r.deliveries),
          fmtCount(r.perSecond),
          fmtMs(r.p50),
          fmtMs(r.p99),
          fmtMs(r.max),
          String(r.lost),
          String(r.garbled),
          `${r.rssMiB.toFixed(0)} MiB`,
          `${r.perConnKiB.toFixed(1)} KiB`,
          `${(r.connectMs / 1000).toFixed(2)} s`,
          `${(r.serverCpu * 100).toFixed(0)}%`,
          `${Math.round(r.cpuPerDeliveryNs)} ns`,
          `${Math.round(r.cpuPerConnUs)} µs`,
          `${(r.generatorCpu * 100).toFixed(0)}%`,
          r.notes,
        ].join(" | ")
      } |`,
    );
  }
  return lines.join("\n");
}

const HELP = `deno task bench [options]

  --full              the target sizes (S1/S2 1000 clients, S3 and storm 10 000, S4 included)
  --tiny              very small sizes (a smoke test)
  --only LIST         scenarios to run: s1,s2,telnet,rooms,s3,s4,storm,reconnect (default:
                      all but s4; --full adds s4); s1 and s2 also run with the store on
                      (S1+store, S2+store: a SQLite file in a temporary directory, as a default
                      start keeps one); s1-store or s2-store alone runs only that row
  --generator NAME    deno (default): bench/load.ts processes; go: the independent Go load
                      generator of ../shared/loadgen (its README), built with \`go build\` into
                      ~/.cache/shat-loadgen/ (or $XDG_CACHE_HOME/...; needs go: apt-get install -y
                      golang-go). It runs s1, s2, s3 and c (C connect: 1 line to
                      --connect-clients) by default, s1-store and s2-store when --only names
                      them; S4, T, R and the storms have no Go equivalent. Its sizes are the
                      README's (S1 1000 clients, S3 10 000, C 1000; S2 as quick) unless --full,
                      --tiny or a size flag says otherwise. Not with --cluster or --generators
  --warm-up N         with --generator go: run each scenario N times unmeasured on the same
                      server first (new clients each time), then once measured: the figures
                      of a server that has run a while rather than of a fresh one (default 0)
  --loadgen-dir DIR   the loadgen source for --generator go (default: ../shared/loadgen from
                      the repository root; also ${LOADGEN_DIR_ENV}=DIR)
  --generators N      load generator processes per scenario (default 1; S3/S4/storm use more
                      when one process would run out of file descriptors)
  --json              print the rows as JSON instead of a table
  --cluster N         N Shat processes sharing the room through a redis-server started for
                      the run (loopback, no persistence); clients are spread over them, CPU
                      and memory are their sums, Redis's CPU is in the notes (needs
                      redis-server)
  --irc-share P       a fraction from 0 (default) to 1: the server also listens for IRC, and
                      that share of the clients of S1 and S2 (and their store rows) are IRC
                      clients (NICK, USER, JOIN #lobby; they send and read PRIVMSG #lobby
                      lines, checked and timed as the others are). In S1 they are among the
                      receivers only; in S2 the same share of the senders are IRC clients too.
                      Other scenarios ignore it (their notes say so). Shat and --generator
                      deno only
  --server LIST       shat (default), or floor: bench/floor.ts, the least a Deno server can do
                      for s1, s2 and s3 (no nicks, commands or limits), to compare against;
                      floor-batched: the same, starting the writers at most every 10 ms
                      (floor.ts --batch-ms 10); several, comma-separated, run each scenario
                      on each in turn (rows marked [server]), e.g. shat,floor-batched
  --s1-clients N --s1-senders N --s1-lines N
  --s2-clients N --s2-senders N --s2-rate N --s2-seconds N
  --s3-clients N --s3-lines N
  --s4-clients N (0 = the open-file limit minus 500) --s4-overflow N (default 1000)
  --storm-clients N --reconnect-clients N (all connecting at once; default 1500)
  --telnet-clients N --telnet-senders N --telnet-rate N --telnet-seconds N
  --rooms-clients N --rooms-count N --rooms-lines N --rooms-rate N (lines/s per person)
  --connect-clients N (C connect, --generator go only; default 1000)`;

async function main(): Promise<number> {
  const sizeFlags = Object.keys(QUICK).map((k) =>
    k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())
  );
  const options: Record<string, { type: "string" | "boolean" }> = {
    full: { type: "boolean" },
    tiny: { type: "boolean" },
    json: { type: "boolean" },
    help: { type: "boolean" },
    only: { type: "string" },
    generators: { type: "string" },
    generator: { type: "string" },
    "loadgen-dir": { type: "string" },
    "warm-up": { type: "string" },
    server: { type: "string" },
    cluster: { type: "string" },
    "irc-share": { type: "string" },
  };
  for (const f of sizeFlags) options[f] = { type: "string" };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: Deno.args, options, strict: true }).values;
  } catch (e) {
    console.error(`bench: ${(e as Error).message.split("\n")[0]}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const generator = String(values.generator ?? "deno");
  if (generator !== "deno" && generator !== "go") {
    console.error(`bench: --generator is deno or go, not ${generator}`);
    return 2;
  }
  const go = generator === "go";
  const sizes: Sizes = {
    ...(values.full ? FULL : values.tiny ? TINY : go ? LOADGEN_README : QUICK),
  };
  for (const [i, key] of Object.keys(QUICK).entries()) {
    const v = values[sizeFlags[i]];
    if (typeof v === "string") {
      const n = Number(v);
      const fraction = key === "roomsRate"; // lines per second: below one at a chat pace
      if (!(n >= 0) || !Number.isFinite(n) || (!fraction && !Number.isInteger(n))) {
        console.error(`bench: --${sizeFlags[i]} needs a ${fraction ? "" : "whole "}number`);
        return 2;
      }
      (sizes as unknown as Record<string, number>)[key] = n;
    }
  }
  const kinds = String(values.server ?? "shat").split(",").map((s) => s.trim()).filter(Boolean);
  for (const k of kinds) {
    if (!(SERVERS as readonly string[]).includes(k)) {
      console.error(`bench: --server takes shat, floor or floor-batched (or a list), not ${k}`);
      return 2;
    }
  }
  const servers = kinds.length > 0 ? kinds as ServerKind[] : ["shat" as const];
  clusterSize = Number(values.cluster ?? 0);
  if (!Number.isInteger(clusterSize) || clusterSize < 0 || clusterSize > 8) {
    console.error("bench: --cluster needs a whole number from 0 to 8");
    return 2;
  }
  if (clusterSize > 0 && servers.some((k) => k !== "shat")) {
    console.error("bench: --cluster runs Shat, not the floor");
    return 2;
  }
  if (go && (clusterSize > 0 || values.generators !== undefined)) {
    console.error(
      "bench: --generator go runs one loadgen against one server: no --cluster or --generators",
    );
    return 2;
  }
  const gens = Number(values.generators ?? 1);
  const only = new Set(
    String(values.only ?? "").split(",").map((s) => s.trim().toLowerCase()).filter(Boolean),
  );
  const warmUp = Number(values["warm-up"] ?? 0);
  if (!Number.isInteger(warmUp) || warmUp < 0 || String(values["warm-up"]).trim() === "") {
    console.error(`bench: --warm-up needs a whole number of runs, not ${values["warm-up"]}`);
    return 2;
  }
  if (warmUp > 0 && !go) {
    console.error("bench: --warm-up is for --generator go (each of its scenarios is one run)");
    return 2;
  }
  ircShare = Number(values["irc-share"] ?? 0);
  if (!(ircShare >= 0 && ircShare <= 1) || String(values["irc-share"]).trim() === "") {
    console.error(`bench: --irc-share needs a fraction from 0 to 1, not ${values["irc-share"]}`);
    return 2;
  }
  if (ircShare > 0) {
    if (go) {
      console.error("bench: --irc-share needs --generator deno (the Go loadgen speaks no IRC)");
      return 2;
    }
    if (servers.some((k) => k !== "shat")) {
      console.error("bench: --irc-share runs Shat only (the floor has no IRC port)");
      return 2;
    }
    const ircRows = ["s1", "s2", "s1-store", "s2-store"];
    if (only.size > 0 && !ircRows.some((n) => only.has(n))) {
      console.error(
        `bench: --irc-share is for s1 and s2 (or s1-store, s2-store), not --only ${
          [...only].join(",")
        }`,
      );
      return 2;
    }
  }
  const log = values.json ? () => {} : (s: string) => console.error(`bench: ${s}`);
  const rows: Row[] = [];
  const cpus = navigator.hardwareConcurrency;
  let heading = `Shat bench on ${cpus} cores, Deno ${Deno.version.deno}`;
  let footer = "";
  const run = async (kind: ServerKind, scenario: () => Promise<Row>) => {
    useServer(kind);
    const row = await scenario();
    if (servers.length > 1) row.scenario += ` [${kind}]`;
    rows.push(row);
    log(`${row.scenario}: ${fmtCount(row.perSecond)} deliveries/s, p99 ${fmtMs(row.p99)} ms`);
  };
  if (go) {
    const unknown = goUnknown(only);
    if (unknown.length > 0) {
      console.error(
        `bench: --generator go knows s1, s2, s3, c, s1-store and s2-store, not ${unknown}`,
      );
      return 2;
    }
    const list = goScenarios(sizes, only);
    const skipped = goSkipped(only);
    if (skipped.length > 0) {
      footer = `No Go equivalent (use --generator deno): ${skipped.join("; ")}`;
    }
    if (list.length === 0) {
      console.error(`bench: nothing to run with --generator go. ${footer}`);
      return 2;
    }
    const dir = resolve(
      String(values["loadgen-dir"] ?? Deno.env.get(LOADGEN_DIR_ENV) ?? LOADGEN_DEFAULT_DIR),
    );
    let built: { bin: string; goVersion: string };
    try {
      built = await buildLoadgen(dir);
    } catch (e) {
      if (!(e instanceof LoadgenMissing)) throw e;
      console.error(e.message);
      return 1;
    }
    heading += `, generator: loadgen (${built.goVersion}) from ${dir}`;
    if (footer) log(footer);
    for (const sc of list) {
      for (const kind of servers) {
        if (sc.store && kind !== "shat") continue;
        await run(kind, () => runGoScenario(sc, built.bin, log, warmUp));
      }
    }
  } else {
    const list = scenarios(sizes, gens, only, Boolean(values.full), servers.includes("shat"));
    for (const sc of list) {
      for (const kind of servers) {
        if (sc.store && kind !== "shat") continue;
        await run(kind, () => runScenario(sc, log));
      }
    }
  }
  if (values.json) {
    console.log(JSON.stringify(rows));
  } else {
    console.log(`\n${heading}\n`);
    console.log(table(rows));
    if (footer) console.log(`\n${footer}`);
  }
  const bad = rows.some((r) => r.lost > 0 || r.garbled > 0 || r.notes.includes("DIED"));
  return bad ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
