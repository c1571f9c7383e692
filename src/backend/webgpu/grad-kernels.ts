/**
 * What training needs on WebGPU (GradKernels in backend.ts): the backward of each op and the
 * fused cross-entropy, checked on the host and recorded like the forward ops, nothing read back.
 * WebGpuBackend extends this class, so the autograd finds the methods on the backend itself; the
 * kernels live in ./kernels/*-backward.ts (and cross-entropy.ts). Linear and matmul backward are
 * matmuls (ops/linear.ts), which the forward kernels serve with transposed operands.
 */
import type { GradKernels, SelectiveScanArgs, SelectiveScanGrads, SsdArgs, SsdGrads } from '../backend.js';
import type { Tensor } from '../../tensor.js';
import { check, expect, last } from '../checks.js';
import type { GpuTensor } from './buffer-pool.js';
import type { GpuRuntime, KernelHost } from './runtime.js';
import { attentionBackward } from './kernels/attention-backward.js';
import { causalConv1dBackward } from './kernels/conv-backward.js';
import { crossEntropy } from './kernels/cross-entropy.js';
import { activationBackward, scaleBy } from './kernels/elementwise-backward.js';
import { embeddingBackward } from './kernels/embedding-backward.js';
import { rotary } from './kernels/rotary.js';
import { gatedRmsNormBackward, rmsNormBackward, softmaxBackward } from './kernels/norms-backward.js';
import { sumRows } from './kernels/reduce.js';
import { selectiveScanBackward } from './kernels/selective-scan-backward.js';
import { ssdChunkedBackward } from './kernels/ssd/ssd-backward.js';

export abstract class WebGpuGradKernels implements KernelHost, GradKernels {
  abstract readonly rt: GpuRuntime;
  abstract empty(shape: readonly number[], dtype?: 'f32' | 'i32'): GpuTensor;
  abstract upload(data: Float32Array | Int32Array, shape: readonly number[]): GpuTensor;

  /** `t` as a live tensor of this backend (the backend's own check), else an Error naming `what` */
  protected abstract g(t: Tensor | undefined, what: string): GpuTensor;

  sumRows(x: Tensor): Tensor {
    return sumRows(this, this.g(x, 'sumRows'), last(x));
  }

  embeddingBackward(dy: Tensor, ids: Tensor, V: number): Tensor {
    const what = 'embeddingBackward';
    check.embeddingBackward(dy, ids);
    return embeddingBackward(this, this.g(dy, what), this.g(ids, what), V);
  }

  siluBackward(x: Tensor, dy: Tensor): Tensor { return this.activationGrad('siluBackward', 'siluGrad', x, dy); }
  softplusBackward(x: Tensor, dy: Tensor): Tensor { return this.activationGrad('softplusBackward', 'softplusGrad', x, dy); }
  reluBackward(x: Tensor, dy: Tensor): Tensor { return this.activationGrad('reluBackward', 'reluGrad', x, dy); }
  geluBackward(x: Tensor, dy: Tensor): Tensor { return this.activationGrad('geluBackward', 'geluGrad', x, dy); }

  private activationGrad(what: 'siluBackward' | 'softplusBackward' | 'reluBackward' | 'geluBackward', fn: Parameters<typeof activationBackward>[1], x: Tensor, dy: Tensor): Tensor {
    check.grad(what, dy, x);
    return activationBackward(this, fn, this.g(x, what), this.g(dy, what));
  }

  rmsNormBackward(x: Tensor, weight: Tensor, eps: number, dy: Tensor): { dx: Tensor; dweight: Tensor } {
    const what = 'rmsNormBackward';
    check.rmsNormBackward(x, weight, dy);
    return rmsNormBackward(this, this.g(x, what), this.g(weight, what), eps, this.g(dy, what));
  }

