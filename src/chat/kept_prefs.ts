/**
 * What an identified person keeps with their account: how they see the room (colour, bell,
 * timestamps, screen-reader mode) and the registered nicks they ignore. An ignore of a registered nick follows its
 * account: whoever holds that nick later (they identified for it) is ignored too.
 */
import type { Prefs } from "../store/types.ts";
import type { Client } from "./client.ts";
import type { Keep } from "./keep.ts";
import type { RemoteMember } from "./mirror.ts";
import type { NickTable } from "./names.ts";
import { VIEW_COLOR, VIEW_STAMPS } from "./render.ts";
import type { Sessions } from "./sessions.ts";

/** Most ignores an account keeps. */
export const KEPT_IGNORES_MAX = 1_000;

/** Kept preferences and ignores, and who keeps ignoring which registered nick. */
export class KeptPrefs {
  readonly #keep: Keep;
  readonly #nicks: NickTable;
  readonly #sessions: Sessions;
  /** Registered nick → identified clients here who keep ignoring whoever holds it. */
  readonly #watchers = new Map<string, Set<Client>>();

  constructor(keep: Keep, nicks: NickTable, sessions: Sessions) {
    this.#keep = keep;
    this.#nicks = nicks;
    this.#sessions = sessions;
  }

  /** Saves `c`'s preferences with its account. */
  save(c: Client): void {
    if (c.account) this.#keep.write({ t: "prefs", key: c.account, prefs: prefsOf(c) });
  }

  /**
   * `c` ignores (or stops ignoring) the nick `key`: kept with `c`'s account (when `registered`
   * is true of it). True if it was kept.
   */
  ignore(c: Client, key: string, on: boolean, registered: boolean): boolean {
    if (!c.account) return false;
    if (on) {
      if (!registered || (c.keptIgnores?.size ?? 0) >= KEPT_IGNORES_MAX) return false;
      (c.keptIgnores ??= new Set()).add(key);
      this.#watch(c, key);
    } else {
      if (!c.keptIgnores?.delete(key)) return false;
      this.#watchers.get(key)?.delete(c);
    }
    this.save(c);
    return true;
  }

  /** `m` now holds its nick: whoever keeps ignoring that nick ignores them. */
  taken(m: Client | RemoteMember): void {
    const watchers = this.#watchers.get(m.key);
    if (!watchers) return;
    for (const w of watchers) if (w !== m) this.#sessions.setIgnore(w, m, true);
  }

  /**
   * An identified person's preferences come back: screen-reader mode first, so that the colours
   * and bell kept for a terminal do not come back with it.
   */
  restore(c: Client, prefs: Prefs): void {
    if (typeof prefs.screenReader === "boolean") {
      c.readerChosen = true;
      const on = prefs.screenReader;
      this.#sessions.setScreenReader(c, on, `Screen reader mode ${on ? "on" : "off"}, as kept.`);
    }
    const view: { color?: boolean; bell?: boolean; timestamps?: boolean } = {};
    if (typeof prefs.color === "boolean") view.color = prefs.color;
    if (typeof prefs.bell === "boolean") view.bell = prefs.bell;
    if (typeof prefs.timestamps === "boolean") view.timestamps = prefs.timestamps;
    this.#sessions.setView(c, view);
    const ignores = (Array.isArray(prefs.ignores) ? prefs.ignores : [])
      .filter((k) => typeof k === "string").slice(0, KEPT_IGNORES_MAX);
    if (ignores.length === 0) return;
    c.keptIgnores = new Set(ignores);
    for (const key of ignores) {
      this.#watch(c, key);
      const h = this.#nicks.holder(key);
      if (h && h.id !== c.id) this.#sessions.setIgnore(c, h, true);
    }
  }

  /** `c` is logged out (or left): its kept ignores no longer follow anyone. */
  forget(c: Client): void {
    if (!c.keptIgnores) return;
    for (const key of c.keptIgnores) {
      const set = this.#watchers.get(key);
      set?.delete(c);
      if (set?.size === 0) this.#watchers.delete(key);
    }
    c.keptIgnores = null;
  }

  #watch(c: Client, key: string): void {
    let set = this.#watchers.get(key);
    if (!set) this.#watchers.set(key, set = new Set());
    set.add(c);
  }
}

/** What an account keeps of `c`'s preferences. */
export function prefsOf(c: Client): Prefs {
  return {
    color: (c.view & VIEW_COLOR) !== 0,
    bell: c.bell,
    timestamps: (c.view & VIEW_STAMPS) !== 0,
    ...(c.readerChosen ? { screenReader: c.screenReader } : {}),
    ignores: c.keptIgnores ? [...c.keptIgnores] : [],
  };
}
