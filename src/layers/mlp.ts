import type { MlpConfig } from '../config.js';
import * as ops from '../ops/index.js';
import type { Tensor } from '../tensor.js';
import type { ParamScope } from './params.js';

/**
 * mamba_ssm GatedMLP (SwiGLU, Shazeer 2020): [y, gate] = fc1(x); fc2(y * silu(gate)).
 * fc1.weight [2 d_int, d], fc2.weight [d, d_int]. Stateless, so one forward serves both paths.
 */
export class GatedMlp {
  private readonly fc1w: Tensor;
  private readonly fc1b?: Tensor;
  private readonly fc2w: Tensor;
  private readonly fc2b?: Tensor;

  constructor(readonly cfg: MlpConfig, p: ParamScope) {
    this.fc1w = p.get('fc1.weight');
    this.fc1b = p.opt('fc1.bias');
    this.fc2w = p.get('fc2.weight');
    this.fc2b = p.opt('fc2.bias');
  }

  /** x [..., d] -> [..., d] */
  forward(x: Tensor): Tensor {
    const h = ops.linear(x, this.fc1w, this.fc1b);                              // [..., 2 d_int]
    const [y, gate] = ops.split(h, [this.cfg.dIntermediate, this.cfg.dIntermediate]);
    return ops.linear(ops.mul(y, ops.silu(gate)), this.fc2w, this.fc2b);       // [..., d]
  }
}
