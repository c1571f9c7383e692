/**
 * The WebGPU backend: the Backend interface over the runtime (command stream, pool, pipelines)
 * and the WGSL kernels in ./kernels. Ops check shapes on the host, record their dispatches and
 * return at once; only `read` waits for the device.
 *
 * Node: Dawn keeps the process alive until the device is destroyed, so call `destroy()` when done.
 */
import type { AdamWStep, Backend, Mamba2StepArgs, RowNorm, SelectiveScanArgs, SsdArgs } from '../backend.js';
import type { DType, HostArray, Tensor } from '../../tensor.js';
import { openDevice, type DeviceInfo, type WebGpuOptions } from './device.js';
import { WebGpuGradKernels } from './grad-kernels.js';
import { GpuTensor, tidy } from './memory.js';
import { bytesOf, GpuRuntime, storageOf, type KernelHost } from './runtime.js';
import { adamw } from './kernels/adamw.js';
import { attention } from './kernels/attention.js';
import { causalConv1d } from './kernels/conv.js';
import { binary, unary } from './kernels/elementwise.js';
import { concat, embedding, rotary, split, writeAt } from './kernels/layout.js';
import { matmul, type MatmulTuning } from './kernels/matmul.js';
import { gemv, GEMV_ROWS, GEMV_SCALES } from './kernels/gemv.js';
import { gatedRmsNorm, groupRmsNorm, rmsNorm, softmax } from './kernels/norms.js';
import { selectiveScan } from './kernels/scan.js';
import { argmax } from './kernels/sample.js';
import { ssdChunked } from './kernels/ssd.js';
import { mamba2Step, stepBindings, type StepArgs } from './kernels/ssd-step.js';

