/**
 * What the bus accepts, built from the chat's rules as the shell builds it (src/cluster/decode.ts
 * BusRules), and the decoders bound to it with their former signatures: for tests that decode
 * what Redis gives as a running server does. Tests may import chat/; cluster/ may not.
 */
import type { BanInfo, BusIn, MemberInfo, Snapshot } from "../../src/cluster/bus.ts";
import * as decode from "../../src/cluster/decode.ts";
import { busRules } from "../../src/shell/bus_rules.ts";

/** The chat's rules with the default line length ({@link decode.TEXT_MAX}). */
export const CHAT_RULES: decode.BusRules = busRules(decode.TEXT_MAX);

/** {@link CHAT_RULES}, with another line length when one is given (a process's `--max-line`). */
export function chatRules(textMax?: number): decode.BusRules {
  return textMax === undefined ? CHAT_RULES : { ...CHAT_RULES, textMax };
}

/** {@link decode.readBus} with the chat's rules. */
export function readBus(payload: string, maxText?: number): BusIn | decode.Dropped {
  return decode.readBus(payload, chatRules(maxText));
}

/** {@link decode.decodeBus} with the chat's rules. */
export function decodeBus(payload: string, maxText?: number): BusIn | null {
  return decode.decodeBus(payload, chatRules(maxText));
}

/** {@link decode.readMember} with the chat's rules. */
export function readMember(json: string): { node: string; info: MemberInfo } | decode.Dropped {
  return decode.readMember(json, CHAT_RULES);
}

/** {@link decode.readRoomMeta} with the chat's rules. */
export function readRoomMeta(id: string, json: string): Snapshot["rooms"][number] | decode.Dropped {
  return decode.readRoomMeta(id, json, CHAT_RULES);
}

/** {@link decode.readBan} with the chat's rules. */
export function readBan(ip: string, json: string, maxText?: number): BanInfo | decode.Dropped {
  return decode.readBan(ip, json, chatRules(maxText));
}
