/**
 * What the WebGPU benchmarks share: flags, seeded inputs, timing over whole submissions, the
 * Python peers (run in the same process tree, so on the same GPU in the same minute) and the
 * per-kernel profile printout.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WebGpuBackend } from '../src/backend/webgpu/backend.js';

export function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Seeded uniform values in [lo, hi) (never all zeros: zeros can run faster than real data). */
export function random(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((s >>> 8) / 2 ** 24) * (hi - lo);
  }
  return out;
}

/**
 * Best milliseconds per call over 3 rounds of `reps` calls recorded into one submission each,
 * after a warm-up call (pipelines compiled, pool filled). `call` disposes what it makes.
 */
export async function timeGpu(be: WebGpuBackend, reps: number, call: () => void): Promise<number> {
  call();
  await be.sync();
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const t = performance.now();
    for (let i = 0; i < reps; i++) call();
    await be.sync();
    best = Math.min(best, (performance.now() - t) / reps);
  }
  return best;
}

/** GPU milliseconds per kernel label of one `call`, by timestamp queries; slowest first. */
export async function profile(be: WebGpuBackend, call: () => void): Promise<string> {
  if (!be.info.timestamps) return '  (no timestamp queries on this device)';
  be.rt.startProfile();
  call();
  const rows = await be.rt.stopProfile();
  const total = rows.reduce((a, r) => a + r.ms, 0);
  return [...rows.slice(0, 12).map((r) => `  ${r.ms.toFixed(3).padStart(9)} ms ${String(r.count).padStart(5)}x  ${r.label}`),
    `  ${total.toFixed(3).padStart(9)} ms total GPU time (one pass per dispatch while profiling)`].join('\n');
}

/**
 * Runs a Python peer script of bench/ with `args` (and `env` added), for at most `timeoutS`
 * seconds; its stdout's JSON, or why there is none.
 */
export function runPeer<T>(script: string, args: string[], env: Record<string, string> = {}, timeoutS = 240): T | string {
  const path = fileURLToPath(new URL(`../../bench/${script}`, import.meta.url));
  const r = spawnSync('python3', [path, ...args], {
    encoding: 'utf8', maxBuffer: 1 << 24, env: { ...process.env, ...env }, timeout: timeoutS * 1000, killSignal: 'SIGKILL',
  });
  if (r.error) {
    const timedOut = (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
    return timedOut ? `python3 ${script} ${args[0] ?? ''} gave no answer within ${timeoutS} s` : `python3 not runnable (${r.error.message})`;
  }
  if (r.status !== 0) return `python3 ${script} ${args[0] ?? ''} failed: ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`;
  return JSON.parse(r.stdout) as T;
}

export const ratio = (a: number | undefined, b: number | undefined): string => (a && b ? (a / b).toFixed(2) : '-');
