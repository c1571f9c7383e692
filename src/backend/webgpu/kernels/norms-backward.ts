/**
 * Backward of the row normalizations and softmax (norms.ts), one workgroup per row (or row
 * group) as in the forward. With n = v / rms(v) the normalized group and g the gradient reaching
 * n, the gradient of v is (g − n mean(g n)) / rms(v). The weight's gradient Σ_rows g·n is a column
 * sum over the rows' 1 / rms, which the row kernel leaves behind ([rows] or [rows, groups]).
 */
import type { GpuTensor } from '../buffer-pool.js';
import { f32Bits, grid, storageOf, type KernelHost } from '../runtime.js';
import { SCALAR_FNS } from './elementwise.js';
import { rowKernel } from './norms.js';
import { columnSum, type ColumnSum } from './reduce.js';

const WG = 256;

function rowsOf(x: GpuTensor): { rows: number; C: number } {
  const C = x.shape[x.shape.length - 1];
  return { rows: C === 0 ? 0 : x.size / C, C };
}

const RMS_DWEIGHT: ColumnSum = {
  label: 'rmsNorm backward dweight',
  fields: '',
  buffers: [['x', 'read', 'f32'], ['dy', 'read', 'f32'], ['inv', 'read', 'f32']],
  term: 'dy[r * p.cols + c] * x[r * p.cols + c] * inv[r]',
};

/** x, dy [..., C], weight [C] -> dx [..., C], dweight [C] */
export function rmsNormBackward(h: KernelHost, x: GpuTensor, weight: GpuTensor, eps: number, dy: GpuTensor): { dx: GpuTensor; dweight: GpuTensor } {
  const { rows, C } = rowsOf(x);
  const k = rowKernel(h, 'rmsNorm backward', 'rows: u32, C: u32, eps: f32',
    [['x', 'read', 'f32'], ['w', 'read', 'f32'], ['dy', 'read', 'f32'], ['dx', 'read_write', 'f32'], ['invOut', 'read_write', 'f32']], `
  let base = row * p.C;
  var ss = 0.0;
  var gwx = 0.0;
  for (var c = lid; c < p.C; c += ${WG}u) {
    let v = x[base + c];
    ss += v * v;
    gwx += dy[base + c] * w[c] * v;
  }
  let inv = 1.0 / sqrt(blockSum(ss) / f32(p.C) + p.eps);
  let mean = blockSum(gwx) * inv / f32(p.C);   // mean(g n) with g = dy·w
  for (var c = lid; c < p.C; c += ${WG}u) {
    dx[base + c] = inv * (dy[base + c] * w[c] - x[base + c] * inv * mean);
  }
  if (lid == 0u) { invOut[row] = inv; }`);
  const dx = h.empty(x.shape);
  const inv = h.empty([rows]);
  h.rt.dispatch(k, [rows, C, f32Bits(eps)], [storageOf(x), storageOf(weight), storageOf(dy), dx.storage, inv.storage], grid(rows, 1));
  const dweight = columnSum(h, RMS_DWEIGHT, rows, C, [], [x, dy, inv]);
  inv.dispose();
  return { dx, dweight };
}

// dweight sums dy·n·silu(z) (normBeforeGate: n = x·inv) or dy·n (n = x·silu(z)·inv): the same
// term either way; inv is per (row, group)
const GATED_DWEIGHT: ColumnSum = {
  label: 'gatedRmsNorm backward dweight',
  fields: 'gs: u32',
  buffers: [['x', 'read', 'f32'], ['z', 'read', 'f32'], ['dy', 'read', 'f32'], ['inv', 'read', 'f32']],
  term: 'dy[r * p.cols + c] * x[r * p.cols + c] * silu(z[r * p.cols + c]) * inv[r * (p.cols / p.gs) + c / p.gs]',
  prelude: SCALAR_FNS,
};

/**
 * Grouped gated RMSNorm backward. normBeforeGate: y = n w silu(z) with n = norm(x); otherwise
 * y = n w with n = norm(v), v = x silu(z).  x, z, dy [..., C], weight [C] -> dx, dz, dweight
 */
