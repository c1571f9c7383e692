/**
 * Register-tiled matmul: C[M, N] = op(A) · op(B) (+ bias[N]), or a batch of them (workgroups'
 * z picks the entry; each operand and the result step by their own stride).
 *
 * A workgroup of 16×16 invocations computes a BM×BN tile (BM = 16·Tm, BN = 16·Tn with Tm, Tn =
 * 4, 8 or 16 outputs per invocation along M and N), stepping K by BK through shared tiles
 * As[BK][BM], Bs[BK][BN].
 * Each invocation owns rows {q·64 + ty·4 + i} and columns {c·64 + tx·4 + j}: one vec4 read of
 * each shared tile per row/column group feeds 4·4 FMAs, and the column reads of a warp are
 * consecutive, so shared memory serves them without bank conflicts.
 *
 * With `prefetch`, the shared tiles are double-buffered: each step first issues the global loads
 * of the next K block into registers, multiplies the current block, then stores the registers
 * into the other buffer, so the loads' latency hides behind the FMAs and one barrier per step
 * suffices (the barrier ending step i also ends every read of the buffer step i+1 writes).
 *
 * Both operands are seen as "R×K" (A: R = M, B: R = N) stored either K-contiguous (A plain,
 * B transposed = the Linear weight [N, K]) or R-contiguous. Loads use vec4 when the contiguous
 * dimension is a multiple of 4, and every load and store is bounds-checked, so any M, N, K work.
 */
import type { GpuTensor } from '../buffer-pool.js';
import { storageOf, type KernelHost } from '../runtime.js';
import { cached, header } from '../wgsl.js';
import { gemv, GEMV_ROWS } from './gemv.js';

/** How the tiled kernel runs; `matmul` picks one, benchmarks may compare others. */
export interface MatmulTuning {
  /** outputs per invocation along M (and along N unless `tileN`): tiles of 64, 128 or 256 rows */
  tile: 4 | 8 | 16;
  /** outputs per invocation along N when it differs from `tile`: 16 makes tiles 256 columns wide */
  tileN?: 4 | 8 | 16;
  /** K step */
  bk: 8 | 16;
  prefetch: boolean;
}

interface Spec extends MatmulTuning {
  transA: boolean;
  transB: boolean;
  bias: boolean;
  /** C += op(A) op(B) instead of C = … */
  accumulate: boolean;
  vecA: boolean;
  vecB: boolean;
  vecC: boolean;
}

/**
 * Moving one operand's K block into shared memory in two halves: `fetch` reads global memory
 * into registers `${X}r0..` (zero outside the matrix), `stash` writes them to shared tile `S`
 * (logical [BK][BR], vec4-packed along R) in buffer `buf`.
 */
