/**
 * Matrix-vector products for a few rows m (decoding: M = batch), where the tiled matmul would
 * leave most of its tile idle and launch too few workgroups to stream W at full bandwidth:
 *   C[m, n] = x̂[m, :] · W[n, :]  (+ bias[n])  (+ R[m, n])
 * x̂ is x, or with a norm x / rms(x over each group of gs channels) * nw: a block's pre-norm with
 * in_proj, Mamba-2's gated norm with out_proj and the residual add, the final norm with the head
 * are each one dispatch (Backend.normLinear).
 *
 * A workgroup covers 8 output columns n, each read by one row of lanes (a subgroup of S lanes
 * when the device has subgroups of one fixed size, else 32 lanes folding in shared memory), the
 * weight row contiguously (vec4 when K % 4 == 0). With a norm, the rows of lanes first take the
 * M·G group scales 1 / sqrt(mean(x²) + eps) between them; x is small (M·K floats), so each
 * workgroup reads it from cache rather than waiting on a kernel of its own.
 */
import type { GpuTensor } from '../buffer-pool.js';
import { f32Bits, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { header, type BufferDecl } from '../wgsl.js';

/** Rows the GEMV takes; more go to the tiled matmul. */
export const GEMV_ROWS = 8;
/** M·G group scales a workgroup keeps (shared memory); more go to a norm kernel of their own. */
export const GEMV_SCALES = 64;
const COLUMNS = 8;

/** 'one': one group per row (the scale factors out of the dot product); 'groups': several. */
export type GemvNorm = 'none' | 'one' | 'groups';

interface Spec {
  M: number;
  vec: boolean;
  bias: boolean;
  norm: GemvNorm;
  residual: boolean;
  /** lanes per column: the subgroup size, or 0 for 32 lanes reducing in shared memory */
  subgroup: number;
}

function source(s: Spec): string {
  const lanes = s.subgroup || 32;
  const el = s.vec ? 'vec4<f32>' : 'f32';
  const buffers: BufferDecl[] = [['A', 'read', el]];
  if (s.norm !== 'none') buffers.push(['NW', 'read', el]);
  buffers.push(['B', 'read', el]);
  if (s.bias) buffers.push(['bias', 'read', 'f32']);
  if (s.residual) buffers.push(['R', 'read', 'f32']);
  buffers.push(['C', 'read_write', 'f32']);
  const ms = Array.from({ length: s.M }, (_, m) => m);
  const dot = (a: string, b: string) => (s.vec ? `dot(${a}, ${b})` : `${a} * ${b}`);
  // x̂[m, k] (k counts elements of `el`): the group scale stays outside the sum for 'one'
  const xhat = (m: number, k: string) =>
    s.norm === 'none' ? `A[${m}u * kw + ${k}]`
      : s.norm === 'one' ? `(A[${m}u * kw + ${k}] * NW[${k}])`
        : `(A[${m}u * kw + ${k}] * NW[${k}] * rs[${m}u * p.G + (${s.vec ? `(${k}) * 4u` : k}) / p.gs])`;
  const fmas = (k: string, w: string) => ms.map((m) => `acc${m} += ${dot(xhat(m, k), w)};`).join(' ');
  const laneSum = s.subgroup
    ? 'fn laneSum(v: f32, lid: u32) -> f32 { return subgroupAdd(v); }'
    : `var<workgroup> red: array<f32, ${COLUMNS * 32}>;
fn laneSum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 16u; s > 0u; s = s >> 1u) {
    if (lid % 32u < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[lid - lid % 32u];
  workgroupBarrier();
  return r;
}`;
  const gsW = s.vec ? 'p.gs / 4u' : 'p.gs';
  const scales = s.norm === 'none' ? '' : `
  // the group scales, one (m, g) pair per row of lanes at a time
  for (var j = 0u; j < ${Math.ceil(GEMV_SCALES / COLUMNS)}u; j++) {
    let q = j * ${COLUMNS}u + col;
    if (j * ${COLUMNS}u >= p.M * p.G) { break; }
    var ss = 0.0;
    if (q < p.M * p.G) {
      let base = (q / p.G) * kw + (q % p.G) * ${gsW};
      for (var k = lane; k < ${gsW}; k += ${lanes}u) { let v = A[base + k]; ss += ${dot('v', 'v')}; }
    }
    let total = laneSum(ss, lid);
    if (lane == 0u && q < p.M * p.G) { rs[q] = inverseSqrt(total / f32(p.gs) + p.eps); }
  }
  workgroupBarrier();`;
  const scaled = (m: number) => (s.norm === 'one' ? ` * rs[${m}u]` : '');
  return `${header('M: u32, N: u32, K: u32, gs: u32, G: u32, eps: f32', buffers, s.subgroup ? 'enable subgroups;' : '')}
${laneSum}
${s.norm === 'none' ? '' : `var<workgroup> rs: array<f32, ${GEMV_SCALES}>;`}

@compute @workgroup_size(${COLUMNS * lanes})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let lane = lid % ${lanes}u;
  let col = lid / ${lanes}u;
  let n = (wid.y * 65535u + wid.x) * ${COLUMNS}u + col;
  let kw = ${s.vec ? 'p.K / 4u' : 'p.K'};
  let row = min(n, p.N - 1u) * kw;${scales}
  ${ms.map((m) => `var acc${m} = 0.0;`).join(' ')}
  var k = lane;
  for (; k + ${3 * lanes}u < kw; k += ${4 * lanes}u) {
    let w0 = B[row + k];
    let w1 = B[row + k + ${lanes}u];
    let w2 = B[row + k + ${2 * lanes}u];
    let w3 = B[row + k + ${3 * lanes}u];
    ${fmas('k', 'w0')}
    ${fmas(`k + ${lanes}u`, 'w1')}
    ${fmas(`k + ${2 * lanes}u`, 'w2')}
    ${fmas(`k + ${3 * lanes}u`, 'w3')}
  }
  for (; k < kw; k += ${lanes}u) {
    let w = B[row + k];
    ${fmas('k', 'w')}
  }
  ${ms.map((m) => `let sum${m} = laneSum(acc${m}, lid)${scaled(m)};`).join('\n  ')}
  if (lane == 0u && n < p.N) {
    ${ms.map((m) => `C[${m}u * p.N + n] = sum${m}${s.bias ? ' + bias[n]' : ''}${s.residual ? ` + R[${m}u * p.N + n]` : ''};`).join('\n    ')}
  }
}`;
}

const kernels = new Map<string, Kernel>();

export interface GemvNormArgs {
  weight: GpuTensor;  // [K]
  eps: number;
  groupSize: number;
}

/**
 * C [M, N] = x̂ [M, K] W [N, K]^T (+ bias) (+ residual [M, N]); M <= GEMV_ROWS, and with a norm
 * M·K/groupSize <= GEMV_SCALES.
 */
export function gemv(h: KernelHost, x: GpuTensor, w: GpuTensor, M: number, N: number, K: number,
  norm: GemvNormArgs | undefined, bias: GpuTensor | undefined, residual: GpuTensor | undefined, outShape: readonly number[]): GpuTensor {
  const out = h.empty(outShape);
  const G = norm ? K / norm.groupSize : 1;
  const gs = norm?.groupSize ?? K;
  const spec: Spec = {
    M,
    vec: K % 4 === 0 && gs % 4 === 0,
    bias: bias !== undefined,
    norm: !norm ? 'none' : G === 1 ? 'one' : 'groups',
    residual: residual !== undefined,
    subgroup: h.rt.info.subgroups && h.rt.info.subgroupMinSize === h.rt.info.subgroupMaxSize ? h.rt.info.subgroupMinSize : 0,
  };
  const key = `gemv ${JSON.stringify(spec)}`;
  let k = kernels.get(key);
  if (!k) kernels.set(key, (k = { label: key, source: source(spec) }));
  const storage = [storageOf(x)];
  if (norm) storage.push(storageOf(norm.weight));
  storage.push(storageOf(w));
  for (const t of [bias, residual]) if (t) storage.push(storageOf(t));
  storage.push(out.storage);
  const groups = Math.ceil(N / COLUMNS);
  h.rt.dispatch(k, [M, N, K, gs, G, f32Bits(norm?.eps ?? 0)], storage, [Math.min(groups, 65535), Math.ceil(groups / 65535)]);
  return out;
}
