/**
 * The command lines that carry a secret (an operator token, a room key, a password), in one
 * place: input history leaves them out, and what is typed of the secret is hidden as it is
 * typed (stars on a telnet line, a password field on the web page).
 */

/**
 * Command lines that carry a secret: `/op TOKEN`, `/join ROOM KEY`, and `/register`,
 * `/identify`, `/password`, `/unregister` followed by anything, also after spaces typed by
 * mistake (such a line is never said in the room). Input history (the telnet line editor's, the
 * web page's) leaves them out.
 */
export const SECRET_LINE =
  /^\s*\/(?:op\s|join\s+\S+\s+\S|(?:register|identify|password|unregister)(?:\s|$))/i;

/**
 * The start of a command line's secret part, for hiding it while it is typed: a match ends
 * where the secret begins (after `/op `, `/join ROOM `, `/register `, `/identify ` (the nick
 * too: simplest, and safe), `/password `, `/unregister `). Every space after that point is part
 * of the secret. Anchored at the start, and a match depends only on the text it covers, so a
 * line keeps its answer whatever is typed after the secret's start.
 */
export const SECRET_ARGS = /^\s*\/(?:op|join\s+\S+|register|identify|password|unregister)\s/i;

/** Offset in `line` where its secret part starts (see {@link SECRET_ARGS}), or -1: none. */
export function secretStart(line: string): number {
  const m = SECRET_ARGS.exec(line);
  return m ? m[0].length : -1;
}
