/**
 * One token of a Mamba-2 mixer between in_proj and the gated norm in one dispatch
 * (Backend.mamba2Step): the conv window update, the SSD recurrence and the SiLU(z) gate.
 * One workgroup per (sequence b, head h, block of RB = 256 / RL state rows p), so that even a
 * batch of one launches H·P/RB workgroups and each invocation owns one row's N/RL entries:
 *   1. conv: the block's RB channels of x and the group's N channels of B and of C (recomputed by
 *      every block of the group, 2·N·K FMAs each), SiLU, into shared memory. The new window of x
 *      channels is written by their block, that of B and C by the group's first head's first
 *      block; the old window is only read, so no workgroup sees another's write.
 *   2. Δ = clamp(softplus(dt + dtBias)), decay = exp(Δ A_h).
 *   3. the rows, RL lanes each striding over n (coalesced), in place: all of an invocation's
 *      entries are loaded before any is stored, so their latencies overlap;
 *      h[p, n] = decay h[p, n] + Δ x[p] B[n], and the lanes' partial sums of h C in shared memory;
 *   4. y[p] = (Σ + D x[p]) · silu(z[p]).
 * The state is read and written once, like mamba_ssm's selective_state_update.
 */
import type { GpuTensor } from '../buffer-pool.js';
import { f32Bits, grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { ENTRY_ARGS, GROUP_ID, header, type BufferDecl } from '../wgsl.js';
import { SCALAR_FNS } from './elementwise.js';

const WG = 256;
const FIELDS = 'H: u32, P: u32, G: u32, K: u32, C: u32, W: u32, zOff: u32, xOff: u32, dtOff: u32, blocks: u32, lo: f32, hi: f32';

export type StepDMode = 'none' | 'head' | 'headDim';

interface Spec {
  N: number;
  /** lanes per state row */
  RL: number;
  convBias: boolean;
  dtBias: boolean;
  d: StepDMode;
}

/** Lanes per state row: up to a subgroup's 32, no more than N. */
function lanesFor(N: number): number {
  let RL = 32;
  while (RL > 1 && RL > N) RL /= 2;
  return RL;
}

function source(s: Spec): string {
  const { N, RL } = s;
  const RB = WG / RL;
  const NJ = Math.ceil(N / RL);
  const buffers: BufferDecl[] = [['proj', 'read', 'f32'], ['convW', 'read', 'f32']];
  if (s.convBias) buffers.push(['convB', 'read', 'f32']);
  buffers.push(['conv', 'read', 'f32'], ['A', 'read', 'f32']);
  if (s.dtBias) buffers.push(['dtBias', 'read', 'f32']);
  if (s.d !== 'none') buffers.push(['Dskip', 'read', 'f32']);
  buffers.push(['ssm', 'read_write', 'f32'], ['y', 'read_write', 'f32'], ['next', 'read_write', 'f32']);
  const skip = s.d === 'head' ? 'Dskip[h]' : s.d === 'headDim' ? 'Dskip[h * p.P + pp]' : '0.0';
  const js = Array.from({ length: NJ }, (_, j) => j);
  const inRow = (j: number) => (j * RL + RL <= N ? '' : `if (lane + ${j * RL}u < ${N}u) `);
  return `${header(FIELDS, buffers)}
${SCALAR_FNS}
var<workgroup> xbc: array<f32, ${RB + 2 * N}>;   // x [RB] | B [N] | C [N] after conv and SiLU
var<workgroup> part: array<f32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let id = ${GROUP_ID};
  let bh = id / p.blocks;
  let p0 = (id % p.blocks) * ${RB}u;
  let h = bh % p.H;
  let b = bh / p.H;
  let perGroup = p.H / p.G;
  let g = h / perGroup;
  let dSsm = p.H * p.P;
  let rows = min(${RB}u, p.P - p0);
  let row = b * p.W;
  let ownsBC = h % perGroup == 0u && p0 == 0u;
  for (var i = lid; i < ${RB + 2 * N}u; i += ${WG}u) {
    var c = h * p.P + p0 + i;
    if (i >= ${RB + N}u) { c = dSsm + (p.G + g) * ${N}u + i - ${RB + N}u; } else if (i >= ${RB}u) { c = dSsm + g * ${N}u + i - ${RB}u; }
    if (i >= rows && i < ${RB}u) { continue; }
    let xt = proj[row + p.xOff + c];
    let win = (b * p.C + c) * (p.K - 1u);
    var acc = ${s.convBias ? 'convB[c]' : '0.0'};
    for (var k = 0u; k + 1u < p.K; k++) { acc = fma(convW[c * p.K + k], conv[win + k], acc); }
    xbc[i] = silu(fma(convW[c * p.K + p.K - 1u], xt, acc));
    if (i < ${RB}u || ownsBC) {
      for (var k = 0u; k + 2u < p.K; k++) { next[win + k] = conv[win + k + 1u]; }
      next[win + p.K - 2u] = xt;
    }
  }
  workgroupBarrier();
  let dt = clamp(softplus(proj[row + p.dtOff + h]${s.dtBias ? ' + dtBias[h]' : ''}), p.lo, p.hi);
  let decay = exp(dt * A[h]);
  let lane = lid % ${RL}u;
  let r = lid / ${RL}u;
  let pp = p0 + r;
  var acc = 0.0;
  if (r < rows) {
    let o = (bh * p.P + pp) * ${N}u + lane;
    ${js.map((j) => `var s${j} = 0.0;`).join(' ')}
    ${js.map((j) => `${inRow(j)}{ s${j} = ssm[o + ${j * RL}u]; }`).join('\n    ')}
    let dx = dt * xbc[r];
    ${js.map((j) => `${inRow(j)}{
      let n = lane + ${j * RL}u;
      let v = fma(decay, s${j}, dx * xbc[${RB}u + n]);
      ssm[o + ${j * RL}u] = v;
      acc = fma(v, xbc[${RB + N}u + n], acc);
    }`).join('\n    ')}
  }
  part[lid] = acc;
  workgroupBarrier();
  if (lid < rows) {
    let pp = p0 + lid;
    var sum = 0.0;
    for (var j = 0u; j < ${RL}u; j++) { sum += part[lid * ${RL}u + j]; }
    let o = h * p.P + pp;
    y[b * dSsm + o] = fma(${skip}, xbc[lid], sum) * silu(proj[row + p.zOff + o]);
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

/** see Backend.mamba2Step; needs K >= 2 */
export function mamba2Step(h: KernelHost, a: StepArgs): { y: GpuTensor; conv: GpuTensor } {
  const [B, H, P, N] = a.ssm.shape;
  const [C, K] = a.convWeight.shape;
  const W = a.proj.shape[1];
  const dSsm = H * P;
  const zOff = W - (dSsm + C + H);
  const spec: Spec = {
    N, RL: lanesFor(N), convBias: a.convBias !== undefined, dtBias: a.dtBias !== undefined,
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
  const blocks = Math.ceil(P / (WG / spec.RL));
  h.rt.dispatch(k, [H, P, a.nGroups, K, C, W, zOff, zOff + dSsm, zOff + dSsm + C, blocks, f32Bits(lo), f32Bits(hi)], storage,
    grid(B * H * blocks, 1));
  return { y, conv: next };
}
