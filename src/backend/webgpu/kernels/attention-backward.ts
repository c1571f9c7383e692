/**
 * Backward of causal GQA attention (attention.ts), recomputing the softmax instead of saving the
 * [Lq, S] probabilities (FlashAttention's backward). With s_j = scale q·k_j, p = softmax(s),
 * o = Σ_j p_j v_j and dp_j = do·v_j:
 *   dv_j += p_j do,  ds_j = p_j (dp_j − do·o),  dq = scale Σ_j ds_j k_j,  dk_j += scale ds_j q,
 * with do·o = Σ_j p_j dp_j. Two dispatches:
 *   1. per query (b, i, hq): one pass over its keys for the log-sum-exp and do·o (online, as the
 *      forward keeps its running max), a second for dq; leaves (lse, do·o) per query
 *   2. per key (b, j, hkv): walks the queries of every head of its group that see it, summing
 *      dk and dv in registers, so nothing is added to memory twice
 * Query i of sequence b sits at position kvLen[b] − Lq + i and (if causal) sees keys j ≤ that.
 *   q, dout [B, Lq, Hq, E], k/v [B, S, Hkv, E] -> dq, dk, dv (zero for keys past kvLen)
 */
import type { GpuTensor } from '../buffer-pool.js';
import { f32Bits, grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { cached, flatMain, header, type BufferDecl } from '../wgsl.js';

const WG = 64;
const FIELDS = 'n: u32, Lq: u32, S: u32, Hq: u32, Hkv: u32, causal: u32, scale: f32';
const INPUTS: BufferDecl[] = [['q', 'read', 'f32'], ['k', 'read', 'f32'], ['v', 'read', 'f32'], ['dout', 'read', 'f32'], ['kvLen', 'read', 'i32']];

/** Σ_e a[ao + e] b[bo + e] over the head dim; `a` may be a private array */
const dot = (E: number, a: string, b: string) => `fn ${a}Dot${b}(ao: u32, bo: u32) -> f32 {
  var s = 0.0;
  for (var e = 0u; e < ${E}u; e++) { s = fma(${a}[ao + e], ${b}[bo + e], s); }
  return s;
}`;

/** Both kernels' WGSL up to their invocation o (out of p.n): the bindings, the dot products, the entry. */
const opening = (E: number, outputs: BufferDecl[]) => `${header(FIELDS, [...INPUTS, ...outputs])}
${dot(E, 'q', 'k')}
${dot(E, 'dout', 'v')}
${flatMain(WG, 'o')}`;

/** The head dim E is a constant: the per-invocation vectors are private arrays of E floats. */
function queryKernel(E: number): Kernel {
  return cached(`attention backward queries E=${E}`, () => `${opening(E, [['dq', 'read_write', 'f32'], ['stats', 'read_write', 'f32']])}
  let hq = o % p.Hq;
  let i = (o / p.Hq) % p.Lq;
  let b = o / (p.Hq * p.Lq);
  let hk = hq / (p.Hq / p.Hkv);
  let len = kvLen[b];
  let pos = len - i32(p.Lq) + i32(i);
  let nKeys = u32(max(select(len, min(pos + 1, len), p.causal != 0u), 0));
  let qo = o * ${E}u;
  var m = -3.0e38;
  var l = 0.0;
  var pdp = 0.0;
  for (var j = 0u; j < nKeys; j++) {
    let ko = ((b * p.S + j) * p.Hkv + hk) * ${E}u;
    let s = p.scale * qDotk(qo, ko);
    if (s > m) {
      let corr = exp(m - s);
      l *= corr;
      pdp *= corr;
      m = s;
    }
    let pj = exp(s - m);
    l += pj;
    pdp = fma(pj, doutDotv(qo, ko), pdp);
  }
  let seen = nKeys > 0u;
  let lse = select(0.0, m + log(l), seen);
  let od = select(0.0, pdp / l, seen);
  stats[o * 2u] = lse;
  stats[o * 2u + 1u] = od;
  var acc: array<f32, ${E}>;
  for (var j = 0u; j < nKeys; j++) {
    let ko = ((b * p.S + j) * p.Hkv + hk) * ${E}u;
    let ds = p.scale * exp(p.scale * qDotk(qo, ko) - lse) * (doutDotv(qo, ko) - od);
    for (var e = 0u; e < ${E}u; e++) { acc[e] = fma(ds, k[ko + e], acc[e]); }
  }
  for (var e = 0u; e < ${E}u; e++) { dq[qo + e] = acc[e]; }
}`);
}

function keyKernel(E: number): Kernel {
  return cached(`attention backward keys E=${E}`, () => `${opening(E, [['stats', 'read', 'f32'], ['dk', 'read_write', 'f32'], ['dv', 'read_write', 'f32']])}
  let hk = o % p.Hkv;
  let j = (o / p.Hkv) % p.S;
  let b = o / (p.Hkv * p.S);
  let rep = p.Hq / p.Hkv;
  let len = kvLen[b];
  let ko = o * ${E}u;
  var gk: array<f32, ${E}>;
  var gv: array<f32, ${E}>;
  if (i32(j) < len) {
    // query i sees key j when j <= its position len − Lq + i
    let first = u32(select(0, max(i32(j) + i32(p.Lq) - len, 0), p.causal != 0u));
    for (var hq = hk * rep; hq < (hk + 1u) * rep; hq++) {
      for (var i = first; i < p.Lq; i++) {
        let qi = (b * p.Lq + i) * p.Hq + hq;
        let qo = qi * ${E}u;
        let pj = exp(p.scale * qDotk(qo, ko) - stats[qi * 2u]);
        let ds = p.scale * pj * (doutDotv(qo, ko) - stats[qi * 2u + 1u]);
        for (var e = 0u; e < ${E}u; e++) {
          gv[e] = fma(pj, dout[qo + e], gv[e]);
          gk[e] = fma(ds, q[qo + e], gk[e]);
        }
      }
    }
  }
  for (var e = 0u; e < ${E}u; e++) {
    dk[ko + e] = gk[e];
    dv[ko + e] = gv[e];
  }
}`);
}

export function attentionBackward(h: KernelHost, q: GpuTensor, k: GpuTensor, v: GpuTensor, causal: boolean, scale: number,
  kvLen: Int32Array, dout: GpuTensor): { dq: GpuTensor; dk: GpuTensor; dv: GpuTensor } {
  const [B, Lq, Hq, E] = q.shape;
  const [, S, Hkv] = k.shape;
  const dq = h.empty(q.shape);
  const dk = h.empty(k.shape);
  const dv = h.empty(k.shape);
  const lens = h.upload(kvLen, [B]);
  const stats = h.empty([B, Lq, Hq, 2]);
  const inputs = [storageOf(q), storageOf(k), storageOf(v), storageOf(dout), lens.storage];
  const params = (n: number) => [n, Lq, S, Hq, Hkv, causal ? 1 : 0, f32Bits(scale)];
  const nq = B * Lq * Hq;
  h.rt.dispatch(queryKernel(E), params(nq), [...inputs, dq.storage, stats.storage], grid(nq, WG));
  const nk = B * S * Hkv;
  h.rt.dispatch(keyKernel(E), params(nk), [...inputs, stats.storage, dk.storage, dv.storage], grid(nk, WG));
  lens.dispose();
  stats.dispose();
  return { dq, dk, dv };
}
