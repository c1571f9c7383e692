/**
 * Induction Heads (Olsson et al. 2022; Gu & Dao 2023, §4.1): a special token followed by a key
 * appears once in a random sequence; the sequence ends with the special token again and the
 * model must predict the key that followed it before (associative recall then copy). The paper
 * trains at length 256 with vocab 16 and tests lengths from 2^6 to 2^20: set `length` (or
 * `--seq-len`) beyond the training length to test extrapolation.
 *
 * Tokens: 0 .. vocab-2 ordinary, vocab-1 the special token. Only the last position is scored.
 */
import { buildBatch, checkInt, type Task, type TaskSpec } from './task.js';

export interface InductionHeadsOptions extends Record<string, number> {
  vocab: number;
  length: number;
}

export const inductionHeads: TaskSpec<InductionHeadsOptions> = {
  name: 'induction-heads',
  summary: 'after the special token, recall the token that followed it earlier (Mamba §4.1)',
  defaults: { vocab: 16, length: 64 },
  lengthOption: 'length',
  create(o): Task {
    const name = this.name;
    checkInt(name, 'vocab', o.vocab, 3);
    checkInt(name, 'length', o.length, 3);
    const special = o.vocab - 1;
    const L = o.length;
    return {
      name, vocabSize: o.vocab, length: L,
      sample: (rng, batch) => buildBatch(batch, L, (x, y) => {
        for (let i = 0; i < L; i++) x[i] = rng.int(o.vocab - 1);
        // p <= L - 3: the pair (special, key) ends before the final special token
        const p = rng.int(L - 2);
        x[p] = special;
        x[L - 1] = special;
        y[L - 1] = x[p + 1];
      }),
    };
  },
};
