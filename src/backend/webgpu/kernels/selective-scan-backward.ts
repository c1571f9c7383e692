/**
 * Backward of the Mamba-1 selective scan (scan.ts), as mamba_ssm's selective_scan_bwd does it:
 * the states are recomputed, never stored per step. For one channel (b, d) and state n
 *   Δ_t = softplus(delta_t + bias),  ā_t = exp(Δ_t A_n),  h_t = ā_t h_(t−1) + Δ_t B_t u_t,
 *   y'_t = Σ_n C_t h_t + D u_t,      y_t = y'_t silu(z_t)
 * and walking t backwards with dh (the gradient reaching h_t, carried as ā_t dh):
 *   gy = dy silu(z),  dh += gy C_t,  dA_n += dh Δ_t ā_t h_(t−1),  dB_t += dh Δ_t u_t,  dC_t += gy h_t,
 *   dΔ_t = Σ_n dh (A_n ā_t h_(t−1) + B_t u_t),  du_t = gy D + Σ_n dh Δ_t B_t,  dz = dy y' silu'(z).
 * The dh recurrence is independent per (b, d, n); only its outputs are sums (over n for dΔ and du,
 * over d for dB and dC). Dispatches:
 *   1. prep:        chan[b, t, d] = (Δ, u, softplus'(delta + bias), z), read by every later pass
 *   2. checkpoints: h before every T-th step, ck [B, nT + 1, D, N] (the last slot holds dstate):
 *                   1/T of the (B, L, D, N) states, which never exist
 *   3. reverse:     a workgroup holds DC channels × NP states of one sequence, one lane per
 *                   (d, n); per block of T steps (last block first) each lane recomputes its T
 *                   states from the checkpoint, then walks them backwards. Per step the lanes meet
 *                   in shared memory: sums over n become qrs[b, t, d] = (dΔ, Σ dh Δ B, Σ C h), sums
 *                   over the block's channels become partial dB, dC [B, L, nBlk, 2, N]
 *   4. channels:    du, ddelta, dz from qrs
 *   5. column sums: dB, dC over blocks, dA over sequences, dD, ddeltaBias over (b, t)
 *   u, delta, z, dy [B, L, D], A [D, N], B/C [B, L, N], D/deltaBias [D], state, dstate [B, D, N]
 */
import type { SelectiveScanArgs, SelectiveScanGrads } from '../../backend.js';
import type { GpuTensor } from '../buffer-pool.js';
import { grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { cached, flatMain, header, type BufferDecl } from '../wgsl.js';
import { SCALAR_FNS } from './elementwise.js';
import { GRAD_FNS } from './elementwise-backward.js';
import { columnSum, sumRows } from './reduce.js';

const WG = 256;
/** steps between checkpoints (and states each lane keeps while walking back) */
const T = 16;
const FIELDS = 'n: u32, L: u32, D: u32, N: u32, nT: u32, nBlk: u32';

function prepKernel(bias: boolean, softplus: boolean, z: boolean): Kernel {
  return cached(`scan backward prep bias=${bias} softplus=${softplus} z=${z}`, () => {
    const buffers: BufferDecl[] = [['u', 'read', 'f32'], ['delta', 'read', 'f32']];
    if (bias) buffers.push(['deltaBias', 'read', 'f32']);
    if (z) buffers.push(['z', 'read', 'f32']);
    buffers.push(['chan', 'read_write', 'vec4<f32>']);
    return `${header(FIELDS, buffers)}
${SCALAR_FNS}
${GRAD_FNS}
${flatMain(WG)}
  let v = delta[i]${bias ? ' + deltaBias[i % p.D]' : ''};
  chan[i] = vec4<f32>(${softplus ? 'softplus(v)' : 'v'}, u[i], ${softplus ? 'softplusGrad(v)' : '1.0'}, ${z ? 'z[i]' : '0.0'});
}`;
  });
}

function checkpointKernel(init: boolean): Kernel {
  return cached(`scan backward checkpoints init=${init}`, () => {
    const buffers: BufferDecl[] = [['chan', 'read', 'vec4<f32>'], ['A', 'read', 'f32'], ['Bm', 'read', 'f32']];
    if (init) buffers.push(['state0', 'read', 'f32']);
    buffers.push(['dnext', 'read', 'f32'], ['ck', 'read_write', 'f32']);
    return `${header(FIELDS, buffers)}
${flatMain(WG)}
  let n = i % p.N;
  let d = (i / p.N) % p.D;
  let b = i / (p.N * p.D);
  let a = A[d * p.N + n];
  var h = ${init ? 'state0[i]' : '0.0'};
  for (var k = 0u; k < p.nT; k++) {
    ck[((b * (p.nT + 1u) + k) * p.D + d) * p.N + n] = h;
    for (var t = k * ${T}u; t < min(p.L, (k + 1u) * ${T}u); t++) {
      let c = chan[(b * p.L + t) * p.D + d];
      h = fma(exp(c.x * a), h, c.x * c.y * Bm[(b * p.L + t) * p.N + n]);
    }
  }
  ck[((b * (p.nT + 1u) + p.nT) * p.D + d) * p.N + n] = dnext[i];
}`;
  });
}

/** states per channel padded to a power of two, so channels tile the workgroup */
function lanesPerChannel(N: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(N, 1)));
}

