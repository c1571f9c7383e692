/**
 * Documents -> one token stream, split into training and validation. Documents are shuffled with
 * a fixed seed first, so that the validation tail mixes every source (the Brown corpus is stored
 * genre by genre) and is the same in every run. Documents are separated by the tokenizer's
 * end-of-text id, or by a blank line when it has none (byte-level).
 */
import { UserError } from '../../errors.js';
import type { Tokenizer } from '../../text/tokenizer.js';
import { Rng } from '../rng.js';
import type { Document } from './corpus.js';

export interface TokenSplit {
  train: Int32Array;
  validation: Int32Array;
}

const SHUFFLE_SEED = 0x5eed;

export function tokenizeCorpus(docs: readonly Document[], tokenizer: Tokenizer, validationFraction: number): TokenSplit {
  const order = new Rng(SHUFFLE_SEED).distinct(docs.length, docs.length);
  const sep = tokenizer.eosId !== undefined ? [tokenizer.eosId] : tokenizer.encode('\n\n');
  const parts: number[][] = [];
  let total = 0;
  for (const i of order) {
    const ids = tokenizer.encode(docs[i].text);
    if (ids.length === 0) continue;
    parts.push(ids, sep);
    total += ids.length + sep.length;
  }
  const stream = new Int32Array(total);
  let at = 0;
  for (const p of parts) {
    stream.set(p, at);
    at += p.length;
  }
  const nVal = Math.floor(total * validationFraction);
  return { train: stream.subarray(0, total - nVal), validation: stream.subarray(total - nVal) };
}

/** Throws a UserError when `tokens` cannot hold one window of `length` inputs plus the next token. */
export function checkFits(tokens: Int32Array, length: number, what: string): void {
  if (tokens.length < length + 1) {
    throw new UserError(`--data: the ${what} split has ${tokens.length} tokens, fewer than --seq-len ${length} + 1; use more text or a shorter --seq-len`);
  }
}
