/**
 * Mamba-1 mixer (Gu & Dao 2023), mamba_ssm modules/mamba_simple.py `Mamba`.
 *
 * Glossary (code -> paper, as in mamba-minimal):
 *   B        b        batch size
 *   L        l        sequence length
 *   d        d_model  model width
 *   D        d_in     inner width, expand * d_model
 *   N        n        state size (d_state)
 *   R        dt_rank  rank of Δ's projection
 *   K                width of the causal conv
 *   delta    Δ        input-dependent step size (softplus(dt_proj(x) + bias))
 *   A        A        -exp(A_log) [D, N], the state decay rates
 *   Bm, Cm   B, C     input-dependent input / output matrices [B, L, N]
 *   Dskip    D        skip connection [D]
 *   z                 the gate branch, applied as y * silu(z)
 */
import type { Mamba1Config } from '../config.js';
import * as ops from '../ops/index.js';
import type { Tensor } from '../tensor.js';
import { cacheNegExp, expectState, negExp, stepAsForward, type Mixer } from './mixer.js';
import type { ParamScope } from './params.js';

/** conv [B, D, K-1] (the last K-1 conv inputs), ssm [B, D, N] (h) */
export interface Mamba1State { kind: 'mamba1'; conv: Tensor; ssm: Tensor }

export class Mamba1Mixer implements Mixer<Mamba1State> {
  private readonly inW: Tensor; private readonly inB?: Tensor;      // [2D, d], [2D]
  private readonly convW: Tensor; private readonly convB?: Tensor;  // [D, K], [D]
  private readonly xProjW: Tensor;                                   // [R + 2N, D]
  private readonly dtW: Tensor; private readonly dtB: Tensor;       // [D, R], [D]
  private readonly aLog: Tensor;                                     // [D, N], A = -exp(A_log)
  private readonly Dskip: Tensor;                                    // [D]
  private readonly outW: Tensor; private readonly outB?: Tensor;    // [d, D], [d]

  constructor(readonly cfg: Mamba1Config, p: ParamScope) {
    this.inW = p.get('in_proj.weight'); this.inB = p.opt('in_proj.bias');
    this.convW = p.get('conv1d.weight'); this.convB = p.opt('conv1d.bias');
    this.xProjW = p.get('x_proj.weight');
    this.dtW = p.get('dt_proj.weight'); this.dtB = p.get('dt_proj.bias');
    this.aLog = p.get('A_log');
    this.Dskip = p.get('D');
    this.outW = p.get('out_proj.weight'); this.outB = p.opt('out_proj.bias');
    cacheNegExp(this.aLog);
  }

  /** x [B, L, d] -> y [B, L, d] */
  forward(x: Tensor, state?: Mamba1State): { y: Tensor; state: Mamba1State } {
    const { dInner: D, dState: N, dtRank: R } = this.cfg;
    if (state) expectState(state, 'mamba1');
    const xz = ops.linear(x, this.inW, this.inB);                                   // [B, L, 2D]
    const [xs, z] = ops.split(xz, [D, D]);                                          // [B, L, D] each
    const conv = ops.causalConv1d(xs, this.convW, this.convB, state?.conv, true);   // u [B, L, D]
    const xDbl = ops.linear(conv.y, this.xProjW);                                   // [B, L, R + 2N]
    const [dtIn, Bm, Cm] = ops.split(xDbl, [R, N, N]);                              // [B, L, R], [B, L, N] x2
    // dt_proj's bias goes into the scan (deltaBias) so that softplus(Wx + b) is fused there
    const delta = ops.linear(dtIn, this.dtW);                                       // [B, L, D]
    const scan = ops.selectiveScan({
      // A from A_log on every call: the optimizer updates A_log in place, and autograd reaches it
      u: conv.y, delta, A: negExp(this.aLog), Bmat: Bm, Cmat: Cm, Dskip: this.Dskip, z,
      deltaBias: this.dtB, deltaSoftplus: true, state: state?.ssm,
    });                                                                             // y [B, L, D]
    const y = ops.linear(scan.y, this.outW, this.outB);                             // [B, L, d]
    return { y, state: { kind: 'mamba1', conv: conv.state, ssm: scan.state } };
  }

  /** x [B, d] -> y [B, d] */
  step(x: Tensor, state: Mamba1State): { y: Tensor; state: Mamba1State } {
    return stepAsForward(this, x, state);
  }

  initState(batch: number): Mamba1State {
    const { dInner: D, dState: N, dConv: K } = this.cfg;
    const be = this.inW.backend;
    return { kind: 'mamba1', conv: be.zeros([batch, D, K - 1]), ssm: be.zeros([batch, D, N]) };
  }
}
