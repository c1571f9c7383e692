/**
 * What training needs on WebGPU (GradKernels in backend.ts): the backward of each op and the
 * fused cross-entropy, checked on the host and recorded like the forward ops, nothing read back.
 * WebGpuBackend extends this class, so the autograd finds the methods on the backend itself; the
 * kernels live in ./kernels/*-backward.ts (and cross-entropy.ts). Linear and matmul backward are
 * matmuls (ops/linear.ts), which the forward kernels serve with transposed operands.
 */
import type { GradKernels, SelectiveScanArgs, SelectiveScanGrads, SsdArgs, SsdGrads } from '../backend.js';
import type { Tensor } from '../../tensor.js';
import { expect, last, same } from './checks.js';
import type { GpuTensor } from './memory.js';
import type { GpuRuntime, KernelHost } from './runtime.js';
import { attentionBackward } from './kernels/attention-backward.js';
import { causalConv1dBackward } from './kernels/conv-backward.js';
import { crossEntropy } from './kernels/cross-entropy.js';
import { activationBackward, scaleBy } from './kernels/elementwise-backward.js';
import { embeddingBackward } from './kernels/embedding-backward.js';
import { rotary } from './kernels/layout.js';
import { gatedRmsNormBackward, rmsNormBackward, softmaxBackward } from './kernels/norms-backward.js';
import { sumOfSquares, sumRows } from './kernels/reduce-backward.js';
import { selectiveScanBackward } from './kernels/scan-backward.js';
import { ssdChunkedBackward } from './kernels/ssd-backward.js';

export abstract class WebGpuGradKernels implements KernelHost, GradKernels {
  abstract readonly rt: GpuRuntime;
  abstract empty(shape: readonly number[], dtype?: 'f32' | 'i32'): GpuTensor;
  abstract upload(data: Float32Array | Int32Array, shape: readonly number[]): GpuTensor;

  /** `t` as a live tensor of this backend (the backend's own check), else an Error naming `what` */
  protected abstract g(t: Tensor | undefined, what: string): GpuTensor;

  /** `dy` of the shape `like` has, on this backend. */
  protected grad(dy: Tensor, like: Tensor, what: string): GpuTensor {
    expect(same(dy.shape, like.shape), () => `${what}: gradient [${dy.shape}] for [${like.shape}]`);
    return this.g(dy, what);
  }

  sumRows(x: Tensor): Tensor {
    return sumRows(this, this.g(x, 'sumRows'), last(x));
  }

  sumOfSquares(xs: readonly Tensor[]): Tensor {
    return sumOfSquares(this, xs.map((x) => this.g(x, 'sumOfSquares')));
  }

  embeddingBackward(dy: Tensor, ids: Tensor, V: number): Tensor {
    const what = 'embeddingBackward';
    expect(ids.dtype === 'i32' && same(dy.shape, [...ids.shape, last(dy)]), () => `${what}: dy [${dy.shape}] for ids [${ids.shape}] (${ids.dtype})`);
    return embeddingBackward(this, this.g(dy, what), this.g(ids, what), V);
  }

  siluBackward(x: Tensor, dy: Tensor): Tensor {
    return activationBackward(this, 'siluGrad', this.g(x, 'siluBackward'), this.grad(dy, x, 'siluBackward'));
  }

  softplusBackward(x: Tensor, dy: Tensor): Tensor {
    return activationBackward(this, 'softplusGrad', this.g(x, 'softplusBackward'), this.grad(dy, x, 'softplusBackward'));
  }

  reluBackward(x: Tensor, dy: Tensor): Tensor {
    return activationBackward(this, 'reluGrad', this.g(x, 'reluBackward'), this.grad(dy, x, 'reluBackward'));
  }

  geluBackward(x: Tensor, dy: Tensor): Tensor {
    return activationBackward(this, 'geluGrad', this.g(x, 'geluBackward'), this.grad(dy, x, 'geluBackward'));
  }

  rmsNormBackward(x: Tensor, weight: Tensor, eps: number, dy: Tensor): { dx: Tensor; dweight: Tensor } {
    const what = 'rmsNormBackward';
    expect(same(weight.shape, [last(x)]), () => `${what}: weight [${weight.shape}] for x [${x.shape}]`);
    return rmsNormBackward(this, this.g(x, what), this.g(weight, what), eps, this.grad(dy, x, what));
  }

