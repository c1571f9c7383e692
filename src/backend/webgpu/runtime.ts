/**
 * The WebGPU command stream: pipelines cached by WGSL source (kernels generate a source per
 * specialization: tile sizes, optional operands, head dims are baked in as constants), one
 * command encoder that collects every dispatch until the host reads, bind groups cached with
 * their kernel parameters, and device errors (validation, out-of-memory, loss) turned into one
 * clear Error at the next `read`.
 *
 * Ordering rules that keep reuse safe without waiting on the GPU:
 * - dispatches and copies in one encoder run in recording order, so a buffer freed mid-encoder
 *   may be a later kernel's output;
 * - queue.writeBuffer runs before anything still being recorded, so uploads only take buffers
 *   the open encoder has not bound (PooledBuffer.lastUse < serial);
 * - a buffer that cached bind groups name is destroyed only after the encoder that may use them
 *   is submitted, and the cache forgets them first.
 *
 * Recording cost: a decode step records a few hundred dispatches, so each must be cheap on the
 * host. Kernel parameters live in small uniform buffers, one per distinct set of values, written
 * once at creation; bind groups are cached by pipeline, parameter buffer and bound buffers. In a
 * steady loop (same shapes, pooled buffers reused in the same order) nearly every dispatch is a
 * hit that costs setPipeline, setBindGroup and dispatchWorkgroups, with no parameter upload.
 */
import { MapModeRead, Usage, type DeviceInfo } from './device.js';
import { BufferPool, GpuStorage, GpuTensor } from './buffer-pool.js';
import { Profiler, type KernelTime } from './profiler.js';

/** A compute shader with entry point `main`: binding 0 is a uniform `Params`, 1.. are storage. */
export interface Kernel {
  label: string;
  source: string;
}

/** read-back buffers kept per size, and the largest size kept */
const READ_BACKS_KEPT = 8;
const READ_BACK_KEPT_BYTES = 1 << 20;
/** bind groups kept before the cache starts over (each holds a descriptor set) */
const BIND_GROUP_CACHE = 8192;
const COMPUTE_STAGE = 4; // GPUShaderStage.COMPUTE

interface Pipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  id: number;
}


/** The bit pattern of an f32, for a `Params` field declared f32 in WGSL. */
export function f32Bits(x: number): number {
  F32[0] = x;
  return U32[0];
}
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/**
 * Dispatches after which the open encoder is submitted even though nothing needs a result yet:
 * a training step records thousands, and without this the GPU would idle until the host had
 * recorded them all. A decode step (~75) still goes out as one command buffer.
 */
const FLUSH_EVERY = 256;

