/**
 * What a decode loop needs to run well on any backend (opening one by name: ./open.ts):
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
import { tensorsIn, WebGpuBackend } from './webgpu/index.js';

export { keep, tidy } from './webgpu/index.js';

/**
 * Disposes every tensor reachable from `value` that `keep` does not reach, e.g. the state a step
 * consumed (an attention layer's KV cache is appended in place and lives on in the new state).
 */
export function disposeExcept(value: unknown, keep: unknown): void {
  const kept = tensorsIn(keep);
  for (const t of tensorsIn(value)) if (!kept.has(t)) t.dispose();
}

/**
 * Greedy next tokens: logits [B, V] -> ids i32 [B] on the same backend, each the first index of
 * the row's largest value among its first `vocab` (the tokenizer's vocabulary; padded rows are
 * never chosen), NaN never winning. On WebGPU the argmax runs on the device and resolves at once;
 * on the CPU it reads the logits.
 */
export async function greedyTokens(logits: Tensor, vocab: number): Promise<Tensor> {
  const be = logits.backend;
  if (be instanceof WebGpuBackend) return be.argmax(logits, vocab);
  const V = logits.shape[logits.shape.length - 1];
  if (!(Number.isInteger(vocab) && vocab >= 1 && vocab <= V)) throw new RangeError(`greedyTokens: vocab ${vocab} for rows of ${V}`);
  const z = await logits.read();
  const rows = z.length / V;
  const ids = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = -1;
    for (let i = 0; i < vocab; i++) {
      const v = z[r * V + i];
      if (!Number.isNaN(v) && (best < 0 || v > z[r * V + best])) best = i;
    }
    ids[r] = Math.max(best, 0);
  }
  return be.upload(ids, logits.shape.slice(0, -1));
}
