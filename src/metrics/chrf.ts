/**
 * chrF (Popović 2015) and chrF++ (Popović 2017) exactly as sacreBLEU 2.x computes them by default:
 * character n-grams up to 6 with whitespace removed, beta 2, word n-grams up to 2 for chrF++ (words
 * with a leading or trailing punctuation mark split off), statistics summed over the corpus, and
 * sacreBLEU's effective-order averaging of precision and recall (not chrF++.py's eps smoothing).
 */
import { pySplit } from './python-text.js';
import { signature, type Scored } from './signature.js';

export const CHAR_ORDER = 6;
export const BETA = 2;
const PUNCTS = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

export interface ChrfOptions {
  /** 0 for chrF, 2 for chrF++ */
  wordOrder: number;
}

/** [hyp n-grams, ref n-grams, matches] per order, char orders first: they add up over segments. */
export type ChrfStats = number[];

function count<T>(items: Iterable<T>): Map<T, number> {
  const m = new Map<T, number>();
  for (const x of items) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

function charNgrams(line: string): Map<string, number>[] {
  // Python slices strings by code point
  const chars = Array.from(pySplit(line).join(''));
  const out: Map<string, number>[] = [];
  for (let n = 1; n <= CHAR_ORDER; n++) {
    const grams: string[] = [];
    for (let i = 0; i + n <= chars.length; i++) grams.push(chars.slice(i, i + n).join(''));
    out.push(count(grams));
  }
  return out;
}

/** sacreBLEU's `_remove_punctuation`: one mark split off a word's end, else off its start. */
function chrfWords(line: string): string[] {
  const out: string[] = [];
  for (const w of pySplit(line)) {
    const cps = Array.from(w);
    if (cps.length === 1) out.push(w);
    else if (PUNCTS.has(cps[cps.length - 1])) out.push(cps.slice(0, -1).join(''), cps[cps.length - 1]);
    else if (PUNCTS.has(cps[0])) out.push(cps[0], cps.slice(1).join(''));
    else out.push(w);
  }
  return out;
}

function wordNgrams(words: readonly string[], n: number): Map<string, number> {
  const grams: string[] = [];
  for (let i = 0; i + n <= words.length; i++) grams.push(words.slice(i, i + n).join(' '));
  return count(grams);
}

function ngrams(line: string, o: ChrfOptions): Map<string, number>[] {
  const all = charNgrams(line);
  if (o.wordOrder > 0) {
    const words = chrfWords(line);
    for (let n = 1; n <= o.wordOrder; n++) all.push(wordNgrams(words, n));
  }
  return all;
}

export function chrfSegmentStats(hyp: string, ref: string, o: ChrfOptions): ChrfStats {
  const h = ngrams(hyp, o);
  const r = ngrams(ref, o);
  const stats: number[] = [];
  for (let i = 0; i < h.length; i++) {
    let hypCount = 0, match = 0, refCount = 0;
    for (const [g, c] of h[i]) {
      hypCount += c;
      match += Math.min(c, r[i].get(g) ?? 0);
    }
    for (const c of r[i].values()) refCount += c;
    // a hypothesis n-gram only counts where the reference has n-grams of that order
    stats.push(r[i].size > 0 ? hypCount : 0, refCount, match);
  }
  return stats;
}

/** sacreBLEU's `_compute_f_score` without eps smoothing, step for step. */
export function chrfFromStats(stats: ChrfStats, o: ChrfOptions): Scored {
  const factor = BETA ** 2;
  let avgPrec = 0, avgRec = 0, effectiveOrder = 0;
  for (let i = 0; i < stats.length / 3; i++) {
    const [nHyp, nRef, nMatch] = stats.slice(3 * i, 3 * i + 3);
    if (nHyp > 0 && nRef > 0) {
      avgPrec += nMatch / nHyp;
      avgRec += nMatch / nRef;
      effectiveOrder++;
    }
  }
  if (effectiveOrder === 0) {
    avgPrec = avgRec = 0;
  } else {
    avgPrec /= effectiveOrder;
    avgRec /= effectiveOrder;
  }
  let score = 0;
  if (avgPrec + avgRec) {
    score = (1 + factor) * avgPrec * avgRec;
    score /= factor * avgPrec + avgRec;
    score *= 100;
  }
  return {
    name: `chrF${BETA}${'+'.repeat(o.wordOrder)}`,
    score,
    verbose: '',
    signature: signature({ nrefs: 1, case: 'mixed', eff: 'yes', nc: CHAR_ORDER, nw: o.wordOrder, space: 'no' }),
  };
}

export function corpusChrf(hyps: readonly string[], refs: readonly string[], o: ChrfOptions): Scored {
  const sum = new Array<number>(3 * (CHAR_ORDER + o.wordOrder)).fill(0);
  for (let i = 0; i < hyps.length; i++) {
    chrfSegmentStats(hyps[i], refs[i], o).forEach((v, j) => { sum[j] += v; });
  }
  return chrfFromStats(sum, o);
}

export function sentenceChrf(hyp: string, ref: string, o: ChrfOptions): Scored {
  return chrfFromStats(chrfSegmentStats(hyp, ref, o), o);
}
