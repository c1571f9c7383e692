import type { MlpConfig } from '../config.js';
import * as ops from '../ops/index.js';
import type { Tensor } from '../tensor.js';
import type { Mixer } from './mixer.js';
import type { ParamScope } from './params.js';

/** An MLP carries nothing from token to token; its state only keeps one entry per layer. */
export interface MlpState { kind: 'mlp' }

/**
 * Feed-forward layer (see MlpConfig), either after a mixer in the same block or in the mixer
 * slot as a layer of its own. Weights, d_int = dIntermediate:
 *   names 'fc':   fc1 [2 d_int, d] ([up; gate], mamba_ssm GatedMLP) or [d_int, d], fc2 [d, d_int]
 *   names 'proj': up_proj [d_int, d], gate_proj [d_int, d] when gated, down_proj [d, d_int]
 * Stateless, so one forward serves both paths.
 */
export class Mlp implements Mixer<MlpState> {
  private readonly upW: Tensor; private readonly upB?: Tensor;
  private readonly gateW?: Tensor; private readonly gateB?: Tensor;
  private readonly downW: Tensor; private readonly downB?: Tensor;

  constructor(readonly cfg: MlpConfig, p: ParamScope) {
    const [up, down] = cfg.names === 'fc' ? ['fc1', 'fc2'] : ['up_proj', 'down_proj'];
    this.upW = p.get(`${up}.weight`); this.upB = p.opt(`${up}.bias`);
    if (cfg.gated && cfg.names === 'proj') { this.gateW = p.get('gate_proj.weight'); this.gateB = p.opt('gate_proj.bias'); }
    this.downW = p.get(`${down}.weight`); this.downB = p.opt(`${down}.bias`);
  }

  /** x [..., d] -> [..., d] */
  apply(x: Tensor): Tensor {
    const f = this.cfg.dIntermediate;
    let up = ops.linear(x, this.upW, this.upB);                       // [..., d_int] (or [..., 2 d_int] fused)
    let gate: Tensor | undefined;
    if (this.gateW) gate = ops.linear(x, this.gateW, this.gateB);     // [..., d_int]
    else if (this.cfg.gated) [up, gate] = ops.split(up, [f, f]);
    const h = gate ? ops.mul(up, this.activation(gate)) : this.activation(up);
    return ops.linear(h, this.downW, this.downB);                     // [..., d]
  }

  forward(x: Tensor): { y: Tensor; state: MlpState } {
    return { y: this.apply(x), state: { kind: 'mlp' } };
  }

  step(x: Tensor): { y: Tensor; state: MlpState } {
    return this.forward(x);
  }

  initState(): MlpState {
    return { kind: 'mlp' };
  }

  stateBytesPerSequence(): number {
    return 0;
  }

  private activation(x: Tensor): Tensor {
    if (this.cfg.activation === 'silu') return ops.silu(x);
    if (this.cfg.activation === 'gelu') return ops.gelu(x);
    const r = ops.relu(x);
    return ops.mul(r, r);
  }
}
