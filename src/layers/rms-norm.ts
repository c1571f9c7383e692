import * as ops from '../ops/index.js';
import type { Tensor } from '../tensor.js';

/** RMSNorm (Zhang & Sennrich 2019) as mamba_ssm's RMSNorm: x / sqrt(mean(x²) + eps) * weight. */
export class RmsNorm {
  constructor(readonly weight: Tensor, readonly eps: number) {}

  /** x [..., d] -> [..., d] */
  forward(x: Tensor): Tensor {
    return ops.rmsNorm(x, this.weight, this.eps);
  }
}
