/** The SSD backward's dX per chunk and head, a tiled kernel. */
import type { GpuStorage, GpuTensor } from '../../buffer-pool.js';
import type { Kernel, KernelHost } from '../../runtime.js';
import { cached, type BufferDecl } from '../../wgsl.js';
import { tiledSource } from '../tiles.js';
import { FIELDS, POSITION_TILE, skipTerm, type DMode, type SsdDims } from './fields.js';

/** dX[i] = Σ_{j≥i} M_ji dY_j + w_i Tm_i + D dY_i for one chunk and head */
function dxKernel(d: DMode): Kernel {
  return cached(`ssd backward dx D=${d}`, () => {
    const buffers: BufferDecl[] = [['CB', 'read', 'f32'], ['acum', 'read', 'f32'], ['dtv', 'read', 'f32'], ['dy', 'read', 'f32'], ['Tm', 'read', 'f32']];
    if (d !== 'none') buffers.push(['Dskip', 'read', 'f32']);
    buffers.push(['dx', 'read_write', 'f32']);
    const skip = skipTerm(d, 'dy');
    return tiledSource({
      label: `ssd backward dx D=${d}`,
      fields: FIELDS,
      buffers,
      setup: `${POSITION_TILE}
  let aLast = acum[hb + l0 + Qc - 1u];`,
      phases: [{
        // M_ji = 0 for j < i, so k starts at this row tile
        kBegin: 'r0',
        kEnd: 'Qc',
        A: {
          kFast: false,
          at: (i, j) => `select(0.0, CB[(cbBase + ${j}) * p.Q + ${i}] * exp(acum[hb + l0 + ${j}] - acum[hb + l0 + ${i}]) * dtv[hb + l0 + ${i}], ${j} >= ${i})`,
        },
        B: { kFast: false, at: (j, pp) => `dy[((b * p.L + l0 + ${j}) * p.H + h) * p.P + ${pp}]` },
      }],
      store: (i, pp, acc) => `let o = ((b * p.L + l0 + ${i}) * p.H + h) * p.P + ${pp};
    dx[o] = ${acc} + exp(aLast - acum[hb + l0 + ${i}]) * dtv[hb + l0 + ${i}] * Tm[o]${skip};`,
    });
  });
}

export function dxOf(h: KernelHost, CB: GpuTensor, acum: GpuTensor, dtv: GpuTensor, dy: GpuStorage, Tm: GpuTensor,
  Dskip: GpuStorage | undefined, dMode: DMode, d: SsdDims): GpuTensor {
  const { B, L, H, P, Q, nC } = d;
  const dx = h.empty([B, L, H, P]);
  const inputs = [CB.storage, acum.storage, dtv.storage, dy, Tm.storage, ...(Dskip ? [Dskip] : [])];
  h.rt.dispatch(dxKernel(dMode), d.params(0), [...inputs, dx.storage], [Math.ceil(Q / 64) * Math.ceil(P / 64), nC, B * H]);
  return dx;
}