function loader(X: string, S: string, R: string, r0: string, BR: number, BK: number, kContig: boolean, vec: boolean): { fetch: (kb: string) => string; stash: (buf: string) => string } {
  const z = `z${X}`; // the batch entry's offset into X
  const tile = (BR * BK) / 4; // vec4 slots per buffer
  const put = (buf: string, k: string, r: string, v: string) => `${S}[${buf} * ${tile}u + ((${k}) * ${BR}u + (${r})) / 4u][(${r}) % 4u] = ${v};`;
  const per = vec ? (BR * BK) / 4 / 256 : (BR * BK) / 256;
  const fetch: ((kb: string) => string)[] = [];
  const stash: ((buf: string) => string)[] = [];
  for (let q = 0; q < per; q++) {
    const reg = `${X}r${q}`;
    const e = `(lid + ${256 * q}u)`;
    if (vec && kContig) {
      fetch.push((kb) => `var ${reg} = vec4<f32>(0.0);
    { let kv = ${e} % ${BK / 4}u; let gr = ${r0} + ${e} / ${BK / 4}u; let gk = ${kb} + kv * 4u;
      if (gr < p.${R} && gk < p.K) { ${reg} = ${X}[${z} + (gr * p.K + gk) / 4u]; } }`);
      stash.push((buf) => `{ let kv = ${e} % ${BK / 4}u; let r = ${e} / ${BK / 4}u;
      ${['x', 'y', 'z', 'w'].map((c, j) => put(buf, `kv * 4u + ${j}u`, 'r', `${reg}.${c}`)).join(' ')} }`);
    } else if (vec) {
      fetch.push((kb) => `var ${reg} = vec4<f32>(0.0);
    { let rv = ${e} % ${BR / 4}u; let gr = ${r0} + rv * 4u; let gk = ${kb} + ${e} / ${BR / 4}u;
      if (gr < p.${R} && gk < p.K) { ${reg} = ${X}[${z} + (gk * p.${R} + gr) / 4u]; } }`);
      stash.push((buf) => `${S}[${buf} * ${tile}u + ${e}] = ${reg};`);
    } else {
      const [kk, r] = kContig ? [`${e} % ${BK}u`, `${e} / ${BK}u`] : [`${e} / ${BR}u`, `${e} % ${BR}u`];
      const index = kContig ? `gr * p.K + gk` : `gk * p.${R} + gr`;
      fetch.push((kb) => `var ${reg} = 0.0;
    { let gr = ${r0} + ${r}; let gk = ${kb} + ${kk};
      if (gr < p.${R} && gk < p.K) { ${reg} = ${X}[${z} + ${index}]; } }`);
      stash.push((buf) => put(buf, kk, r, reg));
    }
  }
  return { fetch: (kb) => fetch.map((f) => f(kb)).join('\n    '), stash: (buf) => stash.map((f) => f(buf)).join('\n    ') };
}

function source(s: Spec): string {
  const BM = 16 * s.tile;
  const BN = 16 * (s.tileN ?? s.tile);
  const BK = s.bk;
  const G = s.tile / 4; // row groups of 4 per invocation
  const GN = BN / 64; // column groups of 4 per invocation
  const elem = (vec: boolean) => (vec ? 'vec4<f32>' : 'f32');
  const buffers: [string, 'read' | 'read_write', string][] = [
    ['A', 'read', elem(s.vecA)],
    ['B', 'read', elem(s.vecB)],
  ];
  if (s.bias) buffers.push(['bias', 'read', elem(s.vecC)]);
  buffers.push(['C', 'read_write', elem(s.vecC)]);

  const accDecl: string[] = [];
  const fma: string[] = [];
  const epilogue: string[] = [];
  const slot = (BR: number, buf: string, q: number) => `${buf} * ${(BK * BR) / 4}u + k * ${BR / 4}u + ${q * 16}u`;
  for (let q = 0; q < G; q++) fma.push(`let a${q} = As[${slot(BM, 'cur', q)} + ty];`);
  for (let c = 0; c < GN; c++) fma.push(`let b${c} = Bs[${slot(BN, 'cur', c)} + tx];`);
  const comp = ['x', 'y', 'z', 'w'];
  for (let q = 0; q < G; q++) {
    for (let i = 0; i < 4; i++) {
      for (let c = 0; c < GN; c++) {
        const acc = `acc${q}_${i}_${c}`;
        accDecl.push(`var ${acc} = vec4<f32>(0.0);`);
        fma.push(`${acc} = fma(vec4<f32>(a${q}.${comp[i]}), b${c}, ${acc});`);
      }
      epilogue.push(`m = m0 + ${q * 64 + i}u + ty * 4u;`);
      epilogue.push(`if (m < p.M) {`);
      for (let c = 0; c < GN; c++) {
        const acc = `acc${q}_${i}_${c}`;
        epilogue.push(`  n = n0 + ${c * 64}u + tx * 4u;`);
        if (s.vecC) {
          const b = s.bias ? ` + bias[n / 4u]` : '';
          const c = `C[zC + (m * p.N + n) / 4u]`;
          epilogue.push(`  if (n < p.N) { ${c} = ${s.accumulate ? `${c} + ` : ''}${acc}${b}; }`);
        } else {
          for (let j = 0; j < 4; j++) {
            const b = s.bias ? ` + bias[n + ${j}u]` : '';
            const c = `C[zC + m * p.N + n + ${j}u]`;
            epilogue.push(`  if (n + ${j}u < p.N) { ${c} = ${s.accumulate ? `${c} + ` : ''}${acc}.${comp[j]}${b}; }`);
          }
        }
      }
      epilogue.push(`}`);
    }
  }
  const la = loader('A', 'As', 'M', 'm0', BM, BK, !s.transA, s.vecA);
  const lb = loader('B', 'Bs', 'N', 'n0', BN, BK, s.transB, s.vecB);
  const multiply = `for (var k = 0u; k < ${BK}u; k++) {
      ${fma.join('\n      ')}
    }`;
  const loop = s.prefetch
    ? `{
    ${la.fetch('0u')}
    ${lb.fetch('0u')}
    ${la.stash('0u')}
    ${lb.stash('0u')}
  }
  workgroupBarrier();
  var cur = 0u;
  for (var k0 = 0u; k0 < p.K; k0 += ${BK}u) {
    ${la.fetch(`k0 + ${BK}u`)}
    ${lb.fetch(`k0 + ${BK}u`)}
    ${multiply}
    ${la.stash('(1u - cur)')}
    ${lb.stash('(1u - cur)')}
    cur = 1u - cur;
    workgroupBarrier();
  }`
    : `let cur = 0u;
  for (var k0 = 0u; k0 < p.K; k0 += ${BK}u) {
    ${la.fetch('k0')}
    ${lb.fetch('k0')}
    ${la.stash('0u')}
    ${lb.stash('0u')}
    workgroupBarrier();
    ${multiply}
    workgroupBarrier();
  }`;
  const buffersShared = s.prefetch ? 2 : 1;
  return `${header('M: u32, N: u32, K: u32, sA: u32, sB: u32, sC: u32', buffers)}
var<workgroup> As: array<vec4<f32>, ${(buffersShared * BK * BM) / 4}>;
var<workgroup> Bs: array<vec4<f32>, ${(buffersShared * BK * BN) / 4}>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tx = lid % 16u;
  let ty = lid / 16u;
  let m0 = wid.y * ${BM}u;
  let n0 = wid.x * ${BN}u;
  let zA = wid.z * p.sA;
  let zB = wid.z * p.sB;
  let zC = wid.z * p.sC;
  ${accDecl.join('\n  ')}
  ${loop}
  var m: u32;
  var n: u32;
  ${epilogue.join('\n  ')}
}`;
}


