import { isRecording } from '../autograd/index.js';
import type { Backend } from '../backend/backend.js';
import { Block } from '../layers/block.js';
import { ParamScope } from '../layers/params.js';
import { RmsNorm } from '../layers/rms-norm.js';
import * as ops from '../ops/index.js';
import type { MixerState } from '../layers/mixer.js';
import { Tensor } from '../tensor.js';
import { UserError } from '../errors.js';
import { checkIdValues, describeValue, expectTensor } from './args.js';
import { paddedVocab, type ModelConfig } from '../config.js';
import { checkWeights } from './params.js';
import { stateBytesOf } from './sizes.js';
import { checkNotConsumed, consumeState, ModelState } from './state.js';

/** KV cache positions an attention layer gets when initState is not told a maxLen. */
export const DEFAULT_MAX_LEN = 2048;

/**
 * A language model over mamba_ssm's MixerModel: embedding -> blocks -> norm_f -> lm_head
 * (the embedding itself when tied). `forward` runs whole sequences (selective scan, chunked
 * SSD, causal attention); `step` one token per sequence with constant-size SSM state.
 *
 * Both advance a state: the state passed in is consumed (updated in place where that saves a
 * copy, so a decode step allocates no new SSM state) and the returned one continues from it;
 * passing a consumed state again is an error. `state.clone()` keeps a copy to branch from.
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

  /** Per layer, each state tensor's shape without the batch (and cache length) dims. */
  private stateSignature?: string[];

  /** zero state for `batch` sequences; attention layers get a KV cache of `maxLen` positions */
  initState(batch: number, maxLen = DEFAULT_MAX_LEN): ModelState {
    for (const [name, v] of [['batch', batch], ['maxLen', maxLen]] as const) {
      if (!(Number.isInteger(v) && v >= 1)) throw new UserError(`MambaLM.initState(${name}): expected an integer >= 1, got ${describeValue(v)}`);
    }
    return new ModelState(batch, this.blocks.map((b) => b.mixer.initState(batch, maxLen)));
  }

  /**
   * Token ids as the model's input: rows of equal length -> i32 [B, L] on the model's backend,
   * for `forward`. Each id must be in [0, vocabPadded).
   */
  ids(rows: readonly (readonly number[])[]): Tensor {
    const where = 'MambaLM.ids(rows)';
    if (!Array.isArray(rows) || rows.length === 0 || !rows.every((r: unknown): boolean => Array.isArray(r) || ArrayBuffer.isView(r))) {
      const hint = Array.isArray(rows) && rows.length > 0 && typeof rows[0] === 'number' ? ' (one sequence is [ids])' : '';
      throw new UserError(`${where}: expected a non-empty array of token id arrays, got ${describeValue(rows)}${hint}`);
    }
    const L = rows[0].length;
    const bad = rows.findIndex((r) => r.length !== L || r.length === 0);
    if (bad >= 0) throw new UserError(`${where}: row ${bad} has ${rows[bad].length} ids, row 0 ${L}; rows must be non-empty and of one length (generate() takes prompts of different lengths)`);
    const data = new Int32Array(rows.length * L);
    rows.forEach((r, b) => {
      checkIdValues(r, `${where} row ${b}`, this.vocabPadded);
      data.set(r, b * L);
    });
    return this.backend.upload(data, [rows.length, L]);
  }

  /** One token per sequence, ids -> i32 [B] on the model's backend, for `step`. */
  stepIds(ids: readonly number[]): Tensor {
    if (!(Array.isArray(ids) || ArrayBuffer.isView(ids)) || ids.length === 0) {
      throw new UserError(`MambaLM.stepIds(ids): expected a non-empty array of token ids (one per sequence), got ${describeValue(ids)}`);
    }
    checkIdValues(ids, 'MambaLM.stepIds(ids)', this.vocabPadded);
    return this.backend.upload(Int32Array.from(ids), [ids.length]);
  }

  /**
   * The logits of one position of each sequence as host arrays over the tokenizer's vocabulary
   * (the `config.vocabSize` first entries: padded rows are not tokens). `logits` is what forward
   * ([B, L, V]: `position` counts from 0, negative from the end; default the last) or step
   * ([B, V]) returned. One read; the tensor stays the caller's.
   */
  async readLogits(logits: Tensor, position = -1): Promise<Float32Array[]> {
    const where = 'MambaLM.readLogits(logits)';
    const V = this.vocabPadded;
    const rank = (logits as unknown) instanceof Tensor ? logits.shape.length : 0;
    const t = expectTensor(logits, where, 'f32', rank === 2 ? ['B', 'V'] : ['B', 'L', 'V']);
    if (t.shape[t.shape.length - 1] !== V) throw new UserError(`${where}: the last dimension is ${t.shape[t.shape.length - 1]}, this model's padded vocabulary ${V}`);
    const L = rank === 2 ? 1 : t.shape[1];
    const l = position < 0 ? L + position : position;
    if (!(Number.isInteger(position) && l >= 0 && l < L)) throw new UserError(`MambaLM.readLogits(position): ${position} is outside the ${L} positions`);
    const data = (await t.read()) as Float32Array;
    return Array.from({ length: t.shape[0] }, (_, b) => data.slice((b * L + l) * V, (b * L + l) * V + this.config.vocabSize));
  }

  /**
   * ids i32 [B, L] -> logits [B, L, vocabPadded]; starts from `state` (zeros when absent; then
   * attention caches hold exactly these L tokens), returns the final state.
   */
  forward(ids: Tensor, state?: ModelState): { logits: Tensor; state: ModelState } {
    const [B, L] = this.checkIds(ids, 'MambaLM.forward(ids)', ['B', 'L']).shape;
    if (state !== undefined) this.checkState(state, B, 'MambaLM.forward(ids, state)');
    const st = state ?? this.initState(B, L);
    let h = ops.embedding(this.embedding, ids);              // [B, L, d]
    const next = this.blocks.map((block, i) => {
      const out = block.forward(h, st.layers[i]);
      h = out.y;
      return out.state;
    });
    const logits = ops.linear(this.normF.forward(h), this.lmHead);   // [B, L, V]
    if (state) consumeState(state);
    return { logits, state: new ModelState(B, next) };
  }

  /**
   * ids i32 [B] -> logits [B, vocabPadded] for one token per sequence; advances `state` (consumed)
   * to the returned one.
   */
  step(ids: Tensor, state: ModelState): { logits: Tensor; state: ModelState } {
    const [B] = this.checkIds(ids, 'MambaLM.step(ids)', ['B']).shape;
    this.checkState(state, B, 'MambaLM.step(ids, state)');
    let h = ops.embedding(this.embedding, ids);              // [B, d]
    const next = this.blocks.map((block, i) => {
      const out = block.step(h, state.layers[i]);
      h = out.y;
      return out.state;
    });
    // the final norm and the head as one kernel when decoding
    const logits = isRecording() ? ops.linear(this.normF.forward(h), this.lmHead)
      : ops.normLinear(h, { weight: this.normF.weight, eps: this.normF.eps, groupSize: h.shape[1] }, this.lmHead);
    consumeState(state);
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
    return stateBytesOf(this.config, maxLen);
  }

  private checkIds(ids: Tensor, where: string, dims: string[]): Tensor {
    expectTensor(ids, where, 'i32', dims);
    if (ids.backend !== this.backend) throw new UserError(`${where}: the ids are on another backend (${ids.backend.name}) than the model (${this.backend.name})`);
    return ids;
  }

  /** `state` is a live state of this model's architecture for B sequences. */
  private checkState(state: ModelState, B: number, where: string): void {
    if (!(state instanceof ModelState)) throw new UserError(`${where}: expected a ModelState (model.initState(B) or a returned state), got ${describeValue(state)}`);
    checkNotConsumed(state, where);
    if (state.batch !== B) throw new UserError(`${where}: the state holds ${state.batch} sequences, the ids ${B}`);
    const want = this.signature();
    const got = state.layers.map(layerSignature);
    const i = got.findIndex((g, l) => g !== want[l]);
    if (got.length !== want.length || i >= 0) {
      const what = got.length !== want.length ? `${got.length} layers, the model ${want.length}` : `layer ${i} is ${got[i]}, the model's ${want[i]}`;
      throw new UserError(`${where}: the state is not one of this model (${what})`);
    }
    const be = state.layers.flatMap(stateTensors)[0]?.backend ?? this.backend;
    if (be !== this.backend) throw new UserError(`${where}: the state is on another backend (${be.name}) than the model (${this.backend.name})`);
  }

  private signature(): string[] {
    if (!this.stateSignature) {
      const probe = this.initState(1, 1);
      this.stateSignature = probe.layers.map(layerSignature);
      for (const s of probe.layers) for (const t of stateTensors(s)) t.dispose();
    }
    return this.stateSignature;
  }
}

/** e.g. "mamba2 conv [*, 160, 3] ssm [*, 8, 16, 16]": the state's kind and per-sequence shapes */
function layerSignature(s: MixerState): string {
  const dims = (t: Tensor, skip: number) => `[${['*', ...t.shape.slice(skip)].join(', ')}]`;
  if (s.kind === 'mlp') return 'mlp';
  if (s.kind === 'attention') return `attention k ${dims(s.k, 2)} v ${dims(s.v, 2)}${s.conv ? ` conv ${dims(s.conv, 1)}` : ''}`;
  return `${s.kind} conv ${dims(s.conv, 1)} ssm ${dims(s.ssm, 1)}`;
}

/** the tensors a layer's state holds (none for an MLP layer) */
export function stateTensors(s: MixerState): Tensor[] {
  if (s.kind === 'mlp') return [];
  return s.kind === 'attention' ? [s.k, s.v, ...(s.conv ? [s.conv] : [])] : [s.conv, s.ssm];
}
