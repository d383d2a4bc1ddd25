/** What every part of the hub shares: the configuration, the log, the effects and the counters. */
import type { Config } from "../ops/config.ts";
import type { Logger } from "../ops/log.ts";
import type { HubEffects } from "./events.ts";
import type { HubStats } from "./stats.ts";

/** The hub's surroundings, as its parts see them. */
export interface HubContext {
  readonly config: Config;
  readonly log: Logger;
  /** What the hub asks of the shell. */
  readonly effects: HubEffects;
  readonly stats: HubStats;
  /** How a line's time is shown (HH:MM). */
  readonly clock: (ms: number) => string;
  /** The message of the day, line by line. */
  readonly motd: readonly string[];
}
