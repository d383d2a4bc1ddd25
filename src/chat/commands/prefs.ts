/** How your screen looks: /color, /bell, /timestamps, /screenreader, /bot. */
import type { Chat, Command, Member } from "./types.ts";

function readerOn(chat: Chat, me: Member): boolean {
  return chat.view(me).screenReader;
}

/** A command that turns one view setting on or off (`/color on`), or says how it is. */
function toggle(name: "color" | "bell" | "timestamps", what: string, help: string): Command {
  return {
    name,
    usage: `/${name} on|off`,
    help,
    run(chat, me, args) {
      const arg = args.trim().toLowerCase();
      if (arg !== "on" && arg !== "off") {
        const now = chat.view(me)[name] ? "on" : "off";
        return chat.tell(me, `${what} is ${now}. Usage: /${name} on|off`);
      }
      if (arg === "on" && name !== "timestamps" && readerOn(chat, me)) {
        return chat.tell(
          me,
          "Screen reader mode keeps colours and the bell off (/screenreader off first).",
        );
      }
      chat.setView(me, { [name]: arg === "on" });
      chat.tell(me, `${what} ${arg}.`);
    },
  };
}

/**
 * Screen-reader mode: the server stops drawing (no prompt, no redraw, no colours, no bell), the
 * terminal edits the line itself, and each line arrives once, whole, sender first. Kept with
 * the account.
 */
const SCREEN_READER: Command = {
  name: "screenreader",
  usage: "/screenreader on|off",
  help: "plain lines for a screen reader or braille display",
  run(chat, me, args) {
    const arg = args.trim().toLowerCase();
    if (arg !== "on" && arg !== "off") {
      const now = readerOn(chat, me) ? "on" : "off";
      return chat.tell(me, `Screen reader mode is ${now}. Usage: /screenreader on|off`);
    }
    chat.setView(me, { screenReader: arg === "on" });
    chat.tell(
      me,
      arg === "on"
        ? "Screen reader mode on: plain lines, no prompt, no colours."
        : "Screen reader mode off.",
    );
  },
};

/**
 * Bot mode, for scripts on the raw port: every line one JSON object (time, room, nick, kind,
 * text), no history replayed on /join, no notices of joins and leaves; marked in /who. The rate
 * limit is the same as everyone's.
 */
const BOT: Command = {
  name: "bot",
  usage: "/bot on|off",
  help: "for scripts: every line as one JSON object, no join/leave notices or history",
  run(chat, me, args) {
    const arg = args.trim().toLowerCase();
    if (arg !== "on" && arg !== "off") {
      const now = chat.view(me).bot ? "on" : "off";
      return chat.tell(me, `Bot mode is ${now}. Usage: /bot on|off`);
    }
    if (arg === "on" && chat.view(me).screenReader) {
      return chat.tell(me, "Screen reader mode is on: /screenreader off first.");
    }
    // Told in the new way: as JSON when it goes on, as text when it goes off.
    chat.setView(me, { bot: arg === "on" });
    chat.tell(
      me,
      arg === "on"
        ? "Bot mode on: every line is one JSON object: time, room, nick, kind, text."
        : "Bot mode off.",
    );
  },
};

/** The commands for how lines are shown to you. */
export const PREF_COMMANDS: readonly Command[] = [
  toggle("color", "Colours", "colour nicks, notices and private messages"),
  toggle("bell", "The bell", "ring the bell when someone mentions you or writes to you"),
  toggle("timestamps", "Timestamps", "show the time (HH:MM) before each line"),
  SCREEN_READER,
  BOT,
];