  gatedRmsNormBackward(
    x: Tensor, z: Tensor, weight: Tensor, eps: number, groupSize: number, normBeforeGate: boolean, dy: Tensor,
  ): { dx: Tensor; dz: Tensor; dweight: Tensor } {
    const what = 'gatedRmsNormBackward';
    check.gatedRmsNormBackward(x, z, weight, groupSize, dy);
    return gatedRmsNormBackward(this, this.g(x, what), this.g(z, what), this.g(weight, what), eps, groupSize, normBeforeGate,
      this.g(dy, what));
  }

  softmaxBackward(y: Tensor, dy: Tensor, log: boolean): Tensor {
    check.grad('softmaxBackward', dy, y);
    return softmaxBackward(this, this.g(y, 'softmaxBackward'), this.g(dy, 'softmaxBackward'), log);
  }

  crossEntropy(logits: Tensor, targets: Tensor, ignoreIndex: number, withGrad: boolean): { loss: Tensor; dlogits?: Tensor } {
    const what = 'crossEntropy';
    check.crossEntropy(logits, targets);
    return crossEntropy(this, this.g(logits, what), this.g(targets, what), ignoreIndex, withGrad);
  }

  scaleBy(x: Tensor, s: Tensor): Tensor {
    check.scaleBy(x, s);
    return scaleBy(this, this.g(x, 'scaleBy'), this.g(s, 'scaleBy'));
  }

  causalConv1dBackward(
    x: Tensor, weight: Tensor, bias: Tensor | undefined, state: Tensor | undefined, silu: boolean, dy: Tensor, dstate: Tensor,
  ): { dx: Tensor; dweight: Tensor; dbias: Tensor; dstate: Tensor } {
    const what = 'causalConv1dBackward';
    check.causalConv1dBackward(x, weight, bias, state, dy, dstate);
    return causalConv1dBackward(this, this.g(x, what), this.g(weight, what), bias && this.g(bias, what),
      state && this.g(state, what), silu, this.g(dy, what), this.g(dstate, what));
  }

  selectiveScanBackward(args: SelectiveScanArgs, dy: Tensor, dstate: Tensor): SelectiveScanGrads {
    const what = 'selectiveScanBackward';
    check.selectiveScanBackward(args, dy, dstate);
    // one workgroup lane per state: d_state is at most 256 (Mamba uses 16)
    const N = args.A.shape[1];
    expect(args.u, N >= 1 && N <= 256, () => `${what}: d_state ${N} is outside 1..256`);
    for (const t of [args.u, args.delta, args.A, args.Bmat, args.Cmat, args.Dskip, args.z, args.deltaBias, args.state]) {
      if (t) this.g(t, what);
    }
    return selectiveScanBackward(this, args, this.g(dy, what), this.g(dstate, what));
  }

  ssdChunkedBackward(args: SsdArgs, dy: Tensor, dstate: Tensor): SsdGrads {
    const what = 'ssdChunkedBackward';
    check.ssdChunkedBackward(args, dy, dstate);
    for (const t of [args.x, args.dt, args.A, args.Bmat, args.Cmat, args.Dskip, args.dtBias, args.state]) {
      if (t) this.g(t, what);
    }
    return ssdChunkedBackward(this, args, this.g(dy, what), this.g(dstate, what));
  }

  attentionBackward(
    q: Tensor, k: Tensor, v: Tensor, opts: { causal: boolean; scale: number; kvLen?: Int32Array }, dout: Tensor,
  ): { dq: Tensor; dk: Tensor; dv: Tensor } {
    const what = 'attentionBackward';
    check.attentionBackward(q, k, v, opts, dout);
    const kvLen = opts.kvLen ?? new Int32Array(q.shape[0]).fill(k.shape[1]);
    return attentionBackward(this, this.g(q, what), this.g(k, what), this.g(v, what), opts.causal, opts.scale, kvLen,
      this.g(dout, what));
  }

  rotaryBackward(dy: Tensor, pos0: Int32Array, rotaryDim: number, base: number, interleaved: boolean): Tensor {
    const what = 'rotaryBackward';
    check.rotaryBackward(dy, pos0, rotaryDim);
    return rotary(this, this.g(dy, what), pos0, rotaryDim, base, interleaved, true);
  }
}
