/**
 * Causal scaled-dot-product attention with grouped KV heads and per-sequence key counts, by
 * tiles with an online softmax (FlashAttention's recurrence), split over keys when there are
 * too few queries to fill the GPU (flash-decoding), then merged.
 *
 * Workgroup = TQ queries of one (sequence, query head) and one key split; invocation = one
 * query, holding q and its output accumulator in registers. Keys and values stream through
 * shared memory TK at a time; each tile's scores are taken first so the running output is
 * rescaled once per tile, not once per key.
 *   q [B, Lq, Hq, E], k/v [B, S, Hkv, E], kvLen[b] <= S -> [B, Lq, Hq, E]
 * Query i of sequence b sits at position kvLen[b] - Lq + i; a query that sees no key gives 0.
 */
import type { GpuTensor } from '../memory.js';
import { f32Bits, grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { ENTRY_ARGS, flatId, header, type BufferDecl } from '../wgsl.js';

const FIELDS = 'Lq: u32, S: u32, Hq: u32, Hkv: u32, nSplit: u32, splitLen: u32, causal: u32, scale: f32';
const MASKED = '-3.0e38';
const cache = new Map<string, Kernel>();

function tileKernel(E: number, TQ: number, TK: number, split: boolean): Kernel {
  const key = `attention E=${E} TQ=${TQ} TK=${TK} split=${split}`;
  let k = cache.get(key);
  if (k) return k;
  const buffers: BufferDecl[] = [['q', 'read', 'f32'], ['k', 'read', 'f32'], ['v', 'read', 'f32'], ['kvLen', 'read', 'i32']];
  if (split) buffers.push(['part', 'read_write', 'f32'], ['ml', 'read_write', 'f32']);
  else buffers.push(['out', 'read_write', 'f32']);
  const write = split
    ? `let po = (wid.z * p.Lq + i) * p.nSplit + wid.y;
  for (var e = 0u; e < ${E}u; e++) { part[po * ${E}u + e] = acc[e]; }
  ml[po * 2u] = m;
  ml[po * 2u + 1u] = l;`
    : `let oo = ((b * p.Lq + i) * p.Hq + hq) * ${E}u;
  let inv = select(0.0, 1.0 / l, l > 0.0);
  for (var e = 0u; e < ${E}u; e++) { out[oo + e] = acc[e] * inv; }`;
  k = {
    label: key,
    source: `${header(FIELDS, buffers)}
var<workgroup> Ks: array<f32, ${TK * E}>;
var<workgroup> Vs: array<f32, ${TK * E}>;
var<workgroup> keyCount: u32;

@compute @workgroup_size(${TQ})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let hq = wid.z % p.Hq;
  let b = wid.z / p.Hq;
  let hk = hq / (p.Hq / p.Hkv);
  let i = wid.x * ${TQ}u + lid;
  let ii = min(i, p.Lq - 1u);
  if (lid == 0u) { keyCount = u32(kvLen[b]); }
  let kv = workgroupUniformLoad(&keyCount);
  let pos = i32(kv) - i32(p.Lq) + i32(ii);
  let s0 = wid.y * p.splitLen;
  var s1 = min(kv, s0 + p.splitLen);
  if (p.causal != 0u) {
    // keys past the tile's last query are masked for every query of the tile
    let lastPos = i32(kv) - i32(p.Lq) + i32(min(wid.x * ${TQ}u + ${TQ}u, p.Lq) - 1u);
    s1 = u32(clamp(lastPos + 1, 0, i32(s1)));
  }
  var qv: array<f32, ${E}>;
  var acc: array<f32, ${E}>;
  let qo = ((b * p.Lq + ii) * p.Hq + hq) * ${E}u;
  for (var e = 0u; e < ${E}u; e++) { qv[e] = q[qo + e] * p.scale; acc[e] = 0.0; }
  var m = ${MASKED};
  var l = 0.0;
  var sc: array<f32, ${TK}>;
  for (var t0 = s0; t0 < s1; t0 += ${TK}u) {
    let tn = min(${TK}u, s1 - t0);
    for (var e = lid; e < tn * ${E}u; e += ${TQ}u) {
      let off = ((b * p.S + t0 + e / ${E}u) * p.Hkv + hk) * ${E}u + e % ${E}u;
      Ks[e] = k[off];
      Vs[e] = v[off];
    }
    workgroupBarrier();
    var mt = m;
    for (var jj = 0u; jj < tn; jj++) {
      var s = 0.0;
      for (var e = 0u; e < ${E}u; e++) { s = fma(qv[e], Ks[jj * ${E}u + e], s); }
      sc[jj] = select(${MASKED}, s, p.causal == 0u || i32(t0 + jj) <= pos);
      mt = max(mt, sc[jj]);
    }
    let corr = exp(m - mt);
    l = l * corr;
    for (var e = 0u; e < ${E}u; e++) { acc[e] = acc[e] * corr; }
    for (var jj = 0u; jj < tn; jj++) {
      let pj = select(0.0, exp(sc[jj] - mt), sc[jj] > ${MASKED});
      l += pj;
      for (var e = 0u; e < ${E}u; e++) { acc[e] = fma(pj, Vs[jj * ${E}u + e], acc[e]); }
    }
    m = mt;
    workgroupBarrier();
  }
  if (i >= p.Lq) { return; }
  ${write}
}`,
  };
  cache.set(key, k);
  return k;
}

/** Merges the key splits: out = Σ_s e^(m_s − M) acc_s / Σ_s e^(m_s − M) l_s. */
const MERGE: Kernel = {
  label: 'attention merge',
  source: `${header('n: u32, E: u32, Lq: u32, Hq: u32, nSplit: u32', [['part', 'read', 'f32'], ['ml', 'read', 'f32'], ['out', 'read_write', 'f32']])}
@compute @workgroup_size(256)
fn main(${ENTRY_ARGS}) {
  let idx = ${flatId(256)};
  if (idx >= p.n) { return; }
  let e = idx % p.E;
  let hq = (idx / p.E) % p.Hq;
  let i = (idx / (p.E * p.Hq)) % p.Lq;
  let b = idx / (p.E * p.Hq * p.Lq);
  let base = ((b * p.Hq + hq) * p.Lq + i) * p.nSplit;
  var mx = ${MASKED};
  for (var s = 0u; s < p.nSplit; s++) {
    if (ml[(base + s) * 2u + 1u] > 0.0) { mx = max(mx, ml[(base + s) * 2u]); }
  }
  var num = 0.0;
  var den = 0.0;
  for (var s = 0u; s < p.nSplit; s++) {
    let ls = ml[(base + s) * 2u + 1u];
    if (ls > 0.0) {
      let w = exp(ml[(base + s) * 2u] - mx);
      num = fma(w, part[(base + s) * p.E + e], num);
      den = fma(w, ls, den);
    }
  }
  out[idx] = select(0.0, num / den, den > 0.0);
}`,
};

export function attention(h: KernelHost, q: GpuTensor, k: GpuTensor, v: GpuTensor, causal: boolean, scale: number, kvLen: Int32Array): GpuTensor {
  const [B, Lq, Hq, E] = q.shape;
  const [, S, Hkv] = k.shape;
  const out = h.empty([B, Lq, Hq, E]);
  if (out.size === 0) return out;
  const TQ = Lq >= 64 ? 64 : 16;
  // K and V tiles share the workgroup memory (less a word for the key count); 32 keys at most
  // keep the private score array small
  const TK = Math.max(1, Math.min(32, Math.floor((h.rt.info.maxComputeWorkgroupStorageSize - 16) / (8 * E))));
  const qTiles = Math.ceil(Lq / TQ);
  const rows = qTiles * B * Hq;
  // Split the keys until there are about 4096 workgroups: one invocation walks its split alone,
  // so with few queries (decoding) long splits leave the GPU idle. A split is one tile at least.
  let nSplit = Math.max(1, Math.min(Math.ceil(4096 / rows), Math.ceil(S / TK)));
  const splitLen = Math.max(TK, Math.ceil(Math.ceil(S / nSplit) / TK) * TK);
  nSplit = Math.max(1, Math.ceil(S / splitLen));
  const lens = h.upload(kvLen, [B]);
  const params = [Lq, S, Hq, Hkv, nSplit, splitLen, causal ? 1 : 0, f32Bits(scale)];
  const inputs = [storageOf(q), storageOf(k), storageOf(v), lens.storage];
  const groups: [number, number, number] = [qTiles, nSplit, B * Hq];
  if (nSplit === 1) {
    h.rt.dispatch(tileKernel(E, TQ, TK, false), params, [...inputs, out.storage], groups);
  } else {
    const part = h.empty([B * Hq * Lq * nSplit * E]);
    const ml = h.empty([B * Hq * Lq * nSplit * 2]);
    h.rt.dispatch(tileKernel(E, TQ, TK, true), params, [...inputs, part.storage, ml.storage], groups);
    h.rt.dispatch(MERGE, [out.size, E, Lq, Hq, nSplit], [part.storage, ml.storage, out.storage], grid(out.size, 256));
    part.dispose();
    ml.dispose();
  }
  lens.dispose();
  return out;
}
