/** Pointwise ops and their backward. Shapes of a and b must be equal. */
import { gradKernels } from '../backend/backend.js';
import { tapeFor } from '../autograd/tape.js';
import type { Tensor } from '../tensor.js';

export function add(a: Tensor, b: Tensor): Tensor {
  const y = a.backend.add(a, b);
  tapeFor(a, b)?.record([a, b], [y], ([dy]) => [dy, dy]);
  return y;
}

export function mul(a: Tensor, b: Tensor): Tensor {
  const y = a.backend.mul(a, b);
  tapeFor(a, b)?.record([a, b], [y], ([dy], needs) => [
    needs[0] ? a.backend.mul(dy, b) : undefined,
    needs[1] ? a.backend.mul(dy, a) : undefined,
  ]);
  return y;
}

export function silu(x: Tensor): Tensor {
  const y = x.backend.silu(x);
  tapeFor(x)?.record([x], [y], ([dy]) => [gradKernels(x.backend).siluBackward(x, dy)]);
  return y;
}

export function relu(x: Tensor): Tensor {
  const y = x.backend.relu(x);
  tapeFor(x)?.record([x], [y], ([dy]) => [gradKernels(x.backend).reluBackward(x, dy)]);
  return y;
}

/** the erf GELU (Hendrycks & Gimpel 2016), x Φ(x) */
export function gelu(x: Tensor): Tensor {
  const y = x.backend.gelu(x);
  tapeFor(x)?.record([x], [y], ([dy]) => [gradKernels(x.backend).geluBackward(x, dy)]);
  return y;
}

export function softplus(x: Tensor): Tensor {
  const y = x.backend.softplus(x);
  tapeFor(x)?.record([x], [y], ([dy]) => [gradKernels(x.backend).softplusBackward(x, dy)]);
  return y;
}

/** backward: dy e^x, from the saved output */
export function exp(x: Tensor): Tensor {
  const y = x.backend.exp(x);
  tapeFor(x)?.record([x], [y], ([dy]) => [x.backend.mul(dy, y)]);
  return y;
}
