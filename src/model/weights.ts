import type { Backend } from '../backend/backend.js';
import type { HostTensor } from '../io/host-tensor.js';
import type { Tensor } from '../tensor.js';

/** Places host weights on `backend` as long-lived parameters (uploadWeight). */
export function uploadWeights(weights: ReadonlyMap<string, HostTensor>, backend: Backend): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, w] of weights) {
    if (w.dtype !== 'f32') throw new Error(`parameter ${name} is ${w.dtype}, expected f32`);
    out.set(name, backend.uploadWeight(w.data as Float32Array, w.shape));
  }
  return out;
}
