/**
 * Elementwise kernels: add, mul (same shapes, as on the CPU), silu, relu, gelu, softplus, exp.
 * One invocation per element; these are bandwidth-bound, so nothing is tiled.
 */
import { grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import type { GpuTensor } from '../buffer-pool.js';
import { flatMain, header } from '../wgsl.js';

const WG = 256;

/** softplus with torch's threshold; log1p(e) as log(u)·e/(u−1), exact where 1 + e rounds. */
const SOFTPLUS = `
fn softplus(x: f32) -> f32 {
  if (x > 20.0) { return x; }
  let e = exp(x);
  let u = 1.0 + e;
  if (u == 1.0) { return e; }
  return log(u) * (e / (u - 1.0));
}`;

const SILU = `
fn silu(x: f32) -> f32 { return x / (1.0 + exp(-x)); }`;

/** Φ(x) as 1 - erfc(x/√2)/2, erfc by Abramowitz & Stegun 7.1.26 as on the CPU. */
export const NORMAL_CDF = `
fn normalCdf(x: f32) -> f32 {
  let z = abs(x) * 0.7071067811865476;
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * exp(-z * z);
  return select(0.5 * erfc, 1.0 - 0.5 * erfc, x >= 0.0);
}`;

/** WGSL helpers other kernels splice in (scan, SSD, gated norm). */
export const SCALAR_FNS = SOFTPLUS + SILU;

export type UnaryOp = 'silu' | 'relu' | 'gelu' | 'softplus' | 'exp';
const UNARY: Record<UnaryOp, string> = { silu: 'silu(x)', relu: 'max(x, 0.0)', gelu: 'x * normalCdf(x)', softplus: 'softplus(x)', exp: 'exp(x)' };

function unaryKernel(op: UnaryOp): Kernel {
  return {
    label: op,
    source: `${header('n: u32', [['a', 'read', 'f32'], ['out', 'read_write', 'f32']])}
${SCALAR_FNS}${NORMAL_CDF}
${flatMain(WG)}
  let x = a[i];
  out[i] = ${UNARY[op]};
}`,
  };
}

export type BinaryOp = 'add' | 'mul';
const BINARY: Record<BinaryOp, string> = { add: '+', mul: '*' };

function binaryKernel(op: BinaryOp): Kernel {
  return {
    label: op,
    source: `${header('n: u32', [['a', 'read', 'f32'], ['b', 'read', 'f32'], ['out', 'read_write', 'f32']])}
${flatMain(WG)}
  out[i] = a[i] ${BINARY[op]} b[i];
}`,
  };
}

const unaryKernels = new Map<UnaryOp, Kernel>();
const binaryKernels = new Map<BinaryOp, Kernel>();

export function unary(h: KernelHost, op: UnaryOp, x: GpuTensor): GpuTensor {
  let k = unaryKernels.get(op);
  if (!k) unaryKernels.set(op, (k = unaryKernel(op)));
  const out = h.empty(x.shape);
  h.rt.dispatch(k, [x.size], [storageOf(x), out.storage], grid(x.size, WG));
  return out;
}

export function binary(h: KernelHost, op: BinaryOp, a: GpuTensor, b: GpuTensor): GpuTensor {
  let k = binaryKernels.get(op);
  if (!k) binaryKernels.set(op, (k = binaryKernel(op)));
  const out = h.empty(a.shape);
  h.rt.dispatch(k, [a.size], [storageOf(a), storageOf(b), out.storage], grid(a.size, WG));
  return out;
}
