/**
 * Multi-head attention mixer (Vaswani et al. 2017) as mamba_ssm modules/mha.py `MHA`, used by
 * hybrid models: one in_proj to q, k, v (+ an optional gated MLP part), an optional depthwise
 * causal conv over qkv (no activation), optional rotary on q and k, grouped KV heads, out_proj.
 * With split projections it is HF Llama's / NemotronH's attention: q_proj, k_proj, v_proj, o_proj
 * (same math; the fused in_proj's rows are q, k, v in that order).
 *
 * Glossary: B batch, L new tokens, d model width, Hq query heads, Hkv KV heads (GQA when fewer),
 *   E head dim, S cache positions (maxLen), lengths[b] tokens already cached for sequence b,
 *   mlp the parallel gated MLP width (mamba_ssm's mlp_dim, rounded up to 256 as MHA does).
 */
import type { AttentionConfig } from '../config.js';
import * as ops from '../ops/index.js';
import type { Tensor } from '../tensor.js';
import { expectState, stepAsForward, type Mixer } from './mixer.js';
import type { ParamScope } from './params.js';

/**
 * k, v [B, S, Hkv, E]: the cache; lengths [B]: valid positions per sequence (they differ after
 * ModelState.concatBatch); conv [B, qkvDim, K-1] when the layer has a conv.
 */
export interface AttentionState { kind: 'attention'; k: Tensor; v: Tensor; lengths: Int32Array; conv?: Tensor }

export class AttentionMixer implements Mixer<AttentionState> {
  private readonly inW: Tensor; private readonly inB?: Tensor;      // [qkvDim + mlp, d], or q_proj [Hq E, d]
  private readonly kW?: Tensor; private readonly kB?: Tensor;       // k_proj [Hkv E, d] when split
  private readonly vW?: Tensor; private readonly vB?: Tensor;       // v_proj [Hkv E, d] when split
  private readonly convW?: Tensor; private readonly convB?: Tensor; // [qkvDim, K], [qkvDim]
  private readonly outW: Tensor; private readonly outB?: Tensor;    // [d, Hq E + mlp / 2]
  private readonly qkvDim: number;
  private readonly mlp: number;
  private readonly scale: number;

  constructor(readonly cfg: AttentionConfig, p: ParamScope) {
    const split = cfg.projections === 'split';
    const [inName, outName] = split ? ['q_proj', 'o_proj'] : ['in_proj', 'out_proj'];
    this.inW = p.get(`${inName}.weight`); this.inB = p.opt(`${inName}.bias`);
    if (split) {
      this.kW = p.get('k_proj.weight'); this.kB = p.opt('k_proj.bias');
      this.vW = p.get('v_proj.weight'); this.vB = p.opt('v_proj.bias');
    }
    if (cfg.dConv > 0) { this.convW = p.get('conv1d.weight'); this.convB = p.opt('conv1d.bias'); }
    this.outW = p.get(`${outName}.weight`); this.outB = p.opt(`${outName}.bias`);
    this.qkvDim = cfg.headDim * (cfg.nHeads + 2 * cfg.nKvHeads);
    this.mlp = attentionMlpWidth(cfg);
    this.scale = cfg.softmaxScale ?? 1 / Math.sqrt(cfg.headDim);
  }

  /** x [B, L, d] -> y [B, L, d]. Without a state the cache holds exactly these L tokens. */
  forward(x: Tensor, state?: AttentionState): { y: Tensor; state: AttentionState } {
    const { nHeads: Hq, nKvHeads: Hkv, headDim: E } = this.cfg;
    const [B, L] = x.shape;
    if (state) expectState(state, 'attention');
    const st = state ?? this.initState(B, L);
    const S = st.k.shape[1];
    for (let b = 0; b < B; b++) {
      if (st.lengths[b] + L > S) {
        throw new Error(`KV cache overflow: sequence ${b} has ${st.lengths[b]} cached tokens + ${L} new > maxLen ${S}; call initState with a larger maxLen`);
      }
    }
    let qkv = this.kW && this.vW                                   // [B, L, qkvDim + mlp]
      ? ops.concat([ops.linear(x, this.inW, this.inB), ops.linear(x, this.kW, this.kB), ops.linear(x, this.vW, this.vB)])
      : ops.linear(x, this.inW, this.inB);
    let mlpOut: Tensor | undefined;
    if (this.mlp > 0) {
      const [q, m] = ops.split(qkv, [this.qkvDim, this.mlp]);
      const [up, gate] = ops.split(m, [this.mlp / 2, this.mlp / 2]);
      qkv = q;
      mlpOut = ops.mul(up, ops.silu(gate));                          // [B, L, mlp / 2]
    }
    let conv: Tensor | undefined;
    if (this.convW) {
      const c = ops.causalConv1d(qkv, this.convW, this.convB, st.conv, false);
      qkv = c.y;
      conv = c.state;
    }
    const [qf, kf, vf] = ops.split(qkv, [Hq * E, Hkv * E, Hkv * E]);
    let q = qf.reshape([B, L, Hq, E]);
    let k = kf.reshape([B, L, Hkv, E]);
    const v = vf.reshape([B, L, Hkv, E]);
    if (this.cfg.rotaryEmbDim > 0) {
      const { rotaryEmbDim: rd, rotaryBase: base, rotaryInterleaved: il } = this.cfg;
      q = ops.rotary(q, st.lengths, rd, base, il);
      k = ops.rotary(k, st.lengths, rd, base, il);
    }
    ops.writeAt(st.k, k, st.lengths);
    ops.writeAt(st.v, v, st.lengths);
    const lengths = st.lengths.map((n) => n + L);
    const ctx = ops.attention(q, st.k, st.v, { causal: this.cfg.causal, scale: this.scale, kvLen: lengths });
    let y = ctx.reshape([B, L, Hq * E]);
    if (mlpOut) y = ops.concat([y, mlpOut]);
    return { y: ops.linear(y, this.outW, this.outB), state: { kind: 'attention', k: st.k, v: st.v, lengths, conv } };
  }

  /** x [B, d] -> y [B, d] */
  step(x: Tensor, state: AttentionState): { y: Tensor; state: AttentionState } {
    return stepAsForward(this, x, state);
  }

  initState(batch: number, maxLen: number): AttentionState {
    const { nKvHeads: Hkv, headDim: E, dConv: K } = this.cfg;
    const be = this.inW.backend;
    return {
      kind: 'attention', k: be.zeros([batch, maxLen, Hkv, E]), v: be.zeros([batch, maxLen, Hkv, E]),
      lengths: new Int32Array(batch), conv: K > 0 ? be.zeros([batch, this.qkvDim, K - 1]) : undefined,
    };
  }
}

/** mamba_ssm's MHA rounds mlp_dim up to a multiple of 256 (idempotent, so either form works). */
export function attentionMlpWidth(cfg: AttentionConfig): number {
  return Math.ceil(cfg.mlpDim / 256) * 256;
}
