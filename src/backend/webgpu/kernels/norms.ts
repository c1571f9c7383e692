/**
 * Row reductions, one workgroup per row (or per row group): rmsNorm, Mamba-2's grouped gated
 * RMSNorm, softmax and logSoftmax. Each invocation strides over the row, then the workgroup
 * combines its partials (subgroup operations when the device has them).
 */
import type { GpuTensor } from '../buffer-pool.js';
import { f32Bits, grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { blockReduce, ENTRY_ARGS, GROUP_ID, header, type BufferDecl } from '../wgsl.js';
import { SCALAR_FNS } from './elementwise.js';

const WG = 256;
/** invocations per workgroup of `rowKernel` */
export const ROW_WG = WG;

const cache = new Map<string, Kernel>();

/** A row kernel: `body` runs once per workgroup row with `row` and `lid` in scope. */
export function rowKernel(h: KernelHost, label: string, fields: string, buffers: readonly BufferDecl[], body: string): Kernel {
  const { subgroups, subgroupMinSize } = h.rt.info;
  const key = `${label} ${subgroups} ${subgroupMinSize}`;
  let k = cache.get(key);
  if (!k) {
    const red = blockReduce(WG, subgroups, subgroupMinSize);
    k = {
      label,
      source: `${header(fields, buffers, red.enables)}
${red.fns}
${SCALAR_FNS}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}${red.args}) {
  ${red.init}
  let row = ${GROUP_ID};
  if (row >= p.rows) { return; }
  ${body}
}`,
    };
    cache.set(key, k);
  }
  return k;
}

function rowsOf(x: GpuTensor): { rows: number; C: number } {
  const C = x.shape[x.shape.length - 1];
  return { rows: C === 0 ? 0 : x.size / C, C };
}

/** x [..., C], weight [C] -> x / sqrt(mean(x²) + eps) * weight */
export function rmsNorm(h: KernelHost, x: GpuTensor, weight: GpuTensor, eps: number): GpuTensor {
  const { rows, C } = rowsOf(x);
  const k = rowKernel(h, 'rmsNorm', 'rows: u32, C: u32, eps: f32',
    [['x', 'read', 'f32'], ['w', 'read', 'f32'], ['out', 'read_write', 'f32']], `
  let base = row * p.C;
  var ss = 0.0;
  for (var c = lid; c < p.C; c += ${WG}u) { let v = x[base + c]; ss += v * v; }
  let inv = 1.0 / sqrt(blockSum(ss) / f32(p.C) + p.eps);
  for (var c = lid; c < p.C; c += ${WG}u) { out[base + c] = x[base + c] * inv * w[c]; }`);
  const out = h.empty(x.shape);
  h.rt.dispatch(k, [rows, C, f32Bits(eps)], [storageOf(x), storageOf(weight), out.storage], grid(rows, 1));
  return out;
}

/**
 * Gated RMSNorm over groups of `groupSize` channels (one workgroup per row and group).
 * normBeforeGate: rmsnorm(x) * w * silu(z); otherwise rmsnorm(x * silu(z)) * w.
 */
export function gatedRmsNorm(h: KernelHost, x: GpuTensor, z: GpuTensor, weight: GpuTensor, eps: number,
  groupSize: number, normBeforeGate: boolean): GpuTensor {
  return groupNorm(h, x, { z, normBeforeGate }, weight, eps, groupSize);
}

/** RMSNorm over groups of `groupSize` channels: x / rms(group) * w (the gate-free gated norm). */
export function groupRmsNorm(h: KernelHost, x: GpuTensor, weight: GpuTensor, eps: number, groupSize: number): GpuTensor {
  return groupNorm(h, x, undefined, weight, eps, groupSize);
}

function groupNorm(h: KernelHost, x: GpuTensor, gate: { z: GpuTensor; normBeforeGate: boolean } | undefined,
  weight: GpuTensor, eps: number, groupSize: number): GpuTensor {
  const { rows, C } = rowsOf(x);
  const groups = C / groupSize;
  const gated = !gate || gate.normBeforeGate ? 'x[base + c]' : 'x[base + c] * silu(z[base + c])';
  const label = !gate ? 'groupRmsNorm' : `gatedRmsNorm ${gate.normBeforeGate ? 'norm-then-gate' : 'gate-then-norm'}`;
  const buffers: BufferDecl[] = [['x', 'read', 'f32'], ...(gate ? [['z', 'read', 'f32'] as const] : []), ['w', 'read', 'f32'], ['out', 'read_write', 'f32']];
  const k = rowKernel(h, label, 'rows: u32, C: u32, gs: u32, eps: f32', buffers, `
  let groups = p.C / p.gs;
  let base = (row / groups) * p.C + (row % groups) * p.gs;
  let wbase = (row % groups) * p.gs;
  var ss = 0.0;
  for (var c = lid; c < p.gs; c += ${WG}u) { let v = ${gated}; ss += v * v; }
  let inv = 1.0 / sqrt(blockSum(ss) / f32(p.gs) + p.eps);
  for (var c = lid; c < p.gs; c += ${WG}u) {
    out[base + c] = ${gated} * inv * w[wbase + c]${gate?.normBeforeGate ? ' * silu(z[base + c])' : ''};
  }`);
  const out = h.empty(x.shape);
  const storage = [storageOf(x), ...(gate ? [storageOf(gate.z)] : []), storageOf(weight), out.storage];
  h.rt.dispatch(k, [rows * groups, C, groupSize, f32Bits(eps)], storage, grid(rows * groups, 1));
  return out;
}

/** softmax (or log-softmax) over the last dimension */
/**
 * WGSL of a row kernel over x[base ..< base + n]: m, the row's max, and total, Σ exp(x - m) (the
 * softmax's denominator); every invocation of the row ends with both.
 */
export const rowMaxAndExpSum = (n: string): string => `
  var mx = -3.402823e38;
  for (var c = lid; c < ${n}; c += ${WG}u) { mx = max(mx, x[base + c]); }
  let m = blockMax(mx);
  var se = 0.0;
  for (var c = lid; c < ${n}; c += ${WG}u) { se += exp(x[base + c] - m); }
  let total = blockSum(se);`;

export function softmax(h: KernelHost, x: GpuTensor, log: boolean): GpuTensor {
  const { rows, C } = rowsOf(x);
  const k = rowKernel(h, log ? 'logSoftmax' : 'softmax', 'rows: u32, C: u32',
    [['x', 'read', 'f32'], ['out', 'read_write', 'f32']], `
  let base = row * p.C;
  ${rowMaxAndExpSum('p.C')}
  ${log
    ? `let lt = log(total);
  for (var c = lid; c < p.C; c += ${WG}u) { out[base + c] = (x[base + c] - m) - lt; }`
    : `let inv = 1.0 / total;
  for (var c = lid; c < p.C; c += ${WG}u) { out[base + c] = exp(x[base + c] - m) * inv; }`}`);
  const out = h.empty(x.shape);
  h.rt.dispatch(k, [rows, C], [storageOf(x), out.storage], grid(rows, 1));
  return out;
}