  gatedRmsNormBackward(
    x: Tensor, z: Tensor, weight: Tensor, eps: number, groupSize: number, normBeforeGate: boolean, dy: Tensor,
  ): { dx: Tensor; dz: Tensor; dweight: Tensor } {
    const what = 'gatedRmsNormBackward';
    expect(same(z.shape, x.shape) && same(weight.shape, [last(x)]), () => `${what}: x [${x.shape}], z [${z.shape}], weight [${weight.shape}]`);
    expect(groupSize > 0 && last(x) % groupSize === 0, () => `${what}: group size ${groupSize} does not divide ${last(x)}`);
    return gatedRmsNormBackward(this, this.g(x, what), this.g(z, what), this.g(weight, what), eps, groupSize, normBeforeGate,
      this.grad(dy, x, what));
  }

  softmaxBackward(y: Tensor, dy: Tensor, log: boolean): Tensor {
    return softmaxBackward(this, this.g(y, 'softmaxBackward'), this.grad(dy, y, 'softmaxBackward'), log);
  }

  crossEntropy(logits: Tensor, targets: Tensor, ignoreIndex: number, withGrad: boolean): { loss: Tensor; dlogits?: Tensor } {
    const what = 'crossEntropy';
    expect(targets.dtype === 'i32' && same(targets.shape, logits.shape.slice(0, -1)), () => `${what}: targets [${targets.shape}] (${targets.dtype}) for logits [${logits.shape}]`);
    return crossEntropy(this, this.g(logits, what), this.g(targets, what), ignoreIndex, withGrad);
  }

  scaleBy(x: Tensor, s: Tensor): Tensor {
    expect(s.size === 1, () => `scaleBy: the scale has shape [${s.shape}], expected one element`);
    return scaleBy(this, this.g(x, 'scaleBy'), this.g(s, 'scaleBy'));
  }

  causalConv1dBackward(
    x: Tensor, weight: Tensor, bias: Tensor | undefined, state: Tensor | undefined, silu: boolean, dy: Tensor, dstate: Tensor,
  ): { dx: Tensor; dweight: Tensor; dbias: Tensor; dstate: Tensor } {
    const what = 'causalConv1dBackward';
    const [B, , C] = x.shape;
    const K = weight.shape[1];
    expect(x.shape.length === 3 && same(weight.shape, [C, K]) && K >= 1, () => `${what}: x [${x.shape}], weight [${weight.shape}]`);
    expect(!bias || same(bias.shape, [C]), () => `${what}: bias [${bias?.shape}] is not [${C}]`);
    expect(!state || same(state.shape, [B, C, K - 1]), () => `${what}: state [${state?.shape}] is not [${B}, ${C}, ${K - 1}]`);
    expect(same(dstate.shape, [B, C, K - 1]), () => `${what}: dstate [${dstate.shape}] is not [${B}, ${C}, ${K - 1}]`);
    return causalConv1dBackward(this, this.g(x, what), this.g(weight, what), bias && this.g(bias, what),
      state && this.g(state, what), silu, this.grad(dy, x, what), this.g(dstate, what));
  }

  selectiveScanBackward(args: SelectiveScanArgs, dy: Tensor, dstate: Tensor): SelectiveScanGrads {
    const what = 'selectiveScanBackward';
    const [B, L, D] = args.u.shape;
    const N = args.A.shape[1];
    expect(args.u.shape.length === 3 && same(args.delta.shape, [B, L, D]) && same(args.A.shape, [D, N]),
      () => `${what}: u [${args.u.shape}], delta [${args.delta.shape}], A [${args.A.shape}]`);
    // one workgroup lane per state: d_state is at most 256 (Mamba uses 16)
    expect(N >= 1 && N <= 256, () => `${what}: d_state ${N} is outside 1..256`);
    expect(same(args.Bmat.shape, [B, L, N]) && same(args.Cmat.shape, [B, L, N]), () => `${what}: B [${args.Bmat.shape}] / C [${args.Cmat.shape}] are not [${B}, ${L}, ${N}]`);
    expect(!args.z || same(args.z.shape, [B, L, D]), () => `${what}: z [${args.z?.shape}]`);
    expect(!args.Dskip || same(args.Dskip.shape, [D]), () => `${what}: D [${args.Dskip?.shape}]`);
    expect(!args.deltaBias || same(args.deltaBias.shape, [D]), () => `${what}: deltaBias [${args.deltaBias?.shape}]`);
    expect(!args.state || same(args.state.shape, [B, D, N]), () => `${what}: state [${args.state?.shape}] is not [${B}, ${D}, ${N}]`);
    expect(same(dstate.shape, [B, D, N]), () => `${what}: dstate [${dstate.shape}] is not [${B}, ${D}, ${N}]`);
    for (const t of [args.u, args.delta, args.A, args.Bmat, args.Cmat, args.Dskip, args.z, args.deltaBias, args.state]) {
      if (t) this.g(t, what);
    }
    return selectiveScanBackward(this, args, this.grad(dy, args.u, what), this.g(dstate, what));
  }

