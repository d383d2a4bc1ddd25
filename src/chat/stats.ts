/** What the hub counts for the metrics page: plain counters, and the gauges of a scrape. */

/** Counters the hub keeps: cheap increments, no allocation per line. */
export class HubStats {
  /** Chat lines and actions said in rooms. */
  lines = 0;
  /** Lines queued for members (room lines, notices, private messages, replies). */
  deliveries = 0;
  strikes = 0;
  bans = 0;
  /** Connections refused, by reason. */
  refusedBanned = 0;
  refusedFull = 0;
  refusedPerAddress = 0;
  refusedThrottled = 0;
  slowReaders = 0;
  /** People who joined the server (gave the token, if any). */
  joins = 0;
  /** Logins: right passwords (/identify) and wrong ones (/identify, /password, /unregister). */
  identified = 0;
  wrongPasswords = 0;
  /** Accounts locked after wrong passwords from several addresses. */
  lockouts = 0;
  /** /history and /search answered. */
  recalls = 0;
}

/** What the hub reports at a scrape: its counters and gauges counted then. */
export interface HubSnapshot {
  stats: HubStats;
  /** Open connections the hub holds, by transport (`tcp`, `tls`, `ws`). */
  connections: Record<string, number>;
  members: number;
  rooms: number;
  bansActive: number;
  /** Bytes queued in every outbox, not yet written. */
  outboxBytes: number;
  /** Members on the other processes (--redis), 0 alone. */
  remoteMembers?: number;
  /** Registered accounts known. */
  accounts: number;
  /** Rooms kept (the lobby not counted). */
  roomsKept: number;
}
