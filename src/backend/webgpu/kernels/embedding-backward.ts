/**
 * Embedding backward, a scatter-add: row i of dy goes into row ids[i] of the table's gradient,
 * and ids repeat. WGSL has no float atomics, so each add is a compare-exchange loop on the f32's
 * bits; only invocations that hit the same (row, column) ever retry. The order in which repeated
 * ids add up varies from run to run, so the last bits may too.
 *   dy [...S, C], ids i32 [...S] -> dtable [V, C]; an id outside [0, V) adds nothing
 */
import type { GpuTensor } from '../buffer-pool.js';
import { grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { flatMain, header } from '../wgsl.js';

const WG = 256;

const EMBEDDING_BACKWARD: Kernel = {
  label: 'embedding backward',
  source: `${header('n: u32, C: u32, V: u32', [['dy', 'read', 'f32'], ['ids', 'read', 'i32'], ['out', 'read_write', 'atomic<u32>']])}
${flatMain(WG)}
  let id = ids[i / p.C];
  if (id < 0 || u32(id) >= p.V) { return; }
  let at = u32(id) * p.C + i % p.C;
  let v = dy[i];
  var old = atomicLoad(&out[at]);
  loop {
    let r = atomicCompareExchangeWeak(&out[at], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}`,
};

export function embeddingBackward(h: KernelHost, dy: GpuTensor, ids: GpuTensor, V: number): GpuTensor {
  const C = dy.shape[dy.shape.length - 1];
  const out = h.empty([V, C]);
  h.rt.clear(out.storage);
  h.rt.dispatch(EMBEDDING_BACKWARD, [dy.size, C, V], [storageOf(dy), storageOf(ids), out.storage], grid(dy.size, WG));
  return out;
}
