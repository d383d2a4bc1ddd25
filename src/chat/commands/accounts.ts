/**
 * Accounts: /register, /identify, /password, /unregister, and the operators' /drop. The
 * password work happens off the hub coroutine; these only check what was typed and ask.
 */
import type { Command } from "./types.ts";
import { firstWord, requireOp } from "./util.ts";

/** The commands for registered nicks. */
export const ACCOUNT_COMMANDS: readonly Command[] = [
  {
    name: "register",
    usage: "/register PASSWORD",
    help: "make your nick an account (nobody else can take it) and log in",
    run(chat, me, args, now) {
      const password = args.trim();
      if (!password) return chat.tell(me, "Usage: /register PASSWORD (at least 8 characters)");
      chat.register(me, password, now);
    },
  },
  {
    name: "identify",
    usage: "/identify [NICK] PASSWORD",
    help: "log in to your account (and take its nick)",
    run(chat, me, args, now) {
      const [first, rest] = firstWord(args.trim());
      if (!first) return chat.tell(me, "Usage: /identify [NICK] PASSWORD");
      const [second, extra] = firstWord(rest);
      if (extra) return chat.tell(me, "Usage: /identify [NICK] PASSWORD (no spaces in either)");
      if (second) chat.identify(me, first, second, now);
      else chat.identify(me, me.nick, first, now);
    },
  },
  {
    name: "password",
    usage: "/password OLD NEW",
    help: "change your account's password",
    run(chat, me, args, now) {
      const [old, rest] = firstWord(args.trim());
      const [fresh, extra] = firstWord(rest);
      if (!old || !fresh || extra) return chat.tell(me, "Usage: /password OLD NEW");
      chat.changePassword(me, old, fresh, now);
    },
  },
  {
    name: "unregister",
    usage: "/unregister PASSWORD",
    help: "delete your account (the nick becomes free)",
    run(chat, me, args, now) {
      const password = args.trim();
      if (!password) return chat.tell(me, "Usage: /unregister PASSWORD");
      chat.unregister(me, password, now);
    },
  },
];

/** /drop, an operator command. */
export const DROP: Command = {
  name: "drop",
  usage: "/drop NICK",
  help: "delete a registered nick's account",
  op: true,
  run(chat, me, args) {
    if (!requireOp(chat, me)) return;
    const [name] = firstWord(args.trim());
    if (!name) return chat.tell(me, "Usage: /drop NICK");
    const nick = chat.registered(name);
    if (!nick || !chat.dropAccount(name, me)) {
      return chat.tell(me, `${name} is not registered.`);
    }
    chat.audit("drop account", me, nick);
    chat.tell(me, `The account ${nick} is deleted; anyone may take the name now.`);
  },
};
