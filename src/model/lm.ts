import { isRecording } from '../autograd/index.js';
import type { Backend } from '../backend/backend.js';
import { Block } from '../layers/block.js';
import { ParamScope } from '../layers/params.js';
import { RmsNorm } from '../layers/rms-norm.js';
import * as ops from '../ops/index.js';
import type { Tensor } from '../tensor.js';
import { paddedVocab, type ModelConfig } from './config.js';
import { checkWeights } from './params.js';
import { ModelState } from './state.js';

/** KV cache positions an attention layer gets when initState is not told a maxLen. */
export const DEFAULT_MAX_LEN = 2048;

/**
 * A language model over mamba_ssm's MixerModel: embedding -> blocks -> norm_f -> lm_head
 * (the embedding itself when tied). `forward` runs whole sequences (selective scan, chunked
 * SSD, causal attention); `step` one token per sequence with constant-size SSM state.
 */
export class MambaLM {
  readonly vocabPadded: number;
  private readonly embedding: Tensor;       // [V, d]
  private readonly blocks: Block[];
  private readonly normF: RmsNorm;
  private readonly lmHead: Tensor;          // [V, d]

  /** `weights` by canonical name (see params.ts), already on `backend`; checked against config. */
  constructor(readonly config: ModelConfig, private readonly weights: Map<string, Tensor>, readonly backend: Backend) {
    checkWeights(config, weights);
    const p = new ParamScope(weights);
    this.vocabPadded = paddedVocab(config);
    this.embedding = p.get('embedding.weight');
    this.blocks = config.layers.map((layer, i) => new Block(layer, p.scope(`layers.${i}`), config.normEpsilon));
    this.normF = new RmsNorm(p.get('norm_f.weight'), config.normEpsilon);
    this.lmHead = config.tieEmbeddings ? this.embedding : p.get('lm_head.weight');
  }

  /** zero state for `batch` sequences; attention layers get a KV cache of `maxLen` positions */
  initState(batch: number, maxLen = DEFAULT_MAX_LEN): ModelState {
    return new ModelState(batch, this.blocks.map((b) => b.mixer.initState(batch, maxLen)));
  }

  /**
   * ids i32 [B, L] -> logits [B, L, vocabPadded]; starts from `state` (zeros when absent; then
   * attention caches hold exactly these L tokens), returns the final state.
   */
  forward(ids: Tensor, state?: ModelState): { logits: Tensor; state: ModelState } {
    const [B, L] = ids.shape;
    const st = state ?? this.initState(B, L);
    this.checkBatch(st, B);
    let h = ops.embedding(this.embedding, ids);              // [B, L, d]
    const next = this.blocks.map((block, i) => {
      const out = block.forward(h, st.layers[i]);
      h = out.y;
      return out.state;
    });
    const logits = ops.linear(this.normF.forward(h), this.lmHead);   // [B, L, V]
    return { logits, state: new ModelState(B, next) };
  }

  /** ids i32 [B] -> logits [B, vocabPadded] for one token per sequence */
  step(ids: Tensor, state: ModelState): { logits: Tensor; state: ModelState } {
    const [B] = ids.shape;
    this.checkBatch(state, B);
    let h = ops.embedding(this.embedding, ids);              // [B, d]
    const next = this.blocks.map((block, i) => {
      const out = block.step(h, state.layers[i]);
      h = out.y;
      return out.state;
    });
    // the final norm and the head as one kernel when decoding
    const logits = isRecording() ? ops.linear(this.normF.forward(h), this.lmHead)
      : ops.normLinear(h, { weight: this.normF.weight, eps: this.normF.eps, groupSize: h.shape[1] }, this.lmHead);
    return { logits, state: new ModelState(B, next) };
  }

  /**
   * The trainable tensors by canonical name (a tied lm_head is the embedding, listed once), the
   * ones forward reads: updating them in place changes the model.
   */
  parameters(): Map<string, Tensor> {
    return new Map(this.weights);
  }

  /**
   * Parameters as stored: the embedding's padding rows count, a tied lm_head counts once.
   * (mamba-130m: 129,135,360 with vocab padded to 50280.)
   */
  paramCount(): number {
    let n = 0;
    for (const w of this.weights.values()) n += w.size;
    return n;
  }

  /** f32 bytes of one sequence's state: conv windows + SSM states + KV caches of `maxLen`. */
  stateBytesPerSequence(maxLen = DEFAULT_MAX_LEN): number {
    return this.blocks.reduce((a, b) => a + b.mixer.stateBytesPerSequence(maxLen), 0);
  }

  private checkBatch(state: ModelState, B: number): void {
    if (state.batch !== B) throw new Error(`the state holds ${state.batch} sequences, the input ${B}`);
    if (state.layers.length !== this.blocks.length) throw new Error(`the state has ${state.layers.length} layers, the model ${this.blocks.length}`);
  }
}
