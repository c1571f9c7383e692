/**
 * One token of a Mamba-2 mixer between in_proj and the gated norm in one dispatch
 * (Backend.mamba2Step): the conv window update, the SSD recurrence and the SiLU(z) gate.
 * One workgroup per (sequence b, head h):
 *   1. conv: the head's P channels of x and its group's N channels of B and of C (each head of a
 *      group recomputes the same B and C, 2·N·K FMAs), SiLU, into shared memory; the head writes
 *      the new window of its x channels, the group's first head that of B and C. The old window
 *      is only read, so no workgroup can see another's write.
 *   2. Δ = clamp(softplus(dt + dtBias)), decay = exp(Δ A_h).
 *   3. the state rows p of [P, N], each by RL lanes striding over n (coalesced), in place:
 *      h[p, n] = decay h[p, n] + Δ x[p] B[n], partial sums of h C into shared memory;
 *   4. y[p] = (Σ + D x[p]) · silu(z[p]).
 * The state is read and written once, like mamba_ssm's selective_state_update.
 */
import type { GpuTensor } from '../memory.js';
import { f32Bits, grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { ENTRY_ARGS, GROUP_ID, header, type BufferDecl } from '../wgsl.js';
import { SCALAR_FNS } from './elementwise.js';

const WG = 256;
const FIELDS = 'H: u32, G: u32, K: u32, C: u32, W: u32, zOff: u32, xOff: u32, dtOff: u32, lo: f32, hi: f32';

export type StepDMode = 'none' | 'head' | 'headDim';

interface Spec {
  P: number;
  N: number;
  /** lanes per state row */
  RL: number;
  convBias: boolean;
  dtBias: boolean;
  d: StepDMode;
}

function source(s: Spec): string {
  const { P, N, RL } = s;
  const buffers: BufferDecl[] = [['proj', 'read', 'f32'], ['convW', 'read', 'f32']];
  if (s.convBias) buffers.push(['convB', 'read', 'f32']);
  buffers.push(['conv', 'read', 'f32'], ['A', 'read', 'f32']);
  if (s.dtBias) buffers.push(['dtBias', 'read', 'f32']);
  if (s.d !== 'none') buffers.push(['Dskip', 'read', 'f32']);
  buffers.push(['ssm', 'read_write', 'f32'], ['y', 'read_write', 'f32'], ['next', 'read_write', 'f32']);
  const skip = s.d === 'head' ? 'Dskip[h]' : s.d === 'headDim' ? `Dskip[h * ${P}u + pp]` : '0.0';
  return `${header(FIELDS, buffers)}
${SCALAR_FNS}
var<workgroup> xbc: array<f32, ${P + 2 * N}>;   // x [P] | B [N] | C [N] after conv and SiLU
var<workgroup> part: array<f32, ${P * RL}>;

@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let bh = ${GROUP_ID};
  let h = bh % p.H;
  let b = bh / p.H;
  let perGroup = p.H / p.G;
  let g = h / perGroup;
  let dSsm = p.H * ${P}u;
  let row = b * p.W;
  for (var i = lid; i < ${P + 2 * N}u; i += ${WG}u) {
    var c = h * ${P}u + i;
    if (i >= ${P + N}u) { c = dSsm + (p.G + g) * ${N}u + i - ${P + N}u; } else if (i >= ${P}u) { c = dSsm + g * ${N}u + i - ${P}u; }
    let xt = proj[row + p.xOff + c];
    let win = (b * p.C + c) * (p.K - 1u);
    var acc = ${s.convBias ? 'convB[c]' : '0.0'};
    for (var k = 0u; k + 1u < p.K; k++) { acc = fma(convW[c * p.K + k], conv[win + k], acc); }
    xbc[i] = silu(fma(convW[c * p.K + p.K - 1u], xt, acc));
    if (i < ${P}u || h % perGroup == 0u) {
      for (var k = 0u; k + 2u < p.K; k++) { next[win + k] = conv[win + k + 1u]; }
      next[win + p.K - 2u] = xt;
    }
  }
  workgroupBarrier();
  let dt = clamp(softplus(proj[row + p.dtOff + h]${s.dtBias ? ' + dtBias[h]' : ''}), p.lo, p.hi);
  let decay = exp(dt * A[h]);
  let lane = lid % ${RL}u;
  let state = bh * ${P * N}u;
  for (var pp = lid / ${RL}u; pp < ${P}u; pp += ${WG / RL}u) {
    let dx = dt * xbc[pp];
    var acc = 0.0;
    for (var n = lane; n < ${N}u; n += ${RL}u) {
      let o = state + pp * ${N}u + n;
      let s = fma(decay, ssm[o], dx * xbc[${P}u + n]);
      ssm[o] = s;
      acc = fma(s, xbc[${P + N}u + n], acc);
    }
    part[pp * ${RL}u + lane] = acc;
  }
  workgroupBarrier();
  for (var pp = lid; pp < ${P}u; pp += ${WG}u) {
    var sum = 0.0;
    for (var j = 0u; j < ${RL}u; j++) { sum += part[pp * ${RL}u + j]; }
    let o = h * ${P}u + pp;
    y[b * dSsm + o] = fma(${skip}, xbc[pp], sum) * silu(proj[row + p.zOff + o]);
  }
}`;
}

const cache = new Map<string, Kernel>();

export interface StepArgs {
  proj: GpuTensor; convWeight: GpuTensor; convBias?: GpuTensor; conv: GpuTensor; ssm: GpuTensor;
  A: GpuTensor; Dskip?: GpuTensor; dtBias?: GpuTensor; dtLimit: [number, number]; nGroups: number;
}

/** Storage buffers the kernel binds (10 with every option: Chrome's limit). */
export function stepBindings(a: StepArgs): number {
  return 7 + [a.convBias, a.dtBias, a.Dskip].filter((t) => t !== undefined).length;
}

/** Lanes per state row whose partial sums fit the device's workgroup memory, or 0. */
export function stepLanes(h: KernelHost, P: number, N: number): number {
  for (let RL = 32; RL >= 1; RL /= 2) {
    if (4 * (P + 2 * N + P * RL) <= h.rt.info.maxComputeWorkgroupStorageSize) return RL;
  }
  return 0;
}

/** see Backend.mamba2Step; needs K >= 2 and stepLanes > 0 */
export function mamba2Step(h: KernelHost, a: StepArgs): { y: GpuTensor; conv: GpuTensor } {
  const [B, H, P, N] = a.ssm.shape;
  const [C, K] = a.convWeight.shape;
  const W = a.proj.shape[1];
  const dSsm = H * P;
  const zOff = W - (dSsm + C + H);
  const spec: Spec = {
    P, N, RL: stepLanes(h, P, N), convBias: a.convBias !== undefined, dtBias: a.dtBias !== undefined,
    d: !a.Dskip ? 'none' : a.Dskip.shape.length === 2 ? 'headDim' : 'head',
  };
  const key = `mamba2 step ${JSON.stringify(spec)}`;
  let k = cache.get(key);
  if (!k) cache.set(key, (k = { label: key, source: source(spec) }));
  const y = h.empty([B, dSsm]);
  const next = h.empty([B, C, K - 1]);
  const storage = [storageOf(a.proj), storageOf(a.convWeight)];
  if (a.convBias) storage.push(storageOf(a.convBias));
  storage.push(storageOf(a.conv), storageOf(a.A));
  for (const t of [a.dtBias, a.Dskip]) if (t) storage.push(storageOf(t));
  storage.push(storageOf(a.ssm), y.storage, next.storage);
  const [lo, hi] = a.dtLimit;
  h.rt.dispatch(k, [H, a.nGroups, K, C, W, zOff, zOff + dSsm, zOff + dSsm + C, f32Bits(lo), f32Bits(hi)], storage, grid(B * H, 1));
  return { y, conv: next };
}
