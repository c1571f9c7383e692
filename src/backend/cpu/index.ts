import type { AdamWStep, Backend, GradKernels, Mamba2StepArgs, RowNorm, SelectiveScanArgs, SelectiveScanGrads, SsdArgs, SsdGrads } from '../backend.js';
import { check, last } from '../checks.js';
import type { DType, HostArray, Tensor } from '../../tensor.js';
import { adamw } from './adamw.js';
import { argmax } from './argmax.js';
import { attention } from './attention.js';
import { attentionBackward } from './attention-backward.js';
import { causalConv1d } from './conv.js';
import { causalConv1dBackward } from './conv-backward.js';
import { crossEntropy, scaleBy } from './cross-entropy.js';
import { add, exp, gelu, mul, relu, silu, softplus } from './elementwise.js';
import { geluBackward, reluBackward, siluBackward, softplusBackward } from './elementwise-backward.js';
import { embeddingBackward } from './embedding-backward.js';
import { concat, embedding, split, writeAt } from './layout.js';
import { mamba2Step } from './mamba2-step.js';
import { linear, matmul } from './matmul.js';
import { normLinear } from './norm-linear.js';
import { gatedRmsNorm, logSoftmax, rmsNorm, softmax } from './norms.js';
import { gatedRmsNormBackward, rmsNormBackward, softmaxBackward } from './norms-backward.js';
import { sumOfSquares, sumRows } from './reduce.js';
import { rotary } from './rotary.js';
import { rotaryBackward } from './rotary-backward.js';
import { selectiveScan } from './selective-scan.js';
import { selectiveScanBackward } from './selective-scan-backward.js';
import { ssdChunked } from './ssd.js';
import { ssdChunkedBackward } from './ssd-backward.js';
import { read, upload, uploadWeight, zeros } from './storage.js';

/**
 * The CPU reference backend: a tensor's storage is one Float32Array / Int32Array; matmuls go
 * through sgemm (gemm.ts), everything else is a plain loop in the files beside this one, each
 * named as its op (docs/ops.md). Arguments are checked here (../checks.ts), as on WebGPU.
 */
export class CpuBackend implements Backend, GradKernels {
  readonly name = 'cpu' as const;
  readonly description = 'cpu';
  readonly compilesKernels = false;

  /** The worker pool is shared by every CPU backend and ends with the process. */
  release(): void {}

  upload(data: HostArray, shape: readonly number[]): Tensor {
    check.upload('upload', data, shape);
    return upload(this, data, shape);
  }
  uploadWeight(data: Float32Array, shape: readonly number[]): Tensor {
    check.upload('uploadWeight', data, shape);
    return uploadWeight(this, data, shape);
  }
  zeros(shape: readonly number[], dtype?: DType): Tensor { return zeros(this, shape, dtype); }
  read(t: Tensor): Promise<HostArray> { return Promise.resolve(read(t)); }
  dispose(): void {}

  linear(x: Tensor, w: Tensor, bias?: Tensor): Tensor {
    check.linear(x, w, bias);
    return linear(x, w, bias);
  }
  matmul(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
    check.matmul(a, b, transA, transB);
    return matmul(a, b, transA, transB);
  }
  embedding(table: Tensor, ids: Tensor): Tensor {
    check.embedding(table, ids);
    return embedding(table, ids);
  }

  add(a: Tensor, b: Tensor): Tensor {
    check.elementwise('add', a, b);
    return add(a, b);
  }
  mul(a: Tensor, b: Tensor): Tensor {
    check.elementwise('mul', a, b);
    return mul(a, b);
  }
  silu(x: Tensor): Tensor { return silu(x); }
  relu(x: Tensor): Tensor { return relu(x); }
  gelu(x: Tensor): Tensor { return gelu(x); }
  softplus(x: Tensor): Tensor { return softplus(x); }
  exp(x: Tensor): Tensor { return exp(x); }
  split(x: Tensor, sizes: readonly number[]): Tensor[] {
    check.split(x, sizes);
    return split(x, sizes);
  }
  concat(xs: readonly Tensor[]): Tensor {
    check.concat(xs);
    return concat(xs);
  }

  rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
    check.rmsNorm(x, weight);
    return rmsNorm(x, weight, eps);
  }
  gatedRmsNorm(x: Tensor, z: Tensor, weight: Tensor, eps: number, groupSize: number, normBeforeGate: boolean): Tensor {
    check.gatedRmsNorm(x, z, weight, groupSize);
    return gatedRmsNorm(x, z, weight, eps, groupSize, normBeforeGate);
  }
  softmax(x: Tensor): Tensor { return softmax(x); }
  logSoftmax(x: Tensor): Tensor { return logSoftmax(x); }

  causalConv1d(x: Tensor, weight: Tensor, bias: Tensor | undefined, state: Tensor | undefined, silu: boolean): { y: Tensor; state: Tensor } {
    check.causalConv1d(x, weight, bias, state);
    return causalConv1d(x, weight, bias, state, silu);
  }
  selectiveScan(args: SelectiveScanArgs): { y: Tensor; state: Tensor } {
    check.selectiveScan(args);
    return selectiveScan(args);
  }
  ssdChunked(args: SsdArgs): { y: Tensor; state: Tensor } {
    check.ssdChunked(args);
    return ssdChunked(args);
  }
  attention(q: Tensor, k: Tensor, v: Tensor, opts: { causal: boolean; scale: number; kvLen?: Int32Array }): Tensor {
    check.attention(q, k, v, opts);
    return attention(q, k, v, opts);
  }
  rotary(x: Tensor, pos0: Int32Array, rotaryDim: number, base: number, interleaved: boolean): Tensor {
    check.rotary(x, pos0, rotaryDim);
    return rotary(x, pos0, rotaryDim, base, interleaved);
  }
  writeAt(dst: Tensor, src: Tensor, offset: Int32Array): Tensor {
    check.writeAt(dst, src, offset);
    return writeAt(dst, src, offset);
  }

  normLinear(x: Tensor, norm: RowNorm | undefined, w: Tensor, bias?: Tensor, residual?: Tensor): Tensor {
    check.normLinear(x, norm, w, bias, residual);
    return normLinear(x, norm, w, bias, residual);
  }
  mamba2Step(args: Mamba2StepArgs): { y: Tensor; conv: Tensor } {
    check.mamba2Step(args);
    return mamba2Step(args);
  }

  argmax(logits: Tensor, vocab = last(logits)): Tensor {
    check.argmax(logits, vocab);
    return argmax(logits, vocab);
  }
  sumOfSquares(xs: readonly Tensor[]): Tensor { return sumOfSquares(this, xs); }

  adamw(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, opts: AdamWStep): void {
    check.adamw(param, grad, m, v);
    adamw(param, grad, m, v, opts);
  }

  // ---- training: backward kernels and the fused loss (GradKernels) ----------------------------
  sumRows(x: Tensor): Tensor { return sumRows(x); }
  embeddingBackward(dy: Tensor, ids: Tensor, V: number): Tensor {
    check.embeddingBackward(dy, ids);
    return embeddingBackward(dy, ids, V);
  }
  siluBackward(x: Tensor, dy: Tensor): Tensor { return activationGrad('siluBackward', siluBackward, x, dy); }
  softplusBackward(x: Tensor, dy: Tensor): Tensor { return activationGrad('softplusBackward', softplusBackward, x, dy); }
  reluBackward(x: Tensor, dy: Tensor): Tensor { return activationGrad('reluBackward', reluBackward, x, dy); }
  geluBackward(x: Tensor, dy: Tensor): Tensor { return activationGrad('geluBackward', geluBackward, x, dy); }
  rmsNormBackward(x: Tensor, weight: Tensor, eps: number, dy: Tensor): { dx: Tensor; dweight: Tensor } {
    check.rmsNormBackward(x, weight, dy);
    return rmsNormBackward(x, weight, eps, dy);
  }
  gatedRmsNormBackward(
    x: Tensor, z: Tensor, weight: Tensor, eps: number, groupSize: number, normBeforeGate: boolean, dy: Tensor,
  ): { dx: Tensor; dz: Tensor; dweight: Tensor } {
    check.gatedRmsNormBackward(x, z, weight, groupSize, dy);
    return gatedRmsNormBackward(x, z, weight, eps, groupSize, normBeforeGate, dy);
  }
  softmaxBackward(y: Tensor, dy: Tensor, log: boolean): Tensor {
    check.grad('softmaxBackward', dy, y);
    return softmaxBackward(y, dy, log);
  }
  crossEntropy(logits: Tensor, targets: Tensor, ignoreIndex: number, withGrad: boolean): { loss: Tensor; dlogits?: Tensor } {
    check.crossEntropy(logits, targets);
    return crossEntropy(logits, targets, ignoreIndex, withGrad);
  }
  scaleBy(x: Tensor, s: Tensor): Tensor {
    check.scaleBy(x, s);
    return scaleBy(x, s);
  }
  causalConv1dBackward(
    x: Tensor, weight: Tensor, bias: Tensor | undefined, state: Tensor | undefined, silu: boolean, dy: Tensor, dstate: Tensor,
  ): { dx: Tensor; dweight: Tensor; dbias: Tensor; dstate: Tensor } {
    check.causalConv1dBackward(x, weight, bias, state, dy, dstate);
    return causalConv1dBackward(x, weight, bias, state, silu, dy, dstate);
  }
  selectiveScanBackward(args: SelectiveScanArgs, dy: Tensor, dstate: Tensor): SelectiveScanGrads {
    check.selectiveScanBackward(args, dy, dstate);
    return selectiveScanBackward(args, dy, dstate);
  }
  ssdChunkedBackward(args: SsdArgs, dy: Tensor, dstate: Tensor): SsdGrads {
    check.ssdChunkedBackward(args, dy, dstate);
    return ssdChunkedBackward(args, dy, dstate);
  }
  attentionBackward(
    q: Tensor, k: Tensor, v: Tensor, opts: { causal: boolean; scale: number; kvLen?: Int32Array }, dout: Tensor,
  ): { dq: Tensor; dk: Tensor; dv: Tensor } {
    check.attentionBackward(q, k, v, opts, dout);
    return attentionBackward(q, k, v, opts, dout);
  }
  rotaryBackward(dy: Tensor, pos0: Int32Array, rotaryDim: number, base: number, interleaved: boolean): Tensor {
    check.rotaryBackward(dy, pos0, rotaryDim);
    return rotaryBackward(dy, pos0, rotaryDim, base, interleaved);
  }
}

function activationGrad(what: Parameters<typeof check.grad>[0], backward: (x: Tensor, dy: Tensor) => Tensor, x: Tensor, dy: Tensor): Tensor {
  check.grad(what, dy, x);
  return backward(x, dy);
}
