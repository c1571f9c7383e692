/**
 * Multi-Query Associative Recall (Arora et al. 2023, Zoology; Dao & Gu 2024, Mamba-2 §9.1):
 * `pairs` key-value pairs, then each key queried once somewhere in the rest of the sequence;
 * at a query the model must predict that key's value. Many queries per sequence make it hard for
 * a fixed-size state, which is why the Mamba-2 paper uses it to compare state sizes.
 *
 * As in Zoology: keys from [1, vocab/2), values from [vocab/2, vocab), the gap before query j
 * drawn without replacement with P(gap slot i) ∝ i^(powerA - 1) (most queries come soon after the
 * pairs, a few far), every other position a random token. Zoology's defaults are vocab 8192 and
 * powerA 0.01; the Mamba-2 paper sweeps lengths 256-1024 with 16-64 pairs.
 *
 *   inputs  [ k1 v1 k2 v2 .. kn vn | filler .. k_j filler .. ]
 *   targets [ -1 ...               | -1     .. v_j -1     .. ]
 */
import type { Mulberry32 } from '../rng.js';
import { UserError } from '../errors.js';
import { buildBatch, checkInt, type Task, type TaskSpec } from './task.js';

export interface MqarOptions extends Record<string, number> {
  vocab: number;
  length: number;
  pairs: number;
  /** the power law of query gaps, in (0, 1]; 1 spreads queries uniformly */
  powerA: number;
}

export const mqar: TaskSpec<MqarOptions> = {
  name: 'mqar',
  summary: 'key-value pairs, then queries: predict each queried key\'s value (Zoology, Mamba-2 §9)',
  defaults: { vocab: 64, length: 64, pairs: 8, powerA: 0.01 },
  lengthOption: 'length',
  create(o): Task {
    const name = this.name;
    checkInt(name, 'vocab', o.vocab, 4);
    checkInt(name, 'pairs', o.pairs, 1);
    checkInt(name, 'length', o.length, 4 * o.pairs);
    if (!(o.powerA > 0 && o.powerA <= 1)) throw new UserError(`task ${name}: powerA must be in (0, 1], got ${o.powerA}`);
    const keyEnd = Math.floor(o.vocab / 2);
    if (o.pairs > keyEnd - 1) throw new UserError(`task ${name}: ${o.pairs} pairs need distinct keys but vocab ${o.vocab} has ${keyEnd - 1}`);
    const context = 2 * o.pairs;
    const slots = Math.floor((o.length - context) / 2);
    const weights = Float64Array.from({ length: slots }, (_, i) => (i + 1) ** (o.powerA - 1));
    return {
      name, vocabSize: o.vocab, length: o.length,
      sample: (rng, batch) => buildBatch(batch, o.length, (x, y) => {
        for (let i = 0; i < o.length; i++) x[i] = rng.int(o.vocab);
        const keys = rng.distinct(keyEnd - 1, o.pairs);
        const values = rng.distinct(o.vocab - keyEnd, o.pairs);
        const gaps = weightedDistinct(rng, weights, o.pairs);
        keys.forEach((k, j) => {
          const key = 1 + k;
          const value = keyEnd + values[j];
          x[2 * j] = key;
          x[2 * j + 1] = value;
          const q = context + 2 * gaps[j];
          x[q] = key;
          y[q] = value;
        });
      }),
    };
  },
};

/** `k` distinct indices drawn one after another with probability ∝ weights among those left. */
function weightedDistinct(rng: Mulberry32, weights: Float64Array, k: number): number[] {
  const left = Float64Array.from(weights);
  let total = left.reduce((a, b) => a + b, 0);
  const out: number[] = [];
  for (let n = 0; n < k; n++) {
    let r = rng.next() * total;
    let i = 0;
    while (i < left.length - 1 && r >= left[i]) {
      r -= left[i];
      i++;
    }
    while (left[i] === 0) i--; // rounding ran past the last index still available
    out.push(i);
    total -= left[i];
    left[i] = 0;
  }
  return out;
}
