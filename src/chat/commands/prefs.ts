/** How your screen looks: /color, /bell, /timestamps, /screenreader. */
import type { Chat, Command, Member, ViewSettings } from "./types.ts";

/**
 * Screen-reader mode, as the hub's view and setView carry it (besides the ViewSettings fields;
 * see src/chat/sessions.ts).
 */
type ReaderView = ViewSettings & { screenReader?: boolean };
type ReaderChange = Partial<Omit<ViewSettings, "charMode" | "web">> & { screenReader?: boolean };

function readerOn(chat: Chat, me: Member): boolean {
  return (chat.view(me) as ReaderView).screenReader === true;
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
    const change: ReaderChange = { screenReader: arg === "on" };
    chat.setView(me, change);
    chat.tell(
      me,
      arg === "on"
        ? "Screen reader mode on: plain lines, no prompt, no colours."
        : "Screen reader mode off.",
    );
  },
};

/** The commands for how lines are shown to you. */
export const PREF_COMMANDS: readonly Command[] = [
  toggle("color", "Colours", "colour nicks, notices and private messages"),
  toggle("bell", "The bell", "ring the bell when someone mentions you or writes to you"),
  toggle("timestamps", "Timestamps", "show the time (HH:MM) before each line"),
  SCREEN_READER,
];
