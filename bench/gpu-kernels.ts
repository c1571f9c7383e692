/**
 * WebGPU sequence-mixing kernels at the sizes the device README records peers for (H100, fp32,
 * 2026-11-22): the Mamba-1 selective scan (torch reference scan 118 ms), the Mamba-2 chunked SSD
 * (mamba_ssm Triton forward 0.525 ms), and causal attention, prefill and one decode step.
 * Those peers were measured on another day: the ratios are indicative, not side by side.
 *
 *   node dist/bench/gpu-kernels.js [--reps 5] [--scale 1]   (--scale < 1 shrinks L for a smoke run)
 */
import { createWebGpuBackend, type WebGpuBackend } from '../src/backend/webgpu/index.js';
import type { Tensor } from '../src/tensor.js';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function random(n: number, seed: number, lo: number, hi: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((s >>> 8) / 2 ** 24) * (hi - lo);
  }
  return out;
}

/** Best ms per call over 3 rounds of `reps` calls; every output is disposed at once. */
async function time(be: WebGpuBackend, reps: number, call: () => Tensor[]): Promise<{ ms: number; finite: boolean }> {
  const first = call();
  const probe = await first[0].read();
  const finite = probe.every(Number.isFinite);
  first.forEach((t) => t.dispose());
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const t = performance.now();
    for (let i = 0; i < reps; i++) call().forEach((o) => o.dispose());
    await be.sync();
    best = Math.min(best, (performance.now() - t) / reps);
  }
  return { ms: best, finite };
}

async function main(): Promise<void> {
  const reps = flag('--reps', 5);
  const scale = flag('--scale', 1);
  const be = await createWebGpuBackend();
  const u = (shape: number[], seed: number, lo = -1, hi = 1) => be.upload(random(shape.reduce((a, b) => a * b, 1), seed, lo, hi), shape);
  const rows: [string, { ms: number; finite: boolean }, number | undefined, string][] = [];
  try {
    console.log(`webgpu: ${be.info.adapterName} (subgroups ${be.info.subgroups})`);
    {
      const [B, L, D, N] = [8, Math.round(2048 * scale), 1536, 16];
      const args = {
        u: u([B, L, D], 1), delta: u([B, L, D], 2, -4, 0), A: u([D, N], 3, -2, -0.1), Bmat: u([B, L, N], 4), Cmat: u([B, L, N], 5),
        Dskip: u([D], 6), z: u([B, L, D], 7), deltaBias: u([D], 8, -1, 0), deltaSoftplus: true,
      };
      const r = await time(be, reps, () => { const o = be.selectiveScan(args); return [o.y, o.state]; });
      rows.push([`selectiveScan B${B} L${L} D${D} N${N}`, r, scale === 1 ? 118 : undefined, 'torch reference scan']);
    }
    {
      const [B, L, H, P, N, Q] = [8, Math.round(2048 * scale), 24, 64, 128, 256];
      const args = {
        x: u([B, L, H, P], 11), dt: u([B, L, H], 12, -4, 0), A: u([H], 13, -2, -0.1), Bmat: u([B, L, 1, N], 14), Cmat: u([B, L, 1, N], 15),
        Dskip: u([H], 16), dtBias: u([H], 17, -1, 0), dtSoftplus: true, dtLimit: [0, Infinity] as [number, number], chunkSize: Q,
      };
      const r = await time(be, reps, () => { const o = be.ssdChunked(args); return [o.y, o.state]; });
      rows.push([`ssdChunked B${B} L${L} H${H} P${P} N${N} chunk ${Q}`, r, scale === 1 ? 0.525 : undefined, 'mamba_ssm Triton']);
    }
    {
      const [B, L, H, E] = [8, Math.round(2048 * scale), 24, 64];
      const q = u([B, L, H, E], 21), k = u([B, L, H, E], 22), v = u([B, L, H, E], 23);
      const r = await time(be, reps, () => [be.attention(q, k, v, { causal: true, scale: 1 / 8 })]);
      rows.push([`attention prefill B${B} L${L} H${H} E${E} causal`, r, undefined, '']);
      const q1 = u([B, 1, H, E], 24);
      const r1 = await time(be, reps * 10, () => [be.attention(q1, k, v, { causal: true, scale: 1 / 8 })]);
      rows.push([`attention decode B${B} S${L} H${H} E${E}`, r1, undefined, '']);
    }
    console.log('kernel                                          webgpu ms   recorded peer ms   peer/webgpu');
    for (const [name, r, peer, what] of rows) {
      console.log([
        name.padEnd(46),
        r.ms.toFixed(3).padStart(10),
        (peer !== undefined ? `${peer} (${what})` : '-').padStart(30),
        (peer !== undefined ? (peer / r.ms).toFixed(2) : '-').padStart(8),
        r.finite ? '' : '  NON-FINITE OUTPUT',
      ].join(' '));
    }
  } finally {
    be.destroy();
  }
}

await main();
