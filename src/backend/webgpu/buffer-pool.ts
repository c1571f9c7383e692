/**
 * Device memory: a pool of storage buffers by size class, the refcounted storage a tensor points
 * at, and the tensor class whose `reshape` counts the views it makes.
 *
 * Lifetimes are explicit: a tensor's storage returns to the pool when the last tensor viewing it
 * is disposed. Nothing waits for the garbage collector.
 */
import { Tensor, type DType } from '../../tensor.js';
import type { Backend } from '../backend.js';
import { track } from '../scope.js';

/** A device buffer, its byte capacity, and the serial of the last command encoder that bound it. */
export interface PooledBuffer {
  readonly buffer: GPUBuffer;
  readonly capacity: number;
  lastUse: number;
}

/** What a WebGPU tensor's `storage` holds. Several tensors share one after `reshape`. */
export class GpuStorage {
  refs = 1;
  constructor(
    readonly buf: PooledBuffer,
    /** bytes the tensor uses (the buffer may be larger: its size class) */
    readonly bytes: number,
    /** weights live outside the pool and are destroyed, not pooled, when released */
    readonly pooled: boolean,
  ) {}
}

/** A tensor on the WebGPU backend. */
export class GpuTensor extends Tensor {
  declare readonly storage: GpuStorage;
  #disposed = false;

  constructor(shape: readonly number[], dtype: DType, storage: GpuStorage, backend: Backend) {
    super(shape, dtype, storage, backend);
    track(this);
  }

  /** Same storage, new shape; the storage lives until every view of it is disposed. */
  override reshape(shape: readonly number[]): GpuTensor {
    super.reshape(shape); // validates the size
    this.storage.refs++;
    return new GpuTensor(shape, this.dtype, this.storage, this.backend);
  }

  /** Marks this view released; true the first time only, so a double dispose frees nothing twice. */
  markDisposed(): boolean {
    if (this.#disposed) return false;
    this.#disposed = true;
    return true;
  }

  override get disposed(): boolean {
    return this.#disposed || this.storage.refs <= 0;
  }
}

/**
 * Rounds a request up to a size class: powers of two split in eighths above 256 bytes, so a
 * reused buffer wastes at most a quarter of itself while a few classes serve every tensor.
 */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const hi = 2 ** Math.ceil(Math.log2(bytes));
  const step = Math.max(256, hi / 8);
  return Math.ceil(bytes / step) * step;
}

/** Free storage buffers by size class. */
export class BufferPool {
  private readonly free = new Map<number, PooledBuffer[]>();
  private freeBytes = 0;
  /** every buffer this pool made and has not destroyed, in use or free */
  private madeBytes = 0;

  constructor(
    private readonly create: (capacity: number) => GPUBuffer,
    private readonly maxBufferSize: number,
  ) {}

  /**
   * A buffer of at least `bytes`. With `cleanBefore`, only one no command of encoder serial
   * `cleanBefore` or later has bound: queue.writeBuffer into it then cannot overtake a recorded
   * command that still reads its old contents.
   */
  acquire(bytes: number, cleanBefore?: number): PooledBuffer {
    const capacity = Math.min(sizeClass(bytes), Math.max(bytes, this.maxBufferSize));
    const list = this.free.get(capacity);
    if (list) {
      for (let i = list.length - 1; i >= 0; i--) {
        const b = list[i];
        if (cleanBefore === undefined || b.lastUse < cleanBefore) {
          list[i] = list[list.length - 1];
          list.pop();
          this.freeBytes -= capacity;
          return b;
        }
      }
    }
    const buffer = this.create(capacity);
    this.madeBytes += capacity;
    return { buffer, capacity, lastUse: 0 };
  }

  release(b: PooledBuffer): void {
    let list = this.free.get(b.capacity);
    if (!list) this.free.set(b.capacity, (list = []));
    list.push(b);
    this.freeBytes += b.capacity;
  }

  /** Destroys every free buffer except those the open encoder `openSerial` still binds. */
  trim(openSerial: number): void {
    for (const [capacity, list] of this.free) {
      const keep = list.filter((b) => b.lastUse >= openSerial);
      for (const b of list) if (b.lastUse < openSerial) b.buffer.destroy();
      this.freeBytes -= (list.length - keep.length) * capacity;
      this.madeBytes -= (list.length - keep.length) * capacity;
      this.free.set(capacity, keep);
    }
  }

  /** bytes of the free buffers */
  get pooledBytes(): number {
    return this.freeBytes;
  }

  /**
   * Bytes of every buffer the pool holds, in use or free. A loop that disposes what it does not
   * keep stops growing it once warm: each step takes the buffers the previous one gave back.
   */
  get allocatedBytes(): number {
    return this.madeBytes;
  }
}
