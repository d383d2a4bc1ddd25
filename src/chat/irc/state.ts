/**
 * What the hub keeps of one IRC session besides what every client has: registration, the
 * capabilities it asked for, the channels it is in (an IRC client may be in several rooms at
 * once), its protocol commands waiting for their turn (fakelag) and the keepalive.
 */
import { type Bucket, fullBucket } from "../../lib/bucket.ts";
import type { ChatRoom } from "../room.ts";
import type { IrcMessage } from "./wire.ts";

/** An IRC session's own state (see Client.irc). */
export class IrcState<M> {
  /** Registration done (NICK, USER, and CAP END if CAP was used): a member now. */
  registered = false;
  /** The nick given by NICK before registration (its Shat form). */
  nick = "";
  /** USER's user name (cleaned, at most 10 characters) and real name. */
  user = "";
  realname = "";
  /** PASS as given (the room token, or `nick:password` for an account). */
  pass = "";
  /** CAP LS or REQ was sent and CAP END not yet: registration waits. */
  negotiating = false;
  /** Capabilities agreed (`echo-message`, `server-time`, `message-tags`). */
  readonly caps = new Set<string>();
  /** The rooms it is in; the client's `room` is the one it spoke in or joined last. */
  readonly channels = new Set<ChatRoom<M>>();
  /** Protocol commands waiting for the fakelag bucket, oldest first. */
  queue: { msg: IrcMessage; at: number }[] | null = null;
  /** The fakelag bucket: a burst of commands, then a steady pace. */
  readonly pace: Bucket = fullBucket();
  /** When the server's PING went unanswered since (0 = none outstanding). */
  pingSent = 0;
  /** Lines taken before registration (a budget like the room token's). */
  early = 0;

  /** Capability `name` was agreed. */
  has(name: string): boolean {
    return this.caps.has(name);
  }
}

/** The session's state, made when an IRC connection opens. */
export function newIrcState<M>(): IrcState<M> {
  return new IrcState<M>();
}
