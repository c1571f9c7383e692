/**
 * Training a byte-level BPE (Sennrich et al. 2016 on GPT-2's byte alphabet, as Hugging Face
 * tokenizers' BpeTrainer does) and writing it as a `tokenizer.json` that HfTokenizer loads:
 * model BPE, ByteLevel pre-tokenizer and decoder, so that decode(encode(text)) is text for any
 * string. Special tokens come first with fixed ids, then the 256 byte symbols, then one token per
 * merge.
 *
 * Speed: pair counts are kept up to date as merges happen (only the words holding the merged pair
 * are touched), and the next merge comes from a max-heap with stale entries skipped, so training
 * costs about the corpus's distinct words times the merges that touch them, never a recount.
 */
import { UserError } from '../errors.js';

/** The translation models' special tokens, ids 0-3 in this order. */
export const SPECIAL_TOKENS = ['<pad>', '<eos>', '<sep>', '<bos>'] as const;

/** GPT-2's pre-tokenization: contractions, letter runs, digit runs, other runs, each with one leading space. */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's byte → printable character map (bytes that print as themselves keep their code point). */
export function byteSymbols(): string[] {
  const keep = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) out.push(String.fromCodePoint(keep(b) ? b : next++));
  return out;
}

/** A max-heap of [count, pair] ordered as Hugging Face's trainer orders merges: count, then the smaller pair. */
class PairHeap {
  private readonly items: [number, number][] = [];

  get size(): number {
    return this.items.length;
  }

  private above(a: [number, number], b: [number, number]): boolean {
    return a[0] !== b[0] ? a[0] > b[0] : a[1] < b[1];
  }

  push(item: [number, number]): void {
    const h = this.items;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  pop(): [number, number] {
    const h = this.items;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.above(h[l], h[m])) m = l;
        if (r < h.length && this.above(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

// pairs of ids (< 2^24, the vocabulary limit) as one exact number
const SHIFT = 2 ** 24;
const pairKey = (a: number, b: number) => a * SHIFT + b;

export interface BpeTrainOptions {
  vocabSize: number;
  /** a pair seen fewer times is never merged (default 2: a merge for one occurrence learns nothing) */
  minFrequency?: number;
}

export interface TrainedBpe {
  /** token → id, specials and bytes included */
  vocab: Map<string, number>;
  merges: [string, string][];
}

/** Trains on `texts` (streamed once; only distinct pre-tokenized words are kept). */
export function trainByteBpe(texts: Iterable<string>, options: BpeTrainOptions): TrainedBpe {
  const base = SPECIAL_TOKENS.length + 256;
  if (!Number.isSafeInteger(options.vocabSize) || options.vocabSize < base || options.vocabSize > SHIFT) {
    throw new UserError(`--vocab-size: must be an integer from ${base} (${SPECIAL_TOKENS.length} special tokens + 256 bytes) to ${SHIFT}, got ${options.vocabSize}`);
  }
  const minFrequency = options.minFrequency ?? 2;
  const symbols = byteSymbols();
  const tokens: string[] = [...SPECIAL_TOKENS, ...[...symbols].sort()];
  const idOf = new Map(tokens.map((t, i) => [t, i]));
  const byteId = symbols.map((s) => idOf.get(s)!);

  const wordCounts = new Map<string, number>();
  const encoder = new TextEncoder();
  for (const text of texts) {
    for (const m of text.matchAll(GPT2_SPLIT)) wordCounts.set(m[0], (wordCounts.get(m[0]) ?? 0) + 1);
  }
  const words: number[][] = [];
  const freq: number[] = [];
  for (const [w, c] of wordCounts) {
    words.push(Array.from(encoder.encode(w), (b) => byteId[b]));
    freq.push(c);
  }

  const pairCount = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const add = (a: number, b: number, w: number, c: number) => {
    const k = pairKey(a, b);
    pairCount.set(k, (pairCount.get(k) ?? 0) + c);
    if (c > 0) {
      let s = where.get(k);
      if (!s) where.set(k, (s = new Set()));
      s.add(w);
    }
  };
  words.forEach((word, w) => {
    for (let i = 0; i + 1 < word.length; i++) add(word[i], word[i + 1], w, freq[w]);
  });
  const heap = new PairHeap();
  for (const [k, c] of pairCount) heap.push([c, k]);

  const merges: [string, string][] = [];
  while (tokens.length < options.vocabSize && heap.size > 0) {
    const [c, k] = heap.pop();
    const current = pairCount.get(k) ?? 0;
    if (c !== current) {
      if (current > 0) heap.push([current, k]);
      continue;
    }
    if (c < minFrequency) break;
    const a = Math.floor(k / SHIFT), b = k % SHIFT;
    // two merge paths can spell the same token ("ab"+"c", "a"+"bc"): it keeps its first id
    const merged = tokens[a] + tokens[b];
    let id = idOf.get(merged);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(merged);
      idOf.set(merged, id);
    }
    merges.push([tokens[a], tokens[b]]);
    const touched = new Set<number>();
    for (const w of where.get(k) ?? []) {
      const word = words[w], f = freq[w];
      for (let i = 0; i + 1 < word.length; i++) {
        if (word[i] !== a || word[i + 1] !== b) continue;
        // the neighbours' pairs move from the old symbols to the merged one
        if (i > 0) {
          add(word[i - 1], a, w, -f);
          add(word[i - 1], id, w, f);
          touched.add(pairKey(word[i - 1], id));
          touched.add(pairKey(word[i - 1], a));
        }
        if (i + 2 < word.length) {
          add(b, word[i + 2], w, -f);
          add(id, word[i + 2], w, f);
          touched.add(pairKey(id, word[i + 2]));
          touched.add(pairKey(b, word[i + 2]));
        }
        add(a, b, w, -f);
        word.splice(i, 2, id);
      }
    }
    where.delete(k);
    pairCount.delete(k);
    for (const t of touched) {
      const n = pairCount.get(t) ?? 0;
      if (n > 0) heap.push([n, t]);
    }
  }
  return { vocab: idOf, merges };
}

/** The `tokenizer.json` object of a trained BPE (stringify it to write the file). */
export function bpeTokenizerJson(bpe: TrainedBpe): Record<string, unknown> {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab: Object.fromEntries(bpe.vocab),
      merges: bpe.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}