  ssdChunkedBackward(args: SsdArgs, dy: Tensor, dstate: Tensor): SsdGrads {
    const what = 'ssdChunkedBackward';
    const [B, L, H, P] = args.x.shape;
    const [, , G, N] = args.Bmat.shape;
    expect(args.x.shape.length === 4 && same(args.dt.shape, [B, L, H]) && same(args.A.shape, [H]),
      () => `${what}: x [${args.x.shape}], dt [${args.dt.shape}], A [${args.A.shape}]`);
    expect(args.Bmat.shape.length === 4 && same(args.Bmat.shape, [B, L, G, N]) && same(args.Cmat.shape, [B, L, G, N]) && G > 0 && H % G === 0,
      () => `${what}: B [${args.Bmat.shape}] / C [${args.Cmat.shape}] for ${H} heads`);
    expect(!args.Dskip || same(args.Dskip.shape, [H]) || same(args.Dskip.shape, [H, P]), () => `${what}: D [${args.Dskip?.shape}]`);
    expect(!args.dtBias || same(args.dtBias.shape, [H]), () => `${what}: dtBias [${args.dtBias?.shape}]`);
    expect(!args.state || same(args.state.shape, [B, H, P, N]), () => `${what}: state [${args.state?.shape}] is not [${B}, ${H}, ${P}, ${N}]`);
    expect(same(dstate.shape, [B, H, P, N]), () => `${what}: dstate [${dstate.shape}] is not [${B}, ${H}, ${P}, ${N}]`);
    expect(Number.isInteger(args.chunkSize) && args.chunkSize > 0, () => `${what}: chunkSize ${args.chunkSize}`);
    for (const t of [args.x, args.dt, args.A, args.Bmat, args.Cmat, args.Dskip, args.dtBias, args.state]) {
      if (t) this.g(t, what);
    }
    return ssdChunkedBackward(this, args, this.grad(dy, args.x, what), this.g(dstate, what));
  }

  attentionBackward(
    q: Tensor, k: Tensor, v: Tensor, opts: { causal: boolean; scale: number; kvLen?: Int32Array }, dout: Tensor,
  ): { dq: Tensor; dk: Tensor; dv: Tensor } {
    const what = 'attentionBackward';
    const [B, , Hq, E] = q.shape;
    const [, S, Hkv] = k.shape;
    expect(q.shape.length === 4 && same(k.shape, [B, S, Hkv, E]) && same(v.shape, k.shape) && Hkv > 0 && Hq % Hkv === 0,
      () => `${what}: q [${q.shape}], k [${k.shape}], v [${v.shape}]`);
    const kvLen = opts.kvLen ?? new Int32Array(B).fill(S);
    expect(kvLen.length === B && kvLen.every((n) => n >= 0 && n <= S), () => `${what}: kvLen [${kvLen}] must hold ${B} counts in 0..${S}`);
    return attentionBackward(this, this.g(q, what), this.g(k, what), this.g(v, what), opts.causal, opts.scale, kvLen,
      this.grad(dout, q, what));
  }

  rotaryBackward(dy: Tensor, pos0: Int32Array, rotaryDim: number, base: number, interleaved: boolean): Tensor {
    const what = 'rotaryBackward';
    expect(dy.shape.length === 4 && pos0.length === dy.shape[0], () => `${what}: dy [${dy.shape}] with ${pos0.length} start positions`);
    expect(rotaryDim % 2 === 0 && rotaryDim <= dy.shape[3], () => `${what}: rotaryDim ${rotaryDim} for head dim ${dy.shape[3]}`);
    return rotary(this, this.g(dy, what), pos0, rotaryDim, base, interleaved, true);
  }
}
