/**
 * The work an editor's feed does besides what it writes, in units of about one character cell
 * examined: cells the layout walked, text scanned for a word or grapheme, a Tab's lookup, one
 * per key that is not text. The editor's parts share one meter and add to it as they go; the
 * editor adds the length of the echo and reports the sum (see `EditResult.work` in editor.ts).
 */
export interface Meter {
  steps: number;
}
