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

const scratch = new Map<string, Float64Array>();

/**
 * A float64 work buffer owned by one kernel (`owner`), reused across calls: kernels are
 * synchronous, so one buffer per owner is never in use twice, and big per-call allocations
 * (which V8 counts as external memory and answers with full GCs) are avoided. Not zeroed.
 */
export function scratchF64(owner: string, n: number): Float64Array {
  let buf = scratch.get(owner);
  if (!buf || buf.length < n) {
    buf = new Float64Array(Math.max(n, (buf?.length ?? 0) * 2));
    scratch.set(owner, buf);
  }
  return buf;
}

const scratch32 = new Map<string, Float32Array>();

/** As scratchF64, in float32 (operands for sgemm). Not zeroed. */
export function scratchF32(owner: string, n: number): Float32Array {
  let buf = scratch32.get(owner);
  if (!buf || buf.length < n) {
    buf = new Float32Array(Math.max(n, (buf?.length ?? 0) * 2));
    scratch32.set(owner, buf);
  }
  return buf;
}
