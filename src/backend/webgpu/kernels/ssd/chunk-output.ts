/**
 * SSD stage 5: y_i = Σ_{j≤i} CB[i, j] exp(acum_i − acum_j) Δ_j x_j + exp(acum_i) C_i · H_c + D x_i
 * per chunk and head, as one tiled kernel of two phases (intra-chunk, then the state entering
 * the chunk). With `stateInY`, y already holds C_i · H_c (rows-times-states.ts, batched) and the
 * kernel runs the intra-chunk phase only, adding exp(acum_i) times it.
 */
import type { GpuStorage, GpuTensor } from '../../buffer-pool.js';
import type { Kernel, KernelHost } from '../../runtime.js';
import { cached, type BufferDecl } from '../../wgsl.js';
import { tiledSource } from '../tiles.js';
import { FIELDS, POSITION_TILE, skipTerm, type DMode, type SsdDims } from './fields.js';

function outKernel(d: DMode, stateInY: boolean): Kernel {
  return cached(`ssd output D=${d}${stateInY ? ' intra' : ''}`, () => {
    const buffers: BufferDecl[] = [['CB', 'read', 'f32'], ['acum', 'read', 'f32'], ['dtv', 'read', 'f32'], ['x', 'read', 'f32']];
    if (!stateInY) buffers.push(['Cm', 'read', 'f32'], ['S', 'read', 'f32']);
    if (d !== 'none') buffers.push(['Dskip', 'read', 'f32']);
    buffers.push(['y', 'read_write', 'f32']);
    const skip = skipTerm(d, 'x');
    const fromState = stateInY ? ' + exp(acum[hb + l0 + oR]) * y[o]' : '';
    const intra = {
      // intra-chunk: only j <= i contributes, so k stops at the end of this row tile
      kBegin: '0u',
      kEnd: 'min(Qc, r0 + 64u)',
      A: {
        kFast: true,
        at: (i: string, j: string) => `select(0.0, CB[(cbBase + ${i}) * p.Q + ${j}] * exp(acum[hb + l0 + ${i}] - acum[hb + l0 + ${j}]) * dtv[hb + l0 + ${j}], ${j} <= ${i})`,
      },
      B: { kFast: false, at: (j: string, pp: string) => `x[((b * p.L + l0 + ${j}) * p.H + h) * p.P + ${pp}]` },
    };
    const state = {
      // the state entering the chunk, decayed to each position
      kBegin: '0u',
      kEnd: 'p.N',
      A: { kFast: true, at: (i: string, n: string) => `Cm[((b * p.L + l0 + ${i}) * p.G + g) * p.N + ${n}] * exp(acum[hb + l0 + ${i}])` },
      B: { kFast: true, at: (n: string, pp: string) => `S[(((b * p.nC + ch) * p.H + h) * p.P + ${pp}) * p.N + ${n}]` },
    };
    return tiledSource({
      label: 'ssd output',
      fields: FIELDS,
      buffers,
      setup: POSITION_TILE,
      phases: stateInY ? [intra] : [intra, state],
      store: (i, pp, acc) => `let o = ((b * p.L + l0 + ${i}) * p.H + h) * p.P + ${pp};
    y[o] = ${acc}${fromState}${skip};`,
    });
  });
}

/**
 * Writes y [B, L, H, P]; `state` (Cm and the states entering each chunk) when y does not hold
 * the state term yet.
 */
export function chunkOutput(h: KernelHost, y: GpuTensor, CB: GpuTensor, acum: GpuTensor, dtv: GpuTensor, x: GpuStorage,
  state: [GpuStorage, GpuTensor] | undefined, Dskip: GpuStorage | undefined, dMode: DMode, d: SsdDims): void {
  const { B, H, P, Q, nC } = d;
  const inputs = [CB.storage, acum.storage, dtv.storage, x];
  if (state) inputs.push(state[0], state[1].storage);
  if (Dskip) inputs.push(Dskip);
  h.rt.dispatch(outKernel(dMode, state === undefined), d.params(0), [...inputs, y.storage], [Math.ceil(Q / 64) * Math.ceil(P / 64), nC, B * H]);
}
