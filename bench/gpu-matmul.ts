/**
 * WebGPU f32 matmul against torch.matmul on the same GPU (cuBLAS, TF32 off), side by side in one
 * run; both take the best of 3 rounds of `reps` back-to-back calls.
 *
 *   node dist/bench/gpu-matmul.js [--reps 20] [--n 4096]   (--n shrinks the shapes for a smoke run)
 *
 * Rows: C = A·B (nn) and y = x·Wᵀ (nt, the Linear layout) at 4096³ in TFLOP/s; the decode
 * matvecs x [M, 4096]·Wᵀ, W [4096, 4096], M = 1 and 8, in GB/s of W read. The 4096³ results are
 * spot-checked against float64 dot products.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createWebGpuBackend, type WebGpuBackend } from '../src/backend/webgpu/index.js';
import type { Tensor } from '../src/tensor.js';

type Layout = 'nn' | 'nt';

interface Peer { torch: string; device: string; shapes: { m: number; n: number; k: number; layout: Layout; ms: number }[] }

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const n = flag('--n', 4096);
const SHAPES: [number, number, number, Layout][] = [
  [n, n, n, 'nn'],
  [n, n, n, 'nt'],
  [1, n, n, 'nt'],
  [8, n, n, 'nt'],
];

function runPeer(reps: number): Peer | string {
  const script = fileURLToPath(new URL('../../bench/peer_torch_matmul.py', import.meta.url));
  const args = [script, '--reps', String(reps), ...SHAPES.flatMap((s) => ['--shape', ...s.map(String)])];
  const r = spawnSync('python3', args, { encoding: 'utf8' });
  if (r.error) return `python3 not runnable (${r.error.message})`;
  if (r.status !== 0) return `python3 ${script} failed: ${(r.stderr || '').trim().split('\n').pop()}`;
  return JSON.parse(r.stdout) as Peer;
}

function random(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 8) / 2 ** 23 - 1;
  }
  return out;
}

/** Best ms per call over 3 rounds of `reps` calls recorded into one submission. */
async function time(be: WebGpuBackend, reps: number, call: () => Tensor): Promise<number> {
  call().dispose();
  await be.sync();
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const t = performance.now();
    for (let i = 0; i < reps; i++) call().dispose();
    await be.sync();
    best = Math.min(best, (performance.now() - t) / reps);
  }
  return best;
}

/** Largest relative error of 16 sampled outputs against float64 dot products. */
async function spotCheck(c: Tensor, a: Float32Array, b: Float32Array, M: number, N: number, K: number, layout: Layout): Promise<number> {
  const got = await c.read();
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
  const be = await createWebGpuBackend();
  try {
    console.log(`webgpu: ${be.info.adapterName} (subgroups ${be.info.subgroups})`);
    const ours: { ms: number; check?: number }[] = [];
    for (const [M, N, K, layout] of SHAPES) {
      const a = random(M * K, 1);
      const b = random(N * K, 2);
      const A = be.upload(a, [M, K]);
      const B = be.uploadWeight(b, layout === 'nt' ? [N, K] : [K, N]);
      const call = () => (layout === 'nt' ? be.linear(A, B) : be.matmul(A, B, false, false));
      const ms = await time(be, M === n ? reps : reps * 10, call);
      const check = M === n ? await spotCheck(call(), a, b, M, N, K, layout) : undefined;
      ours.push({ ms, check });
      A.dispose();
      B.dispose();
    }
    const peer = runPeer(reps);
    console.log(typeof peer === 'string' ? `peer: ${peer}` : `peer: torch ${peer.torch} on ${peer.device}, TF32 off`);
    console.log('shape                    webgpu ms   torch ms   webgpu/torch   webgpu rate      torch rate');
    SHAPES.forEach(([M, N, K, layout], i) => {
      const o = ours[i];
      const p = typeof peer === 'string' ? undefined : peer.shapes[i].ms;
      const rate = (ms: number) => (M >= 64 ? `${((2 * M * N * K) / ms / 1e9).toFixed(1)} TFLOP/s` : `${((4 * N * K) / ms / 1e6).toFixed(0)} GB/s`);
      console.log([
        `${M}x${N}x${K} ${layout}`.padEnd(24),
        o.ms.toFixed(3).padStart(10),
        (p?.toFixed(3) ?? '-').padStart(10),
        (p ? (p / o.ms).toFixed(2) + 'x speed' : '-').padStart(14),
        rate(o.ms).padStart(16),
        (p ? rate(p) : '-').padStart(16),
        o.check !== undefined ? `  spot-check rel err ${o.check.toExponential(1)}` : '',
      ].join(' '));
    });
  } finally {
    be.destroy();
  }
}

await main();
