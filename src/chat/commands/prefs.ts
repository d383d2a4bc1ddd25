/** How your screen looks: /color, /bell, /timestamps. */
import type { Command } from "./types.ts";

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
      chat.setView(me, { [name]: arg === "on" });
      chat.tell(me, `${what} ${arg}.`);
    },
  };
}

/** The commands for how lines are shown to you. */
export const PREF_COMMANDS: readonly Command[] = [
  toggle("color", "Colours", "colour nicks, notices and private messages"),
  toggle("bell", "The bell", "ring the bell when someone mentions you or writes to you"),
  toggle("timestamps", "Timestamps", "show the time (HH:MM) before each line"),
];
