/**
 * BLEU (Papineni et al. 2002) exactly as sacreBLEU 2.x computes it by default: 13a tokens, one
 * reference, n-grams up to 4, exponential smoothing (Chen & Cherry 2014, method 3: mteval's
 * NIST smoothing) and the brevity penalty over the whole corpus. `sentenceBleu` is sacreBLEU's
 * `sentence_bleu`: the same with effective order (orders without any hypothesis n-gram are left
 * out of the geometric mean).
 */
import { pyRstrip, pyFixed, pySplit } from './python-text.js';
import { signature, type Scored } from './signature.js';
import { tokenize13a } from './tokenizer-13a.js';

export const MAX_ORDER = 4;

/** Sufficient statistics of a segment or corpus: they add up over segments. */
export interface BleuStats {
  hypLen: number;
  refLen: number;
  /** clipped n-gram matches, order 1..MAX_ORDER */
  correct: number[];
  /** hypothesis n-grams, order 1..MAX_ORDER */
  total: number[];
}

export interface BleuScore extends Scored, BleuStats {
  /** percent, order 1..MAX_ORDER, smoothed where a count is 0 */
  precisions: number[];
  bp: number;
}

function ngramCounts(tokens: readonly string[]): Map<string, number>[] {
  const counts: Map<string, number>[] = [];
  for (let n = 1; n <= MAX_ORDER; n++) {
    const m = new Map<string, number>();
    for (let i = 0; i + n <= tokens.length; i++) {
      const g = tokens.slice(i, i + n).join(' ');
      m.set(g, (m.get(g) ?? 0) + 1);
    }
    counts.push(m);
  }
  return counts;
}

/** Tokens of a segment as sacreBLEU sees it: trailing whitespace dropped, 13a, split. */
export function bleuTokens(segment: string): string[] {
  return pySplit(tokenize13a(pyRstrip(segment)));
}

export function segmentStats(hyp: string, ref: string): BleuStats {
  const h = bleuTokens(hyp);
  const r = bleuTokens(ref);
  const hc = ngramCounts(h);
  const rc = ngramCounts(r);
  const correct = new Array<number>(MAX_ORDER).fill(0);
  const total = new Array<number>(MAX_ORDER).fill(0);
  for (let n = 0; n < MAX_ORDER; n++) {
    for (const [g, c] of hc[n]) {
      total[n] += c;
      correct[n] += Math.min(c, rc[n].get(g) ?? 0);
    }
  }
  return { hypLen: h.length, refLen: r.length, correct, total };
}

export function addStats(a: BleuStats, b: BleuStats): BleuStats {
  return {
    hypLen: a.hypLen + b.hypLen,
    refLen: a.refLen + b.refLen,
    correct: a.correct.map((c, i) => c + b.correct[i]),
    total: a.total.map((t, i) => t + b.total[i]),
  };
}

export function emptyStats(): BleuStats {
  return { hypLen: 0, refLen: 0, correct: new Array<number>(MAX_ORDER).fill(0), total: new Array<number>(MAX_ORDER).fill(0) };
}

/** sacreBLEU's `my_log`: log 0 is a large negative number, so a zero precision zeroes the score. */
function myLog(x: number): number {
  return x === 0 ? -9999999999 : Math.log(x);
}

/** sacreBLEU's `compute_bleu` with smooth_method 'exp', step for step (same float operations). */
export function bleuFromStats(s: BleuStats, effectiveOrder = false): BleuScore {
  const bp = s.hypLen < s.refLen ? (s.hypLen > 0 ? Math.exp(1 - s.refLen / s.hypLen) : 0) : 1;
  const precisions = new Array<number>(MAX_ORDER).fill(0);
  let score = 0;
  if (s.correct.some((c) => c !== 0)) {
    let smooth = 1;
    let effOrder = MAX_ORDER;
    for (let n = 1; n <= MAX_ORDER; n++) {
      if (s.total[n - 1] === 0) break;
      if (effectiveOrder) effOrder = n;
      if (s.correct[n - 1] === 0) {
        smooth *= 2;
        precisions[n - 1] = 100 / (smooth * s.total[n - 1]);
      } else {
        precisions[n - 1] = (100 * s.correct[n - 1]) / s.total[n - 1];
      }
    }
    let sum = 0;
    for (const p of precisions.slice(0, effOrder)) sum += myLog(p);
    score = bp * Math.exp(sum / effOrder);
  }
  const ratio = s.refLen ? s.hypLen / s.refLen : 0;
  const verbose = `${precisions.map((p) => pyFixed(p, 1)).join('/')} (BP = ${pyFixed(bp, 3)} `
    + `ratio = ${pyFixed(ratio, 3)} hyp_len = ${s.hypLen} ref_len = ${s.refLen})`;
  return {
    ...s,
    name: 'BLEU',
    score,
    precisions,
    bp,
    verbose,
    signature: signature({ nrefs: 1, case: 'mixed', eff: effectiveOrder ? 'yes' : 'no', tok: '13a', smooth: 'exp' }),
  };
}

/** Corpus BLEU of aligned hypotheses and references (the caller checks that they align). */
export function corpusBleu(hyps: readonly string[], refs: readonly string[]): BleuScore {
  let stats = emptyStats();
  for (let i = 0; i < hyps.length; i++) stats = addStats(stats, segmentStats(hyps[i], refs[i]));
  return bleuFromStats(stats);
}

/** sacreBLEU's `sentence_bleu(hyp, [ref])`: effective order on. */
export function sentenceBleu(hyp: string, ref: string): BleuScore {
  return bleuFromStats(segmentStats(hyp, ref), true);
}
