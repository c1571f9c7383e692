/** Splitting and joining along the last dim; each is the other's backward. */
import { tapeFor } from '../autograd/tape.js';
import type { Tensor } from '../tensor.js';

/** x [..., sum(sizes)] -> [..., sizes[i]] */
export function split(x: Tensor, sizes: readonly number[]): Tensor[] {
  const ys = x.backend.split(x, sizes);
  tapeFor(x)?.record([x], ys, (dys) => [x.backend.concat(dys)]);
  return ys;
}

/** [..., C_i] -> [..., sum C_i] */
export function concat(xs: readonly Tensor[]): Tensor {
  const be = xs[0].backend;
  const y = be.concat(xs);
  tapeFor(...xs)?.record(xs, [y], ([dy]) => be.split(dy, xs.map((t) => t.shape[t.shape.length - 1])));
  return y;
}
