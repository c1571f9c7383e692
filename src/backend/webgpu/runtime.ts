/**
 * The WebGPU command stream: pipelines cached by WGSL source (kernels generate a source per
 * specialization: tile sizes, optional operands, head dims are baked in as constants), one
 * command encoder that collects every dispatch until the host reads, kernel parameters packed
 * into shared uniform chunks, and device errors (validation, out-of-memory, loss) turned into
 * one clear Error at the next `read`.
 *
 * Ordering rules that keep reuse safe without waiting on the GPU:
 * - dispatches and copies in one encoder run in recording order, so a buffer freed mid-encoder
 *   may be a later kernel's output;
 * - queue.writeBuffer runs before anything still being recorded, so uploads only take buffers
 *   the open encoder has not bound (PooledBuffer.lastUse < serial), and uniform chunks are
 *   recycled only after the encoder that used them has been submitted.
 */
import { MapModeRead, Usage, type DeviceInfo } from './device.js';
import { BufferPool, GpuStorage, GpuTensor } from './memory.js';

/** A compute shader with entry point `main`: binding 0 is a uniform `Params`, 1.. are storage. */
export interface Kernel {
  label: string;
  source: string;
}

const UNIFORM_CHUNK = 64 * 1024;

interface UniformChunk {
  buffer: GPUBuffer;
  staging: Uint32Array;
  used: number; // bytes
}

/** The bit pattern of an f32, for a `Params` field declared f32 in WGSL. */
export function f32Bits(x: number): number {
  F32[0] = x;
  return U32[0];
}
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

export class GpuRuntime {
  readonly device: GPUDevice;
  readonly pool: BufferPool;
  /** serial of the open (or next) command encoder */
  private serial = 1;
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private uniform: UniformChunk | undefined;
  private readonly usedChunks: UniformChunk[] = [];
  private readonly freeChunks: UniformChunk[] = [];
  /** non-pooled buffers released while the open encoder still binds them */
  private doomed: GPUBuffer[] = [];
  /** error-scope pops not yet settled; `read` waits for them */
  private readonly scopes = new Set<Promise<void>>();
  private failure: Error | undefined;
  private lost = false;

  constructor(readonly info: DeviceInfo) {
    this.device = info.device;
    this.pool = new BufferPool((capacity) => this.createBuffer(capacity, Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST, 'pool'), info.maxBufferSize);
    this.device.lost.then((e) => {
      this.lost = true;
      if (e.reason !== 'destroyed') this.fail(new Error(`WebGPU device lost: ${e.message || 'no reason given'}`));
    });
    this.device.onuncapturederror = (e) => this.fail(new Error(`WebGPU error: ${e.error.message}`));
  }

  /**
   * Keeps the first error, except that a root cause (a shader that did not compile, reported
   * when its error scope settles) replaces an echo of it ("... invalid due to a previous error").
   */
  private fail(e: Error): void {
    if (!this.failure || (/due to a previous error/.test(this.failure.message) && !/due to a previous error/.test(e.message))) {
      this.failure = e;
    }
  }

  /** Throws when the device can no longer run work (lost, destroyed, or an earlier error). */
  check(): void {
    if (this.failure) throw this.failure;
    if (this.lost) throw new Error('WebGPU: the device was destroyed');
  }

  /** createBuffer under an out-of-memory scope: a failed allocation becomes a clear Error. */
  createBuffer(size: number, usage: number, what: string, mappedAtCreation = false): GPUBuffer {
    if (size > this.info.maxBufferSize) {
      throw new Error(`WebGPU: ${what} needs a ${size}-byte buffer; this device allows at most ${this.info.maxBufferSize} (maxBufferSize)`);
    }
    this.device.pushErrorScope('out-of-memory');
    const buffer = this.device.createBuffer({ size, usage, mappedAtCreation });
    this.watch(this.device.popErrorScope(), (err) =>
      new Error(`WebGPU out of memory allocating ${(size / 2 ** 20).toFixed(1)} MiB for ${what} (${(this.pool.pooledBytes / 2 ** 20).toFixed(1)} MiB idle in the pool): ${err.message}`));
    return buffer;
  }

