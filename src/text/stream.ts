/**
 * Decoding ids one at a time, for streaming output. Decoding a lone id is wrong for tokenizers
 * whose pieces are parts of a UTF-8 character (byte-level BPE, byte fallback) or whose decoders
 * look at neighbours (Metaspace's leading space), so each new piece is the difference between
 * the decoding of a short window with and without the new ids; it is held back while it ends in
 * an incomplete character (U+FFFD).
 */
import type { Tokenizer } from './tokenizer.js';

export class TextStream {
  private readonly ids: number[] = [];
  /** ids[prefix .. read) were printed already and give the context of the next piece */
  private prefix = 0;
  private read = 0;

  constructor(private readonly tokenizer: Tokenizer) {}

  /** the text that `id` completes ('' while a character is incomplete) */
  push(id: number): string {
    this.ids.push(id);
    return this.piece(false);
  }

  /** what is still held back, incomplete characters included */
  flush(): string {
    return this.piece(true);
  }

  private piece(final: boolean): string {
    if (this.read === this.ids.length) return '';
    const before = this.tokenizer.decode(this.ids.slice(this.prefix, this.read));
    const after = this.tokenizer.decode(this.ids.slice(this.prefix));
    if (!final && (after.length <= before.length || after.endsWith('\uFFFD'))) return '';
    this.prefix = this.read;
    this.read = this.ids.length;
    return after.slice(before.length);
  }
}
