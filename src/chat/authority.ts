/**
 * Who runs a room and how (hub state, a field of each room): its owner when not identified,
 * its operators and voiced people, its modes (invite-only, moderated, slow, topic-lock), its
 * mutes, bans and invitations. Plain data and O(1) lookups: the hub asks it on every line.
 *
 * People are named by a holder: `@account` for an identified person (it lasts across
 * reconnects and restarts), or `s:NODE:ID` for a session (it lasts while they stay). Mutes and
 * bans are kept under every key that finds the person again: their address (its key, see
 * ipKey) and, when identified, `@account`.
 *
 * The same data travels to the other processes (--redis) and into the store as a JSON object
 * ({@link AuthData}); {@link readAuth} checks it field by field, as any input.
 */
import { acceptableNick } from "./nicks.ts";

/** A mute or a room ban: until when, who did it, on whom (the nick then), why. */
export interface Sanction {
  until: number;
  by: string;
  nick: string;
  reason: string;
  /** The keys it is kept under (an address key, `@account`). */
  keys: string[];
}

/** Slow mode: at least 1 second, at most an hour. */
export const SLOW_MIN_MS = 1_000;
export const SLOW_MAX_MS = 3_600_000;

/** The most entries of each kind a room keeps: more is refused (ops) or the oldest go. */
export const AUTH_MAX = 500;

/** How long an invitation lasts. */
export const INVITE_MS = 10 * 60_000;

/** A room's authority. */
export class RoomAuthority {
  /** The account that owns the room ("" = none: nobody, or a session owner). */
  owner = "";
  /** The owner's session while the owner is not identified ("" = none, or an account owns it). */
  ownerSession = "";
  /** The owner's nick as last seen (for showing a session owner). */
  ownerNick = "";
  /** Operators named by the owner: holder → nick as shown. */
  readonly ops = new Map<string, string>();
  /** People who may speak in a moderated room: holder → nick. */
  readonly voice = new Map<string, string>();
  inviteOnly = false;
  moderated = false;
  topicLock = false;
  /** Slow mode: one line per this many ms per person (0 = off). */
  slowMs = 0;
  readonly mutes = new Map<string, Sanction>();
  readonly bans = new Map<string, Sanction>();
  /** Invitations: holder → until when. */
  readonly invites = new Map<string, number>();
  /**
   * Slow mode: when each person's last line was shown (holder → ms). Local to this process,
   * never kept: it only paces the people here.
   */
  readonly lastShown = new Map<string, number>();

  /** Forgets everything but the local pacing (the whole is about to be read again). */
  reset(): void {
    this.owner = this.ownerSession = this.ownerNick = "";
    this.ops.clear();
    this.voice.clear();
    this.inviteOnly = this.moderated = this.topicLock = false;
    this.slowMs = 0;
    this.mutes.clear();
    this.bans.clear();
    this.invites.clear();
  }

  /** Anything that may hold a line back: the hub's one check per line when false. */
  get gated(): boolean {
    return this.moderated || this.slowMs > 0 || this.mutes.size > 0;
  }

  /** Nothing set at all (a room that never had settings looks like this). */
  get empty(): boolean {
    return this.owner === "" && !this.inviteOnly && !this.moderated && !this.topicLock &&
      this.slowMs === 0 &&
      this.ownerSession === "" && this.ops.size === 0 && this.voice.size === 0 &&
      this.mutes.size === 0 && this.bans.size === 0 && this.invites.size === 0;
  }

  /** The room's modes in words, as /room and /rooms show them. */
  modes(format: (ms: number) => string): string[] {
    const on: string[] = [];
    if (this.inviteOnly) on.push("invite-only");
    if (this.moderated) on.push("moderated");
    if (this.slowMs > 0) on.push(`slow ${format(this.slowMs)}`);
    if (this.topicLock) on.push("topic-lock");
    return on;
  }
}

/** The holder of a session: client `id` on process `node` ("" alone). */
export function sessionHolder(node: string | null, id: number): string {
  return `s:${node ?? ""}:${id}`;
}