function reverseKernel(NP: number, z: boolean): Kernel {
  const DC = WG / NP;
  return cached(`scan backward reverse NP=${NP} z=${z}`, () => `${header(FIELDS, [['chan', 'read', 'vec4<f32>'], ['dy', 'read', 'f32'],
    ['A', 'read', 'f32'], ['Bm', 'read', 'f32'], ['Cm', 'read', 'f32'], ['ck', 'read', 'f32'],
    ['qrs', 'read_write', 'f32'], ['partBC', 'read_write', 'f32'], ['dApart', 'read_write', 'f32'], ['dh0', 'read_write', 'f32']])}
${SCALAR_FNS}
// the lanes' per-step terms: [0] dΔ, [1] du, [2] C·h (summed over n); [3] dB, [4] dC (over channels)
var<workgroup> red: array<f32, ${5 * WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wid.y;
  let blk = wid.x;
  let n = lid % ${NP}u;
  let d = blk * ${DC}u + lid / ${NP}u;
  let live = d < p.D && n < p.N;
  // dead lanes shadow a live one and contribute zeros, so every lane reaches every barrier
  let on = select(0.0, 1.0, live);
  let dd = min(d, p.D - 1u);
  let nn = min(n, p.N - 1u);
  let a = A[dd * p.N + nn];
  var dh = on * ck[((b * (p.nT + 1u) + p.nT) * p.D + dd) * p.N + nn];
  var dA = 0.0;
  var hs: array<f32, ${T + 1}>;
  for (var kk = p.nT; kk > 0u; kk--) {
    let t0 = (kk - 1u) * ${T}u;
    let tn = min(${T}u, p.L - t0);
    hs[0] = ck[((b * (p.nT + 1u) + kk - 1u) * p.D + dd) * p.N + nn];
    for (var j = 0u; j < tn; j++) {
      let row = b * p.L + t0 + j;
      let c = chan[row * p.D + dd];
      hs[j + 1u] = fma(exp(c.x * a), hs[j], c.x * c.y * Bm[row * p.N + nn]);
    }
    for (var j = tn; j > 0u; j--) {
      let row = b * p.L + t0 + j - 1u;
      let c = chan[row * p.D + dd]; // (Δ, u, softplus', z)
      let gy = dy[row * p.D + dd]${z ? ' * silu(c.w)' : ''};
      let Bn = Bm[row * p.N + nn];
      let Cn = Cm[row * p.N + nn];
      let e = exp(c.x * a);
      let hPrev = hs[j - 1u];
      let dhn = fma(gy, Cn, dh);
      red[lid] = on * dhn * fma(a * e, hPrev, Bn * c.y);
      red[${WG}u + lid] = on * dhn * c.x * Bn;
      red[${2 * WG}u + lid] = on * Cn * hs[j];
      red[${3 * WG}u + lid] = on * dhn * c.x * c.y;
      red[${4 * WG}u + lid] = on * gy * hs[j];
      dA = fma(dhn * c.x * e, hPrev, dA);
      dh = dhn * e;
      workgroupBarrier();
      if (n == 0u && d < p.D) {
        var q = 0.0;
        var r = 0.0;
        var s = 0.0;
        for (var m = 0u; m < p.N; m++) {
          q += red[lid + m];
          r += red[${WG}u + lid + m];
          s += red[${2 * WG}u + lid + m];
        }
        let o = (row * p.D + d) * 3u;
        qrs[o] = q;
        qrs[o + 1u] = r;
        qrs[o + 2u] = s;
      }
      if (lid < p.N) {
        var sb = 0.0;
        var sc = 0.0;
        for (var m = 0u; m < ${DC}u; m++) {
          sb += red[${3 * WG}u + m * ${NP}u + lid];
          sc += red[${4 * WG}u + m * ${NP}u + lid];
        }
        let o = (row * p.nBlk + blk) * 2u * p.N + lid;
        partBC[o] = sb;
        partBC[o + p.N] = sc;
      }
      workgroupBarrier();
    }
  }
  if (live) {
    dApart[(b * p.D + d) * p.N + n] = dA;
    dh0[(b * p.D + d) * p.N + n] = dh;
  }
}`);
}

