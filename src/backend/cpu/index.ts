import type { AdamWStep, Backend, GradKernels, Mamba2StepArgs, RowNorm, SelectiveScanArgs, SelectiveScanGrads, SsdArgs, SsdGrads } from '../backend.js';
import type { DType, HostArray, Tensor } from '../../tensor.js';
import { adamw } from './adamw.js';
import { attention } from './attention.js';
import { attentionBackward } from './attention-backward.js';
import { causalConv1d } from './conv.js';
import { causalConv1dBackward } from './conv-backward.js';
import { mamba2Step, normLinear } from './decode.js';
import { crossEntropy, scaleBy } from './cross-entropy.js';
import { add, exp, gelu, mul, relu, silu, softplus } from './elementwise.js';
import { geluBackward, reluBackward, siluBackward, softplusBackward } from './elementwise-backward.js';
import { linear, matmul } from './linear.js';
import { embeddingBackward, sumRows } from './linear-backward.js';
import { concat, embedding, read, split, upload, uploadWeight, writeAt, zeros } from './memory.js';
import { gatedRmsNorm, logSoftmax, rmsNorm, softmax } from './norms.js';
import { gatedRmsNormBackward, rmsNormBackward, softmaxBackward } from './norms-backward.js';
import { rotary } from './rotary.js';
import { rotaryBackward } from './rotary-backward.js';
import { selectiveScan } from './selective-scan.js';
import { selectiveScanBackward } from './selective-scan-backward.js';
import { ssdChunked } from './ssd.js';
import { ssdChunkedBackward } from './ssd-backward.js';

/**
 * The CPU reference backend: a tensor's storage is one Float32Array / Int32Array; matmuls go
 * through sgemm (gemm.ts), everything else is a plain loop in the files beside this one.
 */
export class CpuBackend implements Backend, GradKernels {
  readonly name = 'cpu' as const;

  upload(data: HostArray, shape: readonly number[]): Tensor { return upload(this, data, shape); }
  uploadWeight(data: Float32Array, shape: readonly number[]): Tensor { return uploadWeight(this, data, shape); }
  zeros(shape: readonly number[], dtype?: DType): Tensor { return zeros(this, shape, dtype); }
  read(t: Tensor): Promise<HostArray> { return Promise.resolve(read(t)); }
  dispose(): void {}

