/**
 * A model's `forward` and `step` as decode loops call them, leaving nothing behind on a GPU: the
 * ids and the state passed in are consumed and freed at once (except what the new state still
 * holds: an attention layer's KV cache, appended in place), and every intermediate goes back to
 * the buffer pool (`tidy`). The caller owns the returned logits and state. On the CPU, whose
 * memory the garbage collector frees, these are plain forward and step.
 */
import { disposeExcept, tidy } from '../backend/scope.js';
import type { MambaLM } from '../model/lm.js';
import type { ModelState } from '../model/state.js';
import type { Tensor } from '../tensor.js';

/** ids i32 [B, L] from `state` -> logits [B, L, vocabPadded] and the state after the L tokens */
export function prefill(model: MambaLM, ids: Tensor, state: ModelState): { logits: Tensor; state: ModelState } {
  const out = tidy(() => model.forward(ids, state));
  disposeExcept([ids, state], out.state);
  return out;
}

/** ids i32 [B] from `state` -> logits [B, vocabPadded] and the state after the token */
export function decodeStep(model: MambaLM, ids: Tensor, state: ModelState): { logits: Tensor; state: ModelState } {
  const out = tidy(() => model.step(ids, state));
  disposeExcept([ids, state], out.state);
  return out;
}

/** The state `make` builds from `old` (ModelState.concatBatch, selectBatch); `old` is consumed. */
export function rebatch(old: ModelState | readonly ModelState[], make: () => ModelState): ModelState {
  const next = tidy(make);
  disposeExcept(old, next);
  return next;
}
