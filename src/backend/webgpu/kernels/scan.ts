/**
 * Mamba-1 selective scan (S6), fused: one invocation per channel (b, d) walks L keeping h[N]
 * in private memory (registers), so the state never touches global memory between steps:
 *   Δ = softplus(delta + deltaBias);  h = exp(Δ A[d]) h + Δ B_t u_t;  y = C_t·h + D u;  y *= silu(z)
 * A workgroup holds 64 channels of one sequence; it stages B_t and C_t for T time steps in
 * shared memory, since every channel of the sequence reads the same ones.
 *   u, delta, z [B, L, D], A [D, N], B/C [B, L, N], D/deltaBias [D], state [B, D, N]
 *   -> y [B, L, D], state [B, D, N]
 */
import type { SelectiveScanArgs } from '../../backend.js';
import type { GpuTensor } from '../memory.js';
import { storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { header, type BufferDecl } from '../wgsl.js';
import { SCALAR_FNS } from './elementwise.js';

const WG = 64;

interface Spec {
  N: number;
  T: number;
  D: boolean;
  z: boolean;
  bias: boolean;
  state: boolean;
  softplus: boolean;
}

const cache = new Map<string, Kernel>();

/**
 * h[N] and A[d, :] live in N4 = ceil(N/4) vec4 registers each, the loop over n unrolled in the
 * generated source (a private array indexed at run time would sit in local memory). Past N the
 * lanes hold A = 0 and B = C = 0, so they stay zero and add nothing.
 */
function kernel(s: Spec): Kernel {
  const key = JSON.stringify(s);
  let k = cache.get(key);
  if (k) return k;
  const { N, T } = s;
  const N4 = Math.ceil(N / 4);
  const buffers: BufferDecl[] = [['u', 'read', 'f32'], ['delta', 'read', 'f32'], ['A', 'read', 'f32'], ['Bm', 'read', 'f32'], ['Cm', 'read', 'f32']];
  if (s.D) buffers.push(['Dskip', 'read', 'f32']);
  if (s.z) buffers.push(['z', 'read', 'f32']);
  if (s.bias) buffers.push(['deltaBias', 'read', 'f32']);
  if (s.state) buffers.push(['state0', 'read', 'f32']);
  buffers.push(['y', 'read_write', 'f32'], ['stateOut', 'read_write', 'f32']);
  const r = Array.from({ length: N4 }, (_, c) => c);
  // vec4 c of the N values starting at `base`, zero past N (c may be a WGSL expression)
  const load = (buf: string, base: string, c: string) => `vec4<f32>(${[0, 1, 2, 3].map((j) =>
    `select(0.0, ${buf}[min(${base} + ${c} * 4u + ${j}u, arrayLength(&${buf}) - 1u)], ${c} * 4u + ${j}u < ${N}u)`).join(', ')})`;
  const comp = ['x', 'y', 'z', 'w'];
  const stores = r.flatMap((c) => [0, 1, 2, 3].filter((j) => 4 * c + j < N)
    .map((j) => `stateOut[(b * p.D + d) * ${N}u + ${4 * c + j}u] = h${c}.${comp[j]};`));
  k = {
    label: `selectiveScan N=${N}`,
    source: `${header('L: u32, D: u32', buffers)}
${SCALAR_FNS}
var<workgroup> sB: array<vec4<f32>, ${T * N4}>;
var<workgroup> sC: array<vec4<f32>, ${T * N4}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wid.y;
  let d = wid.x * ${WG}u + lid;
  let live = d < p.D;
  // dead lanes run on channel D-1 and write nothing, so every lane reaches every barrier
  let dd = min(d, p.D - 1u);
  ${r.map((c) => `let a${c} = ${load('A', `dd * ${N}u`, `${c}u`)};`).join('\n  ')}
  ${r.map((c) => `var h${c} = ${s.state ? load('state0', `(b * p.D + dd) * ${N}u`, `${c}u`) : 'vec4<f32>(0.0)'};`).join('\n  ')}
  let dsk = ${s.D ? 'Dskip[dd]' : '0.0'};
  let db = ${s.bias ? 'deltaBias[dd]' : '0.0'};
  for (var t0 = 0u; t0 < p.L; t0 += ${T}u) {
    let tn = min(${T}u, p.L - t0);
    for (var e = lid; e < tn * ${N4}u; e += ${WG}u) {
      let row = (b * p.L + t0 + e / ${N4}u) * ${N}u;
      sB[e] = ${load('Bm', 'row', `(e % ${N4}u)`)};
      sC[e] = ${load('Cm', 'row', `(e % ${N4}u)`)};
    }
    workgroupBarrier();
    for (var tt = 0u; tt < tn; tt++) {
      let idx = (b * p.L + t0 + tt) * p.D + dd;
      let dt = ${s.softplus ? 'softplus(delta[idx] + db)' : 'delta[idx] + db'};
      let uu = u[idx];
      let du = vec4<f32>(dt * uu);
      let sb = tt * ${N4}u;
      ${r.map((c) => `h${c} = fma(exp(dt * a${c}), h${c}, du * sB[sb + ${c}u]);`).join('\n      ')}
      var yv = ${r.map((c) => `dot(h${c}, sC[sb + ${c}u])`).join(' + ')};
      yv = fma(dsk, uu, yv);
      ${s.z ? 'yv = yv * silu(z[idx]);' : ''}
      if (live) { y[idx] = yv; }
    }
    workgroupBarrier();
  }
  if (live) {
    ${stores.join('\n    ')}
  }
}`,
  };
  cache.set(key, k);
  return k;
}

export function selectiveScan(h: KernelHost, args: SelectiveScanArgs): { y: GpuTensor; state: GpuTensor } {
  const u = args.u as GpuTensor;
  const [B, L, D] = u.shape;
  const N = args.A.shape[1];
  // B_t and C_t for T steps in shared memory, within the device's workgroup storage
  const T = Math.max(1, Math.min(32, Math.floor(h.rt.info.maxComputeWorkgroupStorageSize / (32 * Math.ceil(N / 4)))));
  const spec: Spec = {
    N, T,
    D: args.Dskip !== undefined,
    z: args.z !== undefined,
    bias: args.deltaBias !== undefined,
    state: args.state !== undefined,
    softplus: args.deltaSoftplus,
  };
  const y = h.empty([B, L, D]);
  const state = h.empty([B, D, N]);
  if (B * D === 0) return { y, state };
  const s = [u, args.delta, args.A, args.Bmat, args.Cmat].map((t) => storageOf(t as GpuTensor));
  for (const t of [args.Dskip, args.z, args.deltaBias, args.state]) if (t) s.push(storageOf(t as GpuTensor));
  h.rt.dispatch(kernel(spec), [L, D], [...s, y.storage, state.storage], [Math.ceil(D / WG), B]);
  return { y, state };
}
