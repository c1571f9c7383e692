/**
 * Backward of Mamba-2 SSD (ssd.ts), chunk by chunk as cpu/ssd-backward.ts derives it: nothing
 * per step is kept from the forward; the chunks' quantities are recomputed, and only [P, N]
 * states per chunk and head exist (the state entering each chunk, and the gradient of the state
 * leaving it). For one head of one chunk, with cs_i = Σ_{k≤i} Δ_k A, E_ij = exp(cs_i − cs_j),
 * M_ij = (C_i·B_j) E_ij Δ_j (i ≥ j), w_j = exp(cs_last − cs_j) Δ_j and S0 the entering state:
 *   Y = M X + diag(exp cs) C S0ᵀ + D X,      S_end = exp(cs_last) S0 + (w ∘ X)ᵀ B
 * and with dS the gradient of S_end:
 *   dX = Mᵀ dY + diag(w) B dSᵀ + D dY
 *   dCB_ij = Σ_heads (dY_i·X_j) E_ij Δ_j        dC = dCB B + Σ_heads diag(exp cs) dY S0
 *   dB = dCBᵀ C + Σ_heads (w ∘ X) dS            dS0 = exp(cs_last) dS + (diag(exp cs) dY)ᵀ C
 *   dcs and dΔ from M's factors, the state terms and S_end; then dΔ A and dA by the reverse
 *   cumulative sum of dcs, and dt through the clamp and softplus.
 * Dispatches (Q the chunk size; tiles of 64 from tiles.ts where a stage is a matmul):
 *   dt          Δ and cs per (b, h, chunk)                                  -> dtv, acum [B, H, L]
 *   CB          ssd.ts's tiled C Bᵀ per chunk and group                       -> [B, nC, G, Q, Q]
 *   GE          per chunk and head, 64-tiles of dY Xᵀ (j ≤ i) times E_ij:      -> K [B, nC, H, Q, Q] and,
 *               K_ij = (dY_i·X_j) E_ij, and R = (K ∘ CB ∘ Δ_j)ᵀ (transposed so that a position's
 *               row sum reads along the position)                           -> R [B, nC, H, Q, Q]
 *   dCB         per (chunk, group, i, j): Σ_heads K_ij Δ_j, zero above the diagonal
 *   states, U   per chunk and head: (w ∘ X)ᵀ B and (diag(exp cs) dY)ᵀ C      -> [B, nC, H, P, N]
 *   pass        forward over chunks (states -> S0), backward (U -> dS)       -> dstate [B, H, P, N]
 *   Tm, Ys      B dSᵀ and C S0ᵀ per chunk and head                           -> [B, L, H, P]
 *   dX          Mᵀ dY + w ∘ Tm + D dY
 *   positions   per (b, h, l): the row sum of R, the column sum of K ∘ CB, x·Tm, dY·Ys -> [B, H, L, 3]
 * Where K and R would not fit one storage binding, CB and dCB come from one invocation per
 * (chunk, group, i, j ≤ i) and the positions kernel forms the dot products itself (slower: no
 * tiles, strided reads).
 * With one group and whole chunks (ssdBatched), states and U, Tm and Ys, dC and dB are batched
 * matmuls over the (b, c) pairs instead (matmul.ts), of x̃ = w ∘ X and dỸ = diag(exp cs) dY.
 *   sdot        Σ S0 ∘ dS per chunk and head (the exp(cs_last) S0 term's dcs)
 *   dt grads    per (b, h, chunk) the reverse cumulative sum -> ddt, partial dA and ddtBias
 *   dC, dB      per chunk and group, two phases each (the second over the group's heads × P)
 *   column sums dD, dA, ddtBias
 *   x, dy [B, L, H, P], dt [B, L, H], A [H], B/C [B, L, G, N], D [H] or [H, P], states [B, H, P, N]
 */
