/** Global gradient-norm clipping as torch.nn.utils.clip_grad_norm_ (L2 over all parameters). */
import type { Tensor } from '../tensor.js';

/** sqrt of the sum of every gradient element squared, summed in float64. */
export async function globalGradNorm(grads: Iterable<Tensor>): Promise<number> {
  let sum = 0;
  for (const g of grads) {
    const data = await g.read();
    for (let i = 0; i < data.length; i++) sum += data[i] * data[i];
  }
  return Math.sqrt(sum);
}

/**
 * The factor torch multiplies the gradients by: min(1, maxNorm / (norm + 1e-6)); 1 when
 * `maxNorm` is 0 (clipping off). A non-finite norm passes through as NaN so the caller stops.
 */
export function clipScale(norm: number, maxNorm: number): number {
  if (!Number.isFinite(norm)) return NaN;
  if (maxNorm <= 0) return 1;
  return Math.min(1, maxNorm / (norm + 1e-6));
}
