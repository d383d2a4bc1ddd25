/**
 * `deno task bench --generator go`: the pieces that drive the independent Go load generator of
 * ../shared/loadgen (see its README) instead of bench/load.ts. This file finds and builds it,
 * maps the bench's scenarios to its flags and turns its one-line report into a table row;
 * bench/run.ts starts the servers and runs it.
 *
 * A generator in another language does not share the server's habits (read sizes, timers), so
 * it can neither flatter nor hurt one design the way a Deno generator might.
 */
import { fileURLToPath } from "node:url";
import type { Row, Sizes } from "./run.ts";

/** Where the loadgen source is looked for when neither --loadgen-dir nor the variable is set. */
export const LOADGEN_DEFAULT_DIR = fileURLToPath(new URL("../../shared/loadgen", import.meta.url));
/** The variable that overrides the loadgen source directory. */
export const LOADGEN_DIR_ENV = "BENCH_LOADGEN_DIR";

/** One scenario as loadgen runs it. */
export interface GoScenario {
  /** The bench's name for it (`--only`), e.g. `s1`; also loadgen's -label. */
  key: string;
  /** The row's title, as the built-in generator's row of the same scenario reads. */
  name: string;
  /** loadgen's flags besides -addr, -pid and -label. */
  args: string[];
  /** The server keeps a SQLite store in a temporary directory (S1+store, S2+store). */
  store?: boolean;
  /** What the row's notes say besides the figures. */
  notes?: string;
  /** Deliveries per second the senders offer at most (S2), for the notes. */
  offered?: number;
}

/** The bench's scenarios loadgen cannot run, and why (said in the output). */
export const NO_GO_EQUIVALENT: Record<string, string> = {
  s4: "S4 ceiling (loadgen cannot open connections past the server's limit and count refusals)",
  telnet: "T char mode (loadgen speaks line mode only)",
  rooms: "R rooms (loadgen keeps everyone in one room)",
  storm: "join storm (loadgen does not count join notices; C connect is the nearest)",
  reconnect: "reconnect storm (loadgen dials 64 at a time and does not time welcomes; " +
    "C connect is the nearest)",
};

/**
 * The loadgen scenarios `--only` asks for (default: s1, s2, s3, c; --full adds nothing, S4 has
 * no equivalent). S1, S3 and C are the loadgen README's command lines; S2 paces each sender
 * with loadgen's pause between lines, as near to a fixed rate as it gets.
 */
export function goScenarios(z: Sizes, only: Set<string>): GoScenario[] {
  const want = (n: string) => only.size === 0 ? !n.endsWith("-store") : only.has(n);
  const list: GoScenario[] = [];
  const s1: GoScenario = {
    key: "s1",
    name: `S1 burst: ${z.s1Senders} send ${z.s1Lines} lines`,
    args: flags({ clients: z.s1Clients, senders: z.s1Senders, msgs: z.s1Lines, idle: "10s" }),
  };
  const pauseMs = z.s2Rate > 0 ? 1_000 / z.s2Rate : 0;
  const s2: GoScenario = {
    key: "s2",
    name: `S2 steady: ${z.s2Senders} × ${z.s2Rate}/s for ${z.s2Seconds}s`,
    args: flags({
      clients: z.s2Clients,
      senders: z.s2Senders,
      msgs: z.s2Rate * z.s2Seconds,
      interval: `${Number(pauseMs.toFixed(3))}ms`,
      idle: "10s",
    }),
    offered: z.s2Senders * z.s2Rate * (z.s2Clients - 1),
    notes: `a ${Math.round(pauseMs)} ms pause after each line`,
  };
  for (const sc of [s1, s2]) {
    if (want(sc.key)) list.push(sc);
    const key = `${sc.key}-store`;
    const name = sc.name.replace(/^S(\d)/, "S$1+store");
    if (want(key)) list.push({ ...sc, key, name, store: true });
  }
  if (want("s3")) {
    list.push({
      key: "s3",
      name: `S3 many: ${z.s3Lines} lines to all`,
      args: flags({
        clients: z.s3Clients,
        senders: 1,
        msgs: z.s3Lines,
        settle: "3s",
        idle: "20s",
      }),
    });
  }
  if (want("c")) {
    list.push({
      key: "c",
      name: `C connect: ${z.connectClients} clients, 1 line`,
      args: flags({ clients: z.connectClients, senders: 1, msgs: 1, idle: "5s" }),
      notes: "connect = until every dial returned",
    });
  }
  return list;
}

function flags(f: Record<string, string | number>): string[] {
  return Object.entries(f).flatMap(([k, v]) => [`-${k}`, String(v)]);
}

/** Asked for with --only but not run by loadgen: the reasons, one per name. */
export function goSkipped(only: Set<string>): string[] {
  const names = only.size === 0 ? Object.keys(NO_GO_EQUIVALENT) : [...only];
  return names.filter((n) => n in NO_GO_EQUIVALENT).map((n) => NO_GO_EQUIVALENT[n]);
}

/** Names in --only that neither loadgen nor the list of missing equivalents knows. */
export function goUnknown(only: Set<string>): string[] {
  const known = new Set(["s1", "s2", "s3", "c", "s1-store", "s2-store"]);
  return [...only].filter((n) => !known.has(n) && !(n in NO_GO_EQUIVALENT));
}

/** A reason the Go generator cannot run: one line for the person, and the exit code. */
export class LoadgenMissing extends Error {}

