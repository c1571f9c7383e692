import type { AdamWStep, Backend, SelectiveScanArgs, SsdArgs } from '../backend.js';
import type { DType, HostArray, Tensor } from '../../tensor.js';
import { adamw } from './adamw.js';
import { attention } from './attention.js';
import { causalConv1d } from './conv.js';
import { add, exp, mul, silu, softplus } from './elementwise.js';
import { linear, matmul } from './linear.js';
import { concat, embedding, read, split, upload, uploadWeight, writeAt, zeros } from './memory.js';
import { gatedRmsNorm, logSoftmax, rmsNorm, softmax } from './norms.js';
import { rotary } from './rotary.js';
import { selectiveScan } from './selective-scan.js';
import { ssdChunked } from './ssd.js';

/**
 * The CPU reference backend: a tensor's storage is one Float32Array / Int32Array; matmuls go
 * through sgemm (gemm.ts), everything else is a plain loop in the files beside this one.
 */
export class CpuBackend implements Backend {
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

  adamw(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, opts: AdamWStep): void { adamw(param, grad, m, v, opts); }
}
