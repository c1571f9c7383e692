/**
 * Reverse-mode autograd over the ops in `ops/`:
 *
 *   const { loss, grads } = valueAndGrad(() => ops.crossEntropy(model.forward(ids).logits, targets), model.parameters());
 *
 * `params` may hold any tensors the loss reads, not only weights: put an initial state (e.g. a
 * layer's `ssm` or `conv` state passed to forward) in the map to get its gradient.
 */
import type { Tensor } from '../tensor.js';
import { activeTape, Tape, withTape } from './tape.js';

export { nodesRecorded } from './tape.js';

/**
 * Runs `lossFn` while recording, then walks the tape back. -> the loss (one element) and the
 * gradient of the loss with respect to each of `params` (zeros for one the loss does not read;
 * entries that share storage, e.g. a tied head, share one gradient).
 */
export function valueAndGrad(lossFn: () => Tensor, params: Map<string, Tensor>): { loss: Tensor; grads: Map<string, Tensor> } {
  if (activeTape()) throw new Error('valueAndGrad: already inside valueAndGrad (nested tapes are not supported)');
  const tape = new Tape();
  for (const p of params.values()) tape.track(p);
  const loss = withTape(tape, lossFn);
  if (loss.size !== 1) throw new Error(`valueAndGrad: the loss must have one element, got shape [${loss.shape}]`);
  const be = loss.backend;
  const byStorage = tape.backward(loss, be.upload(Float32Array.of(1), loss.shape));
  const grads = new Map<string, Tensor>();
  for (const [name, p] of params) grads.set(name, byStorage.get(p.storage)?.reshape(p.shape) ?? be.zeros(p.shape));
  return { loss, grads };
}

/** Runs fn (synchronously) with recording off: its results are constants to an enclosing tape. */
export function noGrad<T>(fn: () => T): T {
  return withTape(undefined, fn);
}

/** Whether ops called now are being recorded (inside valueAndGrad and not under noGrad). */
export function isRecording(): boolean {
  return activeTape() !== undefined;
}
