import type { Backend } from '../backend.js';
import { Tensor } from '../../tensor.js';

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

/** The last dimension and the number of rows before it. */
export function rowsOf(t: Tensor): { rows: number; cols: number } {
  const cols = t.shape[t.shape.length - 1] ?? 1;
  return { rows: cols === 0 ? 0 : t.size / cols, cols };
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export function expectShape(what: string, t: Tensor, shape: readonly number[]): void {
  if (!sameShape(t.shape, shape)) throw new Error(`${what}: expected [${shape}], got [${t.shape}]`);
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
