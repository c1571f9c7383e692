/**
 * Moving operands between tensors and a kernel's block in the shared WebAssembly heap, in the
 * padded row layouts the SIMD kernels read (rows of whole 4-float vectors).
 */
import { heapF32, type ScratchBlock } from './wasm/heap.js';

export const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

/**
 * Reserves `block` for arrays of the given sizes (floats), each 64-byte aligned, and returns the
 * heap view and each array's offset in it (floats).
 */
export function layout(block: ScratchBlock, sizes: readonly number[]): { H: Float32Array; at: number[] } {
  const offsets: number[] = [];
  let total = 0;
  for (const s of sizes) { offsets.push(total); total += roundUp(s, 16); }
  const base = block.reserve(4 * total) / 4;
  return { H: heapF32(), at: offsets.map((o) => base + o) };
}

/**
 * src[srcAt ..] as `rows` rows of `cols` -> H[at ..] as `rowsPadded` rows of `ld` (≥ cols),
 * zero-filled past each row's cols and past the last row.
 */
export function stageRows(
  H: Float32Array, at: number, src: Float32Array, srcAt: number, rows: number, cols: number, ld: number, rowsPadded: number,
): void {
  if (ld === cols) H.set(src.subarray(srcAt, srcAt + rows * cols), at);
  else {
    for (let r = 0; r < rows; r++) {
      H.set(src.subarray(srcAt + r * cols, srcAt + (r + 1) * cols), at + r * ld);
      H.fill(0, at + r * ld + cols, at + (r + 1) * ld);
    }
  }
  H.fill(0, at + rows * ld, at + rowsPadded * ld);
}

/** H[at ..] as rows of ld -> dst[dstAt ..] as `rows` rows of `cols` */
export function unstageRows(H: Float32Array, at: number, dst: Float32Array, dstAt: number, rows: number, cols: number, ld: number): void {
  if (ld === cols) dst.set(H.subarray(at, at + rows * cols), dstAt);
  else for (let r = 0; r < rows; r++) dst.set(H.subarray(at + r * ld, at + r * ld + cols), dstAt + r * cols);
}
