/**
 * The tokenizer of a model folder without tokenizer.json: one id per UTF-8 byte (0..255).
 * Decoding goes through TextDecoder in replacement mode, so invalid UTF-8 (a cut multi-byte
 * character, or ids above 255 from a larger vocabulary) becomes U+FFFD instead of an error.
 */
import type { Tokenizer } from './tokenizer.js';

const REPLACEMENT = [0xef, 0xbf, 0xbd];

export class ByteTokenizer implements Tokenizer {
  readonly name = 'byte-level (256 ids, UTF-8)';
  readonly vocabSize = 256;
  private readonly encoder = new TextEncoder();

  encode(text: string): number[] {
    return [...this.encoder.encode(text)];
  }

  decode(ids: readonly number[]): string {
    const bytes: number[] = [];
    for (const id of ids) {
      if (Number.isInteger(id) && id >= 0 && id < 256) bytes.push(id);
      else bytes.push(...REPLACEMENT);
    }
    return new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(Uint8Array.from(bytes));
  }
}
