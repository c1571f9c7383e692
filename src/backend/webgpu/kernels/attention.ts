/**
 * Causal scaled-dot-product attention with grouped KV heads and per-sequence key counts, by
 * tiles with an online softmax (FlashAttention's recurrence), split over keys when there are
 * too few queries to fill the GPU (flash-decoding), then merged.
 *
 * Workgroup = TQ queries of one (sequence, query head) and one key split; invocation = one
 * query, holding q and its output accumulator in registers. Keys and values stream through
 * shared memory TK at a time.
 *   q [B, Lq, Hq, E], k/v [B, S, Hkv, E], kvLen[b] <= S -> [B, Lq, Hq, E]
 * Query i of sequence b sits at position kvLen[b] - Lq + i; a query that sees no key gives 0.
 */
import type { GpuTensor } from '../buffer-pool.js';
import { f32Bits, grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { ENTRY_ARGS, flatId, header, type BufferDecl } from '../wgsl.js';

const FIELDS = 'Lq: u32, S: u32, Hq: u32, Hkv: u32, nSplit: u32, splitLen: u32, causal: u32, scale: f32';
const MASKED = '-3.0e38';
const cache = new Map<string, Kernel>();

/** a + b + ... as a balanced tree, so the adds do not wait on one another */
function treeSum(terms: string[]): string {
  if (terms.length === 1) return terms[0];
  const mid = terms.length >> 1;
  return `(${treeSum(terms.slice(0, mid))} + ${treeSum(terms.slice(mid))})`;
}

/**
 * The query and its accumulator live in E4 = ceil(E/4) vec4 registers each, with every loop
 * over the head dim unrolled in the generated source: indexing a private array at run time
 * would put it in (slow) local memory. Keys and values sit in shared memory as vec4, padded
 * with zeros past E.
 */
function tileKernel(E: number, TQ: number, TK: number, split: boolean): Kernel {
  const key = `attention E=${E} TQ=${TQ} TK=${TK} split=${split}`;
  let k = cache.get(key);
  if (k) return k;
  const E4 = Math.ceil(E / 4);
  const vecIn = E % 4 === 0;
  const el = vecIn ? 'vec4<f32>' : 'f32';
  const buffers: BufferDecl[] = [['q', 'read', el], ['k', 'read', el], ['v', 'read', el], ['kvLen', 'read', 'i32']];
  if (split) buffers.push(['part', 'read_write', 'f32'], ['ml', 'read_write', 'f32']);
  else buffers.push(['out', 'read_write', 'f32']);
  const r = Array.from({ length: E4 }, (_, c) => c);
  // vec4 c of the row of E floats starting at element `base` (a multiple of E)
  const load = (buf: string, base: string, vc: number | string) => {
    const c = typeof vc === 'number' ? `${vc}u` : `(${vc})`;
    return vecIn
      ? `${buf}[(${base}) / 4u + ${c}]`
      : `vec4<f32>(${[0, 1, 2, 3].map((j) => `select(0.0, ${buf}[min((${base}) + ${c} * 4u + ${j}u, arrayLength(&${buf}) - 1u)], ${c} * 4u + ${j}u < ${E}u)`).join(', ')})`;
  };
  const comp = ['x', 'y', 'z', 'w'];
  const store = (buf: string, base: string, scale: string) => r.flatMap((c) => [0, 1, 2, 3]
    .filter((j) => 4 * c + j < E)
    .map((j) => `${buf}[${base} + ${4 * c + j}u] = acc${c}.${comp[j]}${scale};`)).join('\n  ');
  const write = split
    ? `let po = (wid.z * p.Lq + i) * p.nSplit + wid.y;
  ${store('part', `po * ${E}u`, '')}
  ml[po * 2u] = m;
  ml[po * 2u + 1u] = l;`
    : `let oo = ((b * p.Lq + i) * p.Hq + hq) * ${E}u;
  let inv = select(0.0, 1.0 / l, l > 0.0);
  ${store('out', 'oo', ' * inv')}`;
  k = {
    label: key,
    source: `${header(FIELDS, buffers)}
var<workgroup> Ks: array<vec4<f32>, ${TK * E4}>;
var<workgroup> Vs: array<vec4<f32>, ${TK * E4}>;
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
  let qo = ((b * p.Lq + ii) * p.Hq + hq) * ${E}u;
  ${r.map((c) => `let q${c} = ${load('q', 'qo', c)} * p.scale;`).join('\n  ')}
  ${r.map((c) => `var acc${c} = vec4<f32>(0.0);`).join('\n  ')}
  var m = ${MASKED};
  var l = 0.0;
  for (var t0 = s0; t0 < s1; t0 += ${TK}u) {
    let tn = min(${TK}u, s1 - t0);
    for (var e = lid; e < tn * ${E4}u; e += ${TQ}u) {
      let base = ((b * p.S + t0 + e / ${E4}u) * p.Hkv + hk) * ${E}u;
      Ks[e] = ${load('k', 'base', `e % ${E4}u`)};
      Vs[e] = ${load('v', 'base', `e % ${E4}u`)};
    }
    workgroupBarrier();
    for (var jj = 0u; jj < tn; jj++) {
      let kb = jj * ${E4}u;
      let s = ${treeSum(r.map((c) => `dot(q${c}, Ks[kb + ${c}u])`))};
      if (p.causal == 0u || i32(t0 + jj) <= pos) {
        // online softmax: rescale only when the running max grows
        if (s > m) {
          let corr = exp(m - s);
          l = l * corr;
          ${r.map((c) => `acc${c} = acc${c} * corr;`).join('\n          ')}
          m = s;
        }
        let pj = exp(s - m);
        l += pj;
        ${r.map((c) => `acc${c} = fma(vec4<f32>(pj), Vs[kb + ${c}u], acc${c});`).join('\n        ')}
      }
    }
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
  // 64 queries a workgroup even when decoding one: the idle lanes still help stream K and V
  // into shared memory, which is what a short split spends its time on.
  const TQ = 64;
  // K and V tiles share the workgroup memory (less a word for the key count)
  const TK = Math.max(1, Math.min(32, Math.floor((h.rt.info.maxComputeWorkgroupStorageSize - 16) / (32 * Math.ceil(E / 4)))));
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
