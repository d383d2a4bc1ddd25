/**
 * Operations as read-only views: the hub and the shell keep plain counters, and this module
 * renders them in the Prometheus text format. Nothing here changes state, and no client address
 * ever appears.
 */
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

/** The Prometheus text exposition of a hub and a shell snapshot. */
export function renderMetrics(hub: HubSnapshot, shell: ShellSnapshot): string {
  const s = hub.stats;
  return [
    family(
      "shat_connections",
      "gauge",
      "Open client connections, by transport.",
      byLabel("transport", hub.connections, TRANSPORTS),
    ),
    family(
      "shat_connections_accepted_total",
      "counter",
      "Client connections accepted, by transport.",
      byLabel("transport", shell.accepted, TRANSPORTS),
    ),
    family("shat_members", "gauge", "People in the rooms (past the room token).", hub.members),
    family("shat_rooms", "gauge", "Rooms that exist, the lobby included.", hub.rooms),
    family("shat_joins_total", "counter", "People who joined.", s.joins),
    family("shat_lines_total", "counter", "Chat lines and actions said in rooms.", s.lines),
    family(
      "shat_deliveries_total",
      "counter",
      "Lines queued for members (room lines, notices, private messages, replies).",
      s.deliveries,
    ),
    family("shat_strikes_total", "counter", "Strikes given.", s.strikes),
    family("shat_bans_active", "gauge", "Bans running now.", hub.bansActive),
    family("shat_bans_total", "counter", "Bans given (by the server and operators).", s.bans),
    family("shat_refusals_total", "counter", "Connections refused, by reason.", [
      ['{reason="banned"}', s.refusedBanned],
      ['{reason="full"}', s.refusedFull],
      ['{reason="per_address"}', s.refusedPerAddress],
      ['{reason="throttled"}', s.refusedThrottled],
    ]),
    family(
      "shat_slow_reader_disconnects_total",
      "counter",
      "Clients dropped for falling more than --max-outbox behind.",
      s.slowReaders,
    ),
    family(
      "shat_outbox_bytes",
      "gauge",
      "Bytes queued for clients and not yet written.",
      hub.outboxBytes,
    ),
    family(
      "shat_tls_handshake_failures_total",
      "counter",
      "TLS handshakes that failed or timed out.",
      shell.tlsHandshakeFailures,
    ),
    family("shat_input_bytes_total", "counter", "Bytes read from clients.", shell.bytesIn),
    family(
      "shat_event_loop_lag_seconds",
      "gauge",
      "Largest delay of the event loop over the last 10 seconds.",
      shell.loopLag,
    ),
    family(
      "process_resident_memory_bytes",
      "gauge",
      "Resident memory size in bytes.",
      shell.rss,
    ),
    ...(shell.cluster ? clusterFamilies(shell.cluster, hub.remoteMembers ?? 0) : []),
  ].join("");
}

function clusterFamilies(c: ClusterStats, remote: number): string[] {
  return [
    family("shat_redis_connected", "gauge", "1 while the link to Redis is up.", +c.connected),
    family("shat_redis_published_total", "counter", "Events sent to the others.", c.published),
    family("shat_redis_received_total", "counter", "Events received from Redis.", c.received),
    family(
      "shat_redis_sequence_gaps_total",
      "counter",
      "Room sequence gaps found (events missing from the subscription).",
      c.gaps,
    ),
    family(
      "shat_redis_events_missed_total",
      "counter",
      "Room events that could not be recovered after a gap.",
      c.missed,
    ),
    family(
      "shat_redis_processes_reaped_total",
      "counter",
      "Dead processes whose members this process freed.",
      c.reaped,
    ),
    family("shat_remote_members", "gauge", "Members on the other processes.", remote),
  ];
}