import type { SsdArgs, SsdGrads } from '../../backend.js';
import type { GpuTensor } from '../buffer-pool.js';
import { f32Bits, grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { ENTRY_ARGS, flatId, header, type BufferDecl } from '../wgsl.js';
import { SCALAR_FNS } from './elementwise.js';
import { GRAD_FNS } from './elementwise-backward.js';
import { columnSum } from './reduce.js';
import { cached, CB_KERNEL as TILED_CB, CHUNK, FIELDS, HEAD, LOWER_TILE, pairCBTimes, pairRowsByStates, pairRowsTimesStates, pairStates,
  scaledRows, ssdBatched, TILE_ORIGIN } from './ssd.js';
import { tiledSource } from './tiles.js';

const WG = 256;

/** a tile's group g and sequence b; the group's first head h0 */
const GROUP = `
  let g = wid.z % p.G;
  let b = wid.z / p.G;
  let hpg = p.H / p.G;
  let h0 = g * hpg;
  let cbBase = ((b * p.nC + ch) * p.G + g) * p.Q;`;

/** Δ = clamp(softplus(dt + bias)) and its within-chunk cumulative Δ·A, per (b, h, chunk) */
function dtKernel(bias: boolean, softplus: boolean): Kernel {
  return cached(`ssd backward dt ${bias} ${softplus}`, () => {
    const buffers: BufferDecl[] = [['dt', 'read', 'f32'], ['A', 'read', 'f32']];
    if (bias) buffers.push(['dtBias', 'read', 'f32']);
    buffers.push(['dtv', 'read_write', 'f32'], ['acum', 'read_write', 'f32']);
    return `${header(FIELDS, buffers)}
${SCALAR_FNS}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let i = ${flatId(WG)};
  if (i >= p.n) { return; }
  let ch = i % p.nC;
  let h = (i / p.nC) % p.H;
  let b = i / (p.nC * p.H);
  var cum = 0.0;
  for (var l = ch * p.Q; l < min(p.L, (ch + 1u) * p.Q); l++) {
    let raw = dt[(b * p.L + l) * p.H + h]${bias ? ' + dtBias[h]' : ''};
    let d = clamp(${softplus ? 'softplus(raw)' : 'raw'}, p.lo, p.hi);
    let o = (b * p.H + h) * p.L + l;
    dtv[o] = d;
    cum = fma(d, A[h], cum);
    acum[o] = cum;
  }
}`;
  });
}

/**
 * CB[i, j] = C_i·B_j and dCB[i, j] = Σ_heads (dY_i·X_j) E_ij Δ_j for j ≤ i, zero above the
 * diagonal (the dC and dB tiles read whole rows), one invocation per entry.
 */
const CB_KERNEL = cached('ssd backward CB dCB', () => `${header(FIELDS, [['x', 'read', 'f32'], ['dy', 'read', 'f32'], ['Bm', 'read', 'f32'],
  ['Cm', 'read', 'f32'], ['dtv', 'read', 'f32'], ['acum', 'read', 'f32'], ['CB', 'read_write', 'f32'], ['dCB', 'read_write', 'f32']])}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let o = ${flatId(WG)};
  if (o >= p.n) { return; }
  let j = o % p.Q;
  let i = (o / p.Q) % p.Q;
  let g = (o / (p.Q * p.Q)) % p.G;
  let ch = (o / (p.Q * p.Q * p.G)) % p.nC;
  let b = o / (p.Q * p.Q * p.G * p.nC);
  let l0 = ch * p.Q;
  let Qc = min(p.Q, p.L - l0);
  if (i >= Qc || j >= Qc) { return; }
  if (j > i) {
    CB[o] = 0.0;
    dCB[o] = 0.0;
    return;
  }
  let ci = ((b * p.L + l0 + i) * p.G + g) * p.N;
  let bj = ((b * p.L + l0 + j) * p.G + g) * p.N;
  var cb = 0.0;
  for (var n = 0u; n < p.N; n++) { cb = fma(Cm[ci + n], Bm[bj + n], cb); }
  var dcb = 0.0;
  let hpg = p.H / p.G;
  for (var h = g * hpg; h < (g + 1u) * hpg; h++) {
    let yi = ((b * p.L + l0 + i) * p.H + h) * p.P;
    let xj = ((b * p.L + l0 + j) * p.H + h) * p.P;
    var dm = 0.0;
    for (var pp = 0u; pp < p.P; pp++) { dm = fma(dy[yi + pp], x[xj + pp], dm); }
    let hb = (b * p.H + h) * p.L + l0;
    dcb = fma(dm, exp(acum[hb + i] - acum[hb + j]) * dtv[hb + j], dcb);
  }
  CB[o] = cb;
  dCB[o] = dcb;
}`);

/**
 * out[p, n] = Σ_i rows[i, p]·scale_i · cols[i, n] over one chunk of one head: the chunk's state
 * increment (rows x, cols B, scale w) or its dS0 contribution (rows dY, cols C, scale exp cs).
 */
function chunkOuterKernel(label: string, scale: (i: string) => string, withDt: boolean): Kernel {
  return cached(label, () => {
    const buffers: BufferDecl[] = [['rowsM', 'read', 'f32'], ['colsM', 'read', 'f32'], ['acum', 'read', 'f32']];
    if (withDt) buffers.push(['dtv', 'read', 'f32']);
    buffers.push(['out', 'read_write', 'f32']);
    return tiledSource({
      label,
      fields: FIELDS,
      buffers,
      setup: `
  let tN = (p.N + 63u) / 64u;
  ${CHUNK}
  ${HEAD}
  let aLast = acum[hb + l0 + Qc - 1u];
  let r0 = (wid.x / tN) * 64u;
  let c0 = (wid.x % tN) * 64u;
  let rows = p.P;
  let cols = p.N;`,
      phases: [{
        kBegin: '0u',
        kEnd: 'Qc',
        A: { kFast: false, at: (pp, i) => `rowsM[((b * p.L + l0 + ${i}) * p.H + h) * p.P + ${pp}] * ${scale(i)}` },
        B: { kFast: false, at: (i, n) => `colsM[((b * p.L + l0 + ${i}) * p.G + g) * p.N + ${n}]` },
      }],
      store: (pp, n, acc) => `out[(((b * p.nC + ch) * p.H + h) * p.P + ${pp}) * p.N + ${n}] = ${acc};`,
    });
  });
}

const STATES = chunkOuterKernel('ssd backward chunk states', (i) => `exp(aLast - acum[hb + l0 + ${i}]) * dtv[hb + l0 + ${i}]`, true);
const U_KERNEL = chunkOuterKernel('ssd backward dS0 terms', (i) => `exp(acum[hb + l0 + ${i}])`, false);

/**
 * Per (b, h, p, n): forward over chunks, S (increments) becomes the state entering each chunk;
 * then backward, U becomes the gradient of the state leaving each chunk, and dstate that of
 * the initial state.
 */
function passKernel(init: boolean): Kernel {
  return cached(`ssd backward pass ${init}`, () => {
    const buffers: BufferDecl[] = [['acum', 'read', 'f32']];
    if (init) buffers.push(['state0', 'read', 'f32']);
    buffers.push(['dnext', 'read', 'f32'], ['S', 'read_write', 'f32'], ['U', 'read_write', 'f32'], ['dstate', 'read_write', 'f32']);
    return `${header(FIELDS, buffers)}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let i = ${flatId(WG)};
  if (i >= p.n) { return; }
  let n = i % p.N;
  let pp = (i / p.N) % p.P;
  let h = (i / (p.N * p.P)) % p.H;
  let b = i / (p.N * p.P * p.H);
  let hb = (b * p.H + h) * p.L;
  var s = ${init ? 'state0[i]' : '0.0'};
  for (var ch = 0u; ch < p.nC; ch++) {
    let o = (((b * p.nC + ch) * p.H + h) * p.P + pp) * p.N + n;
    let inc = S[o];
    S[o] = s;
    s = fma(exp(acum[hb + min(p.L, (ch + 1u) * p.Q) - 1u]), s, inc);
  }
  var d = dnext[i];
  for (var cc = p.nC; cc > 0u; cc--) {
    let o = (((b * p.nC + cc - 1u) * p.H + h) * p.P + pp) * p.N + n;
    let u = U[o];
    U[o] = d;
    d = fma(exp(acum[hb + min(p.L, cc * p.Q) - 1u]), d, u);
  }
  dstate[i] = d;
}`;
  });
}

/** out[i, p] = Σ_n rows[i, n] st[p, n] for one chunk and head: Tm = B dSᵀ, Ys = C S0ᵀ */
const ROWS_STATE = cached('ssd backward rows times state', () => tiledSource({
  label: 'ssd backward rows times state',
  fields: FIELDS,
  buffers: [['rowsM', 'read', 'f32'], ['st', 'read', 'f32'], ['out', 'read_write', 'f32']],
  setup: `
  let tP = (p.P + 63u) / 64u;
  ${CHUNK}
  ${HEAD}
  let r0 = (wid.x / tP) * 64u;
  let c0 = (wid.x % tP) * 64u;
  if (r0 >= Qc) { return; }
  let rows = Qc;
  let cols = p.P;`,
  phases: [{
    kBegin: '0u',
    kEnd: 'p.N',
    A: { kFast: true, at: (i, n) => `rowsM[((b * p.L + l0 + ${i}) * p.G + g) * p.N + ${n}]` },
    B: { kFast: true, at: (n, pp) => `st[(((b * p.nC + ch) * p.H + h) * p.P + ${pp}) * p.N + ${n}]` },
  }],
  store: (i, pp, acc) => `out[((b * p.L + l0 + ${i}) * p.H + h) * p.P + ${pp}] = ${acc};`,
}));

type DMode = 'none' | 'head' | 'headDim';

/** dX[i] = Σ_{j≥i} M_ji dY_j + w_i Tm_i + D dY_i for one chunk and head */
function dxKernel(d: DMode): Kernel {
  return cached(`ssd backward dx D=${d}`, () => {
    const buffers: BufferDecl[] = [['CB', 'read', 'f32'], ['acum', 'read', 'f32'], ['dtv', 'read', 'f32'], ['dy', 'read', 'f32'], ['Tm', 'read', 'f32']];
    if (d !== 'none') buffers.push(['Dskip', 'read', 'f32']);
    buffers.push(['dx', 'read_write', 'f32']);
    const skip = d === 'head' ? ' + Dskip[h] * dy[o]' : d === 'headDim' ? ' + Dskip[h * p.P + oC] * dy[o]' : '';
    return tiledSource({
      label: `ssd backward dx D=${d}`,
      fields: FIELDS,
      buffers,
      setup: `
  let tP = (p.P + 63u) / 64u;
  ${CHUNK}
  ${HEAD}
  let aLast = acum[hb + l0 + Qc - 1u];
  let cbBase = ((b * p.nC + ch) * p.G + g) * p.Q;
  let r0 = (wid.x / tP) * 64u;
  let c0 = (wid.x % tP) * 64u;
  if (r0 >= Qc) { return; }
  let rows = Qc;
  let cols = p.P;`,
      phases: [{
        // M_ji = 0 for j < i, so k starts at this row tile
        kBegin: 'r0',
        kEnd: 'Qc',
        A: {
          kFast: false,
          at: (i, j) => `select(0.0, CB[(cbBase + ${j}) * p.Q + ${i}] * exp(acum[hb + l0 + ${j}] - acum[hb + l0 + ${i}]) * dtv[hb + l0 + ${i}], ${j} >= ${i})`,
        },
        B: { kFast: false, at: (j, pp) => `dy[((b * p.L + l0 + ${j}) * p.H + h) * p.P + ${pp}]` },
      }],
      store: (i, pp, acc) => `let o = ((b * p.L + l0 + ${i}) * p.H + h) * p.P + ${pp};
    dx[o] = ${acc} + exp(aLast - acum[hb + l0 + ${i}]) * dtv[hb + l0 + ${i}] * Tm[o]${skip};`,
    });
  });
}

/**
 * Per chunk and head, a 64-tile of G = dY Xᵀ (i rows, j columns, lower-triangular tiles only),
 * stored as K_ij = G_ij E_ij and, transposed, R_ji = K_ij CB_ij Δ_j; both zero above the diagonal
 * inside the diagonal tiles (tiles above it are never written, nor read).
 */
const GE_KERNEL = cached('ssd backward GE', () => tiledSource({
  label: 'ssd backward GE',
  fields: FIELDS,
  buffers: [['dy', 'read', 'f32'], ['x', 'read', 'f32'], ['CB', 'read', 'f32'], ['dtv', 'read', 'f32'], ['acum', 'read', 'f32'],
    ['K', 'read_write', 'f32'], ['R', 'read_write', 'f32']],
  setup: `
  ${LOWER_TILE}
  ${CHUNK}
  ${HEAD}
  let kBase = ((b * p.nC + ch) * p.H + h) * p.Q * p.Q;
  let cbBase = ((b * p.nC + ch) * p.G + g) * p.Q;
  ${TILE_ORIGIN}`,
  phases: [{
    kBegin: '0u',
    kEnd: 'p.P',
    A: { kFast: true, at: (i, pp) => `dy[((b * p.L + l0 + ${i}) * p.H + h) * p.P + ${pp}]` },
    B: { kFast: true, at: (pp, j) => `x[((b * p.L + l0 + ${j}) * p.H + h) * p.P + ${pp}]` },
  }],
  store: (i, j, acc) => `let e = select(0.0, ${acc} * exp(acum[hb + l0 + ${i}] - acum[hb + l0 + ${j}]), ${j} <= ${i});
    K[kBase + ${i} * p.Q + ${j}] = e;
    R[kBase + ${j} * p.Q + ${i}] = e * CB[(cbBase + ${i}) * p.Q + ${j}] * dtv[hb + l0 + ${j}];`,
}));

/** dCB[i, j] = Σ_heads K_ij Δ_j for j ≤ i, zero above the diagonal (the dC and dB tiles read whole rows) */
const DCB_KERNEL = cached('ssd backward dCB', () => `${header(FIELDS, [['K', 'read', 'f32'], ['dtv', 'read', 'f32'], ['dCB', 'read_write', 'f32']])}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let o = ${flatId(WG)};
  if (o >= p.n) { return; }
  let j = o % p.Q;
  let i = (o / p.Q) % p.Q;
  let g = (o / (p.Q * p.Q)) % p.G;
  let ch = (o / (p.Q * p.Q * p.G)) % p.nC;
  let b = o / (p.Q * p.Q * p.G * p.nC);
  let l0 = ch * p.Q;
  let Qc = min(p.Q, p.L - l0);
  if (i >= Qc || j >= Qc) { return; }
  var dcb = 0.0;
  if (j <= i) {
    let hpg = p.H / p.G;
    for (var h = g * hpg; h < (g + 1u) * hpg; h++) {
      let k = (((b * p.nC + ch) * p.H + h) * p.Q + i) * p.Q + j;
      dcb = fma(K[k], dtv[(b * p.H + h) * p.L + l0 + j], dcb);
    }
  }
  dCB[o] = dcb;
}`);

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
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let o = ${flatId(WG)};
  if (o >= p.n) { return; }
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
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let o = ${flatId(WG)};
  if (o >= p.n) { return; }
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

/** dC = dCB B + Σ_heads diag(exp cs) dY S0, per chunk and group; k of phase 2 runs over (head, p) */
const DC_KERNEL = cached('ssd backward dC', () => tiledSource({
  label: 'ssd backward dC',
  fields: FIELDS,
  buffers: [['dCB', 'read', 'f32'], ['Bm', 'read', 'f32'], ['acum', 'read', 'f32'], ['dy', 'read', 'f32'], ['S0', 'read', 'f32'], ['dC', 'read_write', 'f32']],
  setup: `
  let tN = (p.N + 63u) / 64u;
  ${CHUNK}
  ${GROUP}
  let r0 = (wid.x / tN) * 64u;
  let c0 = (wid.x % tN) * 64u;
  if (r0 >= Qc) { return; }
  let rows = Qc;
  let cols = p.N;`,
  phases: [
    {
      kBegin: '0u',
      kEnd: 'min(Qc, r0 + 64u)',
      A: { kFast: true, at: (i, j) => `dCB[(cbBase + ${i}) * p.Q + ${j}]` },
      B: { kFast: false, at: (j, n) => `Bm[((b * p.L + l0 + ${j}) * p.G + g) * p.N + ${n}]` },
    },
    {
      kBegin: '0u',
      kEnd: 'hpg * p.P',
      A: { kFast: true, at: (i, k) => `exp(acum[((b * p.H + h0 + (${k}) / p.P) * p.L) + l0 + ${i}]) * dy[((b * p.L + l0 + ${i}) * p.H + h0) * p.P + ${k}]` },
      B: { kFast: false, at: (k, n) => `S0[(((b * p.nC + ch) * p.H + h0) * p.P + ${k}) * p.N + ${n}]` },
    },
  ],
  store: (i, n, acc) => `dC[((b * p.L + l0 + ${i}) * p.G + g) * p.N + ${n}] = ${acc};`,
}));

/** dB = dCBᵀ C + Σ_heads (w ∘ X) dS, per chunk and group */
const DB_KERNEL = cached('ssd backward dB', () => tiledSource({
  label: 'ssd backward dB',
  fields: FIELDS,
  buffers: [['dCB', 'read', 'f32'], ['Cm', 'read', 'f32'], ['acum', 'read', 'f32'], ['dtv', 'read', 'f32'], ['x', 'read', 'f32'],
    ['dS', 'read', 'f32'], ['dB', 'read_write', 'f32']],
  setup: `
  let tN = (p.N + 63u) / 64u;
  ${CHUNK}
  ${GROUP}
  let r0 = (wid.x / tN) * 64u;
  let c0 = (wid.x % tN) * 64u;
  if (r0 >= Qc) { return; }
  let rows = Qc;
  let cols = p.N;`,
  prelude: `
fn weight(b: u32, h: u32, l0: u32, Qc: u32, j: u32) -> f32 {
  let hb = (b * p.H + h) * p.L + l0;
  return exp(acum[hb + Qc - 1u] - acum[hb + j]) * dtv[hb + j];
}`,
  phases: [
    {
      // dCB_ij = 0 for i < j, so k starts at this row tile
      kBegin: 'r0',
      kEnd: 'Qc',
      A: { kFast: false, at: (j, i) => `dCB[(cbBase + ${i}) * p.Q + ${j}]` },
      B: { kFast: false, at: (i, n) => `Cm[((b * p.L + l0 + ${i}) * p.G + g) * p.N + ${n}]` },
    },
    {
      kBegin: '0u',
      kEnd: 'hpg * p.P',
      A: { kFast: true, at: (j, k) => `weight(b, h0 + (${k}) / p.P, l0, Qc, ${j}) * x[((b * p.L + l0 + ${j}) * p.H + h0) * p.P + ${k}]` },
      B: { kFast: false, at: (k, n) => `dS[(((b * p.nC + ch) * p.H + h0) * p.P + ${k}) * p.N + ${n}]` },
    },
  ],
  store: (j, n, acc) => `dB[((b * p.L + l0 + ${j}) * p.G + g) * p.N + ${n}] = ${acc};`,
}));

export function ssdChunkedBackward(h: KernelHost, a: SsdArgs, dy: GpuTensor, dnext: GpuTensor): SsdGrads {
  const s = (t: unknown) => storageOf(t as GpuTensor);
  const x = a.x as GpuTensor;
  const [B, L, H, P] = x.shape;
  const [, , G, N] = a.Bmat.shape;
  const Q = a.chunkSize;
  const nC = Math.ceil(L / Q);
  const [lo, hi] = a.dtLimit;
  const params = (n: number) => [L, H, P, G, N, Q, nC, n, f32Bits(lo), f32Bits(hi)];
  const rt = h.rt;
  const bias = a.dtBias !== undefined;
  const dMode: DMode = !a.Dskip ? 'none' : a.Dskip.shape.length === 2 ? 'headDim' : 'head';

  const dtv = h.empty([B, H, L]);
  const acum = h.empty([B, H, L]);
  const dtIn = [s(a.dt), s(a.A)];
  if (a.dtBias) dtIn.push(s(a.dtBias));
  rt.dispatch(dtKernel(bias, a.dtSoftplus), params(B * H * nC), [...dtIn, dtv.storage, acum.storage], grid(B * H * nC, WG));

  const nCB = B * nC * G * Q * Q;
  const CB = h.empty([B, nC, G, Q, Q]);
  const dCB = h.empty([B, nC, G, Q, Q]);
  // K and R hold Q² values per chunk and head: the tiled path needs each in one binding
  const tiled = 4 * B * nC * H * Q * Q <= rt.info.maxStorageBufferBindingSize;
  let K: GpuTensor | undefined;
  let R: GpuTensor | undefined;
  if (tiled) {
    const tQ = Math.ceil(Q / 64);
    rt.dispatch(TILED_CB, params(0), [s(a.Cmat), s(a.Bmat), CB.storage], [tQ * tQ, nC, B * G]);
    K = h.empty([B, nC, H, Q, Q]);
    R = h.empty([B, nC, H, Q, Q]);
    rt.dispatch(GE_KERNEL, params(0), [s(dy), s(x), CB.storage, dtv.storage, acum.storage, K.storage, R.storage], [tQ * tQ, nC, B * H]);
    rt.dispatch(DCB_KERNEL, params(nCB), [K.storage, dtv.storage, dCB.storage], grid(nCB, WG));
  } else {
    rt.dispatch(CB_KERNEL, params(nCB), [s(x), s(dy), s(a.Bmat), s(a.Cmat), dtv.storage, acum.storage, CB.storage, dCB.storage], grid(nCB, WG));
  }

  const tiles = (n: number) => Math.ceil(n / 64);
  const S = h.empty([B, nC, H, P, N]);
  const U = h.empty([B, nC, H, P, N]);
  // One group and whole chunks: the products with the chunk states are batched matmuls over the
  // (b, c) pairs (as in the forward), of x̃ = w ∘ X and dỸ = diag(exp cs) dY made once each
  const Bm = a.Bmat as GpuTensor;
  const Cm = a.Cmat as GpuTensor;
  const scaled = ssdBatched(B, L, G, Q)
    ? { xs: scaledRows(h, x, acum, dtv, params, 'state'), dys: scaledRows(h, dy, acum, dtv, params, 'decay') }
    : undefined;
  if (scaled) {
    // S_c = x̃_cᵀ B_c, U_c = dỸ_cᵀ C_c
    pairStates(h, scaled.xs, Bm, S);
    pairStates(h, scaled.dys, Cm, U);
  } else {
    rt.dispatch(STATES, params(0), [s(x), s(a.Bmat), acum.storage, dtv.storage, S.storage], [tiles(P) * tiles(N), nC, B * H]);
    rt.dispatch(U_KERNEL, params(0), [s(dy), s(a.Cmat), acum.storage, U.storage], [tiles(P) * tiles(N), nC, B * H]);
  }
  const dstate = h.empty([B, H, P, N]);
  const passIn = [acum.storage];
  if (a.state) passIn.push(s(a.state));
  rt.dispatch(passKernel(a.state !== undefined), params(dstate.size), [...passIn, storageOf(dnext), S.storage, U.storage, dstate.storage],
    grid(dstate.size, WG));
  const S0 = S;
  const dS = U;

  const rowTiles: [number, number, number] = [tiles(Q) * tiles(P), nC, B * H];
  const Tm = h.empty([B, L, H, P]);
  const Ys = h.empty([B, L, H, P]);
  if (scaled) {
    // Tm_c = B_c dS_cᵀ, Ys_c = C_c S0_cᵀ
    pairRowsTimesStates(h, Bm, dS, Tm);
    pairRowsTimesStates(h, Cm, S0, Ys);
  } else {
    rt.dispatch(ROWS_STATE, params(0), [s(a.Bmat), dS.storage, Tm.storage], rowTiles);
    rt.dispatch(ROWS_STATE, params(0), [s(a.Cmat), S0.storage, Ys.storage], rowTiles);
  }

  const dx = h.empty([B, L, H, P]);
  const dxIn = [CB.storage, acum.storage, dtv.storage, s(dy), Tm.storage];
  if (a.Dskip) dxIn.push(s(a.Dskip));
  rt.dispatch(dxKernel(dMode), params(0), [...dxIn, dx.storage], rowTiles);

  const pos = h.empty([B, H, L, 3]);
  const kr = K && R ? [K.storage, R.storage] : [];
  rt.dispatch(positionsKernel(kr.length > 0), params(B * H * L),
    [s(x), s(dy), CB.storage, ...kr, dtv.storage, acum.storage, Tm.storage, Ys.storage, pos.storage], grid(B * H * L, WG));
  K?.dispose();
  R?.dispose();
  const sdot = columnSum(h, { label: 'ssd backward sdot', fields: '', buffers: [['S0', 'read', 'f32'], ['dS', 'read', 'f32']],
    term: 'S0[c * p.rows + r] * dS[c * p.rows + r]' }, P * N, B * nC * H, [], [S0, dS]);

  const ddt = h.empty([B, L, H]);
  const part = h.empty([B * nC, H, 2]);
  const gIn = [s(a.dt), s(a.A)];
  if (a.dtBias) gIn.push(s(a.dtBias));
  rt.dispatch(dtGradKernel(bias, a.dtSoftplus), params(B * H * nC),
    [...gIn, dtv.storage, acum.storage, pos.storage, sdot.storage, ddt.storage, part.storage], grid(B * H * nC, WG));

  const groupTiles: [number, number, number] = [tiles(Q) * tiles(N), nC, B * G];
  const dC = h.empty([B, L, G, N]);
  const dB = h.empty([B, L, G, N]);
  if (scaled) {
    // dC_c = dCB_c B_c + dỸ_c S0_c, dB_c = dCB_cᵀ C_c + x̃_c dS_c
    pairCBTimes(h, dCB, Bm, dC, false);
    pairRowsByStates(h, scaled.dys, S0, dC);
    pairCBTimes(h, dCB, Cm, dB, true);
    pairRowsByStates(h, scaled.xs, dS, dB);
    scaled.xs.dispose();
    scaled.dys.dispose();
  } else {
    rt.dispatch(DC_KERNEL, params(0), [dCB.storage, s(a.Bmat), acum.storage, s(dy), S0.storage, dC.storage], groupTiles);
    rt.dispatch(DB_KERNEL, params(0), [dCB.storage, s(a.Cmat), acum.storage, dtv.storage, s(x), dS.storage, dB.storage], groupTiles);
  }

  const partSum = (k: 0 | 1) => columnSum(h, { label: `ssd backward part ${k}`, fields: '', buffers: [['part', 'read', 'f32']],
    term: `part[(r * p.cols + c) * 2u + ${k}u]` }, B * nC, H, [], [part]);
  const dA = partSum(0);
  const ddtBias = bias ? partSum(1) : undefined;
  let dD: GpuTensor | undefined;
  if (a.Dskip) {
    // Σ over (b, l) of dY ∘ X per (h, p); a per-head D then sums over p
    const perChannel = a.Dskip.size === H * P;
    const dHP = columnSum(h, { label: 'ssd backward dD', fields: '', buffers: [['dy', 'read', 'f32'], ['x', 'read', 'f32']],
      term: 'dy[r * p.cols + c] * x[r * p.cols + c]' }, B * L, H * P, [], [dy, x], perChannel ? a.Dskip.shape : [H, P]);
    if (perChannel) {
      dD = dHP;
    } else {
      dD = columnSum(h, { label: 'ssd backward dD per head', fields: '', buffers: [['dHP', 'read', 'f32']], term: 'dHP[c * p.rows + r]' },
        P, H, [], [dHP]);
      dHP.dispose();
    }
  }
  for (const t of [dtv, acum, CB, dCB, S, U, Tm, Ys, pos, sdot, part]) t.dispose();
  return { dx, ddt, dA, dB, dC, dD, ddtBias, dstate };
}
