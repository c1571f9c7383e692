/**
 * WebGPU f32 matmul against torch.matmul on the same GPU (cuBLAS, TF32 off), side by side in one
 * run; both take the best of 3 rounds of `reps` back-to-back calls.
 *
 *   node dist/bench/gpu-matmul.js [--reps 20] [--n 4096] [--no-peer]   (--n shrinks the shapes for a smoke run)
 *
 * Rows: C = A·B (nn) and y = x·Wᵀ (nt, the Linear layout) at n³ in TFLOP/s, with the tiled
 * kernel as `matmul` runs it and in each other tuning (outputs per invocation along M×N, K step,
 * prefetch; MAMBA_TS_MATMUL=square keeps `matmul` itself on the square tiles); the decode
 * matvecs x [M, n]·Wᵀ, W [n, n], M = 1 and 8, in GB/s of W read. The n³ results are
 * spot-checked against float64 dot products. Ends with a per-kernel GPU profile of one n³ call.
 */
import { createWebGpuBackend, type WebGpuBackend } from '../src/backend/webgpu/backend.js';
import type { MatmulTuning } from '../src/backend/webgpu/kernels/matmul.js';
import type { Tensor } from '../src/tensor.js';
import { flag, profile, random, ratio, runPeer, timeGpu } from './gpu-util.js';

type Layout = 'nn' | 'nt';
interface Peer { torch: string; device: string; shapes: { m: number; n: number; k: number; layout: Layout; ms: number }[] }

const n = flag('--n', 4096);
const SHAPES: [number, number, number, Layout][] = [[n, n, n, 'nn'], [n, n, n, 'nt'], [1, n, n, 'nt'], [8, n, n, 'nt']];
const TUNINGS: MatmulTuning[] = [
  { tile: 8, bk: 8, prefetch: true }, { tile: 8, bk: 16, prefetch: true }, { tile: 4, bk: 16, prefetch: true },
  { tile: 8, tileN: 16, bk: 8, prefetch: true }, { tile: 8, tileN: 16, bk: 16, prefetch: true }, { tile: 8, tileN: 16, bk: 16, prefetch: false },
  { tile: 16, tileN: 8, bk: 8, prefetch: true }, { tile: 8, tileN: 16, bk: 8, prefetch: false },
];

/** Largest relative error of 16 sampled outputs against float64 dot products. */
async function spotCheck(c: Tensor, a: Float32Array, b: Float32Array, M: number, N: number, K: number, layout: Layout): Promise<number> {
  const got = await c.read();
  c.dispose();
  let worst = 0;
  for (let s = 0; s < 16; s++) {
    const i = (s * 2654435761) % M;
    const j = (s * 40503 + 7) % N;
    let ref = 0;
    let mag = 0;
    for (let k = 0; k < K; k++) {
      const p = a[i * K + k] * (layout === 'nt' ? b[j * K + k] : b[k * N + j]);
      ref += p;
      mag += Math.abs(p);
    }
    worst = Math.max(worst, Math.abs(got[i * N + j] - ref) / mag);
  }
  return worst;
}

async function main(): Promise<void> {
  const reps = flag('--reps', 20);
  const be: WebGpuBackend = await createWebGpuBackend();
  try {
    console.log(`webgpu: ${be.info.adapterName} (subgroups ${be.info.subgroups}, ${be.info.subgroupMinSize}-${be.info.subgroupMaxSize} lanes)`);
    const rows: { name: string; i: number; ms: number; check?: number }[] = [];
    let profiled = '';
    for (const [i, [M, N, K, layout]] of SHAPES.entries()) {
      const a = random(M * K, 1);
      const b = random(N * K, 2);
      const A = be.upload(a, [M, K]);
      const B = be.uploadWeight(b, layout === 'nt' ? [N, K] : [K, N]);
      const call = () => (layout === 'nt' ? be.linear(A, B) : be.matmul(A, B, false, false));
      const ms = await timeGpu(be, M === n ? reps : reps * 10, () => call().dispose());
      rows.push({ name: `${M}x${N}x${K} ${layout}`, i, ms, check: M === n ? await spotCheck(call(), a, b, M, N, K, layout) : undefined });
      if (M === n) {
        for (const t of TUNINGS) {
          const tms = await timeGpu(be, reps, () => be.matmulTuned(A, B, false, layout === 'nt', t).dispose());
          rows.push({ name: `  tile ${t.tile}x${t.tileN ?? t.tile} bk ${t.bk}${t.prefetch ? ' prefetch' : ''}`, i, ms: tms });
        }
        if (layout === 'nn') profiled = await profile(be, () => call().dispose());
      }
      A.dispose();
      B.dispose();
    }
    const peer = process.argv.includes('--no-peer')
      ? 'not run (--no-peer)'
      : runPeer<Peer>('peer_torch_matmul.py', ['--reps', String(reps), ...SHAPES.flatMap((s) => ['--shape', ...s.map(String)])]);
    console.log(typeof peer === 'string' ? `peer: ${peer}` : `peer: torch ${peer.torch} on ${peer.device}, TF32 off`);
    console.log('shape                        webgpu ms   torch ms   webgpu/torch speed   webgpu rate      torch rate');
    for (const r of rows) {
      const [M, N, K] = SHAPES[r.i];
      const p = typeof peer === 'string' ? undefined : peer.shapes[r.i].ms;
      const rate = (ms: number) => (M >= 64 ? `${((2 * M * N * K) / ms / 1e9).toFixed(1)} TFLOP/s` : `${((4 * N * K) / ms / 1e6).toFixed(0)} GB/s`);
      console.log([
        r.name.padEnd(28),
        r.ms.toFixed(3).padStart(10),
        (p?.toFixed(3) ?? '-').padStart(10),
        ratio(p, r.ms).padStart(20),
        rate(r.ms).padStart(16),
        (p ? rate(p) : '-').padStart(16),
        r.check !== undefined ? `  spot-check rel err ${r.check.toExponential(1)}` : '',
      ].join(' '));
    }
    console.log(`GPU profile of one ${n}³ nn call:\n${profiled}`);
  } finally {
    be.destroy();
  }
}

await main();
