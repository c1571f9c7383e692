/**
 * Choosing next tokens on the device, so that decoding reads back 4 bytes a sequence instead of
 * a row of logits, and the chosen ids can feed the next step's embedding without a round trip.
 *   argmax: logits [R, V] -> ids i32 [R], the first index of the largest of the first `vocab`
 *           values of each row (the padded rows of an embedding are never chosen); NaN never wins.
 * One workgroup per row: each invocation scans a strided slice, then a shared-memory tree keeps
 * the larger value, or the smaller index on a tie.
 */
import type { GpuTensor } from '../buffer-pool.js';
import { grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { ENTRY_ARGS, GROUP_ID, header } from '../wgsl.js';

const WG = 256;

const ARGMAX: Kernel = {
  label: 'argmax',
  source: `${header('rows: u32, V: u32, vocab: u32', [['logits', 'read', 'f32'], ['ids', 'read_write', 'i32']])}
var<workgroup> bestV: array<f32, ${WG}>;
var<workgroup> bestI: array<u32, ${WG}>;

const NONE = 0xffffffffu;  // no candidate seen (an empty slice, or only NaN)

fn better(v: f32, i: u32, w: f32, j: u32) -> bool {
  return i != NONE && (j == NONE || v > w || (v == w && i < j));
}

@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let row = ${GROUP_ID};
  if (row >= p.rows) { return; }
  var bv = -3.402823e38;
  var bi = NONE;
  for (var c = lid; c < p.vocab; c += ${WG}u) {
    let v = logits[row * p.V + c];
    // a NaN compares false with everything, so it never replaces bv; the bit test keeps it out
    // of the first slot too (a compiler may assume no NaN and fold v != v away)
    let isNan = (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
    if (!isNan && (v > bv || bi == NONE)) { bv = v; bi = c; }
  }
  bestV[lid] = bv;
  bestI[lid] = bi;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s && better(bestV[lid + s], bestI[lid + s], bestV[lid], bestI[lid])) {
      bestV[lid] = bestV[lid + s];
      bestI[lid] = bestI[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) { ids[row] = select(i32(bestI[0]), 0, bestI[0] == NONE); }
}`,
};

/** logits [..., V] -> ids i32 [...] over the first `vocab` columns */
export function argmax(h: KernelHost, logits: GpuTensor, vocab: number): GpuTensor {
  const V = logits.shape[logits.shape.length - 1];
  const rows = V === 0 ? 0 : logits.size / V;
  const ids = h.empty(logits.shape.slice(0, -1), 'i32');
  h.rt.dispatch(ARGMAX, [rows, V, vocab], [storageOf(logits), ids.storage], grid(rows, 1));
  return ids;
}