/** Checks a precondition; the message is built only when it fails (ops run per dispatch). */
function expect(ok: boolean, what: () => string): void {
  if (!ok) throw new Error(`webgpu ${what()}`);
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
const last = (t: Tensor) => t.shape[t.shape.length - 1];

/** Training kernels (GradKernels) come from the base class, see grad-kernels.ts. */
export class WebGpuBackend extends WebGpuGradKernels implements Backend, KernelHost {
  readonly name = 'webgpu' as const;
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
    expect(data.length === shape.reduce((a, b) => a * b, 1), () => `upload: ${data.length} values for shape [${shape}]`);
    const s = this.rt.alloc(data.byteLength, true);
    this.rt.write(s, data);
    return new GpuTensor(shape, data instanceof Int32Array ? 'i32' : 'f32', s, this);
  }

  uploadWeight(data: Float32Array, shape: readonly number[]): GpuTensor {
    expect(data.length === shape.reduce((a, b) => a * b, 1), () => `uploadWeight: ${data.length} values for shape [${shape}]`);
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

  /** Runs `fn`, then disposes the tensors it made that its result does not hold (see memory.ts). */
  tidy<T>(fn: () => T): T {
    return tidy(fn);
  }

  /**
   * logits [..., V] -> ids i32 [...]: per row, the index of the largest of the first `vocab`
   * logits (the first on ties; NaN never wins). The ids stay on the device.
   */
  argmax(logits: Tensor, vocab = last(logits)): Tensor {
    expect(logits.dtype === 'f32' && logits.shape.length >= 1, () => `argmax: needs f32 logits, got ${logits.dtype} [${logits.shape}]`);
    expect(Number.isInteger(vocab) && vocab >= 1 && vocab <= last(logits), () => `argmax: vocab ${vocab} for rows of ${last(logits)}`);
    return argmax(this, this.g(logits, 'argmax'), vocab);
  }

  /** Frees the device (and, in Node, lets the process exit). The backend is unusable after. */
  destroy(): void {
    this.rt.destroy();
  }

  get destroyed(): boolean {
    return this.rt.destroyed;
  }

  // ---- linear algebra -------------------------------------------------------------------------

  linear(x: Tensor, w: Tensor, bias?: Tensor): Tensor {
    const [N, K] = w.shape;
    expect(w.shape.length === 2 && last(x) === K, () => `linear: x [${x.shape}] and weight [${w.shape}] do not match`);
    expect(!bias || same(bias.shape, [N]), () => `linear: bias [${bias?.shape}] is not [${N}]`);
    const M = K === 0 ? x.size : x.size / K;
    return matmul(this, this.g(x, 'linear'), this.g(w, 'linear'), M, N, K, false, true,
      bias && this.g(bias, 'linear'), [...x.shape.slice(0, -1), N]);
  }

  matmul(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
    expect(a.shape.length === 2 && b.shape.length === 2, () => `matmul: needs 2-D operands, got [${a.shape}] and [${b.shape}]`);
    const [M, K] = transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
    const [Kb, N] = transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
    expect(K === Kb, () => `matmul: inner dimensions differ (${K} vs ${Kb})`);
    return matmul(this, this.g(a, 'matmul'), this.g(b, 'matmul'), M, N, K, transA, transB, undefined, [M, N]);
  }

  /** `matmul` through the tiled kernel run as `tuning` says (for benchmarks and tests of each). */
  matmulTuned(a: Tensor, b: Tensor, transA: boolean, transB: boolean, tuning: MatmulTuning): Tensor {
    const [M, K] = transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
    const N = transB ? b.shape[0] : b.shape[1];
    expect(a.shape.length === 2 && b.shape.length === 2 && K === (transB ? b.shape[1] : b.shape[0]), () => `matmulTuned: [${a.shape}] and [${b.shape}]`);
    return matmul(this, this.g(a, 'matmul'), this.g(b, 'matmul'), M, N, K, transA, transB, undefined, [M, N], tuning);
  }

  embedding(table: Tensor, ids: Tensor): Tensor {
    expect(table.shape.length === 2 && ids.dtype === 'i32', () => `embedding: needs table [V, C] and i32 ids, got [${table.shape}] and ${ids.dtype}`);
    return embedding(this, this.g(table, 'embedding'), this.g(ids, 'embedding'));
  }

  // ---- elementwise / shape ----------------------------------------------------------------------

  add(a: Tensor, b: Tensor): Tensor {
    expect(same(a.shape, b.shape), () => `add: shapes [${a.shape}] and [${b.shape}] differ`);
    return binary(this, 'add', this.g(a, 'add'), this.g(b, 'add'));
  }

  mul(a: Tensor, b: Tensor): Tensor {
    expect(same(a.shape, b.shape), () => `mul: shapes [${a.shape}] and [${b.shape}] differ`);
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
    expect(sizes.reduce((a, b) => a + b, 0) === last(x), () => `split: sizes ${sizes} do not add up to ${last(x)}`);
    return split(this, this.g(x, 'split'), sizes);
  }

  concat(xs: readonly Tensor[]): Tensor {
    expect(xs.length > 0, () => 'concat: nothing to concatenate');
    const lead = xs[0].shape.slice(0, -1);
    for (const t of xs) {
      expect(same(t.shape.slice(0, -1), lead) && t.dtype === xs[0].dtype, () => `concat: [${t.shape}] does not match [${xs[0].shape}]`);
    }
    return concat(this, xs.map((t) => this.g(t, 'concat')));
  }

  // ---- normalization / softmax ------------------------------------------------------------------

  rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
    expect(weight.size === last(x), () => `rmsNorm: weight [${weight.shape}] for x [${x.shape}]`);
    return rmsNorm(this, this.g(x, 'rmsNorm'), this.g(weight, 'rmsNorm'), eps);
  }

  gatedRmsNorm(x: Tensor, z: Tensor, weight: Tensor, eps: number, groupSize: number, normBeforeGate: boolean): Tensor {
    expect(same(x.shape, z.shape), () => `gatedRmsNorm: x [${x.shape}] and z [${z.shape}] differ`);
    expect(weight.size === last(x) && groupSize > 0 && last(x) % groupSize === 0,
      () => `gatedRmsNorm: weight [${weight.shape}], group size ${groupSize} for x [${x.shape}]`);
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
    const [B, , C] = x.shape;
    const K = weight.shape[1];
    expect(x.shape.length === 3 && same(weight.shape, [C, K]), () => `causalConv1d: x [${x.shape}], weight [${weight.shape}]`);
    expect(!bias || same(bias.shape, [C]), () => `causalConv1d: bias [${bias?.shape}] is not [${C}]`);
    expect(!state || same(state.shape, [B, C, K - 1]), () => `causalConv1d: state [${state?.shape}] is not [${B}, ${C}, ${K - 1}]`);
    return causalConv1d(this, this.g(x, 'causalConv1d'), this.g(weight, 'causalConv1d'),
      bias && this.g(bias, 'causalConv1d'), state && this.g(state, 'causalConv1d'), silu);
  }

  selectiveScan(args: SelectiveScanArgs): { y: Tensor; state: Tensor } {
    const [B, L, D] = args.u.shape;
    const N = args.A.shape[1];
    const what = 'selectiveScan';
    expect(same(args.delta.shape, [B, L, D]) && same(args.A.shape, [D, N]), () => `${what}: u [${args.u.shape}], delta [${args.delta.shape}], A [${args.A.shape}]`);
    expect(same(args.Bmat.shape, [B, L, N]) && same(args.Cmat.shape, [B, L, N]), () => `${what}: B [${args.Bmat.shape}] / C [${args.Cmat.shape}] are not [${B}, ${L}, ${N}]`);
    expect(!args.z || same(args.z.shape, [B, L, D]), () => `${what}: z [${args.z?.shape}]`);
    expect(!args.Dskip || args.Dskip.size === D, () => `${what}: D [${args.Dskip?.shape}]`);
    expect(!args.deltaBias || args.deltaBias.size === D, () => `${what}: deltaBias [${args.deltaBias?.shape}]`);
    expect(!args.state || same(args.state.shape, [B, D, N]), () => `${what}: state [${args.state?.shape}] is not [${B}, ${D}, ${N}]`);
    for (const t of [args.u, args.delta, args.A, args.Bmat, args.Cmat, args.Dskip, args.z, args.deltaBias, args.state]) {
      if (t) this.g(t, what);
    }
    return selectiveScan(this, args);
  }

  ssdChunked(args: SsdArgs): { y: Tensor; state: Tensor } {
    const [B, L, H, P] = args.x.shape;
    const [, , G, N] = args.Bmat.shape;
    const what = 'ssdChunked';
    expect(same(args.dt.shape, [B, L, H]) && same(args.A.shape, [H]), () => `${what}: x [${args.x.shape}], dt [${args.dt.shape}], A [${args.A.shape}]`);
    expect(args.Bmat.shape.length === 4 && same(args.Bmat.shape, [B, L, G, N]) && same(args.Cmat.shape, [B, L, G, N]) && G > 0 && H % G === 0,
      () => `${what}: B [${args.Bmat.shape}] / C [${args.Cmat.shape}] for ${H} heads`);
    expect(!args.Dskip || same(args.Dskip.shape, [H]) || same(args.Dskip.shape, [H, P]), () => `${what}: D [${args.Dskip?.shape}]`);
    expect(!args.dtBias || same(args.dtBias.shape, [H]), () => `${what}: dtBias [${args.dtBias?.shape}]`);
    expect(!args.state || same(args.state.shape, [B, H, P, N]), () => `${what}: state [${args.state?.shape}] is not [${B}, ${H}, ${P}, ${N}]`);
    expect(Number.isInteger(args.chunkSize) && args.chunkSize > 0, () => `${what}: chunkSize ${args.chunkSize}`);
    for (const t of [args.x, args.dt, args.A, args.Bmat, args.Cmat, args.Dskip, args.dtBias, args.state]) {
      if (t) this.g(t, what);
    }
    return ssdChunked(this, args);
  }

  attention(q: Tensor, k: Tensor, v: Tensor, opts: { causal: boolean; scale: number; kvLen?: Int32Array }): Tensor {
    const [B, , Hq, E] = q.shape;
    const [, S, Hkv] = k.shape;
    expect(q.shape.length === 4 && same(k.shape, [B, S, Hkv, E]) && same(v.shape, k.shape) && Hkv > 0 && Hq % Hkv === 0,
      () => `attention: q [${q.shape}], k [${k.shape}], v [${v.shape}]`);
    const kvLen = opts.kvLen ?? new Int32Array(B).fill(S);
    expect(kvLen.length === B && kvLen.every((n) => n >= 0 && n <= S), () => `attention: kvLen [${kvLen}] must hold ${B} counts in 0..${S}`);
    return attention(this, this.g(q, 'attention'), this.g(k, 'attention'), this.g(v, 'attention'), opts.causal, opts.scale, kvLen);
  }

  rotary(x: Tensor, pos0: Int32Array, rotaryDim: number, base: number, interleaved: boolean): Tensor {
    expect(x.shape.length === 4 && pos0.length === x.shape[0], () => `rotary: x [${x.shape}] with ${pos0.length} start positions`);
    expect(rotaryDim % 2 === 0 && rotaryDim <= x.shape[3], () => `rotary: rotaryDim ${rotaryDim} for head dim ${x.shape[3]}`);
    return rotary(this, this.g(x, 'rotary'), pos0, rotaryDim, base, interleaved);
  }

  writeAt(dst: Tensor, src: Tensor, offset: Int32Array): Tensor {
    const [B, Ls] = src.shape;
    const S = dst.shape[1];
    expect(dst.shape[0] === B && same(dst.shape.slice(2), src.shape.slice(2)) && dst.dtype === src.dtype,
      () => `writeAt: src [${src.shape}] does not fit dst [${dst.shape}]`);
    expect(offset.length === B && offset.every((o) => o >= 0 && o + Ls <= S), () => `writeAt: offsets [${offset}] + ${Ls} must stay within ${S}`);
    return writeAt(this, this.g(dst, 'writeAt'), this.g(src, 'writeAt'), offset);
  }

  // ---- decoding -----------------------------------------------------------------------------------

  normLinear(x: Tensor, norm: RowNorm | undefined, w: Tensor, bias?: Tensor, residual?: Tensor): Tensor {
    const [N, K] = w.shape;
    const what = 'normLinear';
    expect(w.shape.length === 2 && last(x) === K, () => `${what}: x [${x.shape}] and weight [${w.shape}] do not match`);
    expect(!bias || same(bias.shape, [N]), () => `${what}: bias [${bias?.shape}] is not [${N}]`);
    const outShape = [...x.shape.slice(0, -1), N];
    expect(!residual || same(residual.shape, outShape), () => `${what}: residual [${residual?.shape}] is not [${outShape}]`);
    expect(!norm || (norm.weight.size === K && norm.groupSize > 0 && K % norm.groupSize === 0),
      () => `${what}: norm weight [${norm?.weight.shape}], group size ${norm?.groupSize} for x [${x.shape}]`);
    const M = K === 0 ? x.size : x.size / K;
    const xg = this.g(x, what);
    const ng = norm && { ...norm, weight: this.g(norm.weight, what) };
    const [wg, bg, rg] = [w, bias, residual].map((t) => t && this.g(t, what));
    if (M > 0 && M <= GEMV_ROWS && K > 0 && (!norm || M * (K / norm.groupSize) <= GEMV_SCALES)) {
      return gemv(this, xg, wg!, M, N, K, ng, bg, rg, outShape);
    }
    // many rows: the norm, the tiled matmul and the add as kernels of their own
    return tidy(() => {
      const xn = ng ? groupRmsNorm(this, xg, ng.weight, ng.eps, ng.groupSize) : xg;
      const y = matmul(this, xn, wg!, M, N, K, false, true, bg, outShape);
      return rg ? binary(this, 'add', y, rg) : y;
    });
  }

  mamba2Step(args: Mamba2StepArgs): { y: Tensor; conv: Tensor } {
    const [B, H, P, N] = args.ssm.shape;
    const G = args.nGroups;
    const [C, K] = args.convWeight.shape;
    const what = 'mamba2Step';
    const used = H * P + C + H;
    expect(args.ssm.shape.length === 4 && G > 0 && H % G === 0 && C === H * P + 2 * G * N && args.convWeight.shape.length === 2,
      () => `${what}: conv weight [${args.convWeight.shape}] and state [${args.ssm.shape}] with ${G} groups do not match`);
    expect(args.proj.shape.length === 2 && args.proj.shape[0] === B && args.proj.shape[1] >= used, () => `${what}: proj [${args.proj.shape}] needs ${B} rows of at least ${used}`);
    expect(K >= 2 && same(args.conv.shape, [B, C, K - 1]) && (!args.convBias || same(args.convBias.shape, [C])), () => `${what}: conv window [${args.conv.shape}], bias [${args.convBias?.shape}]`);
    expect(same(args.A.shape, [H]) && (!args.dtBias || same(args.dtBias.shape, [H])), () => `${what}: A [${args.A.shape}], dtBias [${args.dtBias?.shape}]`);
    expect(!args.Dskip || same(args.Dskip.shape, [H]) || same(args.Dskip.shape, [H, P]), () => `${what}: D [${args.Dskip?.shape}]`);
    const g = (t: Tensor | undefined) => t && this.g(t, what);
    const a: StepArgs = {
      proj: g(args.proj)!, convWeight: g(args.convWeight)!, convBias: g(args.convBias), conv: g(args.conv)!, ssm: g(args.ssm)!,
      A: g(args.A)!, Dskip: g(args.Dskip), dtBias: g(args.dtBias), dtLimit: args.dtLimit, nGroups: G,
    };
    const limit = this.rt.info.maxStorageBuffersPerShaderStage;
    expect(stepBindings(a) <= limit, () => `${what}: binds ${stepBindings(a)} storage buffers; this device allows ${limit} per stage`);
    return mamba2Step(this, a);
  }

  // ---- training -----------------------------------------------------------------------------------

  adamw(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, opts: AdamWStep): void {
    for (const [name, t] of [['grad', grad], ['m', m], ['v', v]] as const) {
      expect(same(t.shape, param.shape), () => `adamw: ${name} [${t.shape}] is not param's [${param.shape}]`);
    }
    adamw(this, this.g(param, 'adamw'), this.g(grad, 'adamw'), this.g(m, 'adamw'), this.g(v, 'adamw'), opts);
  }
}

/** Opens the GPU (navigator.gpu, or Dawn in Node) and returns a backend on it. */
export async function createWebGpuBackend(options: WebGpuOptions = {}): Promise<WebGpuBackend> {
  return new WebGpuBackend(await openDevice(options));
}
