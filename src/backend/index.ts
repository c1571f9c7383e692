/**
 * What a decode loop needs to run well on any backend (opening one by name: ./open.ts; the tidy
 * scopes: ./scope.ts):
 *
 *   const be = await createBackend('webgpu');   // or 'cpu'
 *   try {
 *     let ids = be.upload(firstIds, [B]);
 *     for (...) {
 *       const out = tidy(() => model.step(ids, state));   // intermediates back to the pool
 *       disposeExcept([state, ids], out.state);              // the consumed state
 *       state = out.state;
 *       ids = await greedyTokens(out.logits, vocab);         // [B] i32, stays on the device
 *       out.logits.dispose();
 *       tokens = await ids.read();                           // 4 bytes a sequence
 *     }
 *   } finally { releaseBackend(be); }                        // a live Dawn device keeps Node running
 *
 * On WebGPU nothing in a step reads back, so a step is one command buffer. Reading the ids
 * waits for it; a loop that may run ahead (say, a fixed token budget without stop ids) can
 * record the next step with `ids` first and read the previous step's ids after, so the host
 * records while the GPU runs.
 */
import type { Tensor } from '../tensor.js';

/**
 * Greedy next tokens: logits [B, V] -> ids i32 [B] on the same backend, each the first index of
 * the row's largest value among its first `vocab` (the tokenizer's vocabulary; padded rows are
 * never chosen), NaN never winning: `Backend.argmax`, which resolves at once.
 */
export async function greedyTokens(logits: Tensor, vocab: number): Promise<Tensor> {
  return logits.backend.argmax(logits, vocab);
}
