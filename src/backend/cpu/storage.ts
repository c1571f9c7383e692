import type { Backend } from '../backend.js';
import { Tensor, type DType, type HostArray } from '../../tensor.js';
import { pinWeight } from './gemm.js';

/** The CPU keeps every tensor's data as one contiguous typed array in `storage`. */
export function f32(t: Tensor): Float32Array {
  if (t.dtype !== 'f32') throw new Error(`expected an f32 tensor, got ${t.dtype} [${t.shape}]`);
  return t.storage as Float32Array;
}

export function i32(t: Tensor): Int32Array {
  if (t.dtype !== 'i32') throw new Error(`expected an i32 tensor, got ${t.dtype} [${t.shape}]`);
  return t.storage as Int32Array;
}

export function wrapF32(backend: Backend, shape: readonly number[], data: Float32Array): Tensor {
  return new Tensor(shape, 'f32', data, backend);
}

export function upload(be: Backend, data: HostArray, shape: readonly number[]): Tensor {
  const dtype: DType = data instanceof Int32Array ? 'i32' : 'f32';
  return new Tensor(shape, dtype, data.slice(), be);
}

export function uploadWeight(be: Backend, data: Float32Array, shape: readonly number[]): Tensor {
  return wrapF32(be, shape, pinWeight(data));
}

export function zeros(be: Backend, shape: readonly number[], dtype: DType = 'f32'): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(shape, dtype, dtype === 'f32' ? new Float32Array(n) : new Int32Array(n), be);
}

/** A copy, so that callers never alias a tensor the backend may still use. */
export function read(t: Tensor): HostArray {
  return t.dtype === 'f32' ? f32(t).slice() : i32(t).slice();
}

/** The last dimension and the number of rows before it. */
export function rowsOf(t: Tensor): { rows: number; cols: number } {
  const cols = t.shape[t.shape.length - 1] ?? 1;
  return { rows: cols === 0 ? 0 : t.size / cols, cols };
}

type Scratch = Float64Array | Float32Array;
const scratch = new Map<string, Scratch>();

/** The buffer `owner` keeps in `make`'s type, grown (doubling) to at least n. */
function scratchOf<T extends Scratch>(make: new (n: number) => T, owner: string, n: number): T {
  let buf = scratch.get(owner) as T | undefined;
  if (!buf || buf.length < n) {
    buf = new make(Math.max(n, (buf?.length ?? 0) * 2));
    scratch.set(owner, buf);
  }
  return buf;
}

/**
 * A float64 work buffer owned by one kernel (`owner`), reused across calls: kernels are
 * synchronous, so one buffer per owner is never in use twice, and big per-call allocations
 * (which V8 counts as external memory and answers with full GCs) are avoided. Not zeroed.
 */
export function scratchF64(owner: string, n: number): Float64Array {
  return scratchOf(Float64Array, owner, n);
}

/** As scratchF64, in float32 (operands for sgemm); owners name one type each. Not zeroed. */
export function scratchF32(owner: string, n: number): Float32Array {
  return scratchOf(Float32Array, owner, n);
}