/**
 * Builds loadgen from `dir` into a cache outside the repository and returns the binary's path.
 * `go build` runs every time (it only relinks when the source is unchanged), into a temporary
 * name renamed at the end, so a run never starts a half-written binary.
 */
export async function buildLoadgen(dir: string): Promise<{ bin: string; goVersion: string }> {
  let goVersion: string;
  try {
    const out = await new Deno.Command("go", { args: ["version"], stdin: "null" }).output();
    goVersion = new TextDecoder().decode(out.stdout).trim().split(" ")[2] ?? "go";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new LoadgenMissing(
        "bench: --generator go needs the go command, which is not on PATH; " +
          "install it with: apt-get install -y golang-go",
      );
    }
    throw e;
  }
  for (const f of ["go.mod", "main.go"]) {
    try {
      Deno.statSync(`${dir}/${f}`);
    } catch {
      throw new LoadgenMissing(
        `bench: --generator go needs the loadgen source, but ${dir}/${f} is missing; ` +
          `check out the shared repo next to this one (../shared/loadgen) or point ` +
          `--loadgen-dir or ${LOADGEN_DIR_ENV} at it`,
      );
    }
  }
  const cache = cacheDir();
  Deno.mkdirSync(cache, { recursive: true });
  const bin = `${cache}/loadgen`;
  const tmp = `${bin}.${Deno.pid}.tmp`;
  const out = await new Deno.Command("go", {
    args: ["build", "-o", tmp, "."],
    cwd: dir,
    stdin: "null",
  }).output();
  if (out.code !== 0) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // never written
    }
    const why = new TextDecoder().decode(out.stderr).trim().split("\n").slice(0, 3).join(" / ");
    throw new LoadgenMissing(`bench: go build in ${dir} failed: ${why}`);
  }
  Deno.renameSync(tmp, bin);
  return { bin, goVersion };
}

/** $XDG_CACHE_HOME/shat-loadgen, else ~/.cache/shat-loadgen, else a temporary directory. */
function cacheDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const home = Deno.env.get("HOME");
  if (xdg) return `${xdg}/shat-loadgen`;
  if (home) return `${home}/.cache/shat-loadgen`;
  return Deno.makeTempDirSync({ prefix: "shat-loadgen-" });
}

/** loadgen's report: its `key=value` pairs, both lines, and the connect errors it printed. */
export function parseReport(text: string): Record<string, number> {
  const r: Record<string, number> = {};
  for (const m of text.matchAll(/(\w+)=(-?[\d.]+|NaN|[+-]?Inf)/g)) r[m[1]] = Number(m[2]);
  const errors = /^connect errors: (\d+)/m.exec(text);
  r.connect_errors = errors ? Number(errors[1]) : 0;
  return r;
}

/**
 * One table row from loadgen's report: CPU per delivery is srv_ns_send / delivered, memory per
 * idle connection (rss_idle_kb - rss0_kb) / live (the clients that connected: all of them when
 * none failed), the generator's CPU its own clock ticks (1/100 s) over the sending time.
 */
export function rowFromReport(
  sc: GoScenario,
  r: Record<string, number>,
  notes: string[],
): Row {
  const need = ["delivered", "expected", "live", "srv_ns_send", "rss0_kb"];
  const missing = need.filter((k) => !(k in r));
  if (missing.length > 0) throw new Error(`loadgen's report lacks ${missing.join(", ")}`);
  const seconds = Math.max(1e-3, r.secs);
  const live = r.live;
  const delivered = r.delivered;
  // loadgen sums the server's threads' run times before and after: a thread that ended between
  // the two takes its time out of the sum (it can even go below zero). The process's own clock
  // ticks (1/100 s, charged a tick at a time) keep ended threads, so a sum well below them (by
  // more than the ticks' own error) is not a reading.
  const ticksNs = (r.srv_ticks_send ?? NaN) * 1e7;
  const threadsEnded = r.srv_ns_send <= 0 ||
    ticksNs > Math.max(1.5 * r.srv_ns_send, r.srv_ns_send + 3e7);
  return {
    scenario: sc.name,
    clients: live,
    expected: r.expected,
    deliveries: delivered,
    perSecond: r.deliveries_per_s,
    p50: r.p50_ms,
    p99: r.p99_ms,
    max: r.max_ms,
    lost: r.lost,
    garbled: r.garbled,
    rssMiB: r.rss_idle_kb / 1024,
    perConnKiB: live > 0 ? (r.rss_idle_kb - r.rss0_kb) / live : NaN,
    connectMs: r.connect_s * 1_000,
    serverCpu: threadsEnded ? NaN : r.srv_ns_send / 1e9 / seconds,
    cpuPerDeliveryNs: delivered > 0 && !threadsEnded ? r.srv_ns_send / delivered : NaN,
    cpuPerConnUs: live > 0 ? r.srv_ns_connect / 1e3 / live : NaN,
    v8Sending: NaN,
    v8Connecting: NaN,
    generatorCpu: (r.lg_ticks_send / 100) / seconds,
    notes: [
      ...notes,
      threadsEnded ? "server CPU not read: some of its threads ended during the run" : "",
      r.connect_errors > 0 ? `${r.connect_errors} connect errors` : "",
      sc.notes ?? "",
      Number.isFinite(r.sys_busy_send) ? `machine busy ${Math.round(r.sys_busy_send * 100)}%` : "",
    ].filter(Boolean).join("; "),
  };
}
