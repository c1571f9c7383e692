/**
 * Selective Copying (Gu & Dao 2023, §3.1 and §4.1; after Arjovsky et al.'s Copying task): a few
 * data tokens sit at random positions among noise tokens; after a copy marker the model must
 * output them in order. Fixed spacing would let a time-invariant model (LTI SSM, convolution)
 * solve it; random spacing needs selection by content.
 *
 * Tokens: 0 = noise, 1 .. vocab-2 = data, vocab-1 = copy marker. The paper uses context 4096,
 * vocab 16 and 16 tokens to memorize; the defaults are CPU-sized.
 *
 * Layout (length = context + memorize), teacher-forced:
 *   inputs  [ context positions: noise with `memorize` data tokens | COPY d0 d1 .. d(m-2) ]
 *   targets [ -1 ...                                               |  d0  d1 d2 .. d(m-1) ]
 */
import { buildBatch, checkInt, type Task, type TaskSpec } from './task.js';

export interface SelectiveCopyingOptions extends Record<string, number> {
  vocab: number;
  context: number;
  memorize: number;
}

export const NOISE = 0;

export const selectiveCopying: TaskSpec<SelectiveCopyingOptions> = {
  name: 'selective-copying',
  summary: 'copy the data tokens scattered among noise, in order (Mamba §4.1)',
  defaults: { vocab: 16, context: 64, memorize: 4 },
  lengthOption: 'context',
  create(o): Task {
    const name = this.name;
    checkInt(name, 'vocab', o.vocab, 4);
    checkInt(name, 'memorize', o.memorize, 1);
    checkInt(name, 'context', o.context, o.memorize);
    const copy = o.vocab - 1;
    const length = o.context + o.memorize;
    return {
      name, vocabSize: o.vocab, length,
      sample: (rng, batch) => buildBatch(batch, length, (x, y) => {
        const positions = rng.distinct(o.context, o.memorize).sort((a, b) => a - b);
        x.fill(NOISE, 0, o.context);
        x[o.context] = copy;
        positions.forEach((p, i) => {
          const token = 1 + rng.int(o.vocab - 2);
          x[p] = token;
          y[o.context + i] = token;
          if (i + 1 < o.memorize) x[o.context + 1 + i] = token;
        });
      }),
    };
  },
};
