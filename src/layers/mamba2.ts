/**
 * Mamba-2 mixer (Dao & Gu 2024), mamba_ssm modules/mamba2.py `Mamba2` (the non-fused path).
 *
 * Glossary (code -> paper):
 *   B        b        batch size
 *   L        l        sequence length
 *   d        d_model  model width
 *   H, P     nheads, headdim; dSsm = H * P channels go through the SSM
 *   N        n        state size (d_state)
 *   G        ngroups  groups of B/C; head h reads group h / (H / G)
 *   K                width of the causal conv over xBC
 *   dMlp             width of the optional parallel gated MLP (z0, x0) folded into in_proj
 *   dt       Δ        per-head step size (softplus(dt + dt_bias), clamped to dt_limit)
 *   A        A        -exp(A_log) [H], one scalar decay per head
 *   Bm, Cm   B, C     input-dependent [B, L, G, N]
 *   Dskip    D        skip connection [H] (or [H, P] with D_has_hdim)
 *   z                 gate: norm(y, z) by the grouped gated RMSNorm, or y * silu(z) without it
 */
import type { Mamba2Config } from '../config.js';
import * as ops from '../ops/index.js';
import type { Tensor } from '../tensor.js';
import { isRecording } from '../autograd/index.js';
import { cacheNegExp, composedStepResidual, expectState, negExp, stepAsForward, type Mixer } from './mixer.js';
import type { RmsNorm } from './rms-norm.js';
import type { ParamScope } from './params.js';

/** conv [B, convDim, K-1] with convDim = dSsm + 2 G N; ssm [B, H, P, N] */
export interface Mamba2State { kind: 'mamba2'; conv: Tensor; ssm: Tensor }

/** mamba_ssm builds RMSNormGated with eps 1e-5 whatever the model's norm epsilon is (cfg.normEps overrides). */
const GATED_NORM_EPS = 1e-5;

export class Mamba2Mixer implements Mixer<Mamba2State> {
  private readonly inW: Tensor; private readonly inB?: Tensor;      // [2 dMlp + 2 dSsm + 2GN + H, d]
  private readonly convW: Tensor; private readonly convB?: Tensor;  // [convDim, K], [convDim]
  private readonly dtBias: Tensor;                                   // [H]
  private readonly aLog: Tensor;                                     // [H], A = -exp(A_log)
  private readonly Dskip: Tensor;                                    // [H] or [H, P]
  private readonly normW?: Tensor;                                   // [dSsm]
  private readonly outW: Tensor; private readonly outB?: Tensor;    // [d, dMlp + dSsm], [d]
  private readonly convDim: number;
  /** the decode step runs as three kernels: gate-then-norm, no parallel MLP, a conv (mamba_ssm's defaults) */
  private readonly fusedStep: boolean;

  constructor(readonly cfg: Mamba2Config, p: ParamScope) {
    this.inW = p.get('in_proj.weight'); this.inB = p.opt('in_proj.bias');
    this.convW = p.get('conv1d.weight'); this.convB = p.opt('conv1d.bias');
    this.dtBias = p.get('dt_bias');
    this.aLog = p.get('A_log');
    const D = p.get('D');
    this.Dskip = cfg.dHasHdim ? D.reshape([cfg.nHeads, cfg.headDim]) : D;
    this.normW = cfg.rmsNorm ? p.get('norm.weight') : undefined;
    this.outW = p.get('out_proj.weight'); this.outB = p.opt('out_proj.bias');
    this.convDim = cfg.dSsm + 2 * cfg.nGroups * cfg.dState;
    this.fusedStep = this.normW !== undefined && !cfg.normBeforeGate && cfg.dMlp === 0 && cfg.dConv >= 2;
    cacheNegExp(this.aLog);
  }

