/** Normalizations and softmax, each with its backward. */
import { gradKernels } from '../backend/backend.js';
import { tapeFor } from '../autograd/tape.js';
import type { Tensor } from '../tensor.js';

/** x [..., C], weight [C] */
export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  const y = x.backend.rmsNorm(x, weight, eps);
  tapeFor(x, weight)?.record([x, weight], [y], ([dy]) => {
    const { dx, dweight } = gradKernels(x.backend).rmsNormBackward(x, weight, eps, dy);
    return [dx, dweight];
  });
  return y;
}

/** Mamba-2's gated RMSNorm per group of `groupSize` channels. x, z [..., C], weight [C] */
export function gatedRmsNorm(x: Tensor, z: Tensor, weight: Tensor, eps: number, groupSize: number, normBeforeGate: boolean): Tensor {
  const y = x.backend.gatedRmsNorm(x, z, weight, eps, groupSize, normBeforeGate);
  tapeFor(x, z, weight)?.record([x, z, weight], [y], ([dy]) => {
    const g = gradKernels(x.backend).gatedRmsNormBackward(x, z, weight, eps, groupSize, normBeforeGate, dy);
    return [g.dx, g.dz, g.dweight];
  });
  return y;
}

/** Along the last dim; the backward reads the saved output. */
export function softmax(x: Tensor): Tensor {
  const y = x.backend.softmax(x);
  tapeFor(x)?.record([x], [y], ([dy]) => [gradKernels(x.backend).softmaxBackward(y, dy, false)]);
  return y;
}

export function logSoftmax(x: Tensor): Tensor {
  const y = x.backend.logSoftmax(x);
  tapeFor(x)?.record([x], [y], ([dy]) => [gradKernels(x.backend).softmaxBackward(y, dy, true)]);
  return y;
}
