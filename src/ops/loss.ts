/** Training losses. */
import { gradKernels } from '../backend/backend.js';
import { tapeFor } from '../autograd/tape.js';
import type { Tensor } from '../tensor.js';

/**
 * Mean cross-entropy over the positions whose target is not `ignoreIndex`, fused with the
 * log-softmax (log-probs never materialize). logits [..., V], targets i32 [...] -> loss [].
 * While recording, the forward also yields ∂loss/∂logits, which the backward only scales.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, ignoreIndex = -1): Tensor {
  const be = gradKernels(logits.backend);
  const tape = tapeFor(logits);
  const { loss, dlogits } = be.crossEntropy(logits, targets, ignoreIndex, tape !== undefined);
  if (tape && dlogits) tape.record([logits], [loss], ([dloss]) => [be.scaleBy(dlogits, dloss)]);
  return loss;
}
