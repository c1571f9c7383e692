/**
 * SSD stage 1: Δ = clamp(softplus(dt + dtBias), dtLimit) and acum, the within-chunk cumulative
 * sum of Δ·A_h, per (b, h, chunk) -> dtv, acum [B, H, L]. The forward and the backward both
 * start here.
 */
import type { SsdArgs } from '../../../backend.js';
import type { GpuTensor } from '../../buffer-pool.js';
import { grid, storageOf, type Kernel, type KernelHost } from '../../runtime.js';
import { ENTRY_ARGS, GROUP_ID, cached, header, type BufferDecl } from '../../wgsl.js';
import { SCALAR_FNS } from '../elementwise.js';
import { FIELDS, WG, type SsdDims } from './fields.js';

/**
 * One workgroup per (b, h, chunk): each invocation takes a contiguous run of the chunk's steps,
 * sums its Δ·A, the workgroup scans the sums (Hillis-Steele in shared memory), and each run is
 * written out from its exclusive prefix.
 */
function dtKernel(bias: boolean, softplus: boolean): Kernel {
  return cached(`ssd dt ${bias} ${softplus}`, () => {
    const buffers: BufferDecl[] = [['dt', 'read', 'f32'], ['A', 'read', 'f32']];
    if (bias) buffers.push(['dtBias', 'read', 'f32']);
    buffers.push(['dtv', 'read_write', 'f32'], ['acum', 'read_write', 'f32']);
    return `${header(FIELDS, buffers)}
${SCALAR_FNS}
var<workgroup> sums: array<f32, ${WG}>;

fn delta(b: u32, l: u32, h: u32) -> f32 {
  var d = dt[(b * p.L + l) * p.H + h]${bias ? ' + dtBias[h]' : ''};
  ${softplus ? 'd = softplus(d);' : ''}
  return clamp(d, p.lo, p.hi);
}

@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let w = ${GROUP_ID};
  let ch = w % p.nC;
  let h = (w / p.nC) % p.H;
  let b = w / (p.nC * p.H);
  let a = A[h];
  let l0 = ch * p.Q;
  let Qc = min(p.Q, p.L - l0);
  let run = (Qc + ${WG - 1}u) / ${WG}u;
  let s0 = min(lid * run, Qc);
  let s1 = min(s0 + run, Qc);
  var total = 0.0;
  for (var l = s0; l < s1; l++) { total = fma(delta(b, l0 + l, h), a, total); }
  sums[lid] = total;
  workgroupBarrier();
  for (var off = 1u; off < ${WG}u; off = off << 1u) {
    let v = select(0.0, sums[lid - min(off, lid)], lid >= off);
    workgroupBarrier();
    sums[lid] += v;
    workgroupBarrier();
  }
  var cum = sums[lid] - total;
  for (var l = s0; l < s1; l++) {
    let d = delta(b, l0 + l, h);
    let o = (b * p.H + h) * p.L + l0 + l;
    dtv[o] = d;
    cum = fma(d, a, cum);
    acum[o] = cum;
  }
}`;
  });
}

export function dtCumsum(h: KernelHost, a: SsdArgs, d: SsdDims): { dtv: GpuTensor; acum: GpuTensor } {
  const { B, H, L, nC } = d;
  const dtv = h.empty([B, H, L]);
  const acum = h.empty([B, H, L]);
  const inputs = [storageOf(a.dt as GpuTensor), storageOf(a.A as GpuTensor)];
  if (a.dtBias) inputs.push(storageOf(a.dtBias as GpuTensor));
  h.rt.dispatch(dtKernel(a.dtBias !== undefined, a.dtSoftplus), d.params(B * H * nC), [...inputs, dtv.storage, acum.storage], grid(B * H * nC, 1));
  return { dtv, acum };
}
