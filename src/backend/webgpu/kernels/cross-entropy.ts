/**
 * Cross-entropy fused with log-softmax (cpu/cross-entropy.ts has the same contract): the mean
 * over rows whose target is not ignoreIndex of m + log Σ e^(x − m) − x[target]. When training,
 * the pass that sums a row's exponentials also writes its gradient (softmax − onehot) / count.
 * Three dispatches: count the rows that take part (the gradient's scale needs it), one workgroup
 * per row, then one workgroup sums the rows' losses. A target outside [0, V) cannot throw on the
 * device; it makes the loss NaN, which a trainer stops on.
 *   logits [..., V], targets i32 [...] -> loss [], dlogits [..., V]
 */
import type { GpuTensor } from '../buffer-pool.js';
import { grid, storageOf, type KernelHost } from '../runtime.js';
import { rowKernel, rowMaxAndExpSum } from './norms.js';

const WG = 256;
// a quiet NaN's bits, passed as a parameter: WGSL rejects a NaN constant at shader creation
const NAN_BITS = 0x7fc00000;

export function crossEntropy(h: KernelHost, logits: GpuTensor, targets: GpuTensor, ignoreIndex: number, withGrad: boolean): { loss: GpuTensor; dlogits?: GpuTensor } {
  const V = logits.shape[logits.shape.length - 1];
  const rows = V === 0 ? 0 : logits.size / V;
  const fields = 'rows: u32, n: u32, V: u32, ignore: i32, nan: u32';
  const params = (r: number) => [r, rows, V, ignoreIndex >>> 0, NAN_BITS];

  const count = h.empty([1]);
  h.rt.dispatch(rowKernel(h, 'crossEntropy count', fields, [['targets', 'read', 'i32'], ['count', 'read_write', 'f32']], `
  var k = 0.0;
  for (var r = lid; r < p.n; r += ${WG}u) { k += select(1.0, 0.0, targets[r] == p.ignore); }
  let total = blockSum(k);
  if (lid == 0u) { count[0] = total; }`), params(1), [storageOf(targets), count.storage], [1]);

  // Every row runs the reductions (a barrier cannot sit behind a branch on loaded data); an
  // ignored row then writes a zero loss and gradient.
  const rowLoss = h.empty([rows]);
  const dlogits = withGrad ? h.empty(logits.shape) : undefined;
  const buffers = [['x', 'read', 'f32'], ['targets', 'read', 'i32'], ['count', 'read', 'f32'], ['rowLoss', 'read_write', 'f32']] as const;
  h.rt.dispatch(rowKernel(h, `crossEntropy rows${withGrad ? ' with gradient' : ''}`, fields,
    withGrad ? [...buffers, ['dx', 'read_write', 'f32']] : buffers, `
  let base = row * p.V;
  let t = targets[row];
  let used = t != p.ignore;
  let valid = t >= 0 && u32(t) < p.V;
  ${rowMaxAndExpSum('p.V')}
  if (lid == 0u) {
    let xt = x[base + u32(clamp(t, 0, i32(p.V) - 1))];
    rowLoss[row] = select(0.0, select(bitcast<f32>(p.nan), m + log(total) - xt, valid), used);
  }
  ${withGrad ? `let n = count[0];
  let scale = select(0.0, 1.0 / (total * n), used);
  for (var c = lid; c < p.V; c += ${WG}u) {
    dx[base + c] = exp(x[base + c] - m) * scale - select(0.0, 1.0 / n, used && i32(c) == t);
  }` : ''}`), params(rows), [storageOf(logits), storageOf(targets), count.storage, rowLoss.storage, ...(dlogits ? [dlogits.storage] : [])],
  grid(rows, 1));

  const loss = h.empty([]);
  h.rt.dispatch(rowKernel(h, 'crossEntropy mean', fields, [['rowLoss', 'read', 'f32'], ['count', 'read', 'f32'], ['loss', 'read_write', 'f32']], `
  var acc = 0.0;
  for (var r = lid; r < p.n; r += ${WG}u) { acc += rowLoss[r]; }
  let total = blockSum(acc);
  if (lid == 0u) { loss[0] = select(0.0, total / count[0], count[0] > 0.0); }`), params(1), [rowLoss.storage, count.storage, loss.storage], [1]);
  rowLoss.dispose();
  count.dispose();
  return { loss, dlogits };
}
