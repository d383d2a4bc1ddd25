/** Rooms: /join, /part, /rooms, /topic, /room keep. */
import { TOPIC_MAX } from "../limits.ts";
import { roomName } from "../room.ts";
import { formatDuration } from "../../lib/units.ts";
import { KEEP_PER_ACCOUNT } from "../limits.ts";
import type { Command } from "./types.ts";
import { firstWord } from "./util.ts";

export { TOPIC_MAX };

/** Most rooms /rooms lists. */
export const ROOMS_LIMIT = 100;

/** The commands for moving between rooms and describing them. */
export const ROOM_COMMANDS: readonly Command[] = [
  {
    name: "join",
    usage: "/join ROOM [KEY]",
    help: "go to a room (made if it does not exist; with KEY, only those who know it enter)",
    run(chat, me, args, now) {
      const [typed, rest] = firstWord(args);
      if (!typed) return chat.tell(me, "Usage: /join ROOM [KEY]");
      const name = roomName(typed);
      if (!name) {
        return chat.tell(me, "Room names are 1–24 letters, digits, - and _ (like #team-1).");
      }
      const [key] = firstWord(rest);
      const r = chat.join(me, name, key, now);
      if (r.ok) return;
      switch (r.why) {
        case "same":
          return chat.tell(me, `You are already in ${r.room.label}.`);
        case "needs-key":
          return chat.tell(me, `${r.room.label} has a key: /join ${r.room.name} KEY`);
        case "lookalike":
          return chat.tell(
            me,
            `${typed.replace(/^#?/, "#")} looks too much like ${r.room.label}; ` +
              `/join ${r.room.name} or pick another name.`,
          );
        case "wrong-key":
          chat.strike(me, "wrong room key", now, `Wrong key for ${r.room.label}.`, true);
          return;
        case "too-many-rooms":
          return chat.tell(
            me,
            `There are already ${r.limit} rooms; join one of them (/rooms lists them).`,
          );
        case "too-fast":
          return chat.tell(
            me,
            `You are making rooms too fast; try again in ${formatDuration(r.wait)}.`,
          );
      }
    },
  },
  {
    name: "part",
    usage: "/part",
    help: "go back to the lobby",
    run(chat, me, _args, now) {
      const here = chat.roomOf(me);
      if (here.lobby) return chat.tell(me, `You are in ${here.label}; /join ROOM goes elsewhere.`);
      chat.join(me, chat.config.lobby, "", now);
    },
  },
  {
    name: "rooms",
    usage: "/rooms",
    help: "list the rooms: name, people, topic",
    run(chat, me) {
      const here = chat.roomOf(me);
      const all = chat.rooms(me).sort((a, b) =>
        (b.lobby ? 1 : 0) - (a.lobby ? 1 : 0) || b.members - a.members ||
        a.name.localeCompare(b.name)
      );
      const shown = all.slice(0, ROOMS_LIMIT);
      const width = Math.max(...shown.map((r) => r.label.length));
      const lines = [`${all.length === 1 ? "1 room" : `${all.length} rooms`}:`];
      for (const r of shown) {
        const people = r.members === 1 ? "1 person" : `${r.members} people`;
        const marks = [
          r.keyed ? "key" : "",
          r.kept ? "kept" : "",
          r.name === here.name ? "you are here" : "",
        ].filter(Boolean);
        const mark = marks.length ? ` (${marks.join(", ")})` : "";
        const topic = r.topic ? `  ${r.topic}` : "";
        lines.push(`  ${r.label.padEnd(width)}  ${people.padStart(10)}${mark}${topic}`);
      }
      if (all.length > shown.length) lines.push(`  … and ${all.length - shown.length} more`);
      chat.tell(me, ...lines);
    },
  },
  {
    name: "topic",
    usage: "/topic [TEXT]",
    help: "show or set your room's topic (/topic - clears it)",
    run(chat, me, args, now) {
      const text = args.trim();
      const here = chat.roomOf(me);
      if (!text) {
        return chat.tell(
          me,
          here.topic
            ? `The topic of ${here.label}: ${here.topic} (set by ${here.topicBy})`
            : `${here.label} has no topic. /topic TEXT sets one.`,
        );
      }
      chat.setTopic(me, text === "-" ? "" : [...text].slice(0, TOPIC_MAX).join(""), now);
    },
  },
  {
    name: "room",
    usage: "/room keep on|off",
    help: "keep your room (its topic, key and lines) when everyone has left, and at restarts",
    run(chat, me, args) {
      const [what, rest] = firstWord(args.trim().toLowerCase());
      const here = chat.roomOf(me);
      if (what !== "keep" || (rest !== "on" && rest !== "off" && rest !== "")) {
        return chat.tell(me, "Usage: /room keep on|off");
      }
      if (rest === "") {
        const owner = here.owner
          ? `; its owner is ${chat.registered(here.owner) ?? here.owner}`
          : "";
        return chat.tell(
          me,
          `${here.label} is ${
            here.kept || here.lobby ? "" : "not "
          }kept${owner}. Usage: /room keep on|off`,
        );
      }
      const on = rest === "on";
      switch (chat.keepRoom(me, on)) {
        case "kept":
          return chat.tell(
            me,
            `${here.label} is kept: it stays, with its topic, key and lines, when everyone has ` +
              "left and when the server restarts.",
          );
        case "unkept":
          return chat.tell(
            me,
            `${here.label} is no longer kept: it goes, with its lines, when everyone has left.`,
          );
        case "already":
          return chat.tell(me, `${here.label} is ${on ? "already" : "not"} kept.`);
        case "lobby":
          return chat.tell(me, `${here.label} is the lobby: it is always kept.`);
        case "no-owner":
          return chat.tell(
            me,
            `${here.label} has no owner (whoever made it was not identified): only an ` +
              "operator can keep it.",
          );
        case "not-owner":
          return chat.tell(
            me,
            `Only ${here.label}'s owner (${
              chat.registered(here.owner) ?? here.owner
            }, identified) or an operator can do that.`,
          );
        case "too-many":
          return chat.tell(
            me,
            `You keep ${KEEP_PER_ACCOUNT} rooms already (the most one account may); ` +
              "/room keep off in one of them first.",
          );
      }
    },
  },
];
