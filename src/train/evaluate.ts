/**
 * Evaluation of a model on fixed batches: mean cross-entropy over the scored positions and, for
 * synthetic tasks, exact-match accuracy of the argmax prediction on the answer positions.
 */
import { noGrad } from '../autograd/index.js';
import type { MambaLM } from '../model/lm.js';
import * as ops from '../ops/index.js';
import { answerAccuracy, IGNORE, type Batch } from '../tasks/task.js';

export interface Evaluation {
  loss: number;
  accuracy?: number;
  sequenceAccuracy?: number;
}

export async function evaluate(model: MambaLM, batches: readonly Batch[], scoreAnswers: boolean): Promise<Evaluation> {
  const be = model.backend;
  const V = model.config.vocabSize, Vp = model.vocabPadded;
  let lossSum = 0, scored = 0, right = 0, seqRight = 0, seqs = 0;
  for (const b of batches) {
    const ids = be.upload(b.inputs, [b.batch, b.length]);
    const targets = be.upload(b.targets, [b.batch, b.length]);
    const { logits, loss } = noGrad(() => {
      const lg = model.forward(ids).logits;                                 // [B, L, Vp]
      return { logits: lg, loss: ops.crossEntropy(lg, targets, IGNORE) };
    });
    const n = b.targets.reduce((a, t) => a + (t === IGNORE ? 0 : 1), 0);
    lossSum += (await loss.read())[0] * n;
    scored += n;
    if (scoreAnswers) {
      const acc = answerAccuracy(argmax(await logits.read(), b.batch * b.length, Vp, V), b);
      right += Math.round(acc.accuracy * acc.answers);
      seqRight += Math.round(acc.sequenceAccuracy * b.batch);
      seqs += b.batch;
    }
    for (const t of [ids, targets, logits, loss]) t.dispose();
  }
  const out: Evaluation = { loss: scored ? lossSum / scored : NaN };
  if (scoreAnswers) {
    out.accuracy = scored ? right / scored : 0;
    out.sequenceAccuracy = seqs ? seqRight / seqs : 0;
  }
  return out;
}

/** Row-wise argmax over the first V of Vp columns (the padding rows of the vocabulary never win). */
function argmax(logits: ArrayLike<number>, rows: number, Vp: number, V: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0, bestV = -Infinity;
    for (let v = 0; v < V; v++) {
      const x = logits[r * Vp + v];
      if (x > bestV) { bestV = x; best = v; }
    }
    out[r] = best;
  }
  return out;
}
