/**
 * Nicknames: their form, the names nobody may take, and the "skeleton" that makes lookalikes
 * equal (`aIice`, `a1ice` and `alice`; `rn` and `m`; Cyrillic letters that look Latin), so
 * nobody can pass for someone else in the room.
 */

/** The form of a nickname: 1–16 of letters, digits, `_`, `-`, `.`. */
export const NICK_PATTERN = /^[A-Za-z0-9_.-]{1,16}$/;

/** Letters from other scripts that look like Latin ones. */
const LOOKALIKES: Record<string, string> = {
  "а": "a", // Cyrillic
  "в": "b",
  "е": "e",
  "ё": "e",
  "к": "k",
  "м": "m",
  "н": "h",
  "о": "o",
  "р": "p",
  "с": "c",
  "т": "t",
  "у": "y",
  "х": "x",
  "ѕ": "s",
  "і": "l",
  "ї": "l",
  "ј": "j",
  "ӏ": "l",
  "ԁ": "d",
  "ԛ": "q",
  "ԝ": "w",
  "α": "a", // Greek
  "β": "b",
  "ε": "e",
  "ι": "l",
  "κ": "k",
  "ν": "v",
  "ο": "o",
  "ρ": "p",
  "τ": "t",
  "υ": "u",
  "χ": "x",
  "0": "o", // digits
  "1": "l",
  "i": "l", // after lower-casing, I and l and i and 1 are one stroke
  "|": "l",
};

/**
 * The form two nicks share when they look alike: lower case, lookalike letters folded, `rn`
 * as `m` and `vv` as `w`. Equal skeletons mean confusable nicks.
 */
export function skeleton(nick: string): string {
  const folded = nick.toLowerCase().replace(FOLD, (ch) => LOOKALIKES[ch]);
  return folded.replace(PAIRS, (pair) => (pair === "rn" ? "m" : "w"));
}

const FOLD = new RegExp(`[${Object.keys(LOOKALIKES).join("").replace("|", "\\|")}]`, "gu");
const PAIRS = /rn|vv/g;

/** Names that would pass for the server or its staff (compared by skeleton). */
const RESERVED = ["server", "system", "shat", "admin", "operator", "root"].map(skeleton);

/** True for the names the server hands out itself (`guest-4913`), or lookalikes of one. */
export function isGuestForm(nick: string): boolean {
  return /^guest-[0-9lo]+$/.test(skeleton(nick));
}

/** Why `name` cannot be a nickname anyone picks, or undefined if it may be. */
export function nickProblem(name: string): string | undefined {
  if (name === "") return "Usage: /nick NAME";
  if (name.length > 16) return "Nicknames are at most 16 characters long.";
  if (!NICK_PATTERN.test(name)) {
    return "Nicknames may only use letters, digits, _ - and . (no spaces).";
  }
  if (/^[0-9.]+$/.test(name) && name.includes(".")) {
    return "A nickname may not look like an IP address.";
  }
  if (isGuestForm(name)) return "guest-NNNN names are given out by the server; pick another.";
  if (RESERVED.includes(skeleton(name))) return `${name} is reserved; pick another name.`;
  return undefined;
}

/**
 * Whether `nick` is one some Shat process could have given out or let someone take: checked on
 * what comes from the other processes, which could have been put in Redis by anything.
 */
export function acceptableNick(nick: string): boolean {
  return NICK_PATTERN.test(nick) && (isGuestForm(nick) || nickProblem(nick) === undefined);
}
