/** Normalizations and softmax (forward here; backward with autograd). */
import type { Tensor } from '../tensor.js';

/** x [..., C], weight [C] */
export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  return x.backend.rmsNorm(x, weight, eps);
}

/** Mamba-2's gated RMSNorm per group of `groupSize` channels. x, z [..., C], weight [C] */
export function gatedRmsNorm(x: Tensor, z: Tensor, weight: Tensor, eps: number, groupSize: number, normBeforeGate: boolean): Tensor {
  return x.backend.gatedRmsNorm(x, z, weight, eps, groupSize, normBeforeGate);
}

export function softmax(x: Tensor): Tensor {
  return x.backend.softmax(x);
}

export function logSoftmax(x: Tensor): Tensor {
  return x.backend.logSoftmax(x);
}