  /** x [B, L, d] -> y [B, L, d] */
  forward(x: Tensor, state?: Mamba2State): { y: Tensor; state: Mamba2State } {
    const { dSsm, nHeads: H, headDim: P, nGroups: G, dState: N, dMlp } = this.cfg;
    if (state) expectState(state, 'mamba2');
    const [B, L] = x.shape;
    const zxbcdt = ops.linear(x, this.inW, this.inB);              // [B, L, 2 dMlp + dSsm + convDim + H]
    const parts = ops.split(zxbcdt, dMlp > 0 ? [dMlp, dMlp, dSsm, this.convDim, H] : [dSsm, this.convDim, H]);
    const [z, xBC, dt] = parts.slice(-3);                          // [B, L, dSsm], [B, L, convDim], [B, L, H]
    const conv = ops.causalConv1d(xBC, this.convW, this.convB, state?.conv, true);
    const [xs, Bm, Cm] = ops.split(conv.y, [dSsm, G * N, G * N]);
    const scan = ops.ssdChunked({
      // A from A_log on every call: the optimizer updates A_log in place, and autograd reaches it
      x: xs.reshape([B, L, H, P]), dt, A: negExp(this.aLog),
      Bmat: Bm.reshape([B, L, G, N]), Cmat: Cm.reshape([B, L, G, N]), Dskip: this.Dskip,
      dtBias: this.dtBias, dtSoftplus: true, dtLimit: this.cfg.dtLimit, chunkSize: this.cfg.chunkSize,
      state: state?.ssm,
    });                                                            // y [B, L, H, P]
    const ySsm = scan.y.reshape([B, L, dSsm]);
    // grouped as mamba_ssm (group size dSsm / G); transformers normalizes the full width
    let y = this.normW
      ? ops.gatedRmsNorm(ySsm, z, this.normW, this.cfg.normEps ?? GATED_NORM_EPS, dSsm / G, this.cfg.normBeforeGate)
      : ops.mul(ySsm, ops.silu(z));                                // [B, L, dSsm]
    if (dMlp > 0) {
      const [z0, x0] = parts;
      y = ops.concat([ops.mul(ops.silu(z0), x0), y]);              // [B, L, dMlp + dSsm]
    }
    return { y: ops.linear(y, this.outW, this.outB), state: { kind: 'mamba2', conv: conv.state, ssm: scan.state } };
  }

  /** x [B, d] -> y [B, d] */
  step(x: Tensor, state: Mamba2State): { y: Tensor; state: Mamba2State } {
    return stepAsForward(this, x, state);
  }

  /**
   * h [B, d] -> h + step(norm(h)) as three kernels where `fusedStep`: the block's norm with
   * in_proj; conv, SSD recurrence and gate (`ssm` updated in place, as the step consumes its
   * state); the gated norm with out_proj and the residual add. Composed otherwise, and while
   * recording.
   */
  stepResidual(h: Tensor, norm: RmsNorm, state: Mamba2State): { y: Tensor; state: Mamba2State } {
    if (!this.fusedStep || isRecording()) return composedStepResidual(this, h, norm, state);
    expectState(state, 'mamba2');
    const { dSsm, nGroups: G } = this.cfg;
    const proj = ops.normLinear(h, { weight: norm.weight, eps: norm.eps, groupSize: h.shape[1] }, this.inW, this.inB); // [B, W]
    const { y, conv } = ops.mamba2Step({
      proj, convWeight: this.convW, convBias: this.convB, conv: state.conv, ssm: state.ssm, A: negExp(this.aLog),
      Dskip: this.Dskip, dtBias: this.dtBias, dtLimit: this.cfg.dtLimit, nGroups: G,
    });                                                            // y [B, dSsm]
    const out = ops.normLinear(y, { weight: this.normW!, eps: this.cfg.normEps ?? GATED_NORM_EPS, groupSize: dSsm / G }, this.outW, this.outB, h);
    return { y: out, state: { kind: 'mamba2', conv, ssm: state.ssm } };
  }

  initState(batch: number): Mamba2State {
    const { nHeads: H, headDim: P, dState: N, dConv: K } = this.cfg;
    const be = this.inW.backend;
    return { kind: 'mamba2', conv: be.zeros([batch, this.convDim, K - 1]), ssm: be.zeros([batch, H, P, N]) };
  }
}