  private watch(pop: Promise<GPUError | null>, wrap: (e: GPUError) => Error): void {
    const p: Promise<void> = pop.then((err) => {
      if (err) this.fail(wrap(err));
    }, () => undefined).finally(() => this.scopes.delete(p));
    this.scopes.add(p);
  }

  /** A tensor must fit one storage binding, or no kernel could read it. */
  private checkBindable(bytes: number): void {
    this.check();
    if (bytes > this.info.maxStorageBufferBindingSize) {
      throw new Error(`WebGPU: a ${bytes}-byte tensor exceeds this device's maxStorageBufferBindingSize (${this.info.maxStorageBufferBindingSize})`);
    }
  }

  /** Storage for `bytes` from the pool; `forUpload` when the host writes it with writeBuffer. */
  alloc(bytes: number, forUpload = false): GpuStorage {
    this.checkBindable(bytes);
    const buf = this.pool.acquire(Math.max(4, bytes), forUpload ? this.serial : undefined);
    return new GpuStorage(buf, bytes, true);
  }

  /** A buffer outside the pool, filled at creation (no staging copy): for weights. */
  allocFilled(data: Uint8Array): GpuStorage {
    this.checkBindable(data.byteLength);
    const size = Math.max(4, Math.ceil(data.byteLength / 4) * 4);
    const buffer = this.createBuffer(size, Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST, 'a weight', true);
    new Uint8Array(buffer.getMappedRange()).set(data);
    buffer.unmap();
    return new GpuStorage({ buffer, capacity: size, lastUse: 0 }, data.byteLength, false);
  }

