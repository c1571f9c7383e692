/** Pointwise ops (forward here; backward with autograd). Shapes of a and b must be equal. */
import type { Tensor } from '../tensor.js';

export function add(a: Tensor, b: Tensor): Tensor {
  return a.backend.add(a, b);
}

export function mul(a: Tensor, b: Tensor): Tensor {
  return a.backend.mul(a, b);
}

export function silu(x: Tensor): Tensor {
  return x.backend.silu(x);
}

export function softplus(x: Tensor): Tensor {
  return x.backend.softplus(x);
}

export function exp(x: Tensor): Tensor {
  return x.backend.exp(x);
}
