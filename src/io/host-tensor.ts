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

/**
 * Called by a reader for every tensor of a file, with the dtype it will come back as, before any
 * tensor data is read or allocated; throws to refuse the file (e.g. a shape config.json rules out).
 */
export type CheckEntry = (name: string, shape: readonly number[], dtype: DType) => void;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
