/**
 * Times the CPU sgemm on the Linear layout (x [m, k] · W[n, k]^T, W pinned as the backend pins
 * weights): the best of several runs after a warm-up, so that a noisy shared machine reports what
 * the code can do rather than what the neighbours left it.
 */
import { pinWeight, sgemm, unpinWeight } from '../backend/cpu/gemm.js';

export interface MatmulTiming {
  /** 2 m n k / best time */
  gflops: number;
  /** best time of one call, milliseconds */
  ms: number;
}

/** Runs at least `minReps` calls and until `minMs` of total time, whichever is longer. */
export function benchMatmul(m: number, n: number, k: number, minReps = 5, minMs = 300): MatmulTiming {
  for (const [name, v] of [['m', m], ['n', n], ['k', k]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`benchMatmul: ${name} = ${v} is not a positive integer`);
  }
  // Constant data: f32 multiply-adds take the same time whatever the (normal) values are.
  const A = new Float32Array(m * k).fill(0.5);
  const W = pinWeight(new Float32Array(n * k).fill(0.01));
  const C = new Float32Array(m * n);
  try {
    sgemm(m, n, k, A, W, true, C);
    let best = Infinity;
    const t0 = performance.now();
    for (let r = 0; r < minReps || performance.now() - t0 < minMs; r++) {
      const t = performance.now();
      sgemm(m, n, k, A, W, true, C);
      best = Math.min(best, performance.now() - t);
    }
    return { gflops: (2 * m * n * k) / best / 1e6, ms: best };
  } finally {
    unpinWeight(W);
  }
}