  linear(x: Tensor, w: Tensor, bias?: Tensor): Tensor { return linear(x, w, bias); }
  matmul(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor { return matmul(a, b, transA, transB); }
  embedding(table: Tensor, ids: Tensor): Tensor { return embedding(table, ids); }

  add(a: Tensor, b: Tensor): Tensor { return add(a, b); }
  mul(a: Tensor, b: Tensor): Tensor { return mul(a, b); }
  silu(x: Tensor): Tensor { return silu(x); }
  relu(x: Tensor): Tensor { return relu(x); }
  gelu(x: Tensor): Tensor { return gelu(x); }
  softplus(x: Tensor): Tensor { return softplus(x); }
  exp(x: Tensor): Tensor { return exp(x); }
  split(x: Tensor, sizes: readonly number[]): Tensor[] { return split(x, sizes); }
  concat(xs: readonly Tensor[]): Tensor { return concat(xs); }

  rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor { return rmsNorm(x, weight, eps); }
  gatedRmsNorm(x: Tensor, z: Tensor, weight: Tensor, eps: number, groupSize: number, normBeforeGate: boolean): Tensor {
    return gatedRmsNorm(x, z, weight, eps, groupSize, normBeforeGate);
  }
  softmax(x: Tensor): Tensor { return softmax(x); }
  logSoftmax(x: Tensor): Tensor { return logSoftmax(x); }

  causalConv1d(x: Tensor, weight: Tensor, bias: Tensor | undefined, state: Tensor | undefined, silu: boolean): { y: Tensor; state: Tensor } {
    return causalConv1d(x, weight, bias, state, silu);
  }
  selectiveScan(args: SelectiveScanArgs): { y: Tensor; state: Tensor } { return selectiveScan(args); }
  ssdChunked(args: SsdArgs): { y: Tensor; state: Tensor } { return ssdChunked(args); }
  attention(q: Tensor, k: Tensor, v: Tensor, opts: { causal: boolean; scale: number; kvLen?: Int32Array }): Tensor {
    return attention(q, k, v, opts);
  }
  rotary(x: Tensor, pos0: Int32Array, rotaryDim: number, base: number, interleaved: boolean): Tensor {
    return rotary(x, pos0, rotaryDim, base, interleaved);
  }
  writeAt(dst: Tensor, src: Tensor, offset: Int32Array): Tensor { return writeAt(dst, src, offset); }

  normLinear(x: Tensor, norm: RowNorm | undefined, w: Tensor, bias?: Tensor, residual?: Tensor): Tensor {
    return normLinear(x, norm, w, bias, residual);
  }
  mamba2Step(args: Mamba2StepArgs): { y: Tensor; conv: Tensor } { return mamba2Step(args); }

  adamw(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, opts: AdamWStep): void { adamw(param, grad, m, v, opts); }

  // ---- training: backward kernels and the fused loss (GradKernels) ----------------------------
  sumRows(x: Tensor): Tensor { return sumRows(x); }
  sumOfSquares(xs: readonly Tensor[]): Tensor {
    const out = new Float32Array(xs.length);
    xs.forEach((x, i) => {
      const d = x.storage as Float32Array;
      let s = 0;
      for (let j = 0; j < x.size; j++) s += d[j] * d[j];
      out[i] = s;
    });
    return this.upload(out, [xs.length]);
  }
  embeddingBackward(dy: Tensor, ids: Tensor, V: number): Tensor { return embeddingBackward(dy, ids, V); }
  siluBackward(x: Tensor, dy: Tensor): Tensor { return siluBackward(x, dy); }
  softplusBackward(x: Tensor, dy: Tensor): Tensor { return softplusBackward(x, dy); }
  reluBackward(x: Tensor, dy: Tensor): Tensor { return reluBackward(x, dy); }
  geluBackward(x: Tensor, dy: Tensor): Tensor { return geluBackward(x, dy); }
  rmsNormBackward(x: Tensor, weight: Tensor, eps: number, dy: Tensor): { dx: Tensor; dweight: Tensor } {
    return rmsNormBackward(x, weight, eps, dy);
  }
  gatedRmsNormBackward(
    x: Tensor, z: Tensor, weight: Tensor, eps: number, groupSize: number, normBeforeGate: boolean, dy: Tensor,
  ): { dx: Tensor; dz: Tensor; dweight: Tensor } {
    return gatedRmsNormBackward(x, z, weight, eps, groupSize, normBeforeGate, dy);
  }
  softmaxBackward(y: Tensor, dy: Tensor, log: boolean): Tensor { return softmaxBackward(y, dy, log); }
  crossEntropy(logits: Tensor, targets: Tensor, ignoreIndex: number, withGrad: boolean): { loss: Tensor; dlogits?: Tensor } {
    return crossEntropy(logits, targets, ignoreIndex, withGrad);
  }
  scaleBy(x: Tensor, s: Tensor): Tensor { return scaleBy(x, s); }
  causalConv1dBackward(
    x: Tensor, weight: Tensor, bias: Tensor | undefined, state: Tensor | undefined, silu: boolean, dy: Tensor, dstate: Tensor,
  ): { dx: Tensor; dweight: Tensor; dbias: Tensor; dstate: Tensor } {
    return causalConv1dBackward(x, weight, bias, state, silu, dy, dstate);
  }
  selectiveScanBackward(args: SelectiveScanArgs, dy: Tensor, dstate: Tensor): SelectiveScanGrads {
    return selectiveScanBackward(args, dy, dstate);
  }
  ssdChunkedBackward(args: SsdArgs, dy: Tensor, dstate: Tensor): SsdGrads { return ssdChunkedBackward(args, dy, dstate); }
  attentionBackward(
    q: Tensor, k: Tensor, v: Tensor, opts: { causal: boolean; scale: number; kvLen?: Int32Array }, dout: Tensor,
  ): { dq: Tensor; dk: Tensor; dv: Tensor } {
    return attentionBackward(q, k, v, opts, dout);
  }
  rotaryBackward(dy: Tensor, pos0: Int32Array, rotaryDim: number, base: number, interleaved: boolean): Tensor {
    return rotaryBackward(dy, pos0, rotaryDim, base, interleaved);
  }
}
