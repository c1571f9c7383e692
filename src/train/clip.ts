/** Global gradient-norm clipping as torch.nn.utils.clip_grad_norm_ (L2 over all parameters). */
import { hasGradKernels, type Backend } from '../backend/backend.js';
import type { Tensor } from '../tensor.js';

/**
 * sqrt of the sum of every gradient element squared. On the CPU reading is free, so every
 * element is summed on the host in float64 (the same number, bit for bit, as ever). Elsewhere
 * the backend sums each gradient's squares on the device (`sumOfSquares`) and one vector of one
 * float per gradient comes back, summed here in float64. The read-back is recorded at once, so a
 * caller that starts other reads before awaiting waits on the device only once.
 */
export function globalGradNorm(grads: readonly Tensor[], be: Backend): Promise<number> {
  if (be.name === 'cpu' || grads.length === 0 || !hasGradKernels(be)) return hostNorm(grads);
  const squares = be.sumOfSquares(grads);
  return be.read(squares).then((s) => {
    let sum = 0;
    for (let i = 0; i < s.length; i++) sum += s[i];
    return Math.sqrt(sum);
  }).finally(() => squares.dispose());
}

async function hostNorm(grads: readonly Tensor[]): Promise<number> {
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