export function gatedRmsNormBackward(h: KernelHost, x: GpuTensor, z: GpuTensor, weight: GpuTensor, eps: number,
  groupSize: number, normBeforeGate: boolean, dy: GpuTensor): { dx: GpuTensor; dz: GpuTensor; dweight: GpuTensor } {
  const { rows, C } = rowsOf(x);
  const groups = C / groupSize;
  // per channel: s = sigmoid(z), v the normalized input, gn the gradient reaching n (over inv)
  const k = rowKernel(h, `gatedRmsNorm backward ${normBeforeGate ? 'norm-then-gate' : 'gate-then-norm'}`,
    'rows: u32, C: u32, gs: u32, eps: f32',
    [['x', 'read', 'f32'], ['z', 'read', 'f32'], ['w', 'read', 'f32'], ['dy', 'read', 'f32'],
      ['dx', 'read_write', 'f32'], ['dz', 'read_write', 'f32'], ['invOut', 'read_write', 'f32']], `
  let groups = p.C / p.gs;
  let base = (row / groups) * p.C + (row % groups) * p.gs;
  let wbase = (row % groups) * p.gs;
  var ss = 0.0;
  var gnv = 0.0;
  for (var c = lid; c < p.gs; c += ${WG}u) {
    let zz = z[base + c];
    let v = ${normBeforeGate ? 'x[base + c]' : 'x[base + c] * silu(zz)'};
    let gn = dy[base + c] * w[wbase + c]${normBeforeGate ? ' * silu(zz)' : ''};
    ss += v * v;
    gnv += gn * v;
  }
  let inv = 1.0 / sqrt(blockSum(ss) / f32(p.gs) + p.eps);
  let mean = blockSum(gnv) * inv / f32(p.gs);
  for (var c = lid; c < p.gs; c += ${WG}u) {
    let i = base + c;
    let zz = z[i];
    let s = 1.0 / (1.0 + exp(-zz));
    let dsilu = s * (1.0 + zz * (1.0 - s));
    ${normBeforeGate
    ? `let v = x[i];
    dx[i] = inv * (dy[i] * w[wbase + c] * zz * s - v * inv * mean);
    dz[i] = dy[i] * v * inv * w[wbase + c] * dsilu;`
    : `let v = x[i] * zz * s;
    let dv = inv * (dy[i] * w[wbase + c] - v * inv * mean);
    dx[i] = dv * zz * s;
    dz[i] = dv * x[i] * dsilu;`}
  }
  if (lid == 0u) { invOut[row] = inv; }`);
  const dx = h.empty(x.shape);
  const dz = h.empty(x.shape);
  const inv = h.empty([rows * groups]);
  h.rt.dispatch(k, [rows * groups, C, groupSize, f32Bits(eps)],
    [storageOf(x), storageOf(z), storageOf(weight), storageOf(dy), dx.storage, dz.storage, inv.storage], grid(rows * groups, 1));
  const dweight = columnSum(h, GATED_DWEIGHT, rows, C, [groupSize], [x, z, dy, inv]);
  inv.dispose();
  return { dx, dz, dweight };
}

/** softmax: dx = y (dy − Σ dy y); logSoftmax: dx = dy − e^y Σ dy.  y, dy [..., C] */
export function softmaxBackward(h: KernelHost, y: GpuTensor, dy: GpuTensor, log: boolean): GpuTensor {
  const { rows, C } = rowsOf(y);
  const k = rowKernel(h, log ? 'logSoftmax backward' : 'softmax backward', 'rows: u32, C: u32',
    [['y', 'read', 'f32'], ['dy', 'read', 'f32'], ['dx', 'read_write', 'f32']], `
  let base = row * p.C;
  var s = 0.0;
  for (var c = lid; c < p.C; c += ${WG}u) { s += dy[base + c]${log ? '' : ' * y[base + c]'}; }
  let total = blockSum(s);
  for (var c = lid; c < p.C; c += ${WG}u) {
    dx[base + c] = ${log ? 'dy[base + c] - exp(y[base + c]) * total' : 'y[base + c] * (dy[base + c] - total)'};
  }`);
  const dx = h.empty(y.shape);
  h.rt.dispatch(k, [rows, C], [storageOf(y), storageOf(dy), dx.storage], grid(rows, 1));
  return dx;
}
