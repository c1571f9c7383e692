/**
 * Backend.normLinear on the device: residual + linear(norm(x), w, bias). A few rows (decoding)
 * are one GEMV dispatch with the norm, the bias and the residual fused (gemv.ts); many rows run
 * the norm, the tiled matmul and the add as kernels of their own.
 */
import type { GpuTensor } from '../buffer-pool.js';
import type { KernelHost } from '../runtime.js';
import { tidy } from '../../scope.js';
import { binary } from './elementwise.js';
import { gemv, GEMV_ROWS, GEMV_SCALES, type GemvNormArgs } from './gemv.js';
import { matmul } from './matmul.js';
import { groupRmsNorm } from './norms.js';

/** x [..., K], w [N, K], bias [N]?, residual [..., N]? -> [..., N] */
export function normLinear(h: KernelHost, x: GpuTensor, norm: GemvNormArgs | undefined, w: GpuTensor,
  bias: GpuTensor | undefined, residual: GpuTensor | undefined): GpuTensor {
  const [N, K] = w.shape;
  const M = K === 0 ? x.size : x.size / K;
  const outShape = [...x.shape.slice(0, -1), N];
  if (M > 0 && M <= GEMV_ROWS && K > 0 && (!norm || M * (K / norm.groupSize) <= GEMV_SCALES)) {
    return gemv(h, x, w, M, N, K, norm, bias, residual, outShape);
  }
  return tidy(() => {
    const xn = norm ? groupRmsNorm(h, x, norm.weight, norm.eps, norm.groupSize) : x;
    const y = matmul(h, xn, w, M, N, K, false, true, bias, outShape);
    return residual ? binary(h, 'add', y, residual) : y;
  });
}
