/** Training losses. */
import { gradKernels } from '../autograd/kernels.js';
import { tapeFor } from '../autograd/tape.js';
import type { Tensor } from '../tensor.js';

/**
 * Mean cross-entropy over the positions whose target is not `ignoreIndex`, fused with the
 * log-softmax (log-probs never materialize). logits [..., V], targets i32 [...] -> loss [].
 */
export function crossEntropy(logits: Tensor, targets: Tensor, ignoreIndex = -1): Tensor {
  const be = gradKernels(logits.backend);
  const { loss, lse } = be.crossEntropy(logits, targets, ignoreIndex);
  tapeFor(logits)?.record([logits], [loss], ([dloss]) => [be.crossEntropyBackward(logits, targets, lse, ignoreIndex, dloss)]);
  return loss;
}
