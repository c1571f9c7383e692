import type { LayerConfig } from '../config.js';
import type { Tensor } from '../tensor.js';
import * as ops from '../ops/index.js';
import { AttentionMixer } from './attention.js';
import { Mamba1Mixer } from './mamba1.js';
import { Mamba2Mixer } from './mamba2.js';
import { composedStepResidual, type Mixer, type MixerState } from './mixer.js';
import { Mlp } from './mlp.js';
import type { ParamScope } from './params.js';
import { RmsNorm } from './rms-norm.js';

/**
 * mamba_ssm `Block`, pre-norm residual: h = h + mixer(norm(h)); then, with an MLP,
 * h = h + mlp(norm2(h)). The mixer may be an MLP itself (NemotronH's MLP layers). (mamba_ssm
 * carries the residual separately to fuse add + norm; the sums are the same.)
 * h [B, L, d] in forward, [B, d] in step.
 */
export class Block {
  readonly norm: RmsNorm;
  readonly mixer: Mixer;
  readonly norm2?: RmsNorm;
  readonly mlp?: Mlp;

  constructor(cfg: LayerConfig, p: ParamScope, eps: number) {
    this.norm = new RmsNorm(p.get('norm.weight'), eps);
    const m = p.scope('mixer');
    const mc = cfg.mixer;
    this.mixer = mc.kind === 'mamba1' ? new Mamba1Mixer(mc, m) : mc.kind === 'mamba2' ? new Mamba2Mixer(mc, m)
      : mc.kind === 'attention' ? new AttentionMixer(mc, m) : new Mlp(mc, m);
    if (cfg.mlp) {
      this.norm2 = new RmsNorm(p.get('norm2.weight'), eps);
      this.mlp = new Mlp(cfg.mlp, p.scope('mlp'));
    }
  }

  forward(h: Tensor, state?: MixerState): { y: Tensor; state: MixerState } {
    const out = this.mixer.forward(this.norm.forward(h), state);
    return { y: this.addMlp(ops.add(h, out.y)), state: out.state };
  }

  step(h: Tensor, state: MixerState): { y: Tensor; state: MixerState } {
    const out = this.mixer.stepResidual ? this.mixer.stepResidual(h, this.norm, state) : composedStepResidual(this.mixer, h, this.norm, state);
    return { y: this.addMlp(out.y), state: out.state };
  }

  private addMlp(h: Tensor): Tensor {
    return this.mlp && this.norm2 ? ops.add(h, this.mlp.apply(this.norm2.forward(h))) : h;
  }
}
