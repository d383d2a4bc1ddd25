/**
 * Operations as read-only views: the hub and the shell keep plain counters, and this module
 * renders them in the Prometheus text format. Nothing here changes state, and no client address
 * ever appears.
 */
import type { StoreHealth } from "../store/types.ts";
import type { HubSnapshot } from "../chat/stats.ts";
import type { ClusterStats } from "../cluster/link.ts";

/** What the shell reports at a scrape. */
export interface ShellSnapshot {
  /** Connections accepted since the start, by transport. */
  accepted: Record<string, number>;
  tlsHandshakeFailures: number;
  /** Bytes read from clients since the start. */
  bytesIn: number;
  /** The largest event-loop delay seen over the last 10 s, in seconds. */
  loopLag: number;
  /** Process resident memory, in bytes. */
  rss: number;
  /** The Redis link (--redis), absent alone. */
  cluster?: ClusterStats;
  /** The store: how it is doing, and lines deleted for their age. */
  store: StoreHealth & { pruned: number };
  /** Password hashes waiting for their turn. */
  passwordsWaiting: number;
  /** Writes of the audit log (audit.jsonl) that failed; absent: no audit log. */
  auditWriteFailures?: number;
  /**
   * HTTP API posts answered, by outcome (`posted`, `too_fast`, `nick_taken`… see
   * {@link API_OUTCOMES}); absent: none yet.
   */
  apiPosts?: Record<string, number>;
}

type Sample = [labels: string, value: number];

