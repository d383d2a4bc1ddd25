/** Rooms: /join, /part, /rooms, /topic (and /room, in moderation.ts). */
import { TOPIC_MAX } from "../limits.ts";
import { roomName } from "../room.ts";
import { formatDuration } from "../../lib/units.ts";
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
        case "refused":
          return chat.tell(me, r.text);
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
          ...r.modes,
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
];
