/**
 * Accounts: the registered nicks, who is logged in to which, and what a password decides. The
 * work a password needs (hashing, checking it against the store) is done by the shell, off the
 * hub coroutine: the hub hands it a ticket (effects.ask) and applies the answer (an `auth`
 * event). A registered nick cannot be taken (or imitated) by someone who has not identified for
 * it; a second login to an account replaces the first. Wrong passwords are strikes against the
 * address, like a wrong operator token; an account that sees many failures from several
 * addresses is locked for a while; new accounts are throttled per address. An identified
 * person's preferences (view, kept ignores) are saved and come back when they identify.
 */
import type { DirectEv } from "../cluster/bus.ts";
import { formatDuration } from "../lib/units.ts";
import type { Prefs } from "../store/types.ts";
import type { Client } from "./client.ts";
import type { ClientTable } from "./clients.ts";
import type { Member } from "./commands/types.ts";
import type { HubContext } from "./context.ts";
import type { AuthOp, AuthOutcome } from "./events.ts";
import type { Fanout } from "./fanout.ts";
import type { Keep } from "./keep.ts";
import { KeptPrefs, prefsOf } from "./kept_prefs.ts";
import { Lockout } from "./lockout.ts";
import type { RemoteMember } from "./mirror.ts";
import { burstWait, type ConnectRate, mayBurst } from "./moderation.ts";
import type { NickTable } from "./names.ts";
import { isGuestForm, skeleton } from "./nicks.ts";
import type { Rooms } from "./rooms.ts";
import type { Sanctions } from "./sanctions.ts";
import type { Sessions } from "./sessions.ts";
import type { Outbound } from "./sync.ts";

/** The shortest password, in characters. */
export const PASSWORD_MIN = 8;
/** The longest password, in characters (the hash's work must not grow with what is typed). */
export const PASSWORD_MAX = 256;
/** New accounts one address may make: a few, then one more every 20 minutes. */
export const REGISTER_RATE: ConnectRate = { burst: 3, per: 3_600_000 };
/**
 * Password checks one address may ask for (right or wrong: each costs a hash): a few, then one
 * every 10 s. A crowd looping on its own account cannot keep the others' logins waiting.
 */
export const PASSWORD_RATE: ConnectRate = { burst: 6, per: 60_000 };

/** Work the shell is doing for a client. */
interface Ticket {
  id: number;
  op: AuthOp;
  /** The account. */
  key: string;
  /** The nick to register. */
  nick: string;
  addrKey: string;
}

/** The parts accounts act on. */
export interface AccountParts {
  clients: ClientTable;
  fanout: Fanout;
  nicks: NickTable;
  rooms: Rooms;
  sessions: Sessions;
  sanctions: Sanctions;
  sync: Outbound;
  keep: Keep;
}

/** Registered nicks, logins and the password rules. */
export class Accounts {
  readonly #ctx: HubContext;
  readonly #p: AccountParts;
  /** Account key → the nick as registered. */
  readonly #registered = new Map<string, string>();
  /** The skeleton of each registered nick → its key, so look-alikes are refused too. */
  readonly #bySkeleton = new Map<string, string>();
  readonly #tickets = new Map<number, Ticket>();
  #nextTicket = 0;
  readonly #lockout: Lockout;
  readonly #prefs: KeptPrefs;
  /** Account → the client here that gets its nick once its holder elsewhere has left. */
  readonly #awaiting = new Map<string, Client>();

  constructor(ctx: HubContext, parts: AccountParts) {
    this.#ctx = ctx;
    this.#p = parts;
    this.#lockout = new Lockout(ctx);
    this.#prefs = new KeptPrefs(parts.keep, parts.nicks, parts.sessions);
  }

  /** The accounts the store holds. */
  load(accounts: readonly { key: string; nick: string }[]): void {
    for (const a of accounts) this.#add(a.key, a.nick);
  }

  /** Accounts known. */
  get size(): number {
    return this.#registered.size;
  }

