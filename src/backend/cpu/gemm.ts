/**
 * Single-precision GEMM for the CPU backend: C[M, N] = A[M, K] · op(B) (+ bias[N]).
 * B is [N, K] (the Linear weight layout, y = x W^T) when transB, else [K, N].
 * Plain reference loops; the fast path (WASM SIMD, worker threads) replaces this body.
 */
export function sgemm(
  M: number, N: number, K: number,
  A: Float32Array, B: Float32Array, transB: boolean,
  C: Float32Array, bias?: Float32Array,
): void {
  for (let i = 0; i < M; i++) {
    const a0 = i * K;
    for (let j = 0; j < N; j++) {
      let s = bias ? bias[j] : 0;
      if (transB) {
        const b0 = j * K;
        for (let k = 0; k < K; k++) s += A[a0 + k] * B[b0 + k];
      } else {
        for (let k = 0; k < K; k++) s += A[a0 + k] * B[k * N + j];
      }
      C[i * N + j] = s;
    }
  }
}

/**
 * Returns an array with w's contents placed where the fast kernels read weights without a copy.
 * (Identity in the reference version.)
 */
export function pinWeight(w: Float32Array): Float32Array {
  return w;
}