function channelKernel(D: boolean, z: boolean): Kernel {
  return cached(`scan backward channels D=${D} z=${z}`, () => {
    const buffers: BufferDecl[] = [['chan', 'read', 'vec4<f32>'], ['dy', 'read', 'f32'], ['qrs', 'read', 'f32']];
    if (D) buffers.push(['Dskip', 'read', 'f32']);
    buffers.push(['du', 'read_write', 'f32'], ['ddelta', 'read_write', 'f32']);
    if (z) buffers.push(['dz', 'read_write', 'f32']);
    return `${header(FIELDS, buffers)}
${SCALAR_FNS}
${GRAD_FNS}
${flatMain(WG)}
  let c = chan[i];
  let dsk = ${D ? 'Dskip[i % p.D]' : '0.0'};
  du[i] = fma(dy[i]${z ? ' * silu(c.w)' : ''}, dsk, qrs[i * 3u + 1u]);
  ddelta[i] = qrs[i * 3u] * c.z;
  ${z ? 'dz[i] = dy[i] * fma(dsk, c.y, qrs[i * 3u + 2u]) * siluGrad(c.w);' : ''}
}`;
  });
}

export function selectiveScanBackward(h: KernelHost, args: SelectiveScanArgs, dy: GpuTensor, dnext: GpuTensor): SelectiveScanGrads {
  const g = (t: unknown) => t as GpuTensor;
  const u = g(args.u);
  const [B, L, D] = u.shape;
  const N = args.A.shape[1];
  const nT = Math.ceil(L / T);
  const NP = lanesPerChannel(N);
  const nBlk = Math.ceil(D / (WG / NP));
  const params = (n: number) => [n, L, D, N, nT, nBlk];
  const rt = h.rt;
  const nBLD = B * L * D;

  const chan = h.empty([B, L, D, 4]);
  const prepIn = [storageOf(u), storageOf(g(args.delta))];
  if (args.deltaBias) prepIn.push(storageOf(g(args.deltaBias)));
  if (args.z) prepIn.push(storageOf(g(args.z)));
  rt.dispatch(prepKernel(args.deltaBias !== undefined, args.deltaSoftplus, args.z !== undefined), params(nBLD),
    [...prepIn, chan.storage], grid(nBLD, WG));

  const ck = h.empty([B, nT + 1, D, N]);
  const ckIn = [chan.storage, storageOf(g(args.A)), storageOf(g(args.Bmat))];
  if (args.state) ckIn.push(storageOf(g(args.state)));
  rt.dispatch(checkpointKernel(args.state !== undefined), params(B * D * N), [...ckIn, storageOf(dnext), ck.storage], grid(B * D * N, WG));

  const qrs = h.empty([B, L, D, 3]);
  const partBC = h.empty([B * L, nBlk, 2, N]);
  const dApart = h.empty([B, D * N]);
  const dstate = h.empty([B, D, N]);
  rt.dispatch(reverseKernel(NP, args.z !== undefined), params(0),
    [chan.storage, storageOf(dy), storageOf(g(args.A)), storageOf(g(args.Bmat)), storageOf(g(args.Cmat)), ck.storage,
      qrs.storage, partBC.storage, dApart.storage, dstate.storage], [nBlk, B]);

  const du = h.empty([B, L, D]);
  const ddelta = h.empty([B, L, D]);
  const dz = args.z ? h.empty([B, L, D]) : undefined;
  const chIn = [chan.storage, storageOf(dy), qrs.storage];
  if (args.Dskip) chIn.push(storageOf(g(args.Dskip)));
  chIn.push(du.storage, ddelta.storage);
  if (dz) chIn.push(dz.storage);
  rt.dispatch(channelKernel(args.Dskip !== undefined, dz !== undefined), params(nBLD), chIn, grid(nBLD, WG));

  // dB and dC: the blocks' partials of each (b, t, n); column c = (b, t, n)
  const partSum = (which: 0 | 1) => columnSum(h, {
    label: `scan backward d${which ? 'C' : 'B'}`,
    fields: 'N: u32',
    buffers: [['partBC', 'read', 'f32']],
    term: `partBC[((c / p.N) * p.rows + r) * 2u * p.N + ${which ? 'p.N + ' : ''}c % p.N]`,
  }, nBlk, B * L * N, [N], [partBC], [B, L, N]);
  const dB = partSum(0);
  const dC = partSum(1);
  const dA = sumRows(h, dApart, D * N, [D, N]);
  const dD = args.Dskip ? columnSum(h, {
    label: `scan backward dD z=${args.z !== undefined}`,
    fields: '',
    buffers: [['chan', 'read', 'vec4<f32>'], ['dy', 'read', 'f32']],
    term: `dy[r * p.cols + c] * chan[r * p.cols + c].y${args.z ? ' * silu(chan[r * p.cols + c].w)' : ''}`,
    prelude: SCALAR_FNS,
  }, B * L, D, [], [chan, dy]) : undefined;
  const ddeltaBias = args.deltaBias ? sumRows(h, ddelta, D) : undefined;
  for (const t of [chan, ck, qrs, partBC, dApart]) t.dispose();
  return { du, ddelta, dA, dB, dC, dD, dz, ddeltaBias, dstate };
}
