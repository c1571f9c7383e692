/**
 * The WebGPU backend: the Backend interface over the runtime (command stream, pool, pipelines)
 * and the WGSL kernels in ./kernels. Ops check shapes on the host, record their dispatches and
 * return at once; only `read` waits for the device.
 *
 * Node: Dawn keeps the process alive until the device is destroyed, so call `destroy()` when done.
 */
import type { AdamWStep, Backend, Mamba2StepArgs, RowNorm, SelectiveScanArgs, SsdArgs } from '../backend.js';
import { check, expect, last } from '../checks.js';
import { tidy } from '../scope.js';
import type { DType, HostArray, Tensor } from '../../tensor.js';
import { openDevice, type DeviceInfo, type WebGpuOptions } from './device.js';

export type { WebGpuOptions };
import { WebGpuGradKernels } from './grad-kernels.js';
import { GpuTensor } from './buffer-pool.js';
import { bytesOf, GpuRuntime, storageOf, type KernelHost } from './runtime.js';
import { adamw } from './kernels/adamw.js';
import { attention } from './kernels/attention.js';
import { causalConv1d } from './kernels/conv.js';
import { binary, unary } from './kernels/elementwise.js';
import { concat, embedding, split, writeAt } from './kernels/layout.js';
import { rotary } from './kernels/rotary.js';
import { matmul, type MatmulTuning } from './kernels/matmul.js';
import { normLinear } from './kernels/norm-linear.js';
import { gatedRmsNorm, rmsNorm, softmax } from './kernels/norms.js';
import { sumOfSquares } from './kernels/reduce.js';
import { selectiveScan } from './kernels/selective-scan.js';
import { argmax } from './kernels/argmax.js';
import { ssdChunked } from './kernels/ssd/ssd.js';
import { mamba2Step, stepBindings, type StepArgs } from './kernels/mamba2-step.js';

/** Training kernels (GradKernels) come from the base class, see grad-kernels.ts. */
export class WebGpuBackend extends WebGpuGradKernels implements Backend, KernelHost {
  readonly name = 'webgpu' as const;
  readonly compilesKernels = true;
  readonly rt: GpuRuntime;

  constructor(info: DeviceInfo) {
    super();
    this.rt = new GpuRuntime(info);
  }

  get info(): DeviceInfo {
    return this.rt.info;
  }

  /** A tensor of this backend that is still alive. */
  protected g(t: Tensor | undefined, what: string): GpuTensor {
    if (!(t instanceof GpuTensor) || t.backend !== this) throw new Error(`webgpu ${what}: the tensor is not on this WebGPU backend`);
    storageOf(t);
    return t;
  }

  // ---- memory -------------------------------------------------------------------------------

  empty(shape: readonly number[], dtype: DType = 'f32'): GpuTensor {
    return new GpuTensor(shape, dtype, this.rt.alloc(bytesOf(shape)), this);
  }

  upload(data: HostArray, shape: readonly number[]): GpuTensor {
    check.upload('upload', data, shape);
    const s = this.rt.alloc(data.byteLength, true);
    this.rt.write(s, data);
    return new GpuTensor(shape, data instanceof Int32Array ? 'i32' : 'f32', s, this);
  }

