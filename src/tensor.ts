import type { Backend } from './backend/backend.js';

export type DType = 'f32' | 'i32';
export type HostArray = Float32Array | Int32Array;

/**
 * An n-dimensional array owned by a backend. Row-major, contiguous. `storage` is whatever the
 * backend keeps (a typed array on the CPU, a GPU buffer on WebGPU); only the backend reads it.
 */
export class Tensor {
  readonly size: number;
  constructor(
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly storage: unknown,
    readonly backend: Backend,
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
  }

  /** Copies the data to the host. */
  read(): Promise<HostArray> {
    return this.backend.read(this);
  }

  /** Same storage, new shape (same number of elements). */
  reshape(shape: readonly number[]): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== this.size) throw new Error(`reshape: [${this.shape}] -> [${shape}] changes the size`);
    return new Tensor(shape, this.dtype, this.storage, this.backend);
  }

  dispose(): void {
    this.backend.dispose(this);
  }

  /** Whether the storage was released (only WebGPU releases; the CPU leaves it to the GC). */
  get disposed(): boolean {
    return false;
  }
}

/**
 * Writes into a tensor's storage after its creation (an optimizer step) bump a version, so that
 * values derived from it and cached (A = -exp(A_log)) are recomputed.
 */
const versions = new WeakMap<object, number>();

export function storageVersion(t: Tensor): number {
  return versions.get(t.storage as object) ?? 0;
}

export function markWritten(t: Tensor): void {
  versions.set(t.storage as object, storageVersion(t) + 1);
}
