import { isRecording } from '../autograd/index.js';
import { tidy } from '../backend/scope.js';
import { UserError } from '../errors.js';
import type { MixerState } from '../layers/mixer.js';
import * as ops from '../ops/index.js';

/**
 * States already passed to forward/step. Their buffers may have been updated in place (KV
 * caches, the fused Mamba-2 step's SSM state) or freed by a decode loop, so a second use would
 * silently compute from a half-advanced state; it fails instead.
 */
const consumed = new WeakSet<ModelState>();

/** Marks `state` as advanced by `where` (MambaLM.forward/step). */
export function consumeState(state: ModelState): void {
  consumed.add(state);
}

export function checkNotConsumed(state: ModelState, where: string): void {
  if (consumed.has(state)) {
    throw new UserError(`${where}: this state was already advanced by an earlier forward/step; continue from the state that call returned, or clone() a state before stepping it to branch`);
  }
}

/**
 * The recurrent state of a whole model for a batch of sequences: one mixer state per layer
 * (Mamba-1: conv [B, D, K-1] + ssm [B, D, N]; Mamba-2: conv [B, convDim, K-1] + ssm
 * [B, H, P, N]; attention: k/v cache [B, maxLen, Hkv, E] + lengths [B] (+ conv); an MLP layer: nothing).
 * forward/step advance a state: the one passed in is consumed (its buffers may be updated in
 * place and shared with the returned one) and cannot be passed again; `clone()` first to keep a
 * copy, e.g. to branch a prompt into several continuations or for beam search.
 */
export class ModelState {
  constructor(readonly batch: number, readonly layers: readonly MixerState[]) {}

  /**
   * Stacks sequences prefilled separately (e.g. prompts of different lengths) into one batch,
   * in order. Attention caches must have the same maxLen; each keeps its own length.
   */
  static concatBatch(states: readonly ModelState[]): ModelState {
    if (states.length === 0) throw new Error('concatBatch: no states');
    states.forEach((s, i) => checkNotConsumed(s, `ModelState.concatBatch(states[${i}])`));
    const nLayers = states[0].layers.length;
    if (states.some((s) => s.layers.length !== nLayers)) throw new Error('concatBatch: states of different models');
    const layers = states[0].layers.map((first, i) => {
      const all = states.map((s) => s.layers[i]);
      if (all.some((s) => s.kind !== first.kind)) throw new Error(`concatBatch: layer ${i} states differ in kind`);
      if (first.kind === 'mlp') return first;
      if (first.kind === 'attention') {
        const att = all as Extract<MixerState, { kind: 'attention' }>[];
        const S = first.k.shape[1];
        if (att.some((s) => s.k.shape[1] !== S)) {
          throw new Error(`concatBatch: layer ${i} KV caches have different maxLen (${att.map((s) => s.k.shape[1]).join(', ')}); use one maxLen in initState`);
        }
        const lengths = new Int32Array(att.reduce((a, s) => a + s.lengths.length, 0));
        att.reduce((at, s) => (lengths.set(s.lengths, at), at + s.lengths.length), 0);
        return {
          kind: 'attention' as const, k: ops.concatBatch(att.map((s) => s.k)), v: ops.concatBatch(att.map((s) => s.v)), lengths,
          conv: first.conv ? ops.concatBatch(att.map((s) => s.conv!)) : undefined,
        };
      }
      const ssm = all as Extract<MixerState, { kind: 'mamba1' | 'mamba2' }>[];
      return { kind: first.kind, conv: ops.concatBatch(ssm.map((s) => s.conv)), ssm: ops.concatBatch(ssm.map((s) => s.ssm)) } as MixerState;
    });
    return new ModelState(states.reduce((a, s) => a + s.batch, 0), layers);
  }

  /** A new state of the sequences at `indices` (in that order; repeats allowed, e.g. for beams). */
  selectBatch(indices: readonly number[]): ModelState {
    checkNotConsumed(this, 'ModelState.selectBatch');
    for (const i of indices) if (!(i >= 0 && i < this.batch)) throw new RangeError(`selectBatch: index ${i} outside batch ${this.batch}`);
    const layers = this.layers.map((s): MixerState => {
      if (s.kind === 'mlp') return s;
      if (s.kind === 'attention') {
        return {
          kind: 'attention', k: ops.selectBatch(s.k, indices), v: ops.selectBatch(s.v, indices),
          lengths: Int32Array.from(indices, (i) => s.lengths[i]), conv: s.conv ? ops.selectBatch(s.conv, indices) : undefined,
        };
      }
      return { kind: s.kind, conv: ops.selectBatch(s.conv, indices), ssm: ops.selectBatch(s.ssm, indices) } as MixerState;
    });
    return new ModelState(indices.length, layers);
  }

  /**
   * An independent copy (new buffers on the same backend): advancing one leaves the other as it
   * was. On WebGPU the copy is the caller's to free, like any state (disposeExcept); made inside
   * a `tidy` scope, it lives only as long as the scope unless returned from it.
   */
  clone(): ModelState {
    checkNotConsumed(this, 'ModelState.clone');
    const copy = () => this.selectBatch([...Array(this.batch).keys()]);
    // while recording, the tape's backward still needs the copy's index tensor
    return isRecording() ? copy() : tidy(copy);
  }
}