  write(s: GpuStorage, data: ArrayBufferView): void {
    if (data.byteLength > 0) this.device.queue.writeBuffer(s.buf.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
  }

  release(s: GpuStorage): void {
    if (--s.refs > 0) return;
    if (s.pooled) this.pool.release(s.buf);
    else if (s.buf.lastUse >= this.serial) this.doomed.push(s.buf.buffer);
    else s.buf.buffer.destroy();
  }

  // ---- recording ----------------------------------------------------------------------------

  private pipeline(k: Kernel): GPUComputePipeline {
    let p = this.pipelines.get(k.source);
    if (!p) {
      this.device.pushErrorScope('validation');
      const module = this.device.createShaderModule({ code: k.source, label: k.label });
      p = this.device.createComputePipeline({
        label: k.label,
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
      });
      this.watch(this.device.popErrorScope(), (err) => new Error(`WebGPU: kernel ${k.label} failed to compile: ${err.message}`));
      this.pipelines.set(k.source, p);
    }
    return p;
  }

  private commandEncoder(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    this.pass ??= this.commandEncoder().beginComputePass();
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }

  /** Copies `params` (u32 bit patterns) into the open uniform chunk; returns its binding. */
  private params(params: readonly number[]): GPUBufferBinding {
    const size = Math.max(16, Math.ceil((params.length * 4) / 16) * 16);
    const align = this.info.minUniformBufferOffsetAlignment;
    let u = this.uniform;
    if (!u || u.used + size > UNIFORM_CHUNK) {
      if (u) this.retireChunk(u);
      u = this.freeChunks.pop() ?? {
        buffer: this.createBuffer(UNIFORM_CHUNK, Usage.UNIFORM | Usage.COPY_DST, 'kernel parameters'),
        staging: new Uint32Array(UNIFORM_CHUNK / 4),
        used: 0,
      };
      this.uniform = u;
    }
    const offset = u.used;
    u.staging.set(params, offset / 4);
    u.used = Math.ceil((offset + size) / align) * align;
    return { buffer: u.buffer, offset, size };
  }

  private retireChunk(u: UniformChunk): void {
    this.device.queue.writeBuffer(u.buffer, 0, u.staging.buffer, 0, Math.min(u.used, UNIFORM_CHUNK));
    this.usedChunks.push(u);
    this.uniform = undefined;
  }

  private bind(s: GpuStorage): GPUBufferBinding {
    s.buf.lastUse = this.serial;
    return { buffer: s.buf.buffer, offset: 0, size: Math.max(4, Math.ceil(s.bytes / 4) * 4) };
  }

  /**
   * Records one dispatch. `params` fill the kernel's `Params` (u32 bit patterns, see f32Bits);
   * `storage` binds to 1, 2, ... in order. Nothing runs until the next `flush`.
   */
  dispatch(k: Kernel, params: readonly number[], storage: readonly GpuStorage[], groups: readonly [number, number?, number?]): void {
    this.check();
    const [x, y = 1, z = 1] = groups;
    if (x === 0 || y === 0 || z === 0) return;
    const max = this.info.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) throw new Error(`WebGPU: kernel ${k.label} needs a grid of ${x}x${y}x${z} workgroups; the device allows ${max} per dimension`);
    const pipeline = this.pipeline(k);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: this.params(params) }];
    storage.forEach((s, i) => entries.push({ binding: i + 1, resource: this.bind(s) }));
    const group = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(x, y, z);
  }

  /** Zero-fills storage, in order with the recorded dispatches. */
  clear(s: GpuStorage): void {
    this.check();
    if (s.bytes === 0) return;
    this.endPass();
    this.bind(s);
    this.commandEncoder().clearBuffer(s.buf.buffer, 0, Math.ceil(s.bytes / 4) * 4);
  }

  /** Submits everything recorded so far. */
  flush(): void {
    this.endPass();
    if (!this.encoder) return;
    if (this.uniform) this.retireChunk(this.uniform);
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = undefined;
    this.serial++;
    for (const u of this.usedChunks.splice(0)) {
      u.used = 0;
      this.freeChunks.push(u);
    }
    for (const b of this.doomed) b.destroy();
    this.doomed = [];
  }

  /** Flushes, waits for the device and returns a copy of the first `bytes` of `s`. */
  async read(s: GpuStorage): Promise<ArrayBuffer> {
    if (this.failure) {
      await Promise.all(this.scopes); // a root cause may still be on its way
      this.check();
    }
    this.check();
    const size = Math.max(4, Math.ceil(s.bytes / 4) * 4);
    const staging = this.createBuffer(size, Usage.MAP_READ | Usage.COPY_DST, 'a read-back');
    this.endPass();
    this.bind(s);
    this.commandEncoder().copyBufferToBuffer(s.buf.buffer, 0, staging, 0, size);
    this.flush();
    try {
      await staging.mapAsync(MapModeRead);
    } catch (e) {
      await Promise.all(this.scopes);
      this.check();
      throw new Error(`WebGPU: reading a tensor back failed: ${(e as Error).message}`);
    }
    const out = staging.getMappedRange().slice(0, s.bytes);
    staging.unmap();
    staging.destroy();
    await Promise.all(this.scopes);
    this.check();
    return out;
  }

  /** Submits recorded work and waits until the device has finished it. */
  async sync(): Promise<void> {
    this.check();
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await Promise.all(this.scopes);
    this.check();
  }

  /** Gives idle pooled buffers back to the driver. */
  trim(): void {
    this.pool.trim(this.serial);
  }

  get destroyed(): boolean {
    return this.lost;
  }

  destroy(): void {
    if (this.lost) return;
    this.lost = true;
    this.pass = undefined;
    this.encoder = undefined;
    this.pipelines.clear();
    this.device.destroy();
  }
}

/** The storage a kernel binds for `t`, refusing a released tensor. */
export function storageOf(t: GpuTensor): GpuStorage {
  if (t.disposed) throw new Error(`WebGPU: a tensor [${t.shape}] was used after dispose`);
  return t.storage;
}

/** Workgroups for `n` invocations of `wg` each: x up to `max`, the rest in y. */
export function grid(n: number, wg: number, max = 65535): [number, number] {
  const groups = Math.ceil(n / wg);
  if (groups <= max) return [groups, 1];
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y];
}

/** Byte length of a tensor's elements (f32 and i32 are both 4 bytes). */
export function bytesOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1) * 4;
}

/** What kernel files need from the backend: the runtime, fresh outputs, checked inputs. */
export interface KernelHost {
  readonly rt: GpuRuntime;
  /** an uninitialized tensor from the pool */
  empty(shape: readonly number[], dtype?: 'f32' | 'i32'): GpuTensor;
  /** host data as a pool tensor (offsets, lengths, tables) */
  upload(data: Float32Array | Int32Array, shape: readonly number[]): GpuTensor;
}
