/** Host-side argument checks of WebGPU ops: one line naming the op, built only when it fails. */
import type { Tensor } from '../../tensor.js';

export function expect(ok: boolean, what: () => string): void {
  if (!ok) throw new Error(`webgpu ${what()}`);
}

export const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

export const last = (t: Tensor): number => t.shape[t.shape.length - 1];
