/**
 * Ending streamed text at stop strings. Pieces of decoded text come in as a TextStream makes
 * them; a stop string may begin inside one piece and end in a later one, so the tail of the text
 * that could still be the start of a stop string is held back until it is decided. Everything
 * before the first stop string (the earliest of several) is output; then the stop string itself
 * when `keepStop` (the CLI's `--stop`) or not (OpenAI's `stop`); the text after it (the rest of
 * the token that completed it) is dropped.
 */
export class StopText {
  private held = '';
  private done = false;

  constructor(private readonly stops: readonly string[], private readonly keepStop: boolean) {
    if (stops.some((s) => s === '')) throw new RangeError('StopText: a stop string is empty');
  }

  /** whether a stop string has appeared */
  get stopped(): boolean {
    return this.done;
  }

  /** the text that can be output now, given the next piece */
  push(piece: string): string {
    if (this.done) return '';
    const text = this.held + piece;
    let at = -1, stop = '';
    for (const s of this.stops) {
      const i = text.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) [at, stop] = [i, s];
    }
    if (at >= 0) {
      this.done = true;
      this.held = '';
      return text.slice(0, this.keepStop ? at + stop.length : at);
    }
    const keep = this.partialStopAtEnd(text);
    this.held = text.slice(text.length - keep);
    return text.slice(0, text.length - keep);
  }

  /** what is held back, when the text ends without a stop string */
  flush(): string {
    const out = this.held;
    this.held = '';
    return out;
  }

  /** the length of the longest end of `text` that is a proper start of a stop string */
  private partialStopAtEnd(text: string): number {
    let keep = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, text.length); n > keep; n--) {
        if (text.endsWith(s.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    return keep;
  }
}