/** One metric family: `# HELP`, `# TYPE` and its samples. */
function family(
  name: string,
  type: "counter" | "gauge",
  help: string,
  samples: Sample[] | number,
): string {
  const rows = typeof samples === "number" ? [["", samples] as Sample] : samples;
  let out = `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
  for (const [labels, value] of rows) out += `${name}${labels} ${format(value)}\n`;
  return out;
}

function format(v: number): string {
  return Number.isFinite(v) ? String(v) : "NaN";
}

function byLabel(label: string, values: Record<string, number>, known: string[]): Sample[] {
  const keys = [...new Set([...known, ...Object.keys(values)])];
  return keys.map((k) => [`{${label}="${k}"}`, values[k] ?? 0]);
}

const TRANSPORTS = ["tcp", "tls", "http", "ws"];

/** The outcome label of an HTTP API post, by the status of its answer. */
export const API_OUTCOMES: Readonly<Record<number, string>> = {
  201: "posted",
  403: "forbidden",
  404: "no_room",
  409: "nick_taken",
  413: "too_long",
  400: "invalid",
  429: "too_fast",
  503: "unavailable",
};

/** A row of a metrics table: one family, and how its samples are read from a `T`. */
interface Family<T> {
  name: string;
  type: "counter" | "gauge";
  help: string;
  read: (from: T) => Sample[] | number;
}

/** Rows of the tables: a counter (its name ends in `_total`), a gauge. */
function counter<T>(name: string, help: string, read: Family<T>["read"]): Family<T> {
  return { name, type: "counter", help, read };
}

function gauge<T>(name: string, help: string, read: Family<T>["read"]): Family<T> {
  return { name, type: "gauge", help, read };
}

/** What a scrape reads. */
interface Scrape {
  hub: HubSnapshot;
  shell: ShellSnapshot;
}

/** The families of every page, in the order they are shown. */
const FAMILIES: Family<Scrape>[] = [
  gauge(
    "shat_connections",
    "Open client connections, by transport.",
    (x) => byLabel("transport", x.hub.connections, TRANSPORTS),
  ),
  counter(
    "shat_connections_accepted_total",
    "Client connections accepted, by transport.",
    (x) => byLabel("transport", x.shell.accepted, TRANSPORTS),
  ),
  gauge("shat_members", "People in the rooms (past the room token).", (x) => x.hub.members),
  gauge("shat_rooms", "Rooms that exist, the lobby included.", (x) => x.hub.rooms),
  counter("shat_joins_total", "People who joined.", (x) => x.hub.stats.joins),
  counter("shat_lines_total", "Chat lines and actions said in rooms.", (x) => x.hub.stats.lines),
  counter(
    "shat_deliveries_total",
    "Lines queued for members (room lines, notices, private messages, replies).",
    (x) => x.hub.stats.deliveries,
  ),
  counter("shat_strikes_total", "Strikes given.", (x) => x.hub.stats.strikes),
  gauge("shat_bans_active", "Bans running now.", (x) => x.hub.bansActive),
  counter("shat_bans_total", "Bans given (by the server and operators).", (x) => x.hub.stats.bans),
  counter("shat_refusals_total", "Connections refused, by reason.", ({ hub: { stats: s } }) => [
    ['{reason="banned"}', s.refusedBanned],
    ['{reason="full"}', s.refusedFull],
    ['{reason="per_address"}', s.refusedPerAddress],
    ['{reason="throttled"}', s.refusedThrottled],
  ]),
  counter(
    "shat_slow_reader_disconnects_total",
    "Clients dropped for falling more than --max-outbox behind.",
    (x) => x.hub.stats.slowReaders,
  ),
  gauge(
    "shat_outbox_bytes",
    "Bytes queued for clients and not yet written.",
    (x) => x.hub.outboxBytes,
  ),
  counter(
    "shat_tls_handshake_failures_total",
    "TLS handshakes that failed or timed out.",
    (x) => x.shell.tlsHandshakeFailures,
  ),
  counter("shat_input_bytes_total", "Bytes read from clients.", (x) => x.shell.bytesIn),
  gauge(
    "shat_event_loop_lag_seconds",
    "Largest delay of the event loop over the last 10 seconds.",
    (x) => x.shell.loopLag,
  ),
  gauge("process_resident_memory_bytes", "Resident memory size in bytes.", (x) => x.shell.rss),
  gauge(
    "shat_store_ok",
    "1 while the store writes; 0 while its writes fail.",
    (x) => +x.shell.store.ok,
  ),
  gauge("shat_store_pending_writes", "Writes waiting for the store.", (x) => x.shell.store.pending),
  counter(
    "shat_store_lost_writes_total",
    "Writes given up (too many waited while the store failed).",
    (x) => x.shell.store.lost,
  ),
  counter(
    "shat_store_lines_written_total",
    "Room lines written to the store.",
    (x) => x.shell.store.linesWritten,
  ),
  counter(
    "shat_store_lines_pruned_total",
    "Room lines deleted for being older than --retention.",
    (x) => x.shell.store.pruned,
  ),
  gauge("shat_accounts", "Registered nicks.", (x) => x.hub.accounts),
  gauge("shat_rooms_kept", "Rooms kept (the lobby not counted).", (x) => x.hub.roomsKept),
  counter("shat_logins_total", "Right passwords given (/identify).", (x) => x.hub.stats.identified),
  counter(
    "shat_wrong_passwords_total",
    "Wrong passwords given (/identify, /password, /unregister).",
    (x) => x.hub.stats.wrongPasswords,
  ),
  counter(
    "shat_account_lockouts_total",
    "Accounts locked after wrong passwords from several addresses.",
    (x) => x.hub.stats.lockouts,
  ),
  gauge(
    "shat_password_hashes_waiting",
    "Password hashes waiting for their turn.",
    (x) => x.shell.passwordsWaiting,
  ),
  counter("shat_recalls_total", "/history and /search answered.", (x) => x.hub.stats.recalls),
  counter(
    "shat_audit_write_failures_total",
    "Writes of the audit log (audit.jsonl) that failed.",
    (x) => x.shell.auditWriteFailures ?? 0,
  ),
  counter(
    "shat_api_posts_total",
    "HTTP API posts (--api-token) the server judged, by outcome.",
    (x) => byLabel("outcome", x.shell.apiPosts ?? {}, ["posted", "too_fast"]),
  ),
];

/** What a scrape reads with --redis. */
interface ClusterScrape {
  link: ClusterStats;
  /** Members on the other processes. */
  remote: number;
}

/** The families added with --redis, after the others. */
const CLUSTER_FAMILIES: Family<ClusterScrape>[] = [
  gauge("shat_redis_connected", "1 while the link to Redis is up.", (x) => +x.link.connected),
  counter("shat_redis_published_total", "Events sent to the others.", (x) => x.link.published),
  counter("shat_redis_received_total", "Events received from Redis.", (x) => x.link.received),
  counter(
    "shat_redis_sequence_gaps_total",
    "Room sequence gaps found (events missing from the subscription).",
    (x) => x.link.gaps,
  ),
  counter(
    "shat_redis_events_missed_total",
    "Room events that could not be recovered after a gap.",
    (x) => x.link.missed,
  ),
  counter(
    "shat_redis_processes_reaped_total",
    "Dead processes whose members this process freed.",
    (x) => x.link.reaped,
  ),
  gauge("shat_remote_members", "Members on the other processes.", (x) => x.remote),
];

/** The families of a table, read from `from`, as exposition text. */
function render<T>(families: Family<T>[], from: T): string {
  let out = "";
  for (const f of families) out += family(f.name, f.type, f.help, f.read(from));
  return out;
}

/** The Prometheus text exposition of a hub and a shell snapshot. */
export function renderMetrics(hub: HubSnapshot, shell: ShellSnapshot): string {
  const page = render(FAMILIES, { hub, shell });
  if (!shell.cluster) return page;
  return page + render(CLUSTER_FAMILIES, { link: shell.cluster, remote: hub.remoteMembers ?? 0 });
}
