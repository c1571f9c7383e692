/**
 * The tape (Wengert list) of reverse-mode autodiff. Ops in `ops/` record themselves here while a
 * tape is active (inside `valueAndGrad`, outside `noGrad`) and one of their inputs depends on a
 * tracked tensor; otherwise they record nothing, keep no closure and save no tensor.
 *
 * Gradients are keyed by a tensor's storage, not by the Tensor object: `reshape` makes a new
 * object over the same storage, and an in-place op (writeAt) gives a storage a new value, which
 * walking the tape backwards undoes in the right order. A saved input that a later in-place op
 * overwrites (a KV cache appended to twice on one tape) would be read back wrong; models append
 * to a cache once per forward.
 */
import type { Tensor } from '../tensor.js';

/**
 * Given the gradient of every output (zeros for an output the loss does not reach) and whether
 * each input wants a gradient, returns the inputs' gradients (undefined where not wanted).
 * Backward functions call backend kernels, never ops: nothing is recorded while they run.
 */
export type BackwardFn = (dOut: readonly Tensor[], needs: readonly boolean[]) => readonly (Tensor | undefined)[];

interface Node {
  inputs: readonly (Tensor | undefined)[];
  needs: readonly boolean[];
  outputs: readonly Tensor[];
  backward: BackwardFn;
}

let active: Tape | undefined;
let recorded = 0;

export class Tape {
  private nodes: (Node | undefined)[] = [];
  private readonly tracked = new Set<unknown>();

  /** Marks a leaf (a parameter, an initial state) as wanting a gradient. */
  track(t: Tensor): void {
    this.tracked.add(t.storage);
  }

  tracks(t: Tensor | undefined): boolean {
    return t !== undefined && this.tracked.has(t.storage);
  }

  record(inputs: readonly (Tensor | undefined)[], outputs: readonly Tensor[], backward: BackwardFn): void {
    const needs = inputs.map((x) => this.tracks(x));
    this.nodes.push({ inputs, needs, outputs, backward });
    for (const o of outputs) this.tracked.add(o.storage);
    recorded++;
  }

  /**
   * Walks the tape backwards from `root` (seeded with dRoot) and returns the gradient of every
   * tracked storage the root depends on. Each node is dropped once used, so saved activations
   * are freed as the walk goes; the tape cannot be walked twice.
   */
  backward(root: Tensor, dRoot: Tensor): Map<unknown, Tensor> {
    const be = root.backend;
    const grads = new Map<unknown, Tensor>([[root.storage, dRoot]]);
    const accumulate = (x: Tensor, g: Tensor): void => {
      const prev = grads.get(x.storage);
      grads.set(x.storage, prev ? be.add(prev.reshape(g.shape), g) : g);
    };
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i]!;
      this.nodes[i] = undefined;
      const got = node.outputs.map((o) => grads.get(o.storage));
      if (got.every((g) => g === undefined)) continue;
      const dOut = node.outputs.map((o, k) => got[k]?.reshape(o.shape) ?? be.zeros(o.shape));
      // a producer precedes all its consumers, so every contribution to its outputs is in;
      // an in-place op's input has its output's storage and gets its own gradient below
      for (const o of node.outputs) grads.delete(o.storage);
      const dIn = node.backward(dOut, node.needs);
      node.inputs.forEach((x, k) => {
        const g = dIn[k];
        if (x && node.needs[k] && g) accumulate(x, g);
      });
    }
    this.nodes = [];
    return grads;
  }
}

/** The tape an op with these inputs records on, or undefined (then the op records nothing). */
export function tapeFor(...inputs: (Tensor | undefined)[]): Tape | undefined {
  const t = active;
  if (!t) return undefined;
  for (const x of inputs) if (t.tracks(x)) return t;
  return undefined;
}

/** Runs fn with `tape` as the active tape (undefined: none), restoring the previous one after. */
export function withTape<T>(tape: Tape | undefined, fn: () => T): T {
  const saved = active;
  active = tape;
  try {
    return fn();
  } finally {
    active = saved;
  }
}

export function activeTape(): Tape | undefined {
  return active;
}

/** Ops recorded on any tape since the process started (tests check that none are outside one). */
export function nodesRecorded(): number {
  return recorded;
}
