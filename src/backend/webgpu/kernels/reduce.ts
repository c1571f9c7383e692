/**
 * Column sums, the reduction most backward passes end with: a weight's gradient is a sum over
 * every row (token) of a per-row term, out[c] = Σ_r term(r, c). The term is a WGSL expression, so
 * a product like g·x·inv[r] is summed without first being written out as a [rows, C] tensor.
 *
 * A workgroup holds 16 columns × 16 row lanes: lanes of one row read 16 adjacent columns, each
 * lane walks every 16th row, and the 16 partials of a column meet in a shared-memory tree.
 */
import type { GpuTensor } from '../buffer-pool.js';
import { grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { ENTRY_ARGS, header, type BufferDecl } from '../wgsl.js';
import { rowKernel, ROW_WG as RED_WG } from './norms.js';

const COLS = 16;
const LANES = 16;

export interface ColumnSum {
  label: string;
  /** extra Params fields after `rows: u32, cols: u32` ('' for none) */
  fields: string;
  /** the inputs the term reads (not named out or colPart); the output `out` is appended */
  buffers: readonly BufferDecl[];
  /** f32 expression of row `r` and column `c` (u32, in range) */
  term: string;
  /** module-scope WGSL the term calls */
  prelude?: string;
}

const cache = new Map<string, Kernel>();

export function columnSumKernel(s: ColumnSum): Kernel {
  let k = cache.get(s.label);
  if (!k) {
    const fields = s.fields ? `rows: u32, cols: u32, ${s.fields}` : 'rows: u32, cols: u32';
    k = {
      label: s.label,
      source: `${header(fields, [...s.buffers, ['out', 'read_write', 'f32']])}
${s.prelude ?? ''}
var<workgroup> colPart: array<f32, ${COLS * LANES}>;

@compute @workgroup_size(${COLS * LANES})
fn main(${ENTRY_ARGS}) {
  let c = (wid.y * nwg.x + wid.x) * ${COLS}u + lid % ${COLS}u;
  var acc = 0.0;
  if (c < p.cols) {
    for (var r = lid / ${COLS}u; r < p.rows; r += ${LANES}u) { acc += ${s.term}; }
  }
  colPart[lid] = acc;
  workgroupBarrier();
  for (var s = ${(COLS * LANES) / 2}u; s >= ${COLS}u; s = s >> 1u) {
    if (lid < s) { colPart[lid] += colPart[lid + s]; }
    workgroupBarrier();
  }
  if (lid < ${COLS}u && c < p.cols) { out[c] = colPart[lid]; }
}`,
    };
    cache.set(s.label, k);
  }
  return k;
}

/**
 * Dispatches a column sum into a new tensor of `shape` (cols elements). `params` follow rows and
 * cols in the order of `s.fields`; `inputs` bind in the order of `s.buffers`.
 */
export function columnSum(h: KernelHost, s: ColumnSum, rows: number, cols: number, params: readonly number[],
  inputs: readonly GpuTensor[], shape: readonly number[] = [cols]): GpuTensor {
  const out = h.empty(shape);
  if (cols === 0) return out;
  h.rt.dispatch(columnSumKernel(s), [rows, cols, ...params], [...inputs.map(storageOf), out.storage], grid(cols, COLS));
  return out;
}

const SUM_ROWS: ColumnSum = { label: 'sumRows', fields: '', buffers: [['x', 'read', 'f32']], term: 'x[r * p.cols + c]' };

/** x [rows, cols] (any leading shape) -> [cols]: a bias's gradient, or partial sums' total */
export function sumRows(h: KernelHost, x: GpuTensor, cols: number, shape: readonly number[] = [cols]): GpuTensor {
  return columnSum(h, SUM_ROWS, cols === 0 ? 0 : x.size / cols, cols, [], [x], shape);
}

/** most workgroups (partial sums) per tensor in the first stage of `sumOfSquares` */
const SQ_PARTS = 512;
/** fewest elements per invocation before a tensor gets another workgroup */
const SQ_PER_LANE = 16;

/**
 * xs -> [xs.length], element i = Σ xs[i]²: per tensor one dispatch of up to SQ_PARTS workgroups
 * that stride over it and write one partial each (slots of the zeroed partials a small tensor
 * does not need stay 0), then one dispatch folds each tensor's partials. Everything stays on the
 * device; the caller reads back xs.length floats.
 */
export function sumOfSquares(h: KernelHost, xs: readonly GpuTensor[]): GpuTensor {
  const out = h.empty([xs.length]);
  if (xs.length === 0) return out;
  const part = h.empty([xs.length * SQ_PARTS]);
  h.rt.clear(part.storage);
  const stage1 = rowKernel(h, 'sumOfSquares partials', 'rows: u32, n: u32, off: u32',
    [['x', 'read', 'f32'], ['part', 'read_write', 'f32']], `
  var s = 0.0;
  for (var i = row * ${RED_WG}u + lid; i < p.n; i += p.rows * ${RED_WG}u) { let v = x[i]; s = fma(v, v, s); }
  let t = blockSum(s);
  if (lid == 0u) { part[p.off + row] = t; }`);
  xs.forEach((x, i) => {
    const parts = Math.max(1, Math.min(SQ_PARTS, Math.ceil(x.size / (RED_WG * SQ_PER_LANE))));
    h.rt.dispatch(stage1, [parts, x.size, i * SQ_PARTS], [storageOf(x), part.storage], [parts, 1]);
  });
  const stage2 = rowKernel(h, 'sumOfSquares fold', 'rows: u32, parts: u32',
    [['part', 'read', 'f32'], ['out', 'read_write', 'f32']], `
  var s = 0.0;
  for (var i = lid; i < p.parts; i += ${RED_WG}u) { s += part[row * p.parts + i]; }
  let t = blockSum(s);
  if (lid == 0u) { out[row] = t; }`);
  h.rt.dispatch(stage2, [xs.length, SQ_PARTS], [part.storage, out.storage], grid(xs.length, 1));
  part.dispose();
  return out;
}
