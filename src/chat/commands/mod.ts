/**
 * The slash commands, in one table built from the themes (chat, rooms, preferences, operators):
 * name, usage, help text and handler. Handlers are the behaviour; they reach the hub's state only
 * through the {@link Chat} interface the hub implements.
 */
import type { Config } from "../../ops/config.ts";
import { formatDuration } from "../../lib/units.ts";
import { ACCOUNT_COMMANDS, DROP } from "./accounts.ts";
import { CHAT_COMMANDS, QUIT } from "./chat.ts";
import { HISTORY_COMMANDS } from "./history.ts";
import { AUDIT, MODERATION_COMMANDS } from "./moderation.ts";
import { OP, OP_COMMANDS } from "./ops.ts";
import { PREF_COMMANDS } from "./prefs.ts";
import { ROOM_COMMANDS } from "./rooms.ts";
import type { Command } from "./types.ts";

export type {
  Chat,
  Command,
  HistoryRequest,
  JoinOutcome,
  KeepOutcome,
  Member,
  RoomAct,
  RoomInfo,
  RoomMode,
  RoomSettings,
  SanctionInfo,
  ViewSettings,
} from "./types.ts";
export { AWAY_MAX, WHO_LIMIT } from "./util.ts";
export { ROOMS_LIMIT, TOPIC_MAX } from "./rooms.ts";
export { SECRET_ARGS, SECRET_LINE, secretStart } from "./secrets.ts";

const HELP: Command = {
  name: "help",
  usage: "/help",
  help: "list the commands",
  run(chat, me) {
    const v = chat.view(me);
    chat.tell(me, ...helpLines(chat.config, chat.opsEnabled, v.web ? "web" : v.charMode));
  },
};

/** Every command, in the order /help lists them. */
export const COMMANDS: readonly Command[] = [
  HELP,
  ...CHAT_COMMANDS,
  ...ROOM_COMMANDS,
  ...MODERATION_COMMANDS,
  ...HISTORY_COMMANDS,
  ...ACCOUNT_COMMANDS,
  ...PREF_COMMANDS,
  QUIT,
  OP,
  ...OP_COMMANDS,
  AUDIT,
  DROP,
];

const BY_NAME = new Map(COMMANDS.map((c) => [c.name, c]));

/** Finds a command by name (case does not matter). */
export function findCommand(name: string): Command | undefined {
  return BY_NAME.get(name.toLowerCase());
}

/**
 * The /help text, built from the table; `charMode` picks the keyboard tip (telnet in character
 * mode, a line-mode client, or `"web"` for the browser page).
 */
export function helpLines(
  config: Config,
  opsEnabled: boolean,
  charMode: boolean | "web" = false,
): string[] {
  const shown = COMMANDS.filter((c) => (c.op || c.needsOps) ? opsEnabled : true);
  const width = Math.max(...shown.map((c) => c.usage.length));
  const row = (c: { usage: string; help: string }) => `  ${c.usage.padEnd(width)}  ${c.help}`;
  const lines = ["Commands:"];
  for (const c of shown) if (!c.op) lines.push(row(c));
  lines.push(row({ usage: "//TEXT", help: "send a line that starts with /" }));
  if (opsEnabled) {
    lines.push("Operator commands:");
    for (const c of COMMANDS) if (c.op) lines.push(row(c));
  }
  if (config.rateLimit > 0) {
    lines.push(
      `Lines and commands: at most one every ${
        formatDuration(config.rateLimit)
      }; a faster one is ` +
        `dropped and is a strike (${config.maxStrikes} strikes: banned for ` +
        `${formatDuration(config.banDuration)}).`,
    );
  }
  lines.push(
    charMode === "web"
      ? "Keys: Enter sends, Up and Down recall the lines you sent."
      : charMode
      ? "Keys: arrows edit and recall lines, Tab completes nicks and /commands, Ctrl-U clears " +
        "the line, Ctrl-W a word, Ctrl-L redraws, Ctrl-D on an empty line leaves."
      : "If a message lands in the middle of what you are typing, Ctrl-R reprints your line.",
  );
  return lines;
}