export class GpuRuntime {
  readonly device: GPUDevice;
  readonly pool: BufferPool;
  /** serial of the open (or next) command encoder */
  private serial = 1;
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  /** dispatches recorded into the open encoder */
  private recorded = 0;
  private readonly pipelines = new Map<string, Pipeline>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly paramBuffers = new Map<string, GPUBuffer>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextId = 1;
  /** mappable read-back buffers by size, reused: a decode loop reads a few bytes every token */
  private readonly readBacks = new Map<number, GPUBuffer[]>();
  /** non-pooled buffers released while the open encoder still binds them */
  private doomed: GPUBuffer[] = [];
  /** parameter buffers of forgotten bind groups, which the open encoder may still use */
  private doomedParams: GPUBuffer[] = [];
  /** error-scope pops not yet settled; `read` waits for them */
  private readonly scopes = new Set<Promise<void>>();
  private failure: Error | undefined;
  private lost = false;
  private profiler: Profiler | undefined;

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
    else {
      this.forgetBindGroups();
      s.buf.buffer.destroy();
    }
  }

  // ---- recording ----------------------------------------------------------------------------

  /**
   * The pipeline of `k`, its layout read off the storage declarations that `header()` writes:
   * binding 0 is the parameters, the others read-only or read-write storage.
   */
  private pipeline(k: Kernel): Pipeline {
    let p = this.pipelines.get(k.source);
    if (!p) {
      const entries: GPUBindGroupLayoutEntry[] = [{ binding: 0, visibility: COMPUTE_STAGE, buffer: { type: 'uniform' } }];
      for (const m of k.source.matchAll(/@binding\((\d+)\) var<storage, (read|read_write)>/g)) {
        entries.push({ binding: Number(m[1]), visibility: COMPUTE_STAGE, buffer: { type: m[2] === 'read' ? 'read-only-storage' : 'storage' } });
      }
      this.device.pushErrorScope('validation');
      const layout = this.device.createBindGroupLayout({ entries, label: k.label });
      const module = this.device.createShaderModule({ code: k.source, label: k.label });
      const pipeline = this.device.createComputePipeline({
        label: k.label,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: 'main' },
      });
      this.watch(this.device.popErrorScope(), (err) => new Error(`WebGPU: kernel ${k.label} failed to compile: ${err.message}`));
      p = { pipeline, layout, id: this.nextId++ };
      this.pipelines.set(k.source, p);
    }
    return p;
  }

  private idOf(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = this.nextId++));
    return id;
  }

  /** A bind group of `p` with `params` (u32 bit patterns) and `storage`, cached by all three. */
  private bindGroup(p: Pipeline, params: readonly number[], storage: readonly GpuStorage[]): GPUBindGroup {
    if (this.bindGroups.size >= BIND_GROUP_CACHE || this.paramBuffers.size >= BIND_GROUP_CACHE) this.forgetBindGroups();
    const uniform = this.paramBuffer(params);
    let key = `${p.id} ${this.idOf(uniform)}`;
    for (const s of storage) key += ` ${this.idOf(s.buf.buffer)}:${s.bytes}`;
    let hit = this.bindGroups.get(key);
    if (!hit) {
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: uniform } }];
      storage.forEach((s, i) => entries.push({ binding: i + 1, resource: { buffer: s.buf.buffer, offset: 0, size: Math.max(4, Math.ceil(s.bytes / 4) * 4) } }));
      hit = this.device.createBindGroup({ layout: p.layout, entries });
      this.bindGroups.set(key, hit);
    }
    return hit;
  }

  /** A uniform buffer holding `params`, shared by every bind group with the same values. */
  private paramBuffer(params: readonly number[]): GPUBuffer {
    const key = params.join(' ');
    let buffer = this.paramBuffers.get(key);
    if (!buffer) {
      buffer = this.createBuffer(Math.max(16, Math.ceil(params.length / 4) * 16), Usage.UNIFORM, 'kernel parameters', true);
      new Uint32Array(buffer.getMappedRange()).set(params);
      buffer.unmap();
      this.paramBuffers.set(key, buffer);
    }
    return buffer;
  }

  /**
   * Empties the bind group cache (buffers are about to be destroyed, or it is full) and the
   * parameter buffers; those go after the open encoder, which may still use them, is submitted.
   */
  private forgetBindGroups(): void {
    this.bindGroups.clear();
    this.doomedParams.push(...this.paramBuffers.values());
    this.paramBuffers.clear();
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

  private bind(s: GpuStorage): void {
    s.buf.lastUse = this.serial;
  }

  /**
   * Records one dispatch. `params` fill the kernel's `Params` (u32 bit patterns, see f32Bits);
   * `storage` binds to 1, 2, ... in order. Nothing runs until the next `flush` (a read, a sync,
   * or every FLUSH_EVERY dispatches).
   */
  dispatch(k: Kernel, params: readonly number[], storage: readonly GpuStorage[], groups: readonly [number, number?, number?]): void {
    this.check();
    const [x, y = 1, z = 1] = groups;
    if (x === 0 || y === 0 || z === 0) return;
    const max = this.info.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) throw new Error(`WebGPU: kernel ${k.label} needs a grid of ${x}x${y}x${z} workgroups; the device allows ${max} per dimension`);
    const p = this.pipeline(k);
    for (const s of storage) this.bind(s);
    if (this.profiler) {
      this.endPass();
      const encoder = this.commandEncoder();
      this.pass = encoder.beginComputePass({ timestampWrites: this.profiler.writes(encoder, k.label) });
    }
    const pass = this.computePass();
    pass.setPipeline(p.pipeline);
    pass.setBindGroup(0, this.bindGroup(p, params, storage));
    pass.dispatchWorkgroups(x, y, z);
    if (this.profiler) this.endPass();
    else if (++this.recorded >= FLUSH_EVERY) this.flush();
  }

  /** Zero-fills storage, in order with the recorded dispatches. */
  clear(s: GpuStorage): void {
    this.check();
    if (s.bytes === 0) return;
    this.endPass();
    this.bind(s);
    this.commandEncoder().clearBuffer(s.buf.buffer, 0, Math.ceil(s.bytes / 4) * 4);
  }

  /**
   * Starts timing every dispatch on the GPU (timestamp queries, one pass per dispatch) until
   * `stopProfile`, which returns the summed milliseconds per kernel label.
   */
  startProfile(): void {
    if (!this.info.timestamps) throw new Error('WebGPU: this device offers no timestamp queries');
    this.flush();
    this.profiler = new Profiler(this.device);
  }

  async stopProfile(): Promise<KernelTime[]> {
    const p = this.profiler;
    if (!p) throw new Error('WebGPU: stopProfile without startProfile');
    p.resolve(this.commandEncoder());
    this.profiler = undefined;
    await this.sync();
    return p.results();
  }

  /** Submits everything recorded so far. */
  flush(): void {
    this.endPass();
    if (!this.encoder) return;
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = undefined;
    this.recorded = 0;
    this.serial++;
    if (this.doomed.length > 0) this.forgetBindGroups();
    for (const b of [...this.doomed, ...this.doomedParams]) b.destroy();
    this.doomed = [];
    this.doomedParams = [];
  }

  /** Flushes, waits for the device and returns a copy of the first `bytes` of `s`. */
  async read(s: GpuStorage): Promise<ArrayBuffer> {
    if (this.failure) {
      await Promise.all(this.scopes); // a root cause may still be on its way
      this.check();
    }
    this.check();
    const size = Math.max(4, Math.ceil(s.bytes / 4) * 4);
    const staging = this.readBacks.get(size)?.pop() ?? this.createBuffer(size, Usage.MAP_READ | Usage.COPY_DST, 'a read-back');
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
    this.keepReadBack(size, staging);
    await Promise.all(this.scopes);
    this.check();
    return out;
  }

  /** Keeps a few small read-back buffers of each size for the next reads; destroys the rest. */
  private keepReadBack(size: number, b: GPUBuffer): void {
    const free = this.readBacks.get(size) ?? [];
    if (size > READ_BACK_KEPT_BYTES || free.length >= READ_BACKS_KEPT || this.lost) {
      b.destroy();
      return;
    }
    free.push(b);
    this.readBacks.set(size, free);
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
    for (const free of this.readBacks.values()) for (const b of free) b.destroy();
    this.readBacks.clear();
    this.forgetBindGroups();
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
    this.bindGroups.clear();
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
