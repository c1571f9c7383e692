/** Splitting and joining along the last dim (forward here; backward with autograd). */
import type { Tensor } from '../tensor.js';

/** x [..., sum(sizes)] -> [..., sizes[i]] */
export function split(x: Tensor, sizes: readonly number[]): Tensor[] {
  return x.backend.split(x, sizes);
}

/** [..., C_i] -> [..., sum C_i] */
export function concat(xs: readonly Tensor[]): Tensor {
  return xs[0].backend.concat(xs);
}