  uploadWeight(data: Float32Array, shape: readonly number[]): GpuTensor {
    check.upload('uploadWeight', data, shape);
    const s = this.rt.allocFilled(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return new GpuTensor(shape, 'f32', s, this);
  }

  zeros(shape: readonly number[], dtype: DType = 'f32'): GpuTensor {
    const t = this.empty(shape, dtype);
    this.rt.clear(t.storage);
    return t;
  }

  async read(t: Tensor): Promise<HostArray> {
    const buf = await this.rt.read(storageOf(this.g(t, 'read')));
    return t.dtype === 'i32' ? new Int32Array(buf) : new Float32Array(buf);
  }

  dispose(t: Tensor): void {
    if (!(t instanceof GpuTensor) || t.backend !== this) throw new Error('webgpu dispose: the tensor is not on this WebGPU backend');
    if (t.markDisposed()) this.rt.release(t.storage);
  }

  /** Submits recorded work without waiting for it. */
  flush(): void {
    this.rt.flush();
  }

  /** Submits recorded work and waits for the device to finish it (for timing). */
  sync(): Promise<void> {
    return this.rt.sync();
  }

  /** Gives the pool's idle buffers back to the driver (say, between two models). */
  trim(): void {
    this.rt.trim();
  }

  /** Runs `fn`, then disposes the tensors it made that its result does not hold (see ../scope.ts). */
  tidy<T>(fn: () => T): T {
    return tidy(fn);
  }

  /** Frees the device (and, in Node, lets the process exit). The backend is unusable after. */
  destroy(): void {
    this.rt.destroy();
  }

  release(): void {
    this.destroy();
  }

  get description(): string {
    return `webgpu (${this.rt.info.adapterName || 'unnamed adapter'})`;
  }

  get destroyed(): boolean {
    return this.rt.destroyed;
  }

  // ---- linear algebra -------------------------------------------------------------------------

  linear(x: Tensor, w: Tensor, bias?: Tensor): Tensor {
    check.linear(x, w, bias);
    const [N, K] = w.shape;
    const M = K === 0 ? x.size : x.size / K;
    return matmul(this, this.g(x, 'linear'), this.g(w, 'linear'), M, N, K, false, true,
      bias && this.g(bias, 'linear'), [...x.shape.slice(0, -1), N]);
  }

  matmul(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
    return this.matmulTuned(a, b, transA, transB);
  }

  /** `matmul` through the tiled kernel run as `tuning` says (for benchmarks and tests of each). */
  matmulTuned(a: Tensor, b: Tensor, transA: boolean, transB: boolean, tuning?: MatmulTuning): Tensor {
    check.matmul(a, b, transA, transB);
    const [M, K] = transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
    const N = transB ? b.shape[0] : b.shape[1];
    return matmul(this, this.g(a, 'matmul'), this.g(b, 'matmul'), M, N, K, transA, transB, undefined, [M, N], tuning);
  }

  embedding(table: Tensor, ids: Tensor): Tensor {
    check.embedding(table, ids);
    return embedding(this, this.g(table, 'embedding'), this.g(ids, 'embedding'));
  }

  // ---- elementwise / shape ----------------------------------------------------------------------

  add(a: Tensor, b: Tensor): Tensor {
    check.elementwise('add', a, b);
    return binary(this, 'add', this.g(a, 'add'), this.g(b, 'add'));
  }

  mul(a: Tensor, b: Tensor): Tensor {
    check.elementwise('mul', a, b);
    return binary(this, 'mul', this.g(a, 'mul'), this.g(b, 'mul'));
  }

  silu(x: Tensor): Tensor {
    return unary(this, 'silu', this.g(x, 'silu'));
  }

  relu(x: Tensor): Tensor {
    return unary(this, 'relu', this.g(x, 'relu'));
  }

  gelu(x: Tensor): Tensor {
    return unary(this, 'gelu', this.g(x, 'gelu'));
  }

  softplus(x: Tensor): Tensor {
    return unary(this, 'softplus', this.g(x, 'softplus'));
  }

  exp(x: Tensor): Tensor {
    return unary(this, 'exp', this.g(x, 'exp'));
  }

  split(x: Tensor, sizes: readonly number[]): Tensor[] {
    check.split(x, sizes);
    return split(this, this.g(x, 'split'), sizes);
  }

  concat(xs: readonly Tensor[]): Tensor {
    check.concat(xs);
    return concat(this, xs.map((t) => this.g(t, 'concat')));
  }

  // ---- normalization / softmax ------------------------------------------------------------------

  rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
    check.rmsNorm(x, weight);
    return rmsNorm(this, this.g(x, 'rmsNorm'), this.g(weight, 'rmsNorm'), eps);
  }

  gatedRmsNorm(x: Tensor, z: Tensor, weight: Tensor, eps: number, groupSize: number, normBeforeGate: boolean): Tensor {
    check.gatedRmsNorm(x, z, weight, groupSize);
    return gatedRmsNorm(this, this.g(x, 'gatedRmsNorm'), this.g(z, 'gatedRmsNorm'), this.g(weight, 'gatedRmsNorm'),
      eps, groupSize, normBeforeGate);
  }

  softmax(x: Tensor): Tensor {
    return softmax(this, this.g(x, 'softmax'), false);
  }

  logSoftmax(x: Tensor): Tensor {
    return softmax(this, this.g(x, 'logSoftmax'), true);
  }

  // ---- sequence mixing --------------------------------------------------------------------------

