/**
 * Documents -> one token stream, split into training and validation. Documents are shuffled with
 * a fixed seed first, so that the validation tail mixes every source (the Brown corpus is stored
 * genre by genre) and is the same in every run. Documents are separated by the tokenizer's
 * end-of-text id, or by a blank line when it has none (byte-level).
 *
 * Memory stays near the size of the token array (4 bytes a token): text files are read and
 * tokenized a chunk at a time, and the ids go straight into one Int32Array sized from the file
 * sizes (one byte at least per token for byte-level tokenizers, so it rarely grows).
 */
import { UserError } from '../../errors.js';
import { utf8Chunks } from '../../io/files.js';
import { ByteTokenizer } from '../../text/byte-level.js';
import type { Tokenizer } from '../../text/tokenizer.js';
import { Mulberry32 } from '../../rng.js';
import type { Document } from './corpus.js';

export interface TokenSplit {
  train: Int32Array;
  validation: Int32Array;
}

const SHUFFLE_SEED = 0x5eed;

export function tokenizeCorpus(docs: readonly Document[], tokenizer: Tokenizer, validationFraction: number): TokenSplit {
  const order = new Mulberry32(SHUFFLE_SEED).distinct(docs.length, docs.length);
  const sep = tokenizer.eosId !== undefined ? [tokenizer.eosId] : tokenizer.encode('\n\n');
  const out = new IdBuffer(docs.reduce((n, d) => n + ('text' in d ? d.text.length : d.bytes) + sep.length, 0));
  for (const i of order) {
    const d = docs[i];
    const start = out.length;
    if ('text' in d) out.push(tokenizer.encode(d.text));
    else encodeFile(d.file, tokenizer, (ids) => out.push(ids));
    if (out.length > start) out.push(sep);
  }
  const stream = out.done();
  const total = stream.length;
  const nVal = Math.floor(total * validationFraction);
  return { train: stream.subarray(0, total - nVal), validation: stream.subarray(total - nVal) };
}

/** The UTF-8 bytes that `tokenizeCorpus` turns into ids: the documents and, without an end-of-text id, their blank-line separators. */
export function corpusBytes(docs: readonly Document[], tokenizer: Tokenizer): number {
  const sep = tokenizer.eosId !== undefined ? 0 : 2;
  return docs.reduce((n, d) => {
    const bytes = 'text' in d ? Buffer.byteLength(d.text) : d.bytes;
    return n + (bytes > 0 ? bytes + sep : 0);
  }, 0);
}

/** A growing Int32Array. */
class IdBuffer {
  private ids: Int32Array;
  length = 0;

  constructor(capacity: number) {
    this.ids = new Int32Array(Math.max(16, capacity));
  }

  push(ids: ArrayLike<number>): void {
    if (this.length + ids.length > this.ids.length) {
      const grown = new Int32Array(Math.max(this.length + ids.length, 2 * this.ids.length));
      grown.set(this.ids.subarray(0, this.length));
      this.ids = grown;
    }
    this.ids.set(ids, this.length);
    this.length += ids.length;
  }

  /** The ids, copied to their own array when most of the capacity went unused (a BPE's few ids a byte). */
  done(): Int32Array {
    return this.length < 0.75 * this.ids.length ? this.ids.slice(0, this.length) : this.ids.subarray(0, this.length);
  }
}

/**
 * Tokenizes a text file a chunk at a time. Byte-level ids do not depend on where the text is cut;
 * other tokenizers get chunks cut before a newline between two non-space characters, where the
 * pre-tokenizers of byte-level BPEs (GPT-2, GPT-NeoX) split the text anyway, so the ids are those
 * of the whole file.
 */
function encodeFile(file: string, tokenizer: Tokenizer, emit: (ids: ArrayLike<number>) => void): void {
  const anywhere = tokenizer instanceof ByteTokenizer;
  let carry = '';
  let first = true;
  for (const chunk of utf8Chunks(file, () => 'not UTF-8 text')) {
    const { bytes } = chunk;
    const text = carry + chunk.text;
    if (bytes.length === 0) {
      if (text && !anywhere) emit(tokenizer.encode(text));
      return;
    }
    // byte-level ids are the bytes: decoding only checks that they are UTF-8 (and drops a
    // leading byte-order mark, as decoding the whole file would)
    if (anywhere) {
      const bom = first && bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
      emit(bytes.subarray(bom));
      first = false;
      continue;
    }
    const cut = safeCut(text);
    if (cut > 0) emit(tokenizer.encode(text.slice(0, cut)));
    carry = text.slice(cut);
  }
}

/** The last index i with text[i] a newline between two non-space characters, or 0. */
function safeCut(text: string): number {
  for (let i = text.lastIndexOf('\n', text.length - 2); i > 0; i = text.lastIndexOf('\n', i - 1)) {
    if (/\S/.test(text[i - 1]) && /\S/.test(text[i + 1])) return i;
  }
  return 0;
}

/** Throws a UserError when `tokens` cannot hold one window of `length` inputs plus the next token. */
export function checkFits(tokens: Int32Array, length: number, what: string): void {
  if (tokens.length < length + 1) {
    throw new UserError(`--data: the ${what} split has ${tokens.length} tokens, fewer than --seq-len ${length} + 1; use more text or a shorter --seq-len`);
  }
}