/**
 * C[M, N] = op(A) op(B) + bias. a is [M, K] (or [K, M] when transA), b is [K, N] (or [N, K]
 * when transB); `a` may carry leading dimensions that fold into M (the rows of `linear`).
 */
export function matmul(h: KernelHost, a: GpuTensor, b: GpuTensor, M: number, N: number, K: number,
  transA: boolean, transB: boolean, bias: GpuTensor | undefined, outShape: readonly number[], tuning?: MatmulTuning): GpuTensor {
  if (M === 0 || N === 0) return h.empty(outShape);
  if (M <= GEMV_ROWS && transB && !transA && K > 0 && !tuning) return gemv(h, a, b, M, N, K, undefined, bias, undefined, outShape);
  const out = h.empty(outShape);
  tiled(h, a, b, bias, out, M, N, K, transA, transB, { count: 1, strideA: 0, strideB: 0, strideC: 0 }, false, tuning);
  return out;
}

/** A batch of equal products, each entry's operands and result `stride…` elements after the last's. */
export interface MatmulBatch {
  count: number;
  strideA: number;
  strideB: number;
  strideC: number;
}

/** The largest batch one dispatch takes (workgroups along z). */
export const MAX_MATMUL_BATCH = 65535;

/**
 * out[z] = op(a[z]) op(b[z]) for z < batch.count, written into `out` (M, N, K, trans as
 * `matmul`); with `accumulate`, added to what `out` holds.
 */