/** The running sanction in `map` under any of `keys` (an expired one is forgotten). */
export function findSanction(
  map: Map<string, Sanction>,
  keys: readonly string[],
  now: number,
): Sanction | undefined {
  if (map.size === 0) return undefined;
  for (const k of keys) {
    const s = map.get(k);
    if (!s) continue;
    if (s.until > now) return s;
    dropSanction(map, s);
  }
  return undefined;
}

/** Puts `s` in `map` under its keys (replacing what they held); the oldest go past the cap. */
export function addSanction(map: Map<string, Sanction>, s: Sanction): void {
  for (const k of s.keys) {
    const old = map.get(k);
    if (old) dropSanction(map, old);
  }
  for (const k of s.keys) map.set(k, s);
  while (map.size > AUTH_MAX * 2) dropSanction(map, map.values().next().value!);
}

/** Takes `s` out of `map`, under all of its keys. */
export function dropSanction(map: Map<string, Sanction>, s: Sanction): void {
  for (const k of s.keys) if (map.get(k) === s) map.delete(k);
}

/** The running sanctions of `map`, each once, soonest to end first; expired ones go. */
export function listSanctions(map: Map<string, Sanction>, now: number): Sanction[] {
  const seen = new Set<Sanction>();
  for (const s of [...map.values()]) {
    if (s.until <= now) dropSanction(map, s);
    else seen.add(s);
  }
  return [...seen].sort((a, b) => a.until - b.until);
}

/**
 * The sanction in `map` matching `what`: one of its keys (an address key, `@account`), or the
 * nick it was given to (any case).
 */
export function sanctionFor(
  map: Map<string, Sanction>,
  what: string,
  now: number,
): Sanction | undefined {
  const lower = what.toLowerCase();
  for (const s of listSanctions(map, now)) {
    if (s.keys.includes(what) || s.keys.includes(`@${lower}`) || s.nick.toLowerCase() === lower) {
      return s;
    }
  }
  return undefined;
}

// ---- As data: for the other processes and the store -----------------------------------------

/** A room's authority as plain JSON-able data (fields left out when empty). */
export interface AuthData {
  owner?: [account: string, session: string, nick: string];
  ops?: [holder: string, nick: string][];
  voice?: [holder: string, nick: string][];
  modes?: { i?: 1; m?: 1; t?: 1; slow?: number };
  mutes?: [keys: string[], until: number, by: string, nick: string, reason: string][];
  bans?: [keys: string[], until: number, by: string, nick: string, reason: string][];
  invites?: [holder: string, until: number][];
}

/**
 * The authority as data: `lasting` keeps only what outlives a restart (accounts, not
 * sessions; no invitations), for the store.
 */
export function authData(a: RoomAuthority, now: number, lasting: boolean): AuthData {
  const d: AuthData = {};
  const keep = (holder: string) => !lasting || holder.startsWith("@");
  const session = lasting ? "" : a.ownerSession;
  if (a.owner || session) d.owner = [a.owner, session, session ? a.ownerNick : ""];
  const ops = [...a.ops].filter(([h]) => keep(h));
  if (ops.length) d.ops = ops;
  const voice = [...a.voice].filter(([h]) => keep(h));
  if (voice.length) d.voice = voice;
  const modes: AuthData["modes"] = {};
  if (a.inviteOnly) modes.i = 1;
  if (a.moderated) modes.m = 1;
  if (a.topicLock) modes.t = 1;
  if (a.slowMs > 0) modes.slow = a.slowMs;
  if (Object.keys(modes).length) d.modes = modes;
  const sanctions = (map: Map<string, Sanction>) =>
    listSanctions(map, now).map((s) =>
      [s.keys, s.until, s.by, s.nick, s.reason] as [string[], number, string, string, string]
    );
  const mutes = sanctions(a.mutes);
  if (mutes.length) d.mutes = mutes;
  const bans = sanctions(a.bans);
  if (bans.length) d.bans = bans;
  if (!lasting) {
    const invites = [...a.invites].filter(([, until]) => until > now);
    if (invites.length) d.invites = invites;
  }
  return d;
}

/** What {@link readAuth} accepts as a nick and as the text of a reason. */
export interface AuthRules {
  nickOk(nick: string): boolean;
  /** Longest reason kept, in characters. */
  reasonMax: number;
}

