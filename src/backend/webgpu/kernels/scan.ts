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

function kernel(s: Spec): Kernel {
  const key = JSON.stringify(s);
  let k = cache.get(key);
  if (k) return k;
  const { N, T } = s;
  const buffers: BufferDecl[] = [['u', 'read', 'f32'], ['delta', 'read', 'f32'], ['A', 'read', 'f32'], ['Bm', 'read', 'f32'], ['Cm', 'read', 'f32']];
  if (s.D) buffers.push(['Dskip', 'read', 'f32']);
  if (s.z) buffers.push(['z', 'read', 'f32']);
  if (s.bias) buffers.push(['deltaBias', 'read', 'f32']);
  if (s.state) buffers.push(['state0', 'read', 'f32']);
  buffers.push(['y', 'read_write', 'f32'], ['stateOut', 'read_write', 'f32']);
  k = {
    label: `selectiveScan N=${N}`,
    source: `${header('L: u32, D: u32', buffers)}
${SCALAR_FNS}
var<workgroup> sB: array<f32, ${T * N}>;
var<workgroup> sC: array<f32, ${T * N}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wid.y;
  let d = wid.x * ${WG}u + lid;
  let live = d < p.D;
  // dead lanes run on channel D-1 and write nothing, so every lane reaches every barrier
  let dd = min(d, p.D - 1u);
  var h: array<f32, ${N}>;
  var a: array<f32, ${N}>;
  for (var n = 0u; n < ${N}u; n++) {
    a[n] = A[dd * ${N}u + n];
    h[n] = ${s.state ? `state0[(b * p.D + dd) * ${N}u + n]` : '0.0'};
  }
  let dsk = ${s.D ? 'Dskip[dd]' : '0.0'};
  let db = ${s.bias ? 'deltaBias[dd]' : '0.0'};
  for (var t0 = 0u; t0 < p.L; t0 += ${T}u) {
    let tn = min(${T}u, p.L - t0);
    for (var e = lid; e < tn * ${N}u; e += ${WG}u) {
      let src = (b * p.L + t0) * ${N}u + e;
      sB[e] = Bm[src];
      sC[e] = Cm[src];
    }
    workgroupBarrier();
    for (var tt = 0u; tt < tn; tt++) {
      let idx = (b * p.L + t0 + tt) * p.D + dd;
      let dt = ${s.softplus ? 'softplus(delta[idx] + db)' : 'delta[idx] + db'};
      let uu = u[idx];
      let du = dt * uu;
      var yv = 0.0;
      for (var n = 0u; n < ${N}u; n++) {
        h[n] = fma(exp(dt * a[n]), h[n], du * sB[tt * ${N}u + n]);
        yv = fma(h[n], sC[tt * ${N}u + n], yv);
      }
      yv = fma(dsk, uu, yv);
      ${s.z ? 'yv = yv * silu(z[idx]);' : ''}
      if (live) { y[idx] = yv; }
    }
    workgroupBarrier();
  }
  if (live) {
    for (var n = 0u; n < ${N}u; n++) { stateOut[(b * p.D + d) * ${N}u + n] = h[n]; }
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
  const T = Math.max(1, Math.min(32, Math.floor(h.rt.info.maxComputeWorkgroupStorageSize / (8 * N))));
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
