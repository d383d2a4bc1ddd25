/** Talking and the people in it: /nick, /who, /me, /msg, /reply, /away, /back, /ignore, /quit. */
import { nickProblem } from "../nicks.ts";
import type { Chat, Command, Member } from "./types.ts";
import { AWAY_MAX, firstWord, idleTime, WHO_LIMIT } from "./util.ts";

function sendPrivate(
  chat: Chat,
  me: Member,
  to: Member | undefined,
  text: string,
  name: string,
  now: number,
) {
  if (!to) {
    chat.tell(me, `There is nobody called ${name} here. Type /who to see who is.`);
    return;
  }
  if (to.id === me.id) {
    chat.tell(me, "That is you.");
    return;
  }
  chat.whisper(me, to, text, now);
  if (to.away) chat.tell(me, `${to.nick} is away: ${to.away}`);
}

/** The commands for talking and for the people in the room. */
export const CHAT_COMMANDS: readonly Command[] = [
  {
    name: "nick",
    usage: "/nick NAME",
    help: "change your nickname",
    run(chat, me, args) {
      const name = args.trim();
      const problem = nickProblem(name);
      if (problem) return chat.tell(me, problem);
      if (name === me.nick) return chat.tell(me, `You are already ${name}.`);
      if (chat.busy(me)) return chat.tell(me, "Still working on your last request; a moment.");
      const account = chat.reservedFor(name, me);
      if (account) {
        if (account.toLowerCase() === name.toLowerCase()) {
          return chat.tell(
            me,
            `${account} is registered. If it is yours: /identify ${account} PASSWORD`,
          );
        }
        return chat.tell(
          me,
          `${name} looks too much like the registered nick ${account}; pick another name.`,
        );
      }
      const holder = chat.lookalike(name);
      if (holder && holder.id !== me.id) {
        if (holder.nick.toLowerCase() === name.toLowerCase()) {
          return chat.tell(me, `${holder.nick} is taken; pick another name.`);
        }
        return chat.tell(me, `${name} looks too much like ${holder.nick}; pick another name.`);
      }
      chat.rename(me, name);
    },
  },
  {
    name: "who",
    usage: "/who [ROOM]",
    help: "list who is in your room (or another), with idle times",
    run(chat, me, args, now) {
      const [asked] = firstWord(args);
      const mine = chat.roomOf(me);
      let room = mine;
      if (asked) {
        const found = chat.findRoom(asked, me);
        if (!found) {
          return chat.tell(me, `There is no room ${asked}. /rooms lists the rooms.`);
        }
        if (found.keyed && found.name !== mine.name) {
          return chat.tell(me, `${found.label} has a key: only its members see who is in it.`);
        }
        room = found;
      }
      const all = chat.members(room.name).sort((a, b) => a.nick.localeCompare(b.nick));
      const shown = all.slice(0, WHO_LIMIT);
      const lines = [`${all.length} in ${room.label} (${chat.online} online):`];
      const width = Math.max(0, ...shown.map((m) => m.nick.length));
      for (const m of shown) {
        const tags = [
          m.op ? "op" : "",
          ...chat.marks(m, room.name, now),
          chat.registered(m.nick) ? "registered" : "",
          m.id === me.id ? "you" : "",
        ].filter(Boolean);
        const tag = tags.length ? ` (${tags.join(", ")})` : "";
        const away = m.away ? `  away: ${m.away}` : "";
        lines.push(
          `  ${(m.nick + tag).padEnd(width + 10)} idle ${idleTime(now - m.lastActive)}${away}`,
        );
      }
      if (all.length > shown.length) lines.push(`  … and ${all.length - shown.length} more`);
      chat.tell(me, ...lines);
    },
  },
  {
    name: "me",
    usage: "/me ACTION",
    help: "tell the room what you are doing",
    run(chat, me, args, now) {
      if (!args.trim()) return chat.tell(me, "Usage: /me ACTION");
      chat.emote(me, args.trim(), now);
    },
  },
  {
    name: "msg",
    usage: "/msg NICK TEXT",
    help: "send a private message to one person (in any room)",
    run(chat, me, args, now) {
      const [name, text] = firstWord(args);
      if (!name || !text.trim()) return chat.tell(me, "Usage: /msg NICK TEXT");
      sendPrivate(chat, me, chat.byNick(name), text.trim(), name, now);
    },
  },
  {
    name: "reply",
    usage: "/reply TEXT",
    help: "answer the last private message you got",
    run(chat, me, args, now) {
      if (!args.trim()) return chat.tell(me, "Usage: /reply TEXT");
      if (!me.replyTo) return chat.tell(me, "Nobody has sent you a private message yet.");
      const to = chat.byId(me.replyTo);
      if (!to) return chat.tell(me, "The person who last wrote to you has left.");
      sendPrivate(chat, me, to, args.trim(), to.nick, now);
    },
  },
  {
    name: "away",
    usage: "/away [REASON]",
    help: "mark yourself away (/who and private senders see it)",
    run(chat, me, args) {
      chat.setAway(me, [...args.trim()].slice(0, AWAY_MAX).join("") || "away");
    },
  },
  {
    name: "back",
    usage: "/back",
    help: "you are back (saying anything does it too)",
    run(chat, me) {
      if (!me.away) return chat.tell(me, "You are not marked away.");
      chat.setAway(me, "");
    },
  },
  {
    name: "ignore",
    usage: "/ignore [NICK]",
    help: "hide someone's lines and private messages (no NICK: list)",
    run(chat, me, args) {
      const name = args.trim();
      if (!name) {
        const list = chat.ignored(me).map((m) => m.nick).sort();
        return chat.tell(
          me,
          list.length ? `You are ignoring: ${list.join(", ")}.` : "You are not ignoring anyone.",
        );
      }
      const who = chat.byNick(name);
      if (!who) return chat.tell(me, `There is nobody called ${name} here.`);
      if (who.id === me.id) return chat.tell(me, "You cannot ignore yourself.");
      if (chat.ignores(me, who)) return chat.tell(me, `You are already ignoring ${who.nick}.`);
      chat.setIgnore(me, who, true);
      chat.tell(
        me,
        chat.ignoreKept(me, who)
          ? `You are ignoring ${who.nick} (kept with your account: ${who.nick} is registered). ` +
            "/unignore to stop."
          : `You are ignoring ${who.nick} (until one of you leaves). /unignore to stop.`,
      );
    },
  },
  {
    name: "unignore",
    usage: "/unignore NICK",
    help: "see someone's lines again",
    run(chat, me, args) {
      const name = args.trim();
      if (!name) return chat.tell(me, "Usage: /unignore NICK");
      const who = chat.byNick(name);
      if (!who || !chat.ignores(me, who)) {
        return chat.tell(me, `You are not ignoring ${who?.nick ?? name}.`);
      }
      chat.setIgnore(me, who, false);
      chat.tell(me, `You see ${who.nick} again.`);
    },
  },
];

/** /quit, listed after the other commands. */
export const QUIT: Command = {
  name: "quit",
  usage: "/quit [REASON]",
  help: "say goodbye and leave",
  run(chat, me, args, now) {
    const reason = args.trim();
    chat.disconnect(me, "Goodbye!", reason ? `quit: ${reason}` : "quit", now);
  },
};
