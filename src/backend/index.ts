/**
 * Choosing a backend by name, for front doors (`--device`) and library users, and what a decode
 * loop needs to run well on any of them:
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
import { UserError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import type { Backend } from './backend.js';
import { CpuBackend } from './cpu/index.js';
import { createWebGpuBackend, tensorsIn, WebGpuBackend } from './webgpu/index.js';

export { keep, tidy } from './webgpu/index.js';

export type DeviceName = 'cpu' | 'webgpu';
export const DEVICE_NAMES: readonly DeviceName[] = ['cpu', 'webgpu'];

/**
 * A backend on `device`. WebGPU opens `navigator.gpu` in browsers and Dawn (the `webgpu`
 * package) in Node; when no adapter can be found it fails with a one-line UserError.
 */
export async function createBackend(device: DeviceName): Promise<Backend> {
  if (device === 'cpu') return new CpuBackend();
  if (device !== 'webgpu') throw new UserError(`device '${String(device)}' is not one of ${DEVICE_NAMES.join(', ')}`);
  try {
    return await createWebGpuBackend();
  } catch (e) {
    const why = (e as Error).message.replace(/\s*\n\s*/g, ' ');
    throw new UserError(`device webgpu: no WebGPU device could be opened: ${why}`);
  }
}

/** Frees what a backend holds outside the JS heap: the GPU device (then Node can exit). Idempotent. */
export function releaseBackend(b: Backend): void {
  if (b instanceof WebGpuBackend) b.destroy();
}

/** A one-line description for logs: "cpu" or "webgpu (adapter name)". */
export function describeBackend(b: Backend): string {
  return b instanceof WebGpuBackend ? `webgpu (${b.info.adapterName || 'unnamed adapter'})` : b.name;
}

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
