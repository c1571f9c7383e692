/** The SSD backward from the positions' dcs and dΔ to ddt, dA and ddtBias. */
import type { SsdArgs } from '../../../backend.js';
import type { GpuTensor } from '../../buffer-pool.js';
import { grid, storageOf, type Kernel, type KernelHost } from '../../runtime.js';
import { cached, flatMain, header, type BufferDecl } from '../../wgsl.js';
import { SCALAR_FNS } from '../elementwise.js';
import { GRAD_FNS } from '../elementwise-backward.js';
import { columnSum } from '../reduce.js';
import { FIELDS, WG, type SsdDims } from './fields.js';

/**
 * Per (b, h, chunk), last position first: run = Σ_{i≥k} dcs_i, dΔ_k += A run, dA += Δ_k run;
 * then dt through the clamp (zero where Δ was clamped) and softplus. Partial dA and ddtBias
 * per chunk go to part [B, nC, H, 2].
 */
function dtGradKernel(bias: boolean, softplus: boolean): Kernel {
  return cached(`ssd backward dt grads ${bias} ${softplus}`, () => {
    const buffers: BufferDecl[] = [['dt', 'read', 'f32'], ['A', 'read', 'f32']];
    if (bias) buffers.push(['dtBias', 'read', 'f32']);
    buffers.push(['dtv', 'read', 'f32'], ['acum', 'read', 'f32'], ['pos', 'read', 'f32'], ['sdot', 'read', 'f32'],
      ['ddt', 'read_write', 'f32'], ['part', 'read_write', 'f32']);
    return `${header(FIELDS, buffers)}
${SCALAR_FNS}
${GRAD_FNS}
${flatMain(WG, 'o')}
  let ch = o % p.nC;
  let h = (o / p.nC) % p.H;
  let b = o / (p.nC * p.H);
  let l0 = ch * p.Q;
  let Qc = min(p.Q, p.L - l0);
  let hb = (b * p.H + h) * p.L + l0;
  let k = (b * p.nC + ch) * p.H + h;
  // the chunk's last cs also scales S0 and every w_j into S_end
  var extra = exp(acum[hb + Qc - 1u]) * sdot[k];
  for (var i = 0u; i < Qc; i++) { extra += pos[(hb + i) * 3u + 2u]; }
  var run = 0.0;
  var dA = 0.0;
  var dBias = 0.0;
  for (var ii = Qc; ii > 0u; ii--) {
    let i = ii - 1u;
    run += pos[(hb + i) * 3u] + select(0.0, extra, ii == Qc);
    dA = fma(dtv[hb + i], run, dA);
    let t = (b * p.L + l0 + i) * p.H + h;
    let raw = dt[t]${bias ? ' + dtBias[h]' : ''};
    let pre = ${softplus ? 'softplus(raw)' : 'raw'};
    let d = select(0.0, fma(A[h], run, pos[(hb + i) * 3u + 1u]), pre >= p.lo && pre <= p.hi)${softplus ? ' * softplusGrad(raw)' : ''};
    ddt[t] = d;
    dBias += d;
  }
  part[k * 2u] = dA;
  part[k * 2u + 1u] = dBias;
}`;
  });
}

/** -> ddt [B, L, H], dA [H], ddtBias [H] (where dtBias was given) */
export function dtGrads(h: KernelHost, a: SsdArgs, dtv: GpuTensor, acum: GpuTensor, pos: GpuTensor, sdot: GpuTensor, d: SsdDims):
  { ddt: GpuTensor; dA: GpuTensor; ddtBias?: GpuTensor } {
  const { B, L, H, nC } = d;
  const ddt = h.empty([B, L, H]);
  const part = h.empty([B * nC, H, 2]);
  const inputs = [storageOf(a.dt as GpuTensor), storageOf(a.A as GpuTensor)];
  if (a.dtBias) inputs.push(storageOf(a.dtBias as GpuTensor));
  h.rt.dispatch(dtGradKernel(a.dtBias !== undefined, a.dtSoftplus), d.params(B * H * nC),
    [...inputs, dtv.storage, acum.storage, pos.storage, sdot.storage, ddt.storage, part.storage], grid(B * H * nC, WG));
  const partSum = (k: 0 | 1) => columnSum(h, { label: `ssd backward part ${k}`, fields: '', buffers: [['part', 'read', 'f32']],
    term: `part[(r * p.cols + c) * 2u + ${k}u]` }, B * nC, H, [], [part]);
  const dA = partSum(0);
  const ddtBias = a.dtBias ? partSum(1) : undefined;
  part.dispose();
  return { ddt, dA, ddtBias };
}
