/**
 * What the cluster link checks what it reads from Redis against: chat's own rules for nicks,
 * room names and lengths (the link, in src/cluster/, knows nothing of chat: the shell hands them
 * over).
 */
import { AWAY_MAX, TOPIC_MAX } from "../chat/limits.ts";
import { acceptableNick } from "../chat/nicks.ts";
import { roomName } from "../chat/room.ts";
import type { BusRules } from "../cluster/decode.ts";

/** The rules, with lines of at most `textMax` (the process's --max-line). */
export function busRules(textMax: number): BusRules {
  return {
    nickOk: acceptableNick,
    roomOk: (name) => roomName(name) === name,
    topicMax: TOPIC_MAX,
    awayMax: AWAY_MAX,
    textMax,
  };
}
