/**
 * The SSD recurrence itself, for a few steps (decoding: L = 1), where the chunked stages would be
 * five dispatches of mostly idle tiles.
 */
import type { SsdArgs } from '../../../backend.js';
import type { GpuTensor } from '../../buffer-pool.js';
import { grid, storageOf, type Kernel, type KernelHost } from '../../runtime.js';
import { ENTRY_ARGS, GROUP_ID, cached, header, type BufferDecl } from '../../wgsl.js';
import { SCALAR_FNS } from '../elementwise.js';
import { dModeOf, FIELDS, WG, type DMode, type SsdDims } from './fields.js';

/** At most this many steps run through the recurrence instead of the chunked stages. */
export const RECURRENT_MAX_L = 4;

/**
 *   h[p, n] = exp(Δ_t A_h) h[p, n] + Δ_t x_t[p] B_t[n];   y_t[p] = Σ_n h[p, n] C_t[n] + D x_t[p]
 * A state row (b, h, p) belongs to 32 lanes of a workgroup (8 rows of 256 invocations), lane j
 * updating n ≡ j mod 32, so the row is read and written once, coalesced; the lanes' partial
 * y_t are summed in shared memory.
 */
const ROW_LANES = 32;
const ROWS_PER_GROUP = WG / ROW_LANES;

function recurrentKernel(bias: boolean, softplus: boolean, init: boolean, d: DMode): Kernel {
  return cached(`ssd recurrent ${bias} ${softplus} ${init} D=${d}`, () => {
    const buffers: BufferDecl[] = [['x', 'read', 'f32'], ['dt', 'read', 'f32'], ['A', 'read', 'f32'], ['Bm', 'read', 'f32'], ['Cm', 'read', 'f32']];
    if (bias) buffers.push(['dtBias', 'read', 'f32']);
    if (d !== 'none') buffers.push(['Dskip', 'read', 'f32']);
    if (init) buffers.push(['state0', 'read', 'f32']);
    buffers.push(['y', 'read_write', 'f32'], ['stateOut', 'read_write', 'f32']);
    const skip = d === 'head' ? 'Dskip[h]' : d === 'headDim' ? 'Dskip[h * p.P + pp]' : '0.0';
    return `${header(FIELDS, buffers)}
${SCALAR_FNS}
var<workgroup> part: array<f32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let lane = lid % ${ROW_LANES}u;
  let r = ${GROUP_ID} * ${ROWS_PER_GROUP}u + lid / ${ROW_LANES}u;
  let live = r < p.n;
  // dead rows compute on row n-1 and write nothing, so every lane reaches every barrier
  let i = min(r, p.n - 1u);
  let pp = i % p.P;
  let h = (i / p.P) % p.H;
  let b = i / (p.P * p.H);
  let g = h / (p.H / p.G);
  let row = i * p.N;  // this (b, h, p)'s state row in [B, H, P, N]
  for (var t = 0u; t < p.L; t++) {
    let bt = b * p.L + t;
    var d = dt[bt * p.H + h]${bias ? ' + dtBias[h]' : ''};
    ${softplus ? 'd = softplus(d);' : ''}
    d = clamp(d, p.lo, p.hi);
    let decay = exp(d * A[h]);
    let xo = (bt * p.H + h) * p.P + pp;
    let dx = d * x[xo];
    let bc = (bt * p.G + g) * p.N;
    var acc = 0.0;
    for (var n = lane; n < p.N; n += ${ROW_LANES}u) {
      let prev = ${init ? 'select(stateOut[row + n], state0[row + n], t == 0u)' : 'select(stateOut[row + n], 0.0, t == 0u)'};
      let s = fma(decay, prev, dx * Bm[bc + n]);
      if (live) { stateOut[row + n] = s; }
      acc = fma(s, Cm[bc + n], acc);
    }
    part[lid] = acc;
    workgroupBarrier();
    for (var s = ${ROW_LANES / 2}u; s > 0u; s = s >> 1u) {
      if (lane < s) { part[lid] += part[lid + s]; }
      workgroupBarrier();
    }
    if (live && lane == 0u) { y[xo] = fma(${skip}, x[xo], part[lid]); }
    workgroupBarrier();
  }
}`;
  });
}

export function ssdRecurrent(h: KernelHost, a: SsdArgs, d: SsdDims): { y: GpuTensor; state: GpuTensor } {
  const { B, L, H, P, N } = d;
  const s = (t: unknown) => storageOf(t as GpuTensor);
  const y = h.empty([B, L, H, P]);
  const state = h.empty([B, H, P, N]);
  const inputs = [s(a.x), s(a.dt), s(a.A), s(a.Bmat), s(a.Cmat)];
  for (const t of [a.dtBias, a.Dskip, a.state]) if (t) inputs.push(s(t));
  const rows = B * H * P;
  h.rt.dispatch(recurrentKernel(a.dtBias !== undefined, a.dtSoftplus, a.state !== undefined, dModeOf(a)), d.params(rows),
    [...inputs, y.storage, state.storage], grid(Math.ceil(rows / ROWS_PER_GROUP), 1));
  return { y, state };
}
