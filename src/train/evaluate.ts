/**
 * Evaluation of a model on fixed batches: mean cross-entropy over the scored positions and, for
 * synthetic tasks, exact-match accuracy of the argmax prediction on the answer positions (the
 * argmax runs where the logits are: only the loss and the predicted ids come back).
 */
import { noGrad } from '../autograd/index.js';
import { greedyTokens } from '../backend/index.js';
import { tidy } from '../backend/scope.js';
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
  const V = model.config.vocabSize;
  let lossSum = 0, scored = 0, right = 0, seqRight = 0, seqs = 0;
  for (const b of batches) {
    const ids = be.upload(b.inputs, [b.batch, b.length]);
    const targets = be.upload(b.targets, [b.batch, b.length]);
    const { logits, loss } = tidy(() => noGrad(() => {
      const lg = model.forward(ids).logits;                                 // [B, L, Vp]
      return { logits: lg, loss: ops.crossEntropy(lg, targets, IGNORE) };
    }));
    const n = b.targets.reduce((a, t) => a + (t === IGNORE ? 0 : 1), 0);
    lossSum += (await loss.read())[0] * n;
    scored += n;
    if (scoreAnswers) {
      const predicted = await greedyTokens(logits, V);                     // [B, L], on the device
      const acc = answerAccuracy((await predicted.read()) as Int32Array, b);
      predicted.dispose();
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