  #add(key: string, nick: string): void {
    this.#registered.set(key, nick);
    this.#bySkeleton.set(skeleton(nick), key);
  }

  #remove(key: string): void {
    const nick = this.#registered.get(key);
    if (nick === undefined) return;
    this.#registered.delete(key);
    const sk = skeleton(nick);
    if (this.#bySkeleton.get(sk) === key) this.#bySkeleton.delete(sk);
  }

  /** The nick as registered, if `nick` (any case) is an account. */
  registered(nick: string): string | undefined {
    return this.#registered.get(nick.toLowerCase());
  }

  /**
   * The registered nick that `nick` is or looks like, unless it is the account `account`;
   * undefined when `nick` is free to take.
   */
  reserved(nick: string, account: string): string | undefined {
    const key = this.#registered.has(nick.toLowerCase())
      ? nick.toLowerCase()
      : this.#bySkeleton.get(skeleton(nick));
    return key === undefined || key === account ? undefined : this.#registered.get(key);
  }

  /** `/register PASSWORD`: makes `c`'s nick an account and logs them in. */
  register(c: Client, password: string, now: number): void {
    const fanout = this.#p.fanout;
    if (this.#busy(c)) return;
    if (c.identified) return fanout.tell(c, `You are already identified as ${c.nick}.`);
    if (!c.skeleton || isGuestForm(c.nick)) {
      return fanout.tell(c, "Choose your name first (/nick NAME), then /register PASSWORD.");
    }
    const taken = this.reserved(c.nick, "");
    if (taken) {
      return fanout.tell(
        c,
        taken.toLowerCase() === c.key
          ? `${taken} is registered already. If it is yours: /identify ${taken} PASSWORD`
          : `${c.nick} looks too much like the account ${taken}; choose another name.`,
      );
    }
    if (!this.#passwordFits(c, password)) return;
    if (!mayBurst(c.addr.registers, now, REGISTER_RATE)) {
      const wait = formatDuration(burstWait(c.addr.registers, now, REGISTER_RATE));
      return fanout.tell(c, `Too many new accounts from your address; try again in ${wait}.`);
    }
    this.#ask(c, "register", c.key, c.nick, password, undefined, prefsOf(c));
  }

  /** Whether `c`'s address may have one more password checked now; tells them when not. */
  #mayHash(c: Client, now: number): boolean {
    if (mayBurst(c.addr.passwords, now, PASSWORD_RATE)) return true;
    const wait = formatDuration(burstWait(c.addr.passwords, now, PASSWORD_RATE));
    this.#p.fanout.tell(c, `Too many password attempts from your address; try again in ${wait}.`);
    return false;
  }

  /** `/identify [NICK] PASSWORD`: logs `c` in to the account `nick`, and gives them the nick. */
  identify(c: Client, nick: string, password: string, now: number): void {
    const fanout = this.#p.fanout;
    if (this.#busy(c)) return;
    const key = nick.toLowerCase();
    const name = this.#registered.get(key);
    if (name === undefined) {
      return fanout.tell(
        c,
        `${nick} is not registered. /register PASSWORD makes your current nick an account.`,
      );
    }
    if (c.account === key && c.key === key) {
      return fanout.tell(c, `You are already identified as ${name}.`);
    }
    const locked = this.#lockout.lockedFor(key, now);
    if (locked > 0) {
      return fanout.tell(
        c,
        `${name} is locked for ${formatDuration(locked)} after many wrong passwords from ` +
          "several places; try again later.",
      );
    }
    if (password.length === 0) return fanout.tell(c, "Usage: /identify [NICK] PASSWORD");
    if (!this.#mayHash(c, now)) return;
    this.#ask(c, "identify", key, name, password);
  }

  /** `/password OLD NEW`. */
  changePassword(c: Client, old: string, fresh: string, now: number): void {
    if (this.#busy(c) || !this.#loggedIn(c)) return;
    const locked = this.#lockout.lockedFor(c.account, now);
    if (locked > 0) {
      return this.#p.fanout.tell(c, `Your account is locked for ${formatDuration(locked)}.`);
    }
    if (!this.#passwordFits(c, fresh) || !this.#mayHash(c, now)) return;
    this.#ask(c, "password", c.account, "", old, fresh);
  }

  /** `/unregister PASSWORD`: deletes `c`'s account. */
  unregister(c: Client, password: string, now: number): void {
    if (this.#busy(c) || !this.#loggedIn(c)) return;
    const locked = this.#lockout.lockedFor(c.account, now);
    if (locked > 0) {
      return this.#p.fanout.tell(c, `Your account is locked for ${formatDuration(locked)}.`);
    }
    if (!this.#mayHash(c, now)) return;
    this.#ask(c, "unregister", c.account, "", password);
  }

  /** An operator's `/drop NICK`: deletes the account without its password. False if none. */
  drop(nick: string, by: Client): boolean {
    const key = nick.toLowerCase();
    const name = this.#registered.get(key);
    if (name === undefined) return false;
    this.#forget(key, `Your account ${name} was deleted by an operator (${by.nick}).`);
    this.#p.keep.write({ t: "unaccount", key });
    this.#p.sync.direct({ t: "account", key, nick: name, on: false });
    return true;
  }

  /** Whether `c` is waiting for the shell; tells them so. */
  #busy(c: Client): boolean {
    if (c.ticket === 0) return false;
    this.#p.fanout.tell(c, "Still working on your last request; a moment.");
    return true;
  }

  #loggedIn(c: Client): boolean {
    if (c.account) return true;
    this.#p.fanout.tell(c, "You are not identified. /identify [NICK] PASSWORD first.");
    return false;
  }

  #passwordFits(c: Client, password: string): boolean {
    if (/\s/.test(password)) {
      // /identify and /password take words: a password with a space could never be used.
      this.#p.fanout.tell(c, "A password may not contain spaces.");
      return false;
    }
    const n = [...password].length;
    if (n >= PASSWORD_MIN && n <= PASSWORD_MAX) return true;
    this.#p.fanout.tell(
      c,
      n < PASSWORD_MIN
        ? `A password needs at least ${PASSWORD_MIN} characters.`
        : `A password may have at most ${PASSWORD_MAX} characters.`,
    );
    return false;
  }

  /** Hands the shell a password to hash or check for `c`. */
  #ask(
    c: Client,
    op: AuthOp,
    key: string,
    nick: string,
    password: string,
    newPassword?: string,
    prefs?: Prefs,
  ): void {
    const ask = this.#ctx.effects.ask;
    if (!ask) {
      return this.#p.fanout.tell(c, "Accounts are off on this server.");
    }
    this.#warnClear(c);
    const ticket = ++this.#nextTicket;
    this.#tickets.set(ticket, { id: c.id, op, key, nick, addrKey: c.addrKey });
    c.ticket = ticket;
    ask({ kind: "auth", ticket, op, key, nick, password, newPassword, prefs });
  }

  /**
   * Once per connection: a password typed over plain TCP crossed the network in clear; on the
   * web page it did unless the page came over https (a proxy in front: the hub cannot tell).
   */
  #warnClear(c: Client): void {
    if (c.warnedClear || (c.transport !== "tcp" && c.transport !== "ws")) return;
    c.warnedClear = true;
    const cfg = this.#ctx.config;
    const tls = cfg.tlsPort !== -1 ? `the TLS port (${cfg.tlsPort})` : "a TLS port";
    this.#p.fanout.tell(
      c,
      c.transport === "tcp"
        ? "Note: this connection is not encrypted, so that password crossed the network in " +
          `clear text. Prefer ${tls}, or the web page served over https.`
        : "Note: unless this page's address starts with https://, that password crossed the " +
          "network in clear text. Prefer the page served over https.",
    );
  }

  /** The shell's answer about a password. */
  answer(
    ticket: number,
    outcome: AuthOutcome,
    nick: string | undefined,
    prefs: Prefs | undefined,
    now: number,
  ): void {
    const t = this.#tickets.get(ticket);
    if (!t) return;
    this.#tickets.delete(ticket);
    const c = this.#p.clients.get(t.id);
    const here = c && !c.gone && c.ticket === ticket ? c : undefined;
    if (here) here.ticket = 0;
    if (outcome === "wrong") return this.#wrong(t, here, now);
    if (outcome === "busy") {
      const busy = "The server is busy checking passwords; try again in a moment.";
      return here && this.#p.fanout.tell(here, busy);
    }
    if (outcome === "error") {
      this.#ctx.log.warn("password work failed", { op: t.op, client: t.id });
      here && this.#p.fanout.tell(
        here,
        "That cannot be done right now (the server's store is failing); nothing was changed. " +
          "Try again later.",
      );
      return;
    }
    if (outcome === "unknown") {
      // Deleted meanwhile (on another process, whose news says so): nothing to do but say.
      here && this.#p.fanout.tell(here, `${t.nick || t.key} is not registered.`);
      return;
    }
    if (outcome === "taken") {
      const name = nick ?? t.nick;
      this.#add(t.key, name);
      here && this.#p.fanout.tell(here, `${name} was registered by someone else meanwhile.`);
      return;
    }
    this.#lockout.clear(t.key);
    if (t.op === "register") return this.#made(t, here);
    if (!this.#registered.has(t.key)) {
      // Deleted while the password was checked (/unregister, /drop): no login to a ghost, and
      // a record the shell wrote back meanwhile (a new hash) is deleted again.
      this.#p.keep.write({ t: "unaccount", key: t.key });
      return here && this.#p.fanout.tell(here, `${t.nick || t.key} is not registered.`);
    }
    if (t.op === "identify") {
      return here ? this.#identified(here, t.key, nick ?? t.nick, prefs ?? {}) : undefined;
    }
    if (t.op === "password") return this.#passwordChanged(t, here);
    this.#unregistered(t, here);
  }

  /** A new password was written: every other session of the account is logged out. */
  #passwordChanged(t: Ticket, here: Client | undefined): void {
    this.#ctx.log.info("password changed", { client: t.id, account: t.key });
    const why = "The password of your account was changed from another connection";
    this.#endOtherSessions(t.key, here, why);
    const said = "Password changed. Any other session of this account is logged out.";
    if (here) this.#p.fanout.tell(here, said);
  }

  /** The account was deleted by its owner. */
  #unregistered(t: Ticket, here: Client | undefined): void {
    const name = this.#registered.get(t.key) ?? t.key;
    this.#forget(t.key, "");
    this.#p.sync.direct({ t: "account", key: t.key, nick: name, on: false });
    this.#ctx.log.info("account deleted", { client: t.id, account: t.key });
    if (here) {
      this.#p.fanout.tell(here, `${name} is no longer registered; anyone may take the name now.`);
    }
  }

  /** A new account was written: `c` (if still here) is logged in to it. */
  #made(t: Ticket, c: Client | undefined): void {
    this.#add(t.key, t.nick);
    this.#p.sync.direct({ t: "account", key: t.key, nick: t.nick, on: true });
    this.#ctx.log.info("account registered", { client: t.id, account: t.key });
    if (!c) return;
    c.account = t.key;
    this.#p.fanout.tell(
      c,
      `${t.nick} is now registered, and you are identified. Next time: /identify ${t.nick} ` +
        "PASSWORD. Your /color, /bell, /timestamps and the registered nicks you /ignore are " +
        "kept with it.",
    );
  }

  /** A wrong password: a strike against the address, and a failure against the account. */
  #wrong(t: Ticket, c: Client | undefined, now: number): void {
    const failures = this.#lockout.failed(t.key, t.addrKey, now);
    this.#ctx.log.info("wrong password", { client: t.id, account: t.key, failures });
    this.#ctx.stats.wrongPasswords++;
    if (c) {
      this.#p.sanctions.strike(c, "wrong password", now, "Wrong password.", true);
    } else {
      // Hanging up before the answer does not make a guess free.
      this.#p.sanctions.strikeAddress(t.addrKey, "wrong password", now);
    }
  }

  /**
   * `c` gave the right password for `key`: they are logged in, take the nick (a session that
   * held it is logged out and renamed), and get their preferences back.
   */
  #identified(c: Client, key: string, name: string, prefs: Prefs): void {
    const { fanout, nicks, sessions } = this.#p;
    this.#leaveAccount(c);
    this.#endOtherSessions(key, c, `Someone identified as ${name} from another connection`);
    c.account = key;
    const holder = nicks.holder(key);
    if (holder && holder.id !== c.id) {
      if (holder.id > 0) {
        sessions.rename(holder as Client, nicks.guest());
      } else {
        // Its holder is on another process: that session is closed, and this one gets the
        // nick when the others hear it has left.
        const r = holder as RemoteMember;
        this.#p.sync.direct({
          t: "kick",
          to: r.node,
          toId: r.info.id,
          message: `You identified as ${name} from another connection; this one is closed.`,
          reason: "identified elsewhere",
        });
        this.#awaiting.set(key, c);
        fanout.tell(
          c,
          `You are identified as ${name}. Your other session, on another server, is being ` +
            "closed; the nick is yours as soon as it has left.",
        );
      }
    }
    if (!this.#awaiting.has(key) && c.nick !== name) sessions.rename(c, name);
    this.taken(c);
    this.#prefs.restore(c, prefs);
    this.#ctx.stats.identified++;
    this.#ctx.log.info("identified", { client: c.id, account: key });
    if (!this.#awaiting.has(key)) fanout.tell(c, `You are identified as ${name}.`);
  }

  /**
   * Every session of account `key` but `keep` is logged out, here and on the other processes,
   * and told why (`why`, then what to do if it was not them).
   */
  #endOtherSessions(key: string, keep: Client | undefined, why: string): void {
    this.#logOut(key, keep, why);
    this.#p.sync.direct({ t: "logout", key, why });
  }

  /** Logs out this process's sessions of account `key` but `keep`. */
  #logOut(key: string, keep: Client | undefined, why: string): void {
    for (const d of this.#p.clients.values()) {
      if (d === keep || d.account !== key || d.gone) continue;
      this.#leaveAccount(d);
      this.#p.fanout.tell(
        d,
        `${why}, so you are logged out here. If that was not you, identify again and change ` +
          "your password (/password).",
      );
    }
  }

  /** Sessions of an account ended on another process (a login there, a new password). */
  loggedOutElsewhere(key: string, why: string): void {
    this.#logOut(key, undefined, why);
  }

  /** `c` logs out of its account (another login, a deleted account, identifying as another). */
  #leaveAccount(c: Client): void {
    if (!c.account) return;
    if (this.#awaiting.get(c.account) === c) this.#awaiting.delete(c.account);
    this.#prefs.forget(c);
    c.account = "";
  }

  /** An account is gone (unregistered or dropped): whoever is logged in to it is told. */
  #forget(key: string, message: string): void {
    this.#remove(key);
    this.#lockout.clear(key);
    for (const c of this.#p.clients.values()) {
      if (c.account !== key) continue;
      this.#leaveAccount(c);
      if (message) this.#p.fanout.tell(c, message);
    }
    this.#p.rooms.release(key);
  }

  /** An account made or deleted on another process. */
  fromCluster(ev: DirectEv & { t: "account" }): void {
    if (ev.on) this.#add(ev.key, ev.nick);
    else this.#forget(ev.key, `Your account ${ev.nick} was deleted.`);
  }

  /** A member elsewhere left: a client here waiting for its nick takes it now. */
  freed(key: string): void {
    const c = this.#awaiting.get(key);
    if (!c) return;
    this.#awaiting.delete(key);
    if (c.gone || c.account !== key) return;
    const name = this.#registered.get(key) ?? key;
    if (!this.#p.nicks.holder(key)) this.#p.sessions.rename(c, name);
    this.taken(c);
  }

  /** Preferences as the account keeps them. */
  savePrefs(c: Client): void {
    this.#prefs.save(c);
  }

  /**
   * `c` ignores (or stops ignoring) `other`: kept with `c`'s account when `other`'s nick is
   * registered. True if it was kept.
   */
  keepIgnore(c: Client, other: Member, on: boolean): boolean {
    const key = other.nick.toLowerCase();
    return this.#prefs.ignore(c, key, on, this.#registered.has(key));
  }

  /** `m` now holds its nick: whoever keeps ignoring that account ignores them. */
  taken(m: Client | RemoteMember): void {
    this.#prefs.taken(m);
  }

  /** `c` left: nothing of theirs stays here (their tickets are answered into the void). */
  left(c: Client): void {
    if (this.#awaiting.get(c.account) === c) this.#awaiting.delete(c.account);
    this.#prefs.forget(c);
  }

  /** Forgets failures that are old and locks that have ended. */
  tick(now: number): void {
    this.#lockout.tick(now);
  }
}
