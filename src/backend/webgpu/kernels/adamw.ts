/**
 * AdamW in place (see AdamWStep in backend.ts): one invocation per parameter, reading and writing
 * param, m and v once each. The step's scalars (decay, bias corrections) are folded on the host.
 *   param, grad, m, v [...] (same shape) -> param, m, v updated
 */
import type { AdamWStep } from '../../backend.js';
import type { GpuTensor } from '../buffer-pool.js';
import { f32Bits, grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { flatMain, header } from '../wgsl.js';

const WG = 256;

const ADAMW: Kernel = {
  label: 'adamw',
  source: `${header('n: u32, scale: f32, decay: f32, stepSize: f32, sqrtBc2: f32, b1: f32, b2: f32, eps: f32',
    [['grad', 'read', 'f32'], ['param', 'read_write', 'f32'], ['m', 'read_write', 'f32'], ['v', 'read_write', 'f32']])}
${flatMain(WG)}
  let g = grad[i] * p.scale;
  let mi = p.b1 * m[i] + (1.0 - p.b1) * g;
  let vi = p.b2 * v[i] + (1.0 - p.b2) * g * g;
  m[i] = mi;
  v[i] = vi;
  param[i] = param[i] * p.decay - p.stepSize * mi / (sqrt(vi) / p.sqrtBc2 + p.eps);
}`,
};

export function adamw(h: KernelHost, param: GpuTensor, grad: GpuTensor, m: GpuTensor, v: GpuTensor, o: AdamWStep): void {
  const params = [
    param.size,
    f32Bits(o.gradScale ?? 1),
    f32Bits(1 - o.lr * o.weightDecay),
    f32Bits(o.lr / (1 - o.beta1 ** o.step)),
    f32Bits(Math.sqrt(1 - o.beta2 ** o.step)),
    f32Bits(o.beta1),
    f32Bits(o.beta2),
    f32Bits(o.eps),
  ];
  h.rt.dispatch(ADAMW, params, [storageOf(grad), storageOf(param), storageOf(m), storageOf(v)], grid(param.size, WG));
}
