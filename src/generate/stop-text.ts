/**
 * Ending streamed text at a stop string. Pieces of decoded text come in as a TextStream makes
 * them; a stop string may begin inside one piece and end in a later one, so the tail of the text
 * that could still be the start of the stop string is held back until it is decided. The rule:
 * everything before the stop string is output, then the stop string itself; the text after it
 * (the rest of the token that completed it) is dropped.
 */
export class StopText {
  private held = '';
  private done = false;

  constructor(private readonly stop: string) {
    if (stop === '') throw new RangeError('StopText: the stop string is empty');
  }

  /** whether the stop string has appeared */
  get stopped(): boolean {
    return this.done;
  }

  /** the text that can be output now, given the next piece */
  push(piece: string): string {
    if (this.done) return '';
    const text = this.held + piece;
    const at = text.indexOf(this.stop);
    if (at >= 0) {
      this.done = true;
      this.held = '';
      return text.slice(0, at + this.stop.length);
    }
    const keep = this.partialStopAtEnd(text);
    this.held = text.slice(text.length - keep);
    return text.slice(0, text.length - keep);
  }

  /** what is held back, when the text ends without the stop string */
  flush(): string {
    const out = this.held;
    this.held = '';
    return out;
  }

  /** the length of the longest end of `text` that is a proper start of the stop string */
  private partialStopAtEnd(text: string): number {
    for (let n = Math.min(this.stop.length - 1, text.length); n > 0; n--) {
      if (text.endsWith(this.stop.slice(0, n))) return n;
    }
    return 0;
  }
}
