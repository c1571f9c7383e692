/**
 * Backward of the pointwise activations, and the scale a gradient arriving at a scalar loss gets.
 * add, mul and exp need only the forward kernels (see ops/elementwise.ts).
 *   x, dy [...] -> dx [...];  x [...], s [] -> s·x
 */
import type { GpuTensor } from '../buffer-pool.js';
import { grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { flatMain, header } from '../wgsl.js';
import { NORMAL_CDF } from './elementwise.js';

const WG = 256;

/**
 * Derivatives other backward kernels splice in. silu'(x) = s (1 + x (1 − s)) with s = sigmoid(x);
 * softplus'(x) = sigmoid(x), and 1 above the threshold 20 where the forward is the identity.
 */
export const GRAD_FNS = `
fn sigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
fn siluGrad(x: f32) -> f32 { let s = sigmoid(x); return s * (1.0 + x * (1.0 - s)); }
fn softplusGrad(x: f32) -> f32 { return select(sigmoid(x), 1.0, x > 20.0); }
fn reluGrad(x: f32) -> f32 { return select(0.0, 1.0, x > 0.0); }`;

/** gelu'(x) = Φ(x) + x φ(x); only the activation kernel needs it. */
const GELU_GRAD = `${NORMAL_CDF}
fn geluGrad(x: f32) -> f32 { return normalCdf(x) + x * 0.3989422804014327 * exp(-0.5 * x * x); }`;

export type ActivationGrad = 'siluGrad' | 'softplusGrad' | 'reluGrad' | 'geluGrad';

const kernels = new Map<ActivationGrad, Kernel>();

function activationKernel(fn: ActivationGrad): Kernel {
  let k = kernels.get(fn);
  if (!k) {
    k = {
      label: `${fn} backward`,
      source: `${header('n: u32', [['x', 'read', 'f32'], ['dy', 'read', 'f32'], ['dx', 'read_write', 'f32']])}
${GRAD_FNS}${GELU_GRAD}
${flatMain(WG)}
  dx[i] = dy[i] * ${fn}(x[i]);
}`,
    };
    kernels.set(fn, k);
  }
  return k;
}

/** dx = dy · f'(x) for f = silu, softplus, relu or gelu */
export function activationBackward(h: KernelHost, fn: ActivationGrad, x: GpuTensor, dy: GpuTensor): GpuTensor {
  const dx = h.empty(x.shape);
  h.rt.dispatch(activationKernel(fn), [x.size], [storageOf(x), storageOf(dy), dx.storage], grid(x.size, WG));
  return dx;
}

const SCALE_BY: Kernel = {
  label: 'scaleBy',
  source: `${header('n: u32', [['x', 'read', 'f32'], ['s', 'read', 'f32'], ['out', 'read_write', 'f32']])}
${flatMain(WG)}
  out[i] = s[0] * x[i];
}`,
};

/** x times the one value of s, read on the device (the loss's gradient is never on the host) */
export function scaleBy(h: KernelHost, x: GpuTensor, s: GpuTensor): GpuTensor {
  const out = h.empty(x.shape);
  h.rt.dispatch(SCALE_BY, [x.size], [storageOf(x), storageOf(s), out.storage], grid(x.size, WG));
  return out;
}
