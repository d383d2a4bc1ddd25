/** The IRC door's limits, and the parts of the hub it works with. */
import type { ClientTable } from "../clients.ts";
import type { Fanout } from "../fanout.ts";
import type { Mirror } from "../mirror.ts";
import type { Rooms } from "../rooms.ts";
import type { Sanctions } from "../sanctions.ts";
import type { Sessions } from "../sessions.ts";
import type { Stewards } from "../stewards.ts";

/** Protocol commands a session may send at once, and how many per second after that. */
export const FAKELAG_BURST = 16;
export const FAKELAG_RATE = 2;
/** Commands waiting for their turn past which the session is dropped (Excess Flood). */
export const FAKELAG_QUEUE = 64;
/** Lines before registration is done (a connect burst is a handful). */
export const EARLY_LINES = 20;
/** Rooms one IRC session may be in at once. */
export const CHANNEL_LIMIT = 50;
/** Capabilities offered (CAP LS). */
export const CAPS = ["echo-message"];
/** A QUIT's reason is shown only from a session connected at least this long (no free ads). */
export const QUIT_REASON_AFTER = 60_000;

/** What the door needs of the hub. */
export interface DoorParts {
  clients: ClientTable;
  fanout: Fanout;
  rooms: Rooms;
  sessions: Sessions;
  sanctions: Sanctions;
  mirror: Mirror;
  stewards: Stewards;
}
