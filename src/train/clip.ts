/** Global gradient-norm clipping as torch.nn.utils.clip_grad_norm_ (L2 over all parameters). */
import type { Backend } from '../backend/backend.js';
import type { Tensor } from '../tensor.js';

/**
 * sqrt of the sum of every gradient element squared: the backend sums each gradient's squares
 * (`sumOfSquares`, on the device where there is one) and one vector of one float per gradient
 * comes back, summed here in float64. The read-back is recorded at once, so a caller that starts
 * other reads before awaiting waits on the device only once.
 */
export function globalGradNorm(grads: readonly Tensor[], be: Backend): Promise<number> {
  if (grads.length === 0) return Promise.resolve(0);
  const squares = be.sumOfSquares(grads);
  return be.read(squares).then((s) => {
    let sum = 0;
    for (let i = 0; i < s.length; i++) sum += s[i];
    return Math.sqrt(sum);
  }).finally(() => squares.dispose());
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