  causalConv1d(x: Tensor, weight: Tensor, bias: Tensor | undefined, state: Tensor | undefined, silu: boolean): { y: Tensor; state: Tensor } {
    check.causalConv1d(x, weight, bias, state);
    return causalConv1d(this, this.g(x, 'causalConv1d'), this.g(weight, 'causalConv1d'),
      bias && this.g(bias, 'causalConv1d'), state && this.g(state, 'causalConv1d'), silu);
  }

  selectiveScan(args: SelectiveScanArgs): { y: Tensor; state: Tensor } {
    check.selectiveScan(args);
    for (const t of [args.u, args.delta, args.A, args.Bmat, args.Cmat, args.Dskip, args.z, args.deltaBias, args.state]) {
      if (t) this.g(t, 'selectiveScan');
    }
    return selectiveScan(this, args);
  }

  ssdChunked(args: SsdArgs): { y: Tensor; state: Tensor } {
    check.ssdChunked(args);
    for (const t of [args.x, args.dt, args.A, args.Bmat, args.Cmat, args.Dskip, args.dtBias, args.state]) {
      if (t) this.g(t, 'ssdChunked');
    }
    return ssdChunked(this, args);
  }

  attention(q: Tensor, k: Tensor, v: Tensor, opts: { causal: boolean; scale: number; kvLen?: Int32Array }): Tensor {
    check.attention(q, k, v, opts);
    const kvLen = opts.kvLen ?? new Int32Array(q.shape[0]).fill(k.shape[1]);
    return attention(this, this.g(q, 'attention'), this.g(k, 'attention'), this.g(v, 'attention'), opts.causal, opts.scale, kvLen);
  }

  rotary(x: Tensor, pos0: Int32Array, rotaryDim: number, base: number, interleaved: boolean): Tensor {
    check.rotary(x, pos0, rotaryDim);
    return rotary(this, this.g(x, 'rotary'), pos0, rotaryDim, base, interleaved);
  }

  writeAt(dst: Tensor, src: Tensor, offset: Int32Array): Tensor {
    check.writeAt(dst, src, offset);
    return writeAt(this, this.g(dst, 'writeAt'), this.g(src, 'writeAt'), offset);
  }

  // ---- decoding -----------------------------------------------------------------------------------

  normLinear(x: Tensor, norm: RowNorm | undefined, w: Tensor, bias?: Tensor, residual?: Tensor): Tensor {
    check.normLinear(x, norm, w, bias, residual);
    const what = 'normLinear';
    const [wg, bg, rg] = [w, bias, residual].map((t) => t && this.g(t, what));
    return normLinear(this, this.g(x, what), norm && { ...norm, weight: this.g(norm.weight, what) }, wg!, bg, rg);
  }

  mamba2Step(args: Mamba2StepArgs): { y: Tensor; conv: Tensor } {
    check.mamba2Step(args);
    const what = 'mamba2Step';
    const g = (t: Tensor | undefined) => t && this.g(t, what);
    const a: StepArgs = {
      proj: g(args.proj)!, convWeight: g(args.convWeight)!, convBias: g(args.convBias), conv: g(args.conv)!, ssm: g(args.ssm)!,
      A: g(args.A)!, Dskip: g(args.Dskip), dtBias: g(args.dtBias), dtLimit: args.dtLimit, nGroups: args.nGroups,
    };
    const limit = this.rt.info.maxStorageBuffersPerShaderStage;
    expect(args.ssm, stepBindings(a) <= limit, () => `${what}: binds ${stepBindings(a)} storage buffers; this device allows ${limit} per stage`);
    return mamba2Step(this, a);
  }

  // ---- reductions ---------------------------------------------------------------------------------

  argmax(logits: Tensor, vocab = last(logits)): Tensor {
    check.argmax(logits, vocab);
    return argmax(this, this.g(logits, 'argmax'), vocab);
  }

  sumOfSquares(xs: readonly Tensor[]): Tensor {
    return sumOfSquares(this, xs.map((x) => this.g(x, 'sumOfSquares')));
  }

  // ---- training -----------------------------------------------------------------------------------

  adamw(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, opts: AdamWStep): void {
    check.adamw(param, grad, m, v);
    adamw(this, this.g(param, 'adamw'), this.g(grad, 'adamw'), this.g(m, 'adamw'), this.g(v, 'adamw'), opts);
  }
}

/** Opens the GPU (navigator.gpu, or Dawn in Node) and returns a backend on it. */
export async function createWebGpuBackend(options: WebGpuOptions = {}): Promise<WebGpuBackend> {
  return new WebGpuBackend(await openDevice(options));
}
