/**
 * OpenAI's `stop`: the output ends just before the first of several stop strings, which is not
 * part of it. Streamed text arrives in pieces and a stop string may span pieces, so the tail that
 * could still begin one is held back until it is decided. (The CLI's StopText keeps its single
 * stop string in the output; the API leaves it out.)
 */
export class StopStrings {
  private held = '';
  private done = false;

  constructor(private readonly stops: readonly string[]) {}

  get stopped(): boolean {
    return this.done;
  }

  /** the text that can be sent now, given the next piece */
  push(piece: string): string {
    if (this.done) return '';
    const text = this.held + piece;
    let at = -1;
    for (const s of this.stops) {
      const i = text.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (at >= 0) {
      this.done = true;
      this.held = '';
      return text.slice(0, at);
    }
    let keep = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, text.length); n > keep; n--) {
        if (text.endsWith(s.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    this.held = text.slice(text.length - keep);
    return text.slice(0, text.length - keep);
  }

  /** what is held back, when the output ends without a stop string */
  flush(): string {
    const out = this.held;
    this.held = '';
    return out;
  }
}