/** What settings read from the store or another process must hold to. */
export const AUTH_RULES: AuthRules = { nickOk: acceptableNick, reasonMax: 200 };

/** A holder or a key as read back: an account (a lower-case nick), a session, an address key. */
const SESSION = /^s:[A-Za-z0-9_.-]{0,64}:\d{1,15}$/;
const ADDRESS = /^[0-9a-f.:/]{2,64}$/;

/** `@account`: an account is a nick anyone may pick, in lower case. */
function accountKey(k: string): boolean {
  const name = k.slice(1);
  return k.startsWith("@") && name === name.toLowerCase() && AUTH_RULES.nickOk(name);
}

function holderOk(h: unknown): h is string {
  return typeof h === "string" && (SESSION.test(h) || accountKey(h));
}

function keyOk(k: unknown): k is string {
  return typeof k === "string" && (ADDRESS.test(k) || accountKey(k));
}
const LATEST = Date.UTC(9999, 11, 31);
/** No mute or ban read back lasts past this (a year from 2100: far more than any given). */
const LONGEST = Date.UTC(2101, 0, 1);

/**
 * Reads authority data from the store or another process: every field checked, what is wrong
 * left out (a hostile or damaged record never reaches the room as it is). `{}`, `[]` and
 * anything not an object read as nothing set.
 */
export function readAuth(
  value: unknown,
  rules: AuthRules,
  into = new RoomAuthority(),
): RoomAuthority {
  const a = into;
  a.reset();
  const d = isObject(value) ? value : {};
  const nickOk = (n: unknown): n is string => typeof n === "string" && rules.nickOk(n);
  const owner = d.owner;
  if (Array.isArray(owner)) {
    const [account, session, nick] = owner;
    if (typeof account === "string" && account !== "" && accountKey(`@${account}`)) {
      a.owner = account;
    } else if (typeof session === "string" && SESSION.test(session)) {
      if (nickOk(nick)) {
        a.ownerSession = session;
        a.ownerNick = nick;
      }
    }
  }
  for (const [field, map] of [["ops", a.ops], ["voice", a.voice]] as const) {
    for (const e of list(d[field])) {
      if (Array.isArray(e) && holderOk(e[0]) && nickOk(e[1])) map.set(e[0], e[1]);
    }
  }
  const modes = isObject(d.modes) ? d.modes : {};
  a.inviteOnly = modes.i === 1;
  a.moderated = modes.m === 1;
  a.topicLock = modes.t === 1;
  const slow = modes.slow;
  a.slowMs = typeof slow === "number" && Number.isSafeInteger(slow) && slow >= SLOW_MIN_MS &&
      slow <= SLOW_MAX_MS
    ? slow
    : 0;
  for (const [field, map] of [["mutes", a.mutes], ["bans", a.bans]] as const) {
    for (const e of list(d[field])) {
      const s = sanction(e, rules);
      if (s) addSanction(map, s);
    }
  }
  for (const e of list(d.invites)) {
    if (Array.isArray(e) && holderOk(e[0]) && time(e[1])) a.invites.set(e[0], e[1]);
  }
  return a;
}

function sanction(e: unknown, rules: AuthRules): Sanction | undefined {
  if (!Array.isArray(e) || e.length < 5) return undefined;
  const [keys, until, by, nick, reason] = e;
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > 2) return undefined;
  if (!keys.every(keyOk)) return undefined;
  if (
    !time(until) || until > LONGEST || typeof by !== "string" ||
    (by !== "server" && !rules.nickOk(by))
  ) {
    return undefined;
  }
  if (typeof nick !== "string" || (nick !== "" && !rules.nickOk(nick))) return undefined;
  if (typeof reason !== "string") return undefined;
  // deno-lint-ignore no-control-regex
  const clean = reason.replace(/[\x00-\x1f\x7f]/g, "").slice(0, rules.reasonMax);
  return { keys: keys as string[], until, by, nick, reason: clean };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A list of at most {@link AUTH_MAX} entries ([] for anything else). */
function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v.slice(0, AUTH_MAX) : [];
}

function time(v: unknown): v is number {
  return typeof v === "number" && v >= 0 && v <= LATEST;
}
