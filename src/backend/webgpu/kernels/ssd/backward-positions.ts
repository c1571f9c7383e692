/** The SSD backward's per-position sums: dcs, dΔ and the w x·Tm term, one invocation per (b, h, l). */
import type { GpuStorage, GpuTensor } from '../../buffer-pool.js';
import { grid, type Kernel, type KernelHost } from '../../runtime.js';
import { cached, flatMain, header, type BufferDecl } from '../../wgsl.js';
import { FIELDS, WG, type SsdDims } from './fields.js';

/**
 * Per (b, h, l), i = l's index in its chunk, with g_ij = (dY_i·X_j) CB_ij E_ij Δ_j:
 *   pos[0] = dcs_i  = Σ_{j≤i} g_ij − Σ_{m≥i} g_mi + exp(cs_i) dY_i·Ys_i − w_i x_i·Tm_i
 *   pos[1] = dΔ_i   = Σ_{m≥i} (dY_m·X_i) CB_mi E_mi + exp(cs_last − cs_i) x_i·Tm_i
 *   pos[2] = w_i x_i·Tm_i, which the chunk's last position adds to its dcs
 * Tiled: the row and column sums read from R and K; otherwise they are computed here.
 */
function positionsKernel(tiled: boolean): Kernel {
  return cached(`ssd backward positions${tiled ? ' tiled' : ''}`, () => {
    const buffers: BufferDecl[] = [['x', 'read', 'f32'], ['dy', 'read', 'f32'], ['CB', 'read', 'f32']];
    if (tiled) buffers.push(['K', 'read', 'f32'], ['R', 'read', 'f32']);
    buffers.push(['dtv', 'read', 'f32'], ['acum', 'read', 'f32'], ['Tm', 'read', 'f32'], ['Ys', 'read', 'f32'], ['pos', 'read_write', 'f32']);
    const sums = tiled ? `let kBase = ((b * p.nC + ch) * p.H + h) * p.Q * p.Q;
  var rowSum = 0.0;
  for (var j = 0u; j <= i; j++) { rowSum += R[kBase + j * p.Q + i]; }
  var colSum = 0.0;
  for (var m = i; m < Qc; m++) { colSum = fma(K[kBase + m * p.Q + i], CB[(cbBase + m) * p.Q + i], colSum); }` : `var rowSum = 0.0;
  for (var j = 0u; j <= i; j++) {
    let xj = ((b * p.L + l0 + j) * p.H + h) * p.P;
    var dm = 0.0;
    for (var pp = 0u; pp < p.P; pp++) { dm = fma(dy[xi + pp], x[xj + pp], dm); }
    rowSum = fma(dm * CB[(cbBase + i) * p.Q + j], exp(ai - acum[hb + j]) * dtv[hb + j], rowSum);
  }
  var colSum = 0.0;
  for (var m = i; m < Qc; m++) {
    let ym = ((b * p.L + l0 + m) * p.H + h) * p.P;
    var dm = 0.0;
    for (var pp = 0u; pp < p.P; pp++) { dm = fma(dy[ym + pp], x[xi + pp], dm); }
    colSum = fma(dm * CB[(cbBase + m) * p.Q + i], exp(acum[hb + m] - ai), colSum);
  }`;
    return `${header(FIELDS, buffers)}
${flatMain(WG, 'o')}
  let l = o % p.L;
  let h = (o / p.L) % p.H;
  let b = o / (p.L * p.H);
  let ch = l / p.Q;
  let l0 = ch * p.Q;
  let Qc = min(p.Q, p.L - l0);
  let i = l - l0;
  let hb = (b * p.H + h) * p.L + l0;
  let cbBase = ((b * p.nC + ch) * p.G + h / (p.H / p.G)) * p.Q;
  let ai = acum[hb + i];
  let di = dtv[hb + i];
  let xi = ((b * p.L + l) * p.H + h) * p.P;
  ${sums}
  var xT = 0.0;
  var yS = 0.0;
  for (var pp = 0u; pp < p.P; pp++) {
    xT = fma(x[xi + pp], Tm[xi + pp], xT);
    yS = fma(dy[xi + pp], Ys[xi + pp], yS);
  }
  let eOut = exp(acum[hb + Qc - 1u] - ai);
  let wdw = eOut * di * xT;
  let q = ((b * p.H + h) * p.L + l) * 3u;
  pos[q] = rowSum - di * colSum + exp(ai) * yS - wdw;
  pos[q + 1u] = colSum + eOut * xT;
  pos[q + 2u] = wdw;
}`;
  });
}

/** -> pos [B, H, L, 3]; K and R from the tiled path (backward-cb.ts) when there */
export function positions(h: KernelHost, x: GpuStorage, dy: GpuStorage, CB: GpuTensor, KR: [GpuTensor, GpuTensor] | undefined,
  dtv: GpuTensor, acum: GpuTensor, Tm: GpuTensor, Ys: GpuTensor, d: SsdDims): GpuTensor {
  const { B, H, L } = d;
  const pos = h.empty([B, H, L, 3]);
  const kr = KR ? [KR[0].storage, KR[1].storage] : [];
  h.rt.dispatch(positionsKernel(KR !== undefined), d.params(B * H * L),
    [x, dy, CB.storage, ...kr, dtv.storage, acum.storage, Tm.storage, Ys.storage, pos.storage], grid(B * H * L, WG));
  return pos;
}
