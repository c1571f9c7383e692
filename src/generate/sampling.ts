/**
 * Next-token choice from one row of logits, with the transforms in the order Hugging Face's
 * `generate` applies them: repetition penalty -> temperature -> top-k -> top-p -> min-p, then a
 * draw from the softmax of what is left. Temperature 0 is greedy argmax (after the penalty).
 * Only ids below `vocab` (the tokenizer's vocabulary) are candidates: the rows an embedding is
 * padded with are never chosen, whatever their logits.
 */
import type { Xoshiro128 } from '../rng.js';

export interface SamplingOptions {
  /** 0 = greedy; otherwise logits are divided by it */
  temperature: number;
  /** keep the k highest logits (ties with the k-th kept too); 0 = off */
  topK?: number;
  /** keep the smallest set of highest-probability tokens whose mass reaches p; 1 = off */
  topP?: number;
  /** keep tokens whose probability is at least minP times the highest; 0 = off */
  minP?: number;
  /** CTRL's penalty on every id already in the sequence: logit / r if > 0, logit * r if < 0; 1 = off */
  repetitionPenalty?: number;
}

/** What a draw chooses from: candidate ids (ascending) and their probabilities (summing to 1). */
export interface Distribution {
  ids: Int32Array;
  probs: Float64Array;
}

export function checkSamplingOptions(o: SamplingOptions): void {
  const bad = (what: string) => {
    throw new RangeError(`sampling: ${what}`);
  };
  if (!(o.temperature >= 0 && Number.isFinite(o.temperature))) bad(`temperature ${o.temperature} must be >= 0`);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0)) bad(`topK ${o.topK} must be an integer >= 0`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) bad(`topP ${o.topP} must be in (0, 1]`);
  if (o.minP !== undefined && !(o.minP >= 0 && o.minP <= 1)) bad(`minP ${o.minP} must be in [0, 1]`);
  if (o.repetitionPenalty !== undefined && !(o.repetitionPenalty > 0 && Number.isFinite(o.repetitionPenalty))) {
    bad(`repetitionPenalty ${o.repetitionPenalty} must be > 0`);
  }
}

/**
 * The distribution the next token is drawn from. `logits`: one row of at least `vocab` values;
 * `history`: the ids of the sequence so far (prompt and generated), for the repetition penalty.
 */
export function samplingDistribution(logits: ArrayLike<number>, vocab: number, history: Iterable<number>, o: SamplingOptions): Distribution {
  checkSamplingOptions(o);
  if (!(vocab >= 1 && vocab <= logits.length)) throw new RangeError(`sampling: vocab ${vocab} for a row of ${logits.length} logits`);
  const z = new Float64Array(vocab);
  for (let i = 0; i < vocab; i++) z[i] = logits[i];
  const r = o.repetitionPenalty ?? 1;
  if (r !== 1) {
    for (const id of new Set(history)) if (id >= 0 && id < vocab) z[id] = z[id] < 0 ? z[id] * r : z[id] / r;
  }
  if (o.temperature === 0) return { ids: Int32Array.of(argmax(z)), probs: Float64Array.of(1) };

  let ids = Int32Array.from({ length: vocab }, (_, i) => i);
  for (let i = 0; i < vocab; i++) z[i] /= o.temperature;
  const topK = o.topK ?? 0;
  if (topK > 0 && topK < ids.length) {
    const threshold = sortedDescending(z, ids)[topK - 1];
    ids = ids.filter((i) => z[i] >= threshold);
  }
  const topP = o.topP ?? 1;
  if (topP < 1) {
    const values = sortedDescending(z, ids);
    const max = values[0];
    let total = 0;
    for (const v of values) total += Math.exp(v - max);
    // the lowest kept logit: the first at which the mass before it reaches p is excluded
    let mass = 0;
    let cutoff = values[0];
    for (const v of values) {
      if (mass >= topP) break;
      cutoff = v;
      mass += Math.exp(v - max) / total;
    }
    ids = ids.filter((i) => z[i] >= cutoff);
  }
  const minP = o.minP ?? 0;
  if (minP > 0) {
    const max = maxOf(z, ids);
    ids = ids.filter((i) => Math.exp(z[i] - max) >= minP);
  }
  return { ids, probs: softmaxOf(z, ids) };
}

/** Draws an id from `d` with one uniform number of `rng`. */
export function drawFrom(d: Distribution, rng: Xoshiro128): number {
  if (d.ids.length === 1) return d.ids[0];
  const u = rng.next();
  let acc = 0;
  for (let i = 0; i < d.ids.length; i++) {
    acc += d.probs[i];
    if (u < acc) return d.ids[i];
  }
  // rounding left u above the last partial sum: the last candidate with any mass
  for (let i = d.ids.length - 1; i >= 0; i--) if (d.probs[i] > 0) return d.ids[i];
  return d.ids[d.ids.length - 1];
}

export function sampleToken(logits: ArrayLike<number>, vocab: number, history: Iterable<number>, o: SamplingOptions, rng: Xoshiro128): number {
  return drawFrom(samplingDistribution(logits, vocab, history, o), rng);
}

/** first index of the largest value (NaN never wins) */
export function argmax(z: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < z.length; i++) if (z[i] > z[best] || Number.isNaN(z[best])) best = i;
  return best;
}

function sortedDescending(z: Float64Array, ids: Int32Array): Float64Array {
  const v = Float64Array.from(ids, (i) => z[i]).sort();
  return v.reverse();
}

function maxOf(z: Float64Array, ids: Int32Array): number {
  let m = -Infinity;
  for (const i of ids) if (z[i] > m) m = z[i];
  return m;
}

function softmaxOf(z: Float64Array, ids: Int32Array): Float64Array {
  const max = maxOf(z, ids);
  const p = Float64Array.from(ids, (i) => Math.exp(z[i] - max));
  const total = p.reduce((a, b) => a + b, 0);
  if (!(total > 0 && Number.isFinite(total))) throw new Error(`sampling: logits are not finite (max ${max})`);
  for (let i = 0; i < p.length; i++) p[i] /= total;
  return p;
}