export function batchedMatmul(h: KernelHost, a: GpuTensor, b: GpuTensor, out: GpuTensor, M: number, N: number, K: number,
  transA: boolean, transB: boolean, batch: MatmulBatch, accumulate = false): void {
  if (batch.count > MAX_MATMUL_BATCH) throw new Error(`webgpu batchedMatmul: ${batch.count} entries, at most ${MAX_MATMUL_BATCH}`);
  if (M > 0 && N > 0 && batch.count > 0) tiled(h, a, b, undefined, out, M, N, K, transA, transB, batch, accumulate);
}

function tiled(h: KernelHost, a: GpuTensor, b: GpuTensor, bias: GpuTensor | undefined, out: GpuTensor, M: number, N: number, K: number,
  transA: boolean, transB: boolean, batch: MatmulBatch, accumulate: boolean, tuning?: MatmulTuning): void {
  const storage = [storageOf(a), storageOf(b), ...(bias ? [storageOf(bias)] : []), out.storage];
  const t = tuning ?? pick(M, N, batch.count, h.rt.info.maxComputeWorkgroupStorageSize);
  const tileN = t.tileN ?? t.tile;
  // every invocation loads at least one vec4 of each operand per K step
  if (16 * Math.min(t.tile, tileN) * t.bk < 1024) throw new Error(`webgpu matmul: tile ${t.tile}×${tileN} with bk ${t.bk} is too small a K block`);
  if (sharedBytes(t) > h.rt.info.maxComputeWorkgroupStorageSize) throw new Error(`webgpu matmul: tile ${t.tile}×${tileN} with bk ${t.bk} needs ${sharedBytes(t)} bytes of workgroup memory`);
  const spec: Spec = {
    ...t,
    transA,
    transB,
    bias: bias !== undefined,
    accumulate,
    vecA: (transA ? M : K) % 4 === 0 && batch.strideA % 4 === 0,
    vecB: (transB ? K : N) % 4 === 0 && batch.strideB % 4 === 0,
    vecC: N % 4 === 0 && batch.strideC % 4 === 0,
  };
  // batch strides in the units of each buffer's elements (vec4 or f32)
  const unit = (vec: boolean, stride: number) => (vec ? stride / 4 : stride);
  h.rt.dispatch(cached(`matmul ${JSON.stringify(spec)}`, () => source(spec)),
    [M, N, K, unit(spec.vecA, batch.strideA), unit(spec.vecB, batch.strideB), unit(spec.vecC, batch.strideC)], storage,
    [Math.ceil(N / (16 * tileN)), Math.ceil(M / (16 * spec.tile)), batch.count]);
}

/** workgroup memory of the shared tiles As and Bs */
function sharedBytes(t: MatmulTuning): number {
  return (t.prefetch ? 2 : 1) * t.bk * 16 * (t.tile + (t.tileN ?? t.tile)) * 4;
}

/**
 * MAMBA_TS_MATMUL=square keeps the square tiles only (to compare the two in one run); unset or
 * anything else lets `pick` take the 256×128 tiles.
 */
const squareOnly = typeof process !== 'undefined' && process.env?.MAMBA_TS_MATMUL === 'square';

/** The tuning `matmul` runs for an M×N output. */
function pick(M: number, N: number, batch: number, sharedLimit: number): MatmulTuning {
  // 256×128 tiles (16×8 outputs per invocation: 6 shared vec4 reads feed 128 FMAs instead of 4
  // feeding 64) where they still give two waves of workgroups on a large GPU; faster than
  // 128×128 there, while 128×256 (8×16) gained nothing at K step 8 (see bench/RESULTS.md)
  const tall: MatmulTuning = { tile: 16, tileN: 8, bk: 8, prefetch: true };
  if (!squareOnly && batch * Math.ceil(M / 256) * Math.ceil(N / 128) >= 256 && sharedBytes(tall) <= sharedLimit) return tall;
  // 128-wide tiles only when they still give the GPU enough workgroups to fill it; K steps of 8
  // with prefetch beat 16 there (see bench/RESULTS.md)
  return batch * Math.ceil(M / 128) * Math.ceil(N / 128) >= 128 ? { tile: 8, bk: 8, prefetch: true } : { tile: 4, bk: 16, prefetch: true };
}
