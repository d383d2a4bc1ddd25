/**
 * Lengths of what people type that hold wherever it is shown: the commands cut typed text to
 * them, and the cluster link cuts what other processes send to them too. A leaf module, so the
 * link (src/bus.ts) can share them without importing the commands.
 */

/** Longest topic kept, in characters. */
export const TOPIC_MAX = 200;

/** Longest away reason kept, in characters. */
export const AWAY_MAX = 100;
