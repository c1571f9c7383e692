/**
 * Tidy scopes, the same on every backend: tensors made while a scope is open are disposed when
 * it closes unless its result reaches them. A backend whose tensors hold device memory registers
 * each new tensor (`track`, as WebGPU's GpuTensor does); the CPU leaves its tensors to the garbage
 * collector and registers none, so on the CPU a scope only runs its function.
 */
import { Tensor } from '../tensor.js';

/** Tensors made while a tidy scope is open, innermost scope last. */
const scopes: Set<Tensor>[] = [];

/** Adds a newly made tensor to the innermost open scope. */
export function track(t: Tensor): void {
  scopes[scopes.length - 1]?.add(t);
}

/**
 * Runs `fn` and disposes every tensor made during it that its result does not reach (arrays,
 * Maps, Sets and object fields are searched). The intermediates of a model step are garbage once
 * it returns; disposing them at once returns their buffers to the pool, so the next step reuses
 * the same buffers (and the runtime's cached bind groups) instead of allocating. Kept tensors move
 * to the enclosing scope, if any.
 */
export function tidy<T>(fn: () => T): T {
  const made = new Set<Tensor>();
  scopes.push(made);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const kept = tensorsIn(result);
  const outer = scopes[scopes.length - 1];
  for (const t of made) {
    if (!kept.has(t)) t.dispose();
    else outer?.add(t);
  }
  return result;
}

/** Exempts `t` from the tidy scopes open now, e.g. a value a cache keeps across steps. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

/**
 * Disposes every tensor reachable from `value` that `kept` does not reach, e.g. the state a step
 * consumed (an attention layer's KV cache is appended in place and lives on in the new state).
 */
export function disposeExcept(value: unknown, kept: unknown): void {
  const keepSet = tensorsIn(kept);
  for (const t of tensorsIn(value)) if (!keepSet.has(t)) t.dispose();
}

/** Every tensor reachable from `value`. */
export function tensorsIn(value: unknown, found = new Set<Tensor>(), seen = new Set<object>()): Set<Tensor> {
  if (value instanceof Tensor) {
    found.add(value);
  } else if (typeof value === 'object' && value !== null && !seen.has(value) && !ArrayBuffer.isView(value)) {
    seen.add(value);
    const items = value instanceof Map ? value.values() : value instanceof Set || Array.isArray(value) ? value.values() : Object.values(value);
    for (const v of items) tensorsIn(v, found, seen);
  }
  return found;
}
