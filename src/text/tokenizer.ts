/** What generation and the CLI need from a tokenizer: text <-> ids. */
export interface Tokenizer {
  /** what it is, for messages, e.g. "byte-level (256 ids)" */
  readonly name: string;
  /** number of ids it can produce (the model's embedding may have more, padded rows) */
  readonly vocabSize: number;
  /** the end-of-text id when the tokenizer declares one */
  readonly eosId?: number;
  encode(text: string): number[];
  /** never throws on ids it does not know or on broken UTF-8; those become U+FFFD */
  decode(ids: readonly number[]): string;
}
