import type { DType, HostArray } from '../tensor.js';

/**
 * A tensor in host memory as `io/` reads and writes it: row-major, contiguous, f32 or i32
 * (every checkpoint dtype is converted to one of the two on load).
 */
export interface HostTensor {
  shape: number[];
  dtype: DType;
  data: HostArray;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
